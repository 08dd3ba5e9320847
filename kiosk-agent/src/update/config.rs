//! `[update]`: the updater's section of the agent's configuration, owned here;
//! [`crate::config::Config`] composes it.

use std::path::PathBuf;

use serde::Deserialize;

/// Which slot backend installs updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotKind {
    /// Two directories and a boot pointer; "reboot" restarts the supervised app (developer
    /// machines and tests).
    Dir,
    /// RAUC on the appliance image.
    Rauc,
}

/// `[update]` (see [`crate::update`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSection {
    /// `dir` or `rauc`.
    pub backend: SlotKind,
    /// This kiosk's hardware; only releases listing it are installed.
    pub hardware: String,
    /// The public keys releases are signed with (one hex key per line).
    pub keyring: PathBuf,
    /// `dir`: where the slots `a` and `b` and the boot pointer live. Default
    /// `<data_dir>/slots`.
    #[serde(default)]
    pub slots_dir: Option<PathBuf>,
    /// `dir`: the program a slot runs, relative to the slot, with its arguments; the agent
    /// supervises it. Default `["bin/kiosk-app"]`.
    #[serde(default = "default_run")]
    pub run: Vec<String>,
    /// `rauc`: the `rauc` program. Default `rauc`.
    #[serde(default = "default_rauc")]
    pub rauc: PathBuf,
    /// `rauc`: the command that tells whether the app is up (exit 0). Default
    /// `systemctl is-active --quiet kiosk-app.service`.
    #[serde(default = "default_app_check")]
    pub app_check: Vec<String>,
    /// `rauc`: the app's systemd unit (e.g. `okenko-app.service`); when set, the app is up once
    /// the unit has been active for `settle_s`, and down after 3 restarts (`app_check` is not
    /// used then).
    #[serde(default)]
    pub app_unit: Option<String>,
    /// `rauc`: where the agent writes its verdict on a boot on trial (`good` or `bad`), which
    /// the image's `okenko-boot-health.service` waits for before the boot is blessed. Unset:
    /// RAUC's `mark-good` marks it.
    #[serde(default)]
    pub health_file: Option<PathBuf>,
    /// `rauc`: the file whose first line is the running root's release (the factory slot has
    /// no RAUC record). Unset: RAUC's record only.
    #[serde(default)]
    pub release_file: Option<PathBuf>,
    /// Install only after nobody touched the kiosk for this long, seconds (unless forced).
    /// Default 300.
    #[serde(default = "default_idle_s")]
    pub idle_s: u64,
    /// The new release must pass its health check within this, seconds, or the kiosk goes
    /// back. Default 180.
    #[serde(default = "default_health_timeout_s")]
    pub health_timeout_s: u64,
    /// The app must run this long without exiting to count as up, seconds. Default 15.
    #[serde(default = "default_settle_s")]
    pub settle_s: u64,
    /// Boots a new slot gets before it falls back (a crash or power cut during the trial
    /// uses one). Default 3.
    #[serde(default = "default_boot_attempts")]
    pub boot_attempts: u32,
}

fn default_run() -> Vec<String> {
    vec!["bin/kiosk-app".into()]
}
fn default_rauc() -> PathBuf {
    "rauc".into()
}
fn default_app_check() -> Vec<String> {
    ["systemctl", "is-active", "--quiet", "kiosk-app.service"]
        .map(String::from)
        .to_vec()
}
fn default_idle_s() -> u64 {
    300
}
fn default_health_timeout_s() -> u64 {
    180
}
fn default_settle_s() -> u64 {
    15
}
fn default_boot_attempts() -> u32 {
    3
}
