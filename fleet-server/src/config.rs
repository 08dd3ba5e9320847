//! The fleet server's configuration: a TOML file, default path [`DEFAULT_PATH`]. Every key is
//! documented in `fleet-server/fleet.example.toml`; unknown keys are refused and every error
//! names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the server looks for its configuration when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/okenko/fleet.toml";

pub use protocol::config::ConfigError;
use protocol::config::Validate;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listening, TLS, data.
    pub server: ServerSection,
    /// The agenda system.
    #[serde(default)]
    pub connector: ConnectorSection,
    /// Abuse limits.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// Alert rules and notifications.
    #[serde(default)]
    pub alerts: AlertsSection,
    /// How long health history is kept.
    #[serde(default)]
    pub history: HistorySection,
    /// The availability target.
    #[serde(default)]
    pub sla: SlaSection,
    /// Signed releases and rollouts.
    #[serde(default)]
    pub releases: ReleasesSection,
    /// The database (SQLite by default, or PostgreSQL).
    #[serde(default)]
    pub store: crate::store::config::StoreSection,
    /// Notices to citizens (SMS, e-mail).
    #[serde(default)]
    pub notices: crate::notices::config::NoticesSection,
}

/// `[releases]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleasesSection {
    /// File of the public keys releases may be signed with (one hex key per line, as
    /// `fleetctl key new` prints them). Without it, uploads are refused.
    pub keyring: Option<PathBuf>,
    /// File of key endorsements (a JSON array, each as `fleetctl key endorse` prints it) sent
    /// to kiosks with every release, so they learn a rotated key from one they trust.
    pub endorsements: Option<PathBuf>,
    /// File of key revocations (a JSON array, each as `fleetctl key revoke` prints it): the
    /// fleet refuses releases signed with those keys, and kiosks learn to refuse them too.
    #[serde(default)]
    pub revocations: Option<PathBuf>,
    /// When kiosks may install, Czech local time, in the opening-hours syntax (e.g.
    /// `Mo-Su 22:00-24:00, 00:00-05:00`). Empty (default): whenever the kiosks are closed
    /// (`alerts.opening_hours`), or at any time where no opening hours are set. A kiosk also
    /// waits until nobody has used it for a while; a forced rollout waits for neither.
    pub window: String,
    /// A rollout pauses by itself when more than this share of its current wave failed,
    /// percent; a rollout may set its own. Default 20.
    pub max_failure_percent: u8,
}

impl Default for ReleasesSection {
    fn default() -> Self {
        ReleasesSection {
            keyring: None,
            endorsements: None,
            revocations: None,
            window: String::new(),
            max_failure_percent: 20,
        }
    }
}

/// `[history]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistorySection {
    /// Days of availability kept for SLA reports. Default 400.
    pub uptime_days: u32,
}

impl Default for HistorySection {
    fn default() -> Self {
        HistorySection { uptime_days: 400 }
    }
}

/// `[sla]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSection {
    /// Availability the service contract promises, percent. Default 99.
    pub target_percent: f64,
    /// The city's name on the report.
    pub city: String,
}

impl Default for SlaSection {
    fn default() -> Self {
        SlaSection {
            target_percent: 99.0,
            city: "Okénko".into(),
        }
    }
}

/// `[alerts]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSection {
    /// No heartbeat for this many seconds: offline. Default 180.
    pub offline_after_s: u64,
    /// Hotter than this: temperature high. Default 75.
    pub temperature_max_c: f32,
    /// Data partition fuller than this: disk full. Default 90.
    pub disk_used_max_percent: u8,
    /// Kiosk and server clocks further apart than this: clock skew. Default 120.
    pub clock_skew_max_s: u64,
    /// A submission waiting on a kiosk longer than this: outbox not draining. Default 900.
    pub outbox_max_age_s: u64,
    /// No touch for this many seconds during opening hours: touchscreen silent. 0 (default):
    /// not checked.
    pub touch_silent_s: u64,
    /// When kiosks are open, Czech local time, e.g. `Mo-Fr 07:00-18:00; Sa 08:00-12:00`.
    /// Empty (default): always.
    pub opening_hours: String,
    /// Seconds between checks of every kiosk. Default 15.
    pub sweep_s: u64,
    /// Seconds a device or health condition must last before its alert opens, so a blip (a
    /// device checked just after the agent starts, a flapping sensor) stays quiet. Default 20.
    /// Not for `offline`, which has its own threshold.
    pub hold_s: u64,
    /// A URL that gets every opened and resolved alert as a JSON POST.
    pub webhook_url: Option<String>,
    /// `host:port` of an SMTP relay for alert e-mails.
    pub smtp_server: Option<String>,
    /// The alert e-mails' sender.
    pub mail_from: Option<String>,
    /// Who gets alert e-mails.
    pub mail_to: Vec<String>,
}

