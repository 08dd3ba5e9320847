//! The commands that talk to the fleet server: the session, releases, rollouts, status.

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
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
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
    let signed: protocol::release::SignedManifest =
        protocol::json::decode(&text, 64 * 1024).with_context(|| mpath.display().to_string())?;
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

/// The canonical form of a typed code, or why it is not one.
fn tracking_code(typed: &str) -> anyhow::Result<String> {
    fleet_server::ops::notices::read_code(typed)
        .map(|c| c.as_str().to_owned())
        .map_err(anyhow::Error::msg)
}

/// Shows a request as the call centre sees it.
pub fn request(typed: &str, json: bool) -> anyhow::Result<()> {
    let code = tracking_code(typed)?;
    let api = Api::open()?;
    let v: fleet_server::store::RequestView = api.get(&format!("/api/admin/v1/requests/{code}"))?;
    if json {
        say!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let en = |s: protocol::fleet::RequestState| s.label().get(protocol::Lang::En).to_owned();
    let shown = protocol::tracking::TrackingCode::parse(&v.tracking_code)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| v.tracking_code.clone());
    let t = protocol::time::format_czech;
    say!("request   {shown}");
    say!("state     {}", en(v.state));
    say!("service   {}", v.service_id);
    say!(
        "kiosk     {} ({}), filed {}",
        v.kiosk_name,
        v.kiosk_id,
        t(v.created_at)
    );
    say!("language  {}", v.language);
    match &v.contact {
        Some((channel, to)) => say!("notices   {} to {to}", channel.as_str()),
        None => say!("notices   -"),
    }
    say!("\nHISTORY");
    for e in &v.events {
        let what = match (&e.state, &e.text) {
            (Some(s), _) => en(*s),
            (None, text) => format!("note: {}", text.as_deref().unwrap_or("")),
        };
        say!("{:<18} {:<28} {}", t(e.at), what, e.by);
    }
    say!("\nNOTICES");
    if v.notices.is_empty() {
        say!("none");
    }
    for n in &v.notices {
        say!(
            "#{:<5} {:<24} {:<5} {:<16} {:<12} {} attempt(s){}",
            n.id,
            en(n.state),
            n.channel.as_str(),
            n.to,
            n.status,
            n.attempts,
            n.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Queues a request's notice again.
pub fn resend(typed: &str) -> anyhow::Result<()> {
    let code = tracking_code(typed)?;
    let api = Api::open()?;
    let v: Value = api.post(
        &format!("/api/admin/v1/requests/{code}/resend"),
        &serde_json::json!({ "by": whoami_name() }),
    )?;
    say!("notice {} queued", v.get("queued").unwrap_or(&Value::Null));
    Ok(())
}

/// The name a change with the admin token is made under.
fn whoami_name() -> String {
    std::env::var("USER").unwrap_or_else(|_| "fleetctl".into())
}
