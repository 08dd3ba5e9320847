//! `fleetctl`: IT staff's tool for releases. This first part works offline, on the release
//! manager's machine, with the signing key:
//!
//! ```text
//! fleetctl key new KEYFILE                       a new ed25519 signing key (PKCS#8, mode 0600);
//!                                                prints its public key for the keyrings
//! fleetctl key show KEYFILE                      its id and public key
//! fleetctl key endorse KEYFILE NEW_PUBLIC_KEY    the old key vouches for a new one (rotation);
//!                                                prints the endorsement (JSON)
//! fleetctl key revoke KEYFILE KEY_ID             withdraws a key (a leaked one); prints the
//!                                                revocation (JSON) for releases.revocations
//! fleetctl release sign KEYFILE BUNDLE --version V --compatible HW[,HW…]
//!                                                writes BUNDLE.manifest.json
//! fleetctl release rollback KEYFILE --from V --to W[,X]
//!                                                prints a signed rollback (JSON) from V to W,
//!                                                to paste into the dashboard's roll back
//! fleetctl release verify KEYRING BUNDLE --hardware HW
//!                                                checks BUNDLE.manifest.json and the bundle
//! ```
//!
//! With the fleet server, as a member of staff (a release manager for changes):
//!
//! ```text
//! fleetctl login URL USER                        password on stdin; keeps the session in
//!                                                ~/.config/okenko/fleetctl.json (mode 0600)
//! fleetctl logout
//! fleetctl release upload BUNDLE                 BUNDLE.manifest.json, then the bundle
//! fleetctl release list [--json]
//! fleetctl rollout create VERSION [--group G] [--canary K1,K2] [--percent N] [--force]
//!                                 [--max-failures PERCENT]
//! fleetctl rollout expand ID --percent N
//! fleetctl rollout pause|resume|abort ID
//! fleetctl rollback ID --key KEYFILE --to V[,W]  signs the rollback from the rollout's release
//!                                                to V (kiosks refuse an older release without
//!                                                one), uploads it, and rolls back
//!                                                (or: rollout rollback ID, once it is uploaded)
//! fleetctl rollout list|show ID [--json]
//! fleetctl status [--json]                       kiosks by release and update state
//! fleetctl request show CODE [--json]             a request as the call centre sees it
//! fleetctl request resend CODE                    the citizen's notice again
//! ```
//!
//! `OKENKO_FLEET_URL` with `OKENKO_ADMIN_TOKEN` stand in for a session (for scripts);
//! `OKENKO_FLEETCTL_SESSION` names another session file; `OKENKO_FLEET_CA` a PEM file of the
//! CA that signs the server's certificate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use protocol::release::{Keyring, SignedManifest, SigningKey, check_bundle, manifest_of};

/// `println!` that returns an error instead of panicking when standard output is closed
/// (`fleetctl status | head`); `main` then ends quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

mod cli;
mod online;

use cli::{Cli, Command, KeyCommand, ReleaseCommand, RequestCommand, RolloutCommand};

fn main() -> ExitCode {
    protocol::cli::finish("fleetctl", run(Cli::parse().command))
}

fn load_key(path: &Path) -> anyhow::Result<SigningKey> {
    let doc = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    SigningKey::from_pkcs8(&doc).with_context(|| path.display().to_string())
}

/// A rollback from `from` to the comma-separated `to`, dated now.
fn rollback(from: &str, to: &str) -> protocol::release::Rollback {
    protocol::release::Rollback {
        from: from.to_owned(),
        to: to
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        created_at: fleet_server::now_ms(),
    }
}

