//! `fleetctl`: IT staff's tool for releases. This first part works offline, on the release
//! manager's machine, with the signing key:
//!
//! ```text
//! fleetctl key new KEYFILE                       a new ed25519 signing key (PKCS#8, mode 0600);
//!                                                prints its public key for the keyrings
//! fleetctl key show KEYFILE                      its id and public key
//! fleetctl key endorse KEYFILE NEW_PUBLIC_KEY    the old key vouches for a new one (rotation);
//!                                                prints the endorsement (JSON)
//! fleetctl release sign KEYFILE BUNDLE --version V --compatible HW[,HW…]
//!                                                writes BUNDLE.manifest.json
//! fleetctl release verify KEYRING BUNDLE --hardware HW
//!                                                checks BUNDLE.manifest.json and the bundle
//! ```
//!
//! The release flow itself (upload, rollouts, status) comes with the server's rollout API.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use protocol::release::{Keyring, SignedManifest, SigningKey, check_bundle, manifest_of};

const USAGE: &str = "usage: fleetctl key new KEYFILE | key show KEYFILE | key endorse KEYFILE NEW_PUBLIC_KEY | \
release sign KEYFILE BUNDLE --version V --compatible HW[,HW...] | release verify KEYRING BUNDLE --hardware HW";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleetctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn load_key(path: &str) -> anyhow::Result<SigningKey> {
    let doc = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    SigningKey::from_pkcs8(&doc).with_context(|| path.to_owned())
}

fn manifest_path(bundle: &str) -> PathBuf {
    PathBuf::from(format!("{bundle}.manifest.json"))
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["key", "new", file] => {
            if Path::new(file).exists() {
                bail!("{file} exists; a signing key is never overwritten");
            }
            let (key, doc) = SigningKey::generate()?;
            write_private(file, &doc)?;
            println!("{}  # {}", key.public_hex(), key.id());
        }
        ["key", "show", file] => {
            let key = load_key(file)?;
            println!("{}  # {}", key.public_hex(), key.id());
        }
        ["key", "endorse", file, new_key] => {
            let key = load_key(file)?;
            let mut probe = Keyring::default();
            probe.add(new_key).context("the new public key")?;
            println!("{}", serde_json::to_string_pretty(&key.endorse(new_key))?);
        }
        ["release", "sign", file, bundle, ..] => {
            let key = load_key(file)?;
            let version = opt(&args, "--version").context("--version is needed")?;
            let compatible: Vec<String> = opt(&args, "--compatible")
                .context("--compatible is needed")?
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            let mut f =
                std::fs::File::open(bundle).with_context(|| format!("cannot read {bundle}"))?;
            let m = manifest_of(&mut f, version, &compatible, fleet_server::now_ms())?;
            let signed = key.sign(&m)?;
            // The manifest must pass the same checks a kiosk makes.
            let mut ring = Keyring::default();
            ring.add(&key.public_hex())?;
            for hw in &compatible {
                ring.verify(&signed, hw)?;
            }
            let out = manifest_path(bundle);
            std::fs::write(&out, serde_json::to_string_pretty(&signed)? + "\n")
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{}: release {} for {}, {} bytes, SHA-256 {}, signed by {}",
                out.display(),
                m.version,
                compatible.join(", "),
                m.size,
                m.sha256,
                key.id()
            );
        }
        ["release", "verify", keyring, bundle, ..] => {
            let hw = opt(&args, "--hardware").context("--hardware is needed")?;
            let ring = Keyring::parse(
                &std::fs::read_to_string(keyring)
                    .with_context(|| format!("cannot read {keyring}"))?,
            )?;
            let path = manifest_path(bundle);
            let text =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let signed: SignedManifest = protocol::json::decode(&text, 64 * 1024)
                .with_context(|| path.display().to_string())?;
            let m = ring.verify(&signed, hw)?;
            let mut f =
                std::fs::File::open(bundle).with_context(|| format!("cannot read {bundle}"))?;
            check_bundle(&m, &mut f)?;
            println!(
                "ok: release {} for {hw}, signed by {}",
                m.version, signed.key_id
            );
        }
        _ => bail!("{USAGE}"),
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
