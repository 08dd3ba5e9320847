//! The agent's configuration: a TOML file, default path [`DEFAULT_PATH`].
//!
//! Every key is documented in `kiosk-agent/agent.example.toml` with its default. Unknown keys
//! are refused (a typo must not silently fall back to a default), and every error names the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where the agent looks for its configuration when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/okenko/agent.toml";

pub use crate::console::config::ConsoleSection;
pub use crate::devices::config::{
    CardReaderKind, CardReaderSection, PrinterLink, PrinterSection, TouchscreenSection,
};
pub use crate::power::CommandsSection;
pub use crate::update::config::{SlotKind, UpdateSection};
pub use protocol::config::ConfigError;
use protocol::config::Validate;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Local side: socket and data.
    pub agent: AgentSection,
    /// The fleet server. On the appliance image it comes from provisioning instead
    /// ([`crate::provision`]): then `[provision]` is set and `url` left out.
    #[serde(default)]
    pub fleet: FleetSection,
    /// Where a kiosk built from the shared image finds its provisioning; see
    /// [`crate::provision`].
    #[serde(default)]
    pub provision: Option<ProvisionSection>,
    /// The receipt printer; without this section the kiosk has none.
    #[serde(default)]
    pub printer: Option<PrinterSection>,
    /// What receipts say.
    #[serde(default)]
    pub receipt: ReceiptSection,
    /// The card reader; without this section the kiosk has none.
    #[serde(default)]
    pub card_reader: Option<CardReaderSection>,
    /// The touchscreen, watched for health; without this section it is not monitored.
    #[serde(default)]
    pub touchscreen: Option<TouchscreenSection>,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
    /// How remote commands act on the system.
    #[serde(default)]
    pub commands: CommandsSection,
    /// The technician's serial console; without this section there is none.
    #[serde(default)]
    pub console: Option<ConsoleSection>,
    /// Signed updates into A/B slots; without this section the kiosk is not updated.
    #[serde(default)]
    pub update: Option<UpdateSection>,
    /// Speech for audio mode; without this section the kiosk has none.
    #[serde(default)]
    pub speech: Option<crate::speech::SpeechSection>,
}

/// `[receipt]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSection {
    /// The header line, e.g. "Statutární město Ostrava". Default "Okénko".
    #[serde(default = "default_header")]
    pub header: String,
    /// Base of the public status URL in the receipt's QR code (the fleet server's public
    /// address); `/s/<code>` is appended. Default: `fleet.url`.
    #[serde(default)]
    pub status_url_base: Option<String>,
}

impl Default for ReceiptSection {
    fn default() -> Self {
        ReceiptSection {
            header: default_header(),
            status_url_base: None,
        }
    }
}

/// `[agent]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Unix socket the app connects to. Default `/run/okenko/agent.sock`.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Directory of the agent's SQLite database. Default `/var/lib/okenko`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Largest frame accepted on the socket, bytes. Default 1 MiB.
    #[serde(default = "default_max_frame")]
    pub max_frame_bytes: u32,
    /// Most app connections served at once. Default 16.
    #[serde(default = "default_max_clients")]
    pub max_clients: usize,
    /// How often devices are checked (printer status, reader present), milliseconds. A device
    /// that is missing is retried with back-off instead, up to a minute. Default 5000.
    #[serde(default = "default_device_poll_ms")]
    pub device_poll_ms: u64,
    /// The self-test fails when the data partition is fuller than this, percent (1 to 100).
    /// Default 90, the fleet's own disk-full alert level.
    #[serde(default = "default_disk_used_max_percent")]
    pub disk_used_max_percent: u8,
}

fn default_disk_used_max_percent() -> u8 {
    90
}

fn default_device_poll_ms() -> u64 {
    5_000
}

/// `[provision]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionSection {
    /// Installer's files to take on the first start (the first that exists), e.g. on the ESP.
    #[serde(default)]
    pub files: Vec<PathBuf>,
}

