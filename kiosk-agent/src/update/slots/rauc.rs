//! [`Rauc`]: the appliance image's slots, driven through `rauc` and systemd.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use protocol::release::Manifest;
use serde::Deserialize;

use crate::power::Power;

use super::{AppHealth, Booted, MAX_EXITS, SlotBackend, SlotContent, SlotError, err, write_atomic};

/// RAUC on the appliance image (see the module docs).
#[derive(Debug, Clone)]
pub struct Rauc {
    rauc: PathBuf,
    app: AppCheck,
    power: Power,
    /// Where the agent writes its verdict on a boot on trial, for `okenko-boot-health.service`.
    health_file: Option<PathBuf>,
    /// The running root's release (`/etc/okenko/release`), for a slot RAUC has no record of
    /// (the factory's).
    release_file: Option<PathBuf>,
}

/// How the RAUC backend tells whether the app is up.
#[derive(Debug, Clone)]
pub enum AppCheck {
    /// A systemd unit: up once active for `settle`; down after three restarts.
    Unit(String),
    /// A command that exits 0 when the app is up.
    Command(Vec<String>),
}

/// What `systemctl show` says of the app's unit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitState {
    /// `active`, `activating`, `failed`…
    pub active_state: String,
    /// Restarts since the boot.
    pub restarts: u32,
    /// The main process's last exit status.
    pub exit_status: String,
    /// `success`, `exit-code`, `start-limit-hit`…
    pub result: String,
    /// When it became active, µs of CLOCK_MONOTONIC (0: never).
    pub active_since_us: u64,
}

impl UnitState {
    /// What systemd says of `unit` now.
    fn of(unit: &str) -> Result<UnitState, SlotError> {
        let text = run_program(
            "systemctl",
            &[
                "show",
                "--property=ActiveState,NRestarts,ExecMainStatus,Result,\
                 ActiveEnterTimestampMonotonic",
                unit,
            ],
        )?;
        Ok(UnitState::parse(&text))
    }

    /// Parses `systemctl show --property=…` (`Key=value` lines).
    pub fn parse(text: &str) -> UnitState {
        let mut u = UnitState::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "ActiveState" => u.active_state = v.to_owned(),
                "NRestarts" => u.restarts = v.parse().unwrap_or(0),
                "ExecMainStatus" => u.exit_status = v.to_owned(),
                "Result" => u.result = v.to_owned(),
                "ActiveEnterTimestampMonotonic" => u.active_since_us = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        u
    }

    /// The app's health, `now_us` being CLOCK_MONOTONIC now.
    pub fn health(&self, unit: &str, settle: Duration, now_us: u64) -> AppHealth {
        if self.restarts >= MAX_EXITS || self.result == "start-limit-hit" {
            return AppHealth::Down(format!(
                "{unit} restarted {} times since the boot (last exit status {}, {})",
                self.restarts, self.exit_status, self.result
            ));
        }
        let up_for = now_us.saturating_sub(self.active_since_us);
        if self.active_state == "active"
            && self.active_since_us > 0
            && up_for >= settle.as_micros() as u64
        {
            AppHealth::Up
        } else {
            AppHealth::Starting
        }
    }
}

fn monotonic_us() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

/// The parts of `rauc status --output-format=json` the agent reads.
#[derive(Debug, Deserialize)]
pub struct RaucStatus {
    /// The booted slot's boot name (`A`).
    pub booted: Option<String>,
    /// The slots, each `{ "rootfs.0": {…} }`.
    #[serde(default)]
    pub slots: Vec<std::collections::BTreeMap<String, RaucSlot>>,
}

/// One slot in `rauc status`.
#[derive(Debug, Deserialize)]
pub struct RaucSlot {
    /// `rootfs`, `appfs`…
    pub class: Option<String>,
    /// Its boot name.
    pub bootname: Option<String>,
    /// What was installed into it.
    pub slot_status: Option<RaucSlotStatus>,
    /// `good` or `bad`, as the boot loader backend says.
    pub boot_status: Option<String>,
}