impl Default for AlertsSection {
    fn default() -> Self {
        AlertsSection {
            offline_after_s: 180,
            temperature_max_c: 75.0,
            disk_used_max_percent: 90,
            clock_skew_max_s: 120,
            outbox_max_age_s: 900,
            touch_silent_s: 0,
            opening_hours: String::new(),
            sweep_s: 15,
            hold_s: 20,
            webhook_url: None,
            smtp_server: None,
            mail_from: None,
            mail_to: Vec::new(),
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// PEM certificate chain. With `tls_key`, the server speaks HTTPS; without, plain HTTP,
    /// which is allowed only on a loopback address.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Directory of the SQLite database. Default `/var/lib/okenko-fleet`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The address citizens reach the server at (printed in receipt QR codes).
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// Token for the admin API (`Authorization: Bearer …`), or use `admin_token_file`.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// File holding the admin token.
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
    /// Read-only token for `GET /metrics` (Prometheus), or use `metrics_token_file`. It opens
    /// nothing else: no admin API, no dashboard.
    #[serde(default)]
    pub metrics_token: Option<String>,
    /// File holding the metrics token.
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
}

/// The shortest token the server accepts, inline or from a file.
pub const MIN_TOKEN_LEN: usize = 16;

/// `[connector]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSection {
    /// Where new submissions are POSTed. Without it, submissions wait on the server.
    #[serde(default)]
    pub url: Option<String>,
    /// Bearer token sent to the agenda system.
    #[serde(default)]
    pub outbound_token: Option<String>,
    /// Bearer token the agenda system presents when it pushes status changes.
    #[serde(default)]
    pub inbound_token: Option<String>,
    /// Longest retry delay, seconds. Default 300.
    #[serde(default = "default_retry_max")]
    pub retry_max_s: u64,
    /// Deliveries in flight at once (1-64). Default 16.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// A delivery not answered within this many seconds failed (and is retried). Default 10.
    #[serde(default = "default_delivery_timeout")]
    pub timeout_s: u64,
    /// How long a submission's form values stay on the server after the agenda system took
    /// it, seconds; 0 (the default) purges them at once. The code, state and times stay.
    #[serde(default)]
    pub keep_delivered_s: u64,
    /// How long the keyed hash of the citizen's card stays with a request, for "my requests"
    /// at any kiosk, days. Default 365.
    #[serde(default = "default_identity_days")]
    pub identity_days: u32,
}

fn default_concurrency() -> usize {
    16
}
fn default_delivery_timeout() -> u64 {
    10
}
fn default_identity_days() -> u32 {
    365
}

impl Default for ConnectorSection {
    fn default() -> Self {
        ConnectorSection {
            url: None,
            outbound_token: None,
            inbound_token: None,
            retry_max_s: default_retry_max(),
            concurrency: default_concurrency(),
            timeout_s: default_delivery_timeout(),
            keep_delivered_s: 0,
            identity_days: default_identity_days(),
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Public status-page and enrolment requests per client address per minute. Default 30.
    #[serde(default = "default_public_rate")]
    pub public_per_minute: u32,
    /// Largest request body, bytes. Default 16 MiB.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Dashboard sign-in attempts per client address per minute (besides the lock of an
    /// account after 5 wrong passwords). Default 10.
    #[serde(default = "default_login_rate")]
    pub logins_per_minute: u32,
    /// Status look-ups (by tracking code or by card) one kiosk may make per minute, as the
    /// public page allows one address. Default 30.
    #[serde(default = "default_public_rate")]
    pub kiosk_lookups_per_minute: u32,
    /// Console events (sign-ins, commands) one kiosk may add to the audit log per minute; more
    /// are counted in one entry instead. Default 60.
    #[serde(default = "default_console_rate")]
    pub console_events_per_minute: u32,
    /// Connections served at once; more wait in the kernel's queue until one closes. Keep it
    /// below the process's open-file limit (`LimitNOFILE=`). Default 4096.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A connection must send a whole request head within this many seconds of opening, or of
    /// its previous answer (keep-alive idle), else it is closed; also the TLS handshake's
    /// limit. Default 20.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_s: u64,
    /// A request body must make progress: at most this many seconds between two reads
    /// (nginx's `client_body_timeout`). Default 30.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_s: u64,
    /// And arrive whole within this many seconds. Default 600.
    #[serde(default = "default_body_deadline")]
    pub body_deadline_s: u64,
}

fn default_max_connections() -> usize {
    4096
}
fn default_header_timeout() -> u64 {
    20
}
fn default_body_read_timeout() -> u64 {
    30
}
fn default_body_deadline() -> u64 {
    600
}

fn default_console_rate() -> u32 {
    60
}

fn default_login_rate() -> u32 {
    10
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            public_per_minute: default_public_rate(),
            max_body_bytes: default_max_body(),
            logins_per_minute: default_login_rate(),
            kiosk_lookups_per_minute: default_public_rate(),
            console_events_per_minute: default_console_rate(),
            max_connections: default_max_connections(),
            header_timeout_s: default_header_timeout(),
            body_read_timeout_s: default_body_read_timeout(),
            body_deadline_s: default_body_deadline(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `tracing` filter; `RUST_LOG` overrides it. Default `info`.
    #[serde(default = "default_filter")]
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            filter: default_filter(),
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_data_dir() -> PathBuf {
    "/var/lib/okenko-fleet".into()
}
fn default_public_url() -> String {
    "http://127.0.0.1:8080".into()
}
fn default_retry_max() -> u64 {
    300
}
fn default_public_rate() -> u32 {
    30
}
fn default_max_body() -> usize {
    16 * 1024 * 1024
}
fn default_filter() -> String {
    "info".into()
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        protocol::config::from_file(path)
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        protocol::config::from_toml(text)
    }
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| ConfigError::Invalid {
            key,
            problem: problem.into(),
        };
        self.store
            .check()
            .map_err(|(key, problem)| invalid(key, &problem))?;
        self.notices
            .check()
            .map_err(|(key, problem)| invalid(key, &problem))?;
        if self.store.delivery_claim_s <= self.connector.timeout_s {
            return Err(invalid(
                "store.delivery_claim_s",
                "must be longer than connector.timeout_s",
            ));
        }
        if !(1..=64).contains(&self.connector.concurrency) {
            return Err(invalid("connector.concurrency", "must be 1 to 64"));
        }
        if !(1..=600).contains(&self.connector.timeout_s) {
            return Err(invalid("connector.timeout_s", "must be 1 to 600 seconds"));
        }
        let l = &self.limits;
        if l.max_connections == 0 {
            return Err(invalid("limits.max_connections", "must be at least 1"));
        }
        for (key, v) in [
            ("limits.header_timeout_s", l.header_timeout_s),
            ("limits.body_read_timeout_s", l.body_read_timeout_s),
            ("limits.body_deadline_s", l.body_deadline_s),
        ] {
            if !(1..=86_400).contains(&v) {
                return Err(invalid(key, "must be 1 to 86400 seconds"));
            }
        }
        if self.history.uptime_days < 32 {
            return Err(invalid("history.uptime_days", "must be at least 32"));
        }
        if !(50.0..=100.0).contains(&self.sla.target_percent) {
            return Err(invalid("sla.target_percent", "must be 50 to 100"));
        }
        let a = &self.alerts;
        crate::hours::OpeningHours::parse(&a.opening_hours)
            .map_err(|e| invalid("alerts.opening_hours", &e))?;
        crate::hours::OpeningHours::parse(&self.releases.window)
            .map_err(|e| invalid("releases.window", &e))?;
        if self.releases.max_failure_percent > 100 {
            return Err(invalid("releases.max_failure_percent", "must be 0 to 100"));
        }
        if a.hold_s > 3600 {
            return Err(invalid("alerts.hold_s", "at most 3600"));
        }
        if a.disk_used_max_percent == 0 || a.disk_used_max_percent > 100 {
            return Err(invalid("alerts.disk_used_max_percent", "must be 1 to 100"));
        }
        if a.offline_after_s == 0 || a.sweep_s == 0 {
            return Err(invalid(
                "alerts.offline_after_s",
                "offline_after_s and sweep_s must be at least 1",
            ));
        }
        if let Some(u) = &a.webhook_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(invalid("alerts.webhook_url", "must be an http(s) URL"));
        }
        if a.smtp_server.is_some() && a.mail_from.is_none() {
            return Err(invalid("alerts.smtp_server", "e-mail needs mail_from"));
        }
        let s = &self.server;
        match (&s.tls_cert, &s.tls_key) {
            (Some(_), None) => {
                return Err(invalid(
                    "server.tls_key",
                    "tls_cert is set but tls_key is not",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "server.tls_cert",
                    "tls_key is set but tls_cert is not",
                ));
            }
            (None, None) if !s.listen.ip().is_loopback() => {
                return Err(invalid(
                    "server.listen",
                    "plain HTTP is allowed only on a loopback address; set tls_cert and tls_key",
                ));
            }
            _ => {}
        }
        for (key, inline, file) in [
            ("server.admin_token", &s.admin_token, &s.admin_token_file),
            (
                "server.metrics_token",
                &s.metrics_token,
                &s.metrics_token_file,
            ),
        ] {
            if inline.is_some() && file.is_some() {
                return Err(invalid(key, "give the token or its file, not both"));
            }
            if inline.as_ref().is_some_and(|t| t.len() < MIN_TOKEN_LEN) {
                return Err(invalid(key, "must be at least 16 characters"));
            }
        }
        if s.metrics_token.is_some() && s.metrics_token == s.admin_token {
            return Err(invalid(
                "server.metrics_token",
                "must differ from the admin token",
            ));
        }
        if !(s.public_url.starts_with("https://") || s.public_url.starts_with("http://")) {
            return Err(invalid(
                "server.public_url",
                "must start with https:// or http://",
            ));
        }
        if let Some(u) = &self.connector.url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(invalid(
                "connector.url",
                "must start with https:// or http://",
            ));
        }
        if let Some(t) = &self.connector.inbound_token
            && t.len() < 16
        {
            return Err(invalid(
                "connector.inbound_token",
                "must be at least 16 characters",
            ));
        }
        if self.connector.retry_max_s == 0 {
            return Err(invalid("connector.retry_max_s", "must be greater than 0"));
        }
        if self.limits.logins_per_minute == 0 {
            return Err(invalid(
                "limits.logins_per_minute",
                "must be greater than 0",
            ));
        }
        if self.limits.public_per_minute == 0 {
            return Err(invalid(
                "limits.public_per_minute",
                "must be greater than 0",
            ));
        }
        if self.limits.max_body_bytes < 64 * 1024 {
            return Err(invalid("limits.max_body_bytes", "must be at least 65536"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| invalid("log.filter", &e.to_string()))?;
        Ok(())
    }
}

impl Config {
    /// The admin token, read from its file when configured so.
    pub fn admin_token(&self) -> Result<Option<String>, ConfigError> {
        token(
            "server.admin_token_file",
            &self.server.admin_token,
            &self.server.admin_token_file,
        )
    }

    /// The metrics-only token, inline or read from `metrics_token_file`.
    pub fn metrics_token(&self) -> Result<Option<String>, ConfigError> {
        token(
            "server.metrics_token_file",
            &self.server.metrics_token,
            &self.server.metrics_token_file,
        )
    }

    /// The server's SQLite database file (when `[store]` names no other database).
    pub fn db_path(&self) -> PathBuf {
        self.server.data_dir.join("fleet.sqlite")
    }

    /// Where the data is: `store.url` (or `url_file`), else the SQLite file in `data_dir`.
    pub fn store_location(&self) -> Result<crate::store::config::Location, ConfigError> {
        match self.store.url()? {
            None => Ok(crate::store::config::Location::Sqlite(self.db_path())),
            Some(u) => {
                crate::store::config::Location::parse(&u).map_err(|problem| ConfigError::Invalid {
                    key: "store.url",
                    problem,
                })
            }
        }
    }
}

/// A token given inline or in a file (trimmed); a file's token is held to the same minimum
/// length as an inline one.
fn token(
    key: &'static str,
    inline: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    if let Some(t) = inline {
        return Ok(Some(t.clone()));
    }
    let Some(p) = file else {
        return Ok(None);
    };
    let t = std::fs::read_to_string(p)
        .map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?
        .trim()
        .to_owned();
    if t.len() < MIN_TOKEN_LEN {
        return Err(ConfigError::Invalid {
            key,
            problem: format!(
                "{} holds {} characters; a token needs at least {MIN_TOKEN_LEN}",
                p.display(),
                t.len()
            ),
        });
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_are_held_to_the_minimum_length() {
        let dir = std::env::temp_dir().join(format!("okenko-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let short = dir.join("short");
        let long = dir.join("long");
        std::fs::write(&short, "abc\n").unwrap();
        std::fs::write(&long, "0123456789abcdef-metrics\n").unwrap();
        let with = |key: &str, path: &std::path::Path| {
            Config::from_toml(&format!("[server]\n{key} = \"{}\"\n", path.display())).unwrap()
        };
        let e = with("admin_token_file", &short).admin_token().unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
        let e = with("metrics_token_file", &short)
            .metrics_token()
            .unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
        assert_eq!(
            with("metrics_token_file", &long)
                .metrics_token()
                .unwrap()
                .as_deref(),
            Some("0123456789abcdef-metrics")
        );
        assert!(Config::from_toml("[server]\nmetrics_token = \"short\"\n").is_err());
        assert!(
            Config::from_toml(
                "[server]\nadmin_token = \"same-token-0123456789\"\nmetrics_token = \"same-token-0123456789\"\n"
            )
            .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_example_file_parses_and_shows_the_defaults() {
        let c = Config::from_toml(include_str!("../fleet.example.toml")).unwrap();
        let d = Config::from_toml("[server]\n").unwrap();
        assert_eq!(c.server.listen, d.server.listen);
        assert_eq!(c.server.data_dir, d.server.data_dir);
        assert_eq!(c.server.public_url, d.server.public_url);
        assert_eq!(c.connector.retry_max_s, d.connector.retry_max_s);
        assert_eq!(c.limits.public_per_minute, d.limits.public_per_minute);
        assert_eq!(c.limits.max_body_bytes, d.limits.max_body_bytes);
        assert_eq!(c.limits.max_connections, d.limits.max_connections);
        assert_eq!(c.limits.header_timeout_s, d.limits.header_timeout_s);
        assert_eq!(c.limits.body_read_timeout_s, d.limits.body_read_timeout_s);
        assert_eq!(c.limits.body_deadline_s, d.limits.body_deadline_s);
        assert_eq!(
            c.limits.console_events_per_minute,
            d.limits.console_events_per_minute
        );
        assert_eq!(
            c.limits.kiosk_lookups_per_minute,
            d.limits.kiosk_lookups_per_minute
        );
        assert_eq!(c.log.filter, d.log.filter);
        let (a, b) = (&c.alerts, &d.alerts);
        assert_eq!(a.offline_after_s, b.offline_after_s);
        assert_eq!(a.temperature_max_c, b.temperature_max_c);
        assert_eq!(a.disk_used_max_percent, b.disk_used_max_percent);
        assert_eq!(a.clock_skew_max_s, b.clock_skew_max_s);
        assert_eq!(a.outbox_max_age_s, b.outbox_max_age_s);
        assert_eq!(a.touch_silent_s, b.touch_silent_s);
        assert_eq!(a.opening_hours, b.opening_hours);
        assert_eq!(a.sweep_s, b.sweep_s);
        assert_eq!(a.hold_s, b.hold_s);
        assert_eq!(c.history.uptime_days, d.history.uptime_days);
        assert_eq!(c.sla.target_percent, d.sla.target_percent);
        assert_eq!(c.sla.city, d.sla.city);
        let e = Config::from_toml("[server]\n[alerts]\nopening_hours = \"Mo 9-5\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("alerts.opening_hours"), "{e}");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(Config::from_toml("[server]\nlisten = \"127.0.0.1:1\"\n").is_ok());
        let e = Config::from_toml("[server]\nlisten = \"0.0.0.0:443\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen"), "{e}");
        let e = Config::from_toml("[server]\ntls_cert = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.tls_key"), "{e}");
        let e = Config::from_toml("[server]\nlisten = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen"), "{e}");
    }
}