/// `[fleet]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// Base URL of the fleet server. `https://` is required except on a loopback address.
    /// Empty only on a kiosk that waits to be provisioned.
    #[serde(default)]
    pub url: String,
    /// PEM file of the CA(s) that sign the fleet server's certificate. When set, only these are
    /// trusted (pinned); when absent, the system's trust store is used.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The one-time bootstrap token an admin issued for this kiosk (or use `bootstrap_token_file`).
    #[serde(default)]
    pub bootstrap_token: Option<String>,
    /// File holding the bootstrap token.
    #[serde(default)]
    pub bootstrap_token_file: Option<PathBuf>,
    /// Time-out of one HTTP request, seconds. Default 20.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_s: u64,
    /// Time-out of a status look-up the citizen waits for, seconds. Default 3.
    #[serde(default = "default_status_timeout")]
    pub status_timeout_s: u64,
    /// Submissions per upload batch, 1-100. Default 50.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Seconds between heartbeats. Default 30.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_interval_s: u64,
    /// Seconds between catalog checks when heartbeats report no change. Default 300.
    #[serde(default = "default_catalog_interval")]
    pub catalog_interval_s: u64,
    /// First retry delay after a failure, milliseconds. Default 500.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial_ms: u64,
    /// Longest retry delay, seconds. Default 300.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_s: u64,
}