/// A slot's installation record.
#[derive(Debug, Deserialize)]
pub struct RaucSlotStatus {
    /// The bundle.
    pub bundle: Option<RaucBundle>,
    /// `ok` once an install completed (an install cut off leaves another word, or none).
    pub status: Option<String>,
}

/// The bundle a slot came from.
#[derive(Debug, Deserialize)]
pub struct RaucBundle {
    /// Its version.
    pub version: Option<String>,
}

impl RaucStatus {
    /// Parses the JSON.
    pub fn parse(text: &str) -> Result<RaucStatus, SlotError> {
        serde_json::from_str(text).map_err(|e| err(format!("rauc status: {e}")))
    }

    fn rootfs(&self) -> impl Iterator<Item = &RaucSlot> {
        self.slots
            .iter()
            .flat_map(|m| m.values())
            .filter(|s| s.class.as_deref() == Some("rootfs"))
    }

    /// The booted slot and its release.
    pub fn booted(&self) -> Result<Booted, SlotError> {
        let name = self
            .booted
            .clone()
            .ok_or_else(|| err("rauc status names no booted slot"))?;
        let version = self
            .rootfs()
            .find(|s| s.bootname.as_deref() == Some(name.as_str()))
            .and_then(|s| s.slot_status.as_ref())
            .and_then(|s| s.bundle.as_ref())
            .and_then(|b| b.version.clone())
            .unwrap_or_else(|| "factory".into());
        Ok(Booted {
            slot: name,
            version,
        })
    }

    /// The other rootfs slot's release.
    pub fn other(&self) -> Option<SlotContent> {
        let booted = self.booted.as_deref()?;
        let s = self
            .rootfs()
            .find(|s| s.bootname.is_some() && s.bootname.as_deref() != Some(booted))?;
        let st = s.slot_status.as_ref()?;
        if st.status.as_deref() != Some("ok") {
            return None;
        }
        Some(SlotContent {
            version: st.bundle.as_ref()?.version.clone()?,
            // RAUC records the slot image's digest, not the bundle's: a switch back to it is
            // decided by version.
            sha256: String::new(),
        })
    }
}

impl Rauc {
    /// Drives `rauc`; `app` says whether the app is up; `power` reboots; the verdict on a
    /// boot on trial goes to `health_file`; `release_file` names the running root's release.
    pub fn new(
        rauc: PathBuf,
        app: AppCheck,
        power: Power,
        health_file: Option<PathBuf>,
        release_file: Option<PathBuf>,
    ) -> Rauc {
        Rauc {
            rauc,
            app,
            power,
            health_file,
            release_file,
        }
    }

    fn rauc(&self, args: &[&str]) -> Result<String, SlotError> {
        run_program(&self.rauc.to_string_lossy(), args)
    }

    fn status(&self) -> Result<RaucStatus, SlotError> {
        // RAUC is started by D-Bus on the first call; give it a moment at boot.
        let mut last = None;
        for _ in 0..10 {
            match self.rauc(&["status", "--output-format=json"]) {
                Ok(text) => return RaucStatus::parse(&text),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        Err(last.unwrap_or_else(|| err("rauc status failed")))
    }

    /// The agent's verdict on this boot, for `okenko-boot-health.service`.
    fn verdict(&self, text: &str) -> Result<(), SlotError> {
        let Some(path) = &self.health_file else {
            return Ok(());
        };
        write_atomic(path, text.as_bytes())
    }

    /// Why RAUC's last install failed (its D-Bus `LastError`), if it says.
    fn last_error(&self) -> Option<String> {
        let out = run_program(
            "busctl",
            &[
                "get-property",
                "de.pengutronix.rauc",
                "/",
                "de.pengutronix.rauc.Installer",
                "LastError",
            ],
        )
        .ok()?;
        parse_busctl_string(&out)
    }

    fn release(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.release_file.as_ref()?).ok()?;
        let v = text.lines().next()?.trim();
        (!v.is_empty()).then(|| v.to_owned())
    }
}

/// The string in `busctl get-property`'s answer (`s "text"`), unquoted; `None` when empty.
fn parse_busctl_string(out: &str) -> Option<String> {
    let quoted = out.trim().strip_prefix("s ")?.trim();
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    // busctl escapes as C does (`\"`, `\'`, `\\`, `\n`); a reason is one line.
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 't') => text.push(' '),
            Some(e) => text.push(e),
            None => {}
        }
    }
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Runs `prog args`: its standard output, or why it failed (with its standard error).
fn run_program(prog: &str, args: &[&str]) -> Result<String, SlotError> {
    crate::programs::output(prog, args).map_err(err)
}

