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
//! ```
//!
//! `OKENKO_FLEET_URL` with `OKENKO_ADMIN_TOKEN` stand in for a session (for scripts);
//! `OKENKO_FLEETCTL_SESSION` names another session file; `OKENKO_FLEET_CA` a PEM file of the
//! CA that signs the server's certificate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use protocol::release::{Keyring, SignedManifest, SigningKey, check_bundle, manifest_of};

/// `println!` that returns an error instead of panicking when standard output is closed
/// (`fleetctl status | head`); `main` then ends quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

/// IT staff's tool for releases: signing keys and manifests offline, releases and rollouts on
/// the fleet server.
#[derive(Debug, Parser)]
#[command(name = "fleetctl", version, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const ENVIRONMENT: &str = "Environment: OKENKO_FLEET_URL with OKENKO_ADMIN_TOKEN stand in for a \
session (for scripts); OKENKO_FLEETCTL_SESSION names another session file; OKENKO_FLEET_CA a PEM \
file of the CA that signs the server's certificate.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Release signing keys (offline).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Releases: sign and verify offline; upload and list on the fleet.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Signs in to a fleet server; the password is read from standard input, the session
    /// kept in ~/.config/okenko/fleetctl.json (mode 0600).
    Login {
        /// The fleet server, e.g. https://fleet.example.cz.
        url: String,
        /// The user name.
        user: String,
    },
    /// Ends the session.
    Logout,
    /// Rollouts of a release to the kiosks.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Signs the rollback from a rollout's release, uploads it, and rolls back (kiosks refuse
    /// an older release without one); without --key, one uploaded already is used.
    Rollback {
        /// The rollout.
        id: String,
        /// The release signing key.
        #[arg(long, value_name = "KEYFILE", requires = "to")]
        key: Option<PathBuf>,
        /// The release(s) to go back to, comma-separated.
        #[arg(long, value_name = "V[,W]")]
        to: Option<String>,
    },
    /// Kiosks by release and update state.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Makes a new ed25519 signing key (PKCS#8, mode 0600) and prints its public key for the
    /// keyrings.
    New {
        /// Where to write it; never overwritten.
        keyfile: String,
    },
    /// Prints a key's id and public key.
    Show {
        /// The key.
        keyfile: PathBuf,
    },
    /// The old key vouches for a new one (rotation); prints the endorsement (JSON).
    Endorse {
        /// The old key.
        keyfile: PathBuf,
        /// The new key's public key (hex).
        new_public_key: String,
    },
    /// Withdraws a key (a leaked one); prints the revocation (JSON) for releases.revocations.
    Revoke {
        /// A key that signs the revocation.
        keyfile: PathBuf,
        /// The id of the key withdrawn.
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Signs a bundle: writes BUNDLE.manifest.json.
    Sign {
        /// The release signing key.
        keyfile: PathBuf,
        /// The bundle.
        bundle: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The hardware it runs on, comma-separated.
        #[arg(long, value_name = "HW[,HW]")]
        compatible: String,
    },
    /// Prints a signed rollback (JSON) from one release to others, to paste into the
    /// dashboard's roll back.
    Rollback {
        /// The release signing key.
        keyfile: PathBuf,
        /// The release left.
        #[arg(long)]
        from: String,
        /// The release(s) to go back to, comma-separated.
        #[arg(long, value_name = "V[,W]")]
        to: String,
    },
    /// Checks BUNDLE.manifest.json against a keyring, and the bundle against it.
    Verify {
        /// The keyring (public keys, one per line).
        keyring: PathBuf,
        /// The bundle.
        bundle: String,
        /// The hardware it must be for.
        #[arg(long, value_name = "HW")]
        hardware: String,
    },
    /// Uploads BUNDLE.manifest.json, then the bundle.
    Upload {
        /// The bundle.
        bundle: String,
    },
    /// Lists the fleet's releases.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RolloutCommand {
    /// Offers a release to canary kiosks, then a percentage of a group (or of every kiosk).
    Create {
        /// The release.
        version: String,
        /// Only this group.
        #[arg(long)]
        group: Option<String>,
        /// Kiosks that get it first, comma-separated.
        #[arg(long, value_name = "K1,K2")]
        canary: Option<String>,
        /// The share of the group, 0-100.
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
        /// Install outside the maintenance window.
        #[arg(long)]
        force: bool,
        /// Pause when more of a wave fails, 0-100.
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
        max_failures: Option<u8>,
    },
    /// Grows a rollout to a larger share.
    Expand {
        /// The rollout.
        id: String,
        /// The new share, 0-100.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Stops starting new kiosks; those under way finish.
    Pause {
        /// The rollout.
        id: String,
    },
    /// Goes on after a pause.
    Resume {
        /// The rollout.
        id: String,
    },
    /// Ends the rollout; kiosks on the release stay there.
    Abort {
        /// The rollout.
        id: String,
    },
    /// Sends every kiosk the rollout updated back (needs an uploaded signed rollback).
    Rollback {
        /// The rollout.
        id: String,
    },
    /// Lists the rollouts.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One rollout and its progress.
    Show {
        /// The rollout.
        id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

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

/// The commands that talk to the fleet server.
mod online {
    use std::path::PathBuf;

    use anyhow::{Context, bail};
    use fleet_server::api::releases::WhoAmI;
    use fleet_server::ops::releases::{RolloutView, Updates};
    use fleet_server::rollout::{NewRollout, Release};
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// A signed-in session, as kept in the session file.
    #[derive(Debug, Serialize, Deserialize)]
    struct Session {
        server: String,
        name: String,
        role: String,
        token: String,
        csrf: String,
    }

    fn session_path() -> anyhow::Result<PathBuf> {
        if let Some(p) = std::env::var_os("OKENKO_FLEETCTL_SESSION") {
            return Ok(p.into());
        }
        let home = std::env::var_os("HOME").context("HOME is not set")?;
        Ok(PathBuf::from(home).join(".config/okenko/fleetctl.json"))
    }

    enum Auth {
        Session { token: String, csrf: String },
        Token(String),
    }

    struct Api {
        rt: tokio::runtime::Runtime,
        http: reqwest::Client,
        base: String,
        auth: Auth,
    }

    fn client() -> anyhow::Result<reqwest::Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(std::time::Duration::from_secs(600))
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(ca) = std::env::var_os("OKENKO_FLEET_CA") {
            let pem = std::fs::read(&ca)
                .with_context(|| format!("OKENKO_FLEET_CA: cannot read {}", ca.display()))?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pemfile_certs(&pem)? {
                roots.add(cert).context("OKENKO_FLEET_CA: a certificate")?;
            }
            let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            b = b.tls_backend_preconfigured(tls);
        } else {
            b = b.tls_backend_rustls();
        }
        Ok(b.build()?)
    }

    fn rustls_pemfile_certs(
        pem: &[u8],
    ) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .context("OKENKO_FLEET_CA: not PEM certificates")
    }

    fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    }

    impl Api {
        fn open() -> anyhow::Result<Api> {
            let (base, auth) = match (
                std::env::var("OKENKO_FLEET_URL"),
                std::env::var("OKENKO_ADMIN_TOKEN"),
            ) {
                (Ok(url), Ok(token)) => (url, Auth::Token(token)),
                _ => {
                    let path = session_path()?;
                    let text = std::fs::read(&path).with_context(|| {
                        format!(
                            "not signed in ({}); run fleetctl login URL USER",
                            path.display()
                        )
                    })?;
                    let s: Session = serde_json::from_slice(&text)
                        .with_context(|| format!("{} is damaged; sign in again", path.display()))?;
                    (
                        s.server,
                        Auth::Session {
                            token: s.token,
                            csrf: s.csrf,
                        },
                    )
                }
            };
            Ok(Api {
                rt: runtime()?,
                http: client()?,
                base: base.trim_end_matches('/').to_owned(),
                auth,
            })
        }

        fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
            let r = self.http.request(method, format!("{}{path}", self.base));
            match &self.auth {
                Auth::Token(t) => r.bearer_auth(t),
                Auth::Session { token, csrf } => r
                    .header(
                        reqwest::header::COOKIE,
                        format!("{}={token}", fleet_server::staff::COOKIE),
                    )
                    .header("x-csrf-token", csrf),
            }
        }

        fn send<T: serde::de::DeserializeOwned>(
            &self,
            req: reqwest::RequestBuilder,
        ) -> anyhow::Result<T> {
            self.rt.block_on(async {
                let resp = req
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {}", self.base))?;
                let status = resp.status();
                let body = resp.bytes().await.context("the answer broke off")?;
                if !status.is_success() {
                    let msg = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                    if status == reqwest::StatusCode::UNAUTHORIZED {
                        bail!("{msg} (HTTP {status}); sign in again with fleetctl login");
                    }
                    bail!("{msg} (HTTP {status})");
                }
                serde_json::from_slice(&body)
                    .context("the server's answer is not what fleetctl expects")
            })
        }

        fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
            self.send(self.request(reqwest::Method::GET, path))
        }

        fn post<T: serde::de::DeserializeOwned>(
            &self,
            path: &str,
            body: &impl Serialize,
        ) -> anyhow::Result<T> {
            self.send(self.request(reqwest::Method::POST, path).json(body))
        }
    }

    /// Signs in with the password on stdin and keeps the session.
    pub fn login(url: &str, user: &str) -> anyhow::Result<()> {
        let mut password = String::new();
        std::io::stdin()
            .read_line(&mut password)
            .context("reading the password from stdin")?;
        let password = password.trim_end_matches(['\r', '\n']);
        let base = url.trim_end_matches('/').to_owned();
        let (rt, http) = (runtime()?, client()?);
        let token = rt.block_on(async {
            let resp = http
                .post(format!("{base}/login"))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(serde_urlencoded::to_string([
                    ("username", user),
                    ("password", password),
                    ("next", "/dashboard"),
                ])?)
                .send()
                .await
                .with_context(|| format!("cannot reach {base}"))?;
            let cookie = resp
                .headers()
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| {
                    c.strip_prefix(&format!("{}=", fleet_server::staff::COOKIE))
                        .and_then(|rest| rest.split(';').next())
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                });
            match cookie {
                Some(t) => Ok(t),
                None if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                    bail!("too many sign-in attempts from here; wait a minute")
                }
                None => bail!(
                    "sign-in refused (HTTP {}): wrong user name or password, or the account is locked",
                    resp.status()
                ),
            }
        })?;
        let api = Api {
            rt,
            http,
            base: base.clone(),
            auth: Auth::Session {
                token: token.clone(),
                csrf: String::new(),
            },
        };
        let me: WhoAmI = api.get("/api/admin/v1/whoami")?;
        let s = Session {
            server: base.clone(),
            name: me.name,
            role: me.role,
            token,
            csrf: me.csrf,
        };
        let path = session_path()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let _ = std::fs::remove_file(&path);
        super::write_private(
            &path.to_string_lossy(),
            (serde_json::to_string_pretty(&s)? + "\n").as_bytes(),
        )?;
        say!("signed in to {base} as {} ({})", s.name, s.role);
        Ok(())
    }

    /// Ends the session on the server and forgets it.
    pub fn logout() -> anyhow::Result<()> {
        let path = session_path()?;
        if let Ok(api) = Api::open()
            && let Auth::Session { .. } = api.auth
        {
            let req = api.request(reqwest::Method::POST, "/logout");
            let _ = api.rt.block_on(req.send());
        }
        match std::fs::remove_file(&path) {
            Ok(()) => say!("signed out"),
            Err(_) => say!("not signed in"),
        }
        Ok(())
    }

    /// Uploads BUNDLE.manifest.json, then BUNDLE.
    pub fn upload(bundle: &str) -> anyhow::Result<()> {
        let api = Api::open()?;
        let mpath = super::manifest_path(bundle);
        let text = std::fs::read(&mpath)
            .with_context(|| format!("cannot read {} (fleetctl release sign)", mpath.display()))?;
        let signed: protocol::release::SignedManifest = protocol::json::decode(&text, 64 * 1024)
            .with_context(|| mpath.display().to_string())?;
        let r: Release = api.post("/api/admin/v1/releases", &signed)?;
        let bytes = std::fs::read(bundle).with_context(|| format!("cannot read {bundle}"))?;
        let started = std::time::Instant::now();
        let r: Release = api.send(
            api.request(
                reqwest::Method::PUT,
                &format!("/api/admin/v1/releases/{}/bundle", r.version),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes),
        )?;
        say!(
            "uploaded release {} ({} bytes, signed by {}) in {:.1} s",
            r.version,
            r.size,
            r.key_id,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn when(ms: Option<i64>) -> String {
        ms.map_or_else(|| "-".into(), protocol::time::format_czech)
    }

    /// Lists releases.
    pub fn releases(json: bool) -> anyhow::Result<()> {
        let api = Api::open()?;
        let list: Vec<Release> = api.get("/api/admin/v1/releases")?;
        if json {
            say!("{}", serde_json::to_string_pretty(&list)?);
            return Ok(());
        }
        say!(
            "{:<16} {:>12}  {:<18} {:<17} FOR",
            "VERSION",
            "BYTES",
            "KEY",
            "UPLOADED"
        );
        for r in list {
            say!(
                "{:<16} {:>12}  {:<18} {:<17} {}",
                r.version,
                r.size,
                r.key_id,
                if r.uploaded_at.is_some() {
                    when(r.uploaded_at)
                } else {
                    "awaited".into()
                },
                r.compatible.join(",")
            );
        }
        Ok(())
    }

    /// Creates a rollout.
    pub fn create(req: NewRollout) -> anyhow::Result<()> {
        let api = Api::open()?;
        let v: RolloutView = api.post("/api/admin/v1/rollouts", &req)?;
        say!("{}", describe(&v));
        Ok(())
    }

    /// Signs the rollback from rollout `id`'s release to `to` (comma-separated) and uploads it.
    pub fn sign_rollback(
        id: &str,
        key: &protocol::release::SigningKey,
        to: &str,
    ) -> anyhow::Result<()> {
        let id: i64 = id.parse().context("a rollout's number")?;
        let api = Api::open()?;
        let v: RolloutView = api.get(&format!("/api/admin/v1/rollouts/{id}"))?;
        let from = v.rollout.version;
        let rb = super::rollback(&from, to);
        let signed = key.sign_rollback(&rb)?;
        let _: serde_json::Value =
            api.post(&format!("/api/admin/v1/releases/{from}/rollback"), &signed)?;
        say!(
            "rollback from {from} to {} signed by {} and uploaded",
            rb.to.join(", "),
            key.id()
        );
        Ok(())
    }

    /// Expands, pauses, resumes, aborts or rolls back a rollout.
    pub fn act(id: &str, action: &str, percent: Option<u8>) -> anyhow::Result<()> {
        let id: i64 = id.parse().context("a rollout's number")?;
        let api = Api::open()?;
        let body = match percent {
            Some(p) => serde_json::json!({ "percent": p }),
            None => serde_json::json!({}),
        };
        let v: RolloutView = api.post(&format!("/api/admin/v1/rollouts/{id}/{action}"), &body)?;
        say!("{}", describe(&v));
        Ok(())
    }

    fn describe(v: &RolloutView) -> String {
        let r = &v.rollout;
        let states: Vec<String> = v
            .progress
            .by_state
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        format!(
            "rollout {} of {}: {} at {} % of {}{}{}; {} kiosks targeted ({}); current wave {} kiosks, {} failed{}",
            r.id,
            r.version,
            r.state.as_str(),
            r.percent,
            r.group.as_deref().unwrap_or("all kiosks"),
            if r.canary.is_empty() {
                String::new()
            } else {
                format!(" and canary {}", r.canary.join(", "))
            },
            if r.force { ", forced" } else { "" },
            v.progress.targeted,
            if states.is_empty() {
                "none".into()
            } else {
                states.join(", ")
            },
            v.progress.wave,
            v.progress.wave_failed,
            r.reason
                .as_deref()
                .map(|x| format!("; {x}"))
                .unwrap_or_default()
        )
    }

    /// Lists rollouts, or shows one.
    pub fn rollouts(id: Option<&str>, json: bool) -> anyhow::Result<()> {
        let api = Api::open()?;
        let list: Vec<RolloutView> = match id {
            Some(id) => {
                let id: i64 = id.parse().context("a rollout's number")?;
                vec![api.get(&format!("/api/admin/v1/rollouts/{id}"))?]
            }
            None => api.get("/api/admin/v1/rollouts")?,
        };
        if json {
            let v = if id.is_some() {
                serde_json::to_value(list.first())?
            } else {
                serde_json::to_value(&list)?
            };
            say!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        if list.is_empty() {
            say!("no rollouts");
        }
        for v in &list {
            say!("{}", describe(v));
        }
        Ok(())
    }

    /// Kiosks by release and update state.
    pub fn status(json: bool) -> anyhow::Result<()> {
        let api = Api::open()?;
        let u: Updates = api.get("/api/admin/v1/updates")?;
        if json {
            say!("{}", serde_json::to_string_pretty(&u)?);
            return Ok(());
        }
        let rollouts: Vec<RolloutView> = api.get("/api/admin/v1/rollouts")?;
        if let Some(v) = rollouts.first() {
            say!("{}\n", describe(v));
        }
        say!("{:<14} KIOSKS", "RELEASE");
        for (v, n) in &u.by_version {
            say!("{v:<14} {n}");
        }
        say!("\n{:<14} KIOSKS", "UPDATE STATE");
        for (s, n) in &u.by_state {
            say!("{s:<14} {n}");
        }
        say!(
            "\n{:<20} {:<12} {:<10} {:<12} {:<10} {:>4}  REASON",
            "KIOSK",
            "GROUP",
            "RUNNING",
            "STATE",
            "TARGET",
            "%"
        );
        for k in &u.kiosks {
            let r = k.update.as_ref().map(|x| &x.report);
            say!(
                "{:<20} {:<12} {:<10} {:<12} {:<10} {:>4}  {}",
                k.kiosk_id,
                k.group,
                r.map_or("-", |r| r.running.as_str()),
                r.map_or("-", |r| r.state.as_str()),
                r.and_then(|r| r.target.as_deref()).unwrap_or("-"),
                r.and_then(|r| r.progress)
                    .map_or("-".into(), |p| p.to_string()),
                r.and_then(|r| r.reason.as_deref()).unwrap_or("")
            );
        }
        Ok(())
    }
}