impl Default for FleetSection {
    fn default() -> FleetSection {
        FleetSection {
            url: String::new(),
            ca_file: None,
            bootstrap_token: None,
            bootstrap_token_file: None,
            request_timeout_s: default_request_timeout(),
            status_timeout_s: default_status_timeout(),
            batch_size: default_batch(),
            heartbeat_interval_s: default_heartbeat(),
            catalog_interval_s: default_catalog_interval(),
            backoff_initial_ms: default_backoff_initial(),
            backoff_max_s: default_backoff_max(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `tracing` filter, e.g. `info` or `kiosk_agent=debug`. `RUST_LOG` overrides it.
    #[serde(default = "default_log_filter")]
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            filter: default_log_filter(),
        }
    }
}

fn default_socket() -> PathBuf {
    "/run/okenko/agent.sock".into()
}
fn default_data_dir() -> PathBuf {
    "/var/lib/okenko".into()
}
fn default_max_frame() -> u32 {
    protocol::frame::DEFAULT_MAX_FRAME
}
fn default_max_clients() -> usize {
    16
}
fn default_request_timeout() -> u64 {
    20
}
fn default_status_timeout() -> u64 {
    3
}
fn default_batch() -> usize {
    50
}
fn default_heartbeat() -> u64 {
    30
}
fn default_catalog_interval() -> u64 {
    300
}
fn default_backoff_initial() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    300
}
fn default_header() -> String {
    "Okénko".into()
}
fn default_log_filter() -> String {
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
        if self.fleet.url.is_empty() {
            if self.provision.is_none() {
                return Err(invalid(
                    "fleet.url",
                    "is required (or a [provision] section, on the appliance image)",
                ));
            }
        } else {
            check_fleet_url(&self.fleet.url).map_err(|p| invalid("fleet.url", &p))?;
        }
        if !(1..=protocol::fleet::MAX_BATCH).contains(&self.fleet.batch_size) {
            return Err(invalid("fleet.batch_size", "must be between 1 and 100"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.agent.max_frame_bytes) {
            return Err(invalid(
                "agent.max_frame_bytes",
                "must be between 1024 and 67108864",
            ));
        }
        if self.agent.max_clients == 0 {
            return Err(invalid("agent.max_clients", "must be at least 1"));
        }
        if let Some(u) = &self.update {
            if u.hardware.trim().is_empty() {
                return Err(invalid(
                    "update.hardware",
                    "must name this kiosk's hardware",
                ));
            }
            if u.run.is_empty() || u.app_check.is_empty() {
                return Err(invalid("update.run", "run and app_check need a program"));
            }
            if !(1..=10).contains(&u.boot_attempts) {
                return Err(invalid("update.boot_attempts", "must be 1 to 10"));
            }
            if u.health_timeout_s <= u.settle_s {
                return Err(invalid(
                    "update.health_timeout_s",
                    "must be longer than settle_s",
                ));
            }
        }
        if !(1..=100).contains(&self.agent.disk_used_max_percent) {
            return Err(invalid("agent.disk_used_max_percent", "must be 1 to 100"));
        }
        if let Some(c) = &self.console {
            if let Some(pin) = &c.pin
                && !((6..=32).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(invalid("console.pin", "must be 6-32 digits"));
            }
            if c.idle_timeout_s == 0 || c.baud == 0 {
                return Err(invalid(
                    "console",
                    "idle_timeout_s and baud must be greater than 0",
                ));
            }
        }
        for (key, v) in [
            ("fleet.request_timeout_s", self.fleet.request_timeout_s),
            ("fleet.status_timeout_s", self.fleet.status_timeout_s),
            (
                "fleet.heartbeat_interval_s",
                self.fleet.heartbeat_interval_s,
            ),
            ("fleet.catalog_interval_s", self.fleet.catalog_interval_s),
            ("fleet.backoff_initial_ms", self.fleet.backoff_initial_ms),
            ("fleet.backoff_max_s", self.fleet.backoff_max_s),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be greater than 0"));
            }
        }
        if self.fleet.bootstrap_token.is_some() && self.fleet.bootstrap_token_file.is_some() {
            return Err(invalid(
                "fleet.bootstrap_token",
                "give either bootstrap_token or bootstrap_token_file, not both",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| invalid("log.filter", &e.to_string()))?;
        if let Some(p) = &self.printer {
            if p.path.is_some() && p.address.is_some() {
                return Err(invalid(
                    "printer.address",
                    "give either printer.path or printer.address",
                ));
            }
            if p.baud == 0 || p.status_timeout_ms == 0 || p.job_timeout_s == 0 {
                return Err(invalid(
                    "printer",
                    "baud, status_timeout_ms and job_timeout_s must be greater than 0",
                ));
            }
        }
        if let Some(c) = &self.card_reader
            && c.baud == 0
        {
            return Err(invalid("card_reader.baud", "must be greater than 0"));
        }
        if let Some(base) = &self.receipt.status_url_base
            && !(base.starts_with("https://") || base.starts_with("http://"))
        {
            return Err(invalid(
                "receipt.status_url_base",
                "must start with https:// or http://",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Where the printer is, when one is configured.
    pub fn printer_transport(&self) -> Option<crate::devices::printer::Transport> {
        self.printer.as_ref().map(PrinterSection::transport)
    }

    /// What the devices are built from: their sections, the card key (read here) and the
    /// poll interval.
    pub fn devices(&self) -> Result<crate::devices::Setup, ConfigError> {
        Ok(crate::devices::Setup {
            printer: self.printer.clone(),
            card_reader: match (&self.card_reader, self.card_key()?) {
                (Some(c), Some(key)) => Some((c.clone(), key)),
                _ => None,
            },
            touchscreen: self.touchscreen.clone(),
            poll: Duration::from_millis(self.agent.device_poll_ms.max(100)),
        })
    }

    /// The card-hash key from `card_reader.key_file` (at least 16 bytes).
    pub fn card_key(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let Some(c) = &self.card_reader else {
            return Ok(None);
        };
        let key = match std::fs::read(&c.key_file) {
            Ok(k) => k,
            // A kiosk waiting for its provisioning has no card key yet: no card reader until then.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.provision.is_some() => {
                tracing::warn!(path = %c.key_file.display(), "no card key provisioned yet; the card reader stays off");
                return Ok(None);
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: c.key_file.clone(),
                    source,
                });
            }
        };
        let key: Vec<u8> = key.trim_ascii().to_vec();
        if key.len() < 16 {
            return Err(ConfigError::Invalid {
                key: "card_reader.key_file",
                problem: "the key must be at least 16 bytes".into(),
            });
        }
        Ok(Some(key))
    }

    /// The public address status pages are under: `receipt.status_url_base`, else the
    /// fleet's URL.
    pub fn status_base(&self) -> &str {
        self.receipt
            .status_url_base
            .as_deref()
            .unwrap_or(&self.fleet.url)
    }

    /// The public status URL of a tracking code.
    pub fn status_url(&self, code: &protocol::tracking::TrackingCode) -> String {
        code.status_url(self.status_base())
    }

    /// The agent's database file.
    pub fn db_path(&self) -> PathBuf {
        self.agent.data_dir.join("agent.sqlite")
    }

    /// The bootstrap token, read from the file when configured so.
    pub fn bootstrap_token(&self) -> Result<Option<String>, ConfigError> {
        if let Some(t) = &self.fleet.bootstrap_token {
            return Ok(Some(t.trim().to_owned()));
        }
        match &self.fleet.bootstrap_token_file {
            None => Ok(None),
            Some(p) => std::fs::read_to_string(p)
                .map(|t| Some(t.trim().to_owned()))
                .map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                }),
        }
    }

    /// Retry delays.
    pub fn backoff(&self) -> (Duration, Duration) {
        (
            Duration::from_millis(self.fleet.backoff_initial_ms),
            Duration::from_secs(self.fleet.backoff_max_s),
        )
    }
}

/// Checks a fleet URL: http(s), a host, and plain http only towards loopback.
pub fn check_fleet_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("{url:?} has no host"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!(
            "plain http is allowed only to a loopback address; use https for {host}"
        )),
        s => Err(format!("scheme {s:?} is not http or https")),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[agent]\n[fleet]\nurl = \"https://fleet.example.cz\"\n";

    #[test]
    fn defaults_fill_a_minimal_file() {
        let c = Config::from_toml(MINIMAL).unwrap();
        assert_eq!(c.agent.socket, PathBuf::from("/run/okenko/agent.sock"));
        assert_eq!(c.fleet.batch_size, 50);
        assert_eq!(c.fleet.heartbeat_interval_s, 30);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml("[agent]\n[fleet]\nurl = \"http://fleet.example.cz\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fleet.url") && e.contains("loopback"), "{e}");
        let e = Config::from_toml(&format!("{MINIMAL}batch_size = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fleet.batch_size"), "{e}");
        let e = Config::from_toml(&format!("{MINIMAL}batch_sise = 5\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch_sise"), "{e}");
        let e = Config::from_toml(&format!("{MINIMAL}heartbeat_interval_s = \"x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("heartbeat_interval_s"), "{e}");
    }

    #[test]
    fn a_kiosk_waiting_for_provisioning_needs_no_fleet_url_but_others_do() {
        let e = Config::from_toml("[agent]\n").unwrap_err().to_string();
        assert!(e.contains("fleet.url") && e.contains("[provision]"), "{e}");
        let c = Config::from_toml("[agent]\n[provision]\nfiles = [\"/x.toml\"]\n").unwrap();
        assert!(c.fleet.url.is_empty());
        assert!(!crate::provision::is_provisioned(&c));
        assert_eq!(
            c.fleet.heartbeat_interval_s, 30,
            "the fleet's defaults still apply"
        );
    }

    #[test]
    fn the_example_file_parses_and_shows_the_defaults() {
        let example = include_str!("../agent.example.toml");
        let c = Config::from_toml(example).unwrap();
        let d = Config::from_toml(MINIMAL).unwrap();
        assert_eq!(c.agent.socket, d.agent.socket);
        assert_eq!(c.agent.data_dir, d.agent.data_dir);
        assert_eq!(c.agent.max_frame_bytes, d.agent.max_frame_bytes);
        assert_eq!(c.agent.max_clients, d.agent.max_clients);
        assert_eq!(c.agent.device_poll_ms, d.agent.device_poll_ms);
        assert_eq!(c.agent.disk_used_max_percent, d.agent.disk_used_max_percent);
        let dt = Config::from_toml(&format!("{MINIMAL}[touchscreen]\n")).unwrap();
        assert_eq!(
            c.touchscreen.as_ref().map(|t| &t.path),
            dt.touchscreen.as_ref().map(|t| &t.path)
        );
        assert_eq!(
            (
                c.fleet.request_timeout_s,
                c.fleet.status_timeout_s,
                c.fleet.batch_size
            ),
            (
                d.fleet.request_timeout_s,
                d.fleet.status_timeout_s,
                d.fleet.batch_size
            )
        );
        assert_eq!(
            (c.fleet.heartbeat_interval_s, c.fleet.catalog_interval_s),
            (d.fleet.heartbeat_interval_s, d.fleet.catalog_interval_s)
        );
        assert_eq!(c.backoff(), d.backoff());
        assert_eq!(c.log.filter, d.log.filter);
        // [printer] in the example shows the section's defaults.
        let dp = Config::from_toml(&format!("{MINIMAL}[printer]\n")).unwrap();
        let (cp, dp_) = (c.printer.as_ref().unwrap(), dp.printer.as_ref().unwrap());
        assert_eq!(
            (cp.baud, cp.charset, cp.status_timeout_ms, cp.job_timeout_s),
            (
                dp_.baud,
                dp_.charset,
                dp_.status_timeout_ms,
                dp_.job_timeout_s
            )
        );
        assert_eq!(c.printer_transport(), dp.printer_transport());
        let dc =
            Config::from_toml(&format!("{MINIMAL}[card_reader]\nkey_file = \"/k\"\n")).unwrap();
        let (cc, dc) = (
            c.card_reader.as_ref().unwrap(),
            dc.card_reader.as_ref().unwrap(),
        );
        assert_eq!(
            (&cc.path, cc.baud, cc.framing, cc.kind),
            (&dc.path, dc.baud, dc.framing, dc.kind)
        );
        assert_eq!(c.receipt.header, dp.receipt.header);
    }

    #[test]
    fn plain_http_to_loopback_is_allowed() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(check_fleet_url(url).is_ok(), "{url}");
        }
        assert!(check_fleet_url("ftp://127.0.0.1").is_err());
    }
}