fn manifest_path(bundle: &str) -> PathBuf {
    PathBuf::from(format!("{bundle}.manifest.json"))
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Key(KeyCommand::New { keyfile: file }) => {
            if Path::new(&file).exists() {
                bail!("{file} exists; a signing key is never overwritten");
            }
            let (key, doc) = SigningKey::generate()?;
            write_private(&file, &doc)?;
            say!("{}  # {}", key.public_hex(), key.id());
        }
        Command::Key(KeyCommand::Show { keyfile }) => {
            let key = load_key(&keyfile)?;
            say!("{}  # {}", key.public_hex(), key.id());
        }
        Command::Key(KeyCommand::Endorse {
            keyfile,
            new_public_key,
        }) => {
            let key = load_key(&keyfile)?;
            let mut probe = Keyring::default();
            probe.add(&new_public_key).context("the new public key")?;
            say!(
                "{}",
                serde_json::to_string_pretty(&key.endorse(&new_public_key))?
            );
        }
        Command::Key(KeyCommand::Revoke { keyfile, key_id }) => {
            let key = load_key(&keyfile)?;
            say!("{}", serde_json::to_string_pretty(&key.revoke(&key_id))?);
        }
        Command::Release(ReleaseCommand::Sign {
            keyfile,
            bundle,
            version,
            compatible,
        }) => {
            let key = load_key(&keyfile)?;
            let compatible = split_list(&compatible);
            if compatible.is_empty() {
                bail!("--compatible names at least one kind of hardware");
            }
            let mut f =
                std::fs::File::open(&bundle).with_context(|| format!("cannot read {bundle}"))?;
            let m = manifest_of(&mut f, &version, &compatible, fleet_server::now_ms())?;
            let signed = key.sign(&m)?;
            // The manifest must pass the same checks a kiosk makes.
            let mut ring = Keyring::default();
            ring.add(&key.public_hex())?;
            for hw in &compatible {
                ring.verify(&signed, hw)?;
            }
            let out = manifest_path(&bundle);
            std::fs::write(&out, serde_json::to_string_pretty(&signed)? + "\n")
                .with_context(|| format!("cannot write {}", out.display()))?;
            say!(
                "{}: release {} for {}, {} bytes, SHA-256 {}, signed by {}",
                out.display(),
                m.version,
                compatible.join(", "),
                m.size,
                m.sha256,
                key.id()
            );
        }
        Command::Release(ReleaseCommand::Rollback { keyfile, from, to }) => {
            let key = load_key(&keyfile)?;
            say!(
                "{}",
                serde_json::to_string(&key.sign_rollback(&rollback(&from, &to))?)?
            );
        }
        Command::Release(ReleaseCommand::Verify {
            keyring,
            bundle,
            hardware: hw,
        }) => {
            let ring = Keyring::parse(
                &std::fs::read_to_string(&keyring)
                    .with_context(|| format!("cannot read {}", keyring.display()))?,
            )?;
            let path = manifest_path(&bundle);
            let text =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let signed: SignedManifest = protocol::json::decode(&text, 64 * 1024)
                .with_context(|| path.display().to_string())?;
            let m = ring.verify(&signed, &hw)?;
            let mut f =
                std::fs::File::open(&bundle).with_context(|| format!("cannot read {bundle}"))?;
            check_bundle(&m, &mut f)?;
            say!(
                "ok: release {} for {hw}, signed by {}",
                m.version,
                signed.key_id
            );
        }
        Command::Login { url, user } => online::login(&url, &user)?,
        Command::Logout => online::logout()?,
        Command::Release(ReleaseCommand::Upload { bundle }) => online::upload(&bundle)?,
        Command::Release(ReleaseCommand::List { json }) => online::releases(json)?,
        Command::Rollout(RolloutCommand::Create {
            version,
            group,
            canary,
            percent,
            force,
            max_failures,
        }) => online::create(fleet_server::rollout::NewRollout {
            version,
            group,
            canary: canary.as_deref().map(split_list).unwrap_or_default(),
            percent,
            force,
            max_failure_percent: max_failures,
        })?,
        Command::Rollout(RolloutCommand::Expand { id, percent }) => {
            online::act(&id, "expand", Some(percent))?
        }
        Command::Rollout(RolloutCommand::Pause { id }) => online::act(&id, "pause", None)?,
        Command::Rollout(RolloutCommand::Resume { id }) => online::act(&id, "resume", None)?,
        Command::Rollout(RolloutCommand::Abort { id }) => online::act(&id, "abort", None)?,
        Command::Rollout(RolloutCommand::Rollback { id }) => online::act(&id, "rollback", None)?,
        Command::Rollback { id, key, to } => {
            if let (Some(file), Some(to)) = (key, to) {
                online::sign_rollback(&id, &load_key(&file)?, &to)?;
            }
            online::act(&id, "rollback", None)?;
        }
        Command::Rollout(RolloutCommand::List { json }) => online::rollouts(None, json)?,
        Command::Rollout(RolloutCommand::Show { id, json }) => online::rollouts(Some(&id), json)?,
        Command::Status { json } => online::status(json)?,
        Command::Request(RequestCommand::Show { code, json }) => online::request(&code, json)?,
        Command::Request(RequestCommand::Resend { code }) => online::resend(&code)?,
    }
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {path}"))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