impl SlotBackend for Rauc {
    fn boot(&self) -> Result<Booted, SlotError> {
        // The boot loader already chose; the agent only reads what it did. What runs is what
        // the root says it is (RAUC has no record of the factory's slot).
        let mut booted = self.status()?.booted()?;
        if let Some(v) = self.release() {
            booted.version = v;
        }
        Ok(booted)
    }

    fn other(&self) -> Result<Option<SlotContent>, SlotError> {
        Ok(self.status()?.other())
    }

    fn bundle_suffix(&self) -> &'static str {
        // RAUC takes only bundles named so.
        "raucb"
    }

    fn install(&self, bundle: &Path, _manifest: &Manifest) -> Result<(), SlotError> {
        // RAUC checks the bundle's own signature (its keyring) and its compatible before it
        // writes anything, writes the inactive slot and makes it the next boot's first choice,
        // on trial (the boot loader backend gives it its tries).
        self.rauc(&["install", &bundle.to_string_lossy()])
            .map(drop)
            .map_err(|e| match self.last_error() {
                // The command line says only that it failed; the service says why.
                Some(why) => err(format!("RAUC refused the bundle: {why}")),
                None => e,
            })
    }

    fn try_other(&self) -> Result<(), SlotError> {
        self.rauc(&["status", "mark-active", "other"]).map(drop)
    }

    fn reboot(&self) -> Result<Booted, SlotError> {
        self.power.reboot().map_err(err)?;
        // The machine is going down; what runs next is decided at the next start.
        std::thread::sleep(Duration::from_secs(300));
        Err(err("the reboot did not happen"))
    }

    fn mark_good(&self) -> Result<(), SlotError> {
        // The one place a boot is marked good is systemd-bless-boot, which waits for
        // okenko-boot-health.service, which waits for this verdict.
        self.verdict("good\n")?;
        if self.health_file.is_none() {
            return self.rauc(&["status", "mark-good", "booted"]).map(drop);
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let u = UnitState::of("systemd-bless-boot.service")?;
            if u.active_state == "active" {
                tracing::info!("the boot is blessed: its loader entry is marked good");
                return Ok(());
            }
            if u.active_state == "failed" || Instant::now() >= deadline {
                return Err(err(format!(
                    "the boot was not blessed: systemd-bless-boot.service is {} ({})",
                    u.active_state, u.result
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn mark_bad(&self) -> Result<(), SlotError> {
        self.rauc(&["status", "mark-bad", "booted"])?;
        // okenko-boot-health.service fails, which also reboots the kiosk.
        self.verdict("bad\n")
    }

    fn app(&self, settle: Duration) -> AppHealth {
        match &self.app {
            AppCheck::Unit(unit) => match UnitState::of(unit) {
                Ok(u) => u.health(unit, settle, monotonic_us()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot ask systemd about the app");
                    AppHealth::Starting
                }
            },
            AppCheck::Command(cmd) => {
                if crate::programs::succeeds(cmd) {
                    AppHealth::Up
                } else {
                    AppHealth::Starting
                }
            }
        }
    }

    fn stop(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rauc status --output-format=json` of a two-slot system, as RAUC prints it.
    const STATUS: &str = r#"{"compatible":"okenko-x86_64","variant":"","booted":"A","boot_primary":"rootfs.0",
      "slots":[{"rootfs.0":{"class":"rootfs","device":"/dev/vda2","type":"ext4","bootname":"A",
        "state":"booted","parent":null,"mountpoint":"/","boot_status":"good",
        "slot_status":{"bundle":{"compatible":"okenko-x86_64","version":"1.4.0"},
          "checksum":{"sha256":"aa","size":1},"status":"ok"}}},
        {"rootfs.1":{"class":"rootfs","device":"/dev/vda3","type":"ext4","bootname":"B",
        "state":"inactive","parent":null,"mountpoint":null,"boot_status":"good",
        "slot_status":{"bundle":{"compatible":"okenko-x86_64","version":"1.3.2"},"status":"ok"}}}]}"#;

    /// The app's unit as systemd shows it: up only after `settle` of being active; down once
    /// it has restarted 3 times or hit its start limit; anything unreadable is "starting".
    #[test]
    fn the_app_unit_is_up_after_settling_and_down_after_three_restarts() {
        let settle = Duration::from_secs(15);
        let shown = |state: &str, restarts: u32, result: &str, since: u64| {
            format!(
                "ActiveState={state}\nNRestarts={restarts}\nExecMainStatus=70\nResult={result}\n\
                 ActiveEnterTimestampMonotonic={since}\n"
            )
        };
        let now = 100_000_000;
        let up = UnitState::parse(&shown("active", 0, "success", now - 20_000_000));
        assert_eq!(up.health("okenko-app.service", settle, now), AppHealth::Up);
        let young = UnitState::parse(&shown("active", 1, "success", now - 2_000_000));
        assert_eq!(
            young.health("okenko-app.service", settle, now),
            AppHealth::Starting
        );
        let crashing = UnitState::parse(&shown("activating", 3, "exit-code", 0));
        match crashing.health("okenko-app.service", settle, now) {
            AppHealth::Down(why) => assert_eq!(
                why,
                "okenko-app.service restarted 3 times since the boot (last exit status 70, \
                 exit-code)"
            ),
            other => panic!("{other:?}"),
        }
        let limited = UnitState::parse(&shown("failed", 1, "start-limit-hit", 0));
        assert!(matches!(
            limited.health("okenko-app.service", settle, now),
            AppHealth::Down(_)
        ));
        let garbage = UnitState::parse("no equals sign\nNRestarts=lots\n\u{0}=\u{0}");
        assert_eq!(garbage.health("x", settle, now), AppHealth::Starting);
    }

    #[test]
    fn rauc_last_error_is_read_from_busctl() {
        assert_eq!(
            parse_busctl_string(
                "s \"signature verification failed: Verify error: self-signed certificate\"\n"
            )
            .as_deref(),
            Some("signature verification failed: Verify error: self-signed certificate")
        );
        assert_eq!(
            parse_busctl_string(r#"s "a \"quoted\" word""#).as_deref(),
            Some(r#"a "quoted" word"#)
        );
        assert_eq!(
            parse_busctl_string(r#"s "Compatible mismatch: Expected \'okenko-x86_64\'\n""#)
                .as_deref(),
            Some("Compatible mismatch: Expected 'okenko-x86_64'")
        );
        assert_eq!(parse_busctl_string("s \"\""), None);
        assert_eq!(parse_busctl_string("garbage"), None);
    }

    /// A slot whose install was cut off is not taken for the release it was getting.
    #[test]
    fn an_interrupted_install_is_not_a_release_in_the_other_slot() {
        let cut = STATUS.replace(
            r#""version":"1.3.2"},"status":"ok""#,
            r#""version":"1.3.2"},"status":"pending""#,
        );
        assert_ne!(cut, STATUS);
        assert!(RaucStatus::parse(&cut).unwrap().other().is_none());
    }

    #[test]
    fn rauc_status_gives_the_booted_and_the_other_slot() {
        let s = RaucStatus::parse(STATUS).unwrap();
        assert_eq!(
            s.booted().unwrap(),
            Booted {
                slot: "A".into(),
                version: "1.4.0".into()
            }
        );
        assert_eq!(s.other().unwrap().version, "1.3.2");
        assert!(RaucStatus::parse("{not json").is_err());
        assert!(RaucStatus::parse("{}").unwrap().booted().is_err());
    }
}
