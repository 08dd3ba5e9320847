//! The A/B slots a release is installed into, behind one trait ([`SlotBackend`]):
//!
//! - [`DirSlots`]: two directories (`a`, `b`) and a boot pointer (`boot.json`), for developer
//!   machines and tests. The agent plays the boot loader: [`SlotBackend::boot`] picks the slot
//!   (a slot on trial gets `boot_attempts` boots, then the good one runs again) and starts the
//!   slot's program as a supervised child; "reboot" restarts that child. A bundle is a tar
//!   archive of the slot's files.
//! - [`Rauc`]: the appliance image. RAUC installs the bundle into the inactive slot and the boot
//!   loader counts the attempts; the agent reads `rauc status`, marks slots good or bad and
//!   reboots with `commands.reboot`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::release::Manifest;
use serde::{Deserialize, Serialize};

/// Why a slot operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SlotError(pub String);

fn err(what: impl std::fmt::Display) -> SlotError {
    SlotError(what.to_string())
}

/// The slot that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booted {
    /// Its name, e.g. `A`.
    pub slot: String,
    /// The release in it.
    pub version: String,
}

/// The other slot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SlotContent {
    /// The release it holds.
    pub version: String,
    /// Its bundle's SHA-256.
    pub sha256: String,
}

/// Whether the app runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppHealth {
    /// Up (long enough to count).
    Up,
    /// Not yet known.
    Starting,
    /// Down for good: why.
    Down(String),
}

/// Where releases are installed and which one runs.
pub trait SlotBackend: Send + Sync + std::fmt::Debug {
    /// Decides which slot runs and starts it (at agent start; for `DirSlots` also at reboot).
    fn boot(&self) -> Result<Booted, SlotError>;
    /// What the inactive slot holds, if anything.
    fn other(&self) -> Result<Option<SlotContent>, SlotError>;
    /// Writes a bundle into the inactive slot, checked against `manifest` (the `dir` slots hash
    /// the very bytes they unpack; RAUC checks the bundle's own signature).
    fn install(&self, bundle: &Path, manifest: &Manifest) -> Result<(), SlotError>;
    /// Next boot: the inactive slot, on trial.
    fn try_other(&self) -> Result<(), SlotError>;
    /// Reboots into what the next boot picks.
    fn reboot(&self) -> Result<Booted, SlotError>;
    /// The booted slot passed its health check: it is the good one now.
    fn mark_good(&self) -> Result<(), SlotError>;
    /// The booted slot failed: the next boot runs the good one.
    fn mark_bad(&self) -> Result<(), SlotError>;
    /// Whether the app is up, after `settle` of running without a crash.
    fn app(&self, settle: Duration) -> AppHealth;
    /// Stops what it supervises (agent shutdown).
    fn stop(&self);
    /// The file name suffix a downloaded bundle gets.
    fn bundle_suffix(&self) -> &'static str {
        "bundle"
    }
    /// Restarts the app when the backend runs it itself; `None` when something else does
    /// (systemd on the image).
    fn restart_app(&self) -> Option<Result<(), SlotError>> {
        None
    }
}

/// `boot.json`: the boot loader's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct BootPointer {
    /// The good slot.
    primary: String,
    /// A slot on trial and the boots it has left.
    trial: Option<(String, u32)>,
    /// The slot that booted last.
    booted: String,
}

impl Default for BootPointer {
    fn default() -> Self {
        BootPointer {
            primary: "a".into(),
            trial: None,
            booted: "a".into(),
        }
    }
}

/// A supervised child and its history.
#[derive(Debug, Default)]
struct Supervised {
    child: Option<Child>,
    slot_dir: Option<PathBuf>,
    started: Option<Instant>,
    /// Exits since the slot booted, with the last status.
    exits: u32,
    last_exit: Option<String>,
    next_start: Option<Instant>,
    stopped: bool,
}

/// Two directories and a boot pointer (see the module docs).
#[derive(Debug, Clone)]
pub struct DirSlots {
    dir: PathBuf,
    run: Vec<String>,
    attempts: u32,
    sup: Arc<Mutex<Supervised>>,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SlotError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| err(format!("{}: {e}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| err(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    if let Some(d) = path.parent()
        && let Ok(d) = std::fs::File::open(d)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Most exits of a new release's app before it counts as crashing.
const MAX_EXITS: u32 = 3;

impl DirSlots {
    /// Slots under `dir`; a slot runs `run` (relative to it); a trial gets `attempts` boots.
    /// Starts a thread that restarts the app when it exits.
    pub fn new(dir: &Path, run: Vec<String>, attempts: u32) -> Result<DirSlots, SlotError> {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        // Absolute: the app starts with its slot as the working directory, where a relative
        // path to its program would no longer lead.
        let dir = dir
            .canonicalize()
            .map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let s = DirSlots {
            dir,
            run,
            attempts,
            sup: Arc::default(),
        };
        let sup = Arc::clone(&s.sup);
        let me = s.clone();
        std::thread::Builder::new()
            .name("slot-app".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let mut g = sup.lock().unwrap_or_else(|p| p.into_inner());
                    if g.stopped {
                        return;
                    }
                    me.watch(&mut g);
                }
            })
            .map_err(|e| err(format!("cannot start the supervisor: {e}")))?;
        Ok(s)
    }

    fn pointer(&self) -> BootPointer {
        std::fs::read(self.dir.join("boot.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, p: &BootPointer) -> Result<(), SlotError> {
        let json = serde_json::to_vec_pretty(p).map_err(err)?;
        write_atomic(&self.dir.join("boot.json"), &json)
    }

    fn content(&self, slot: &str) -> Option<SlotContent> {
        std::fs::read(self.dir.join(slot).join(".slot.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    fn other_name(slot: &str) -> &'static str {
        if slot == "a" { "b" } else { "a" }
    }

    /// Restarts the app when it exited (with a growing pause), and notes the exit.
    fn watch(&self, g: &mut Supervised) {
        if let Some(c) = &mut g.child
            && let Ok(Some(status)) = c.try_wait()
        {
            g.exits += 1;
            g.last_exit = Some(status.to_string());
            g.child = None;
            let pause = Duration::from_millis(500 << g.exits.min(5));
            g.next_start = Some(Instant::now() + pause);
            tracing::warn!(%status, exits = g.exits, "the slot's app exited; restarting it");
        }
        if g.child.is_none()
            && let (Some(dir), Some(at)) = (g.slot_dir.clone(), g.next_start)
            && Instant::now() >= at
        {
            self.start(g, &dir);
        }
    }

    fn start(&self, g: &mut Supervised, slot_dir: &Path) {
        use std::os::unix::process::CommandExt;
        g.slot_dir = Some(slot_dir.to_owned());
        g.next_start = None;
        let Some((prog, args)) = self.run.split_first() else {
            return;
        };
        let spawned = Command::new(slot_dir.join(prog))
            .args(args)
            .current_dir(slot_dir)
            .env("OKENKO_SLOT_DIR", slot_dir)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn();
        match spawned {
            Ok(c) => {
                let _ = std::fs::write(self.dir.join("app.pid"), c.id().to_string());
                g.child = Some(c);
                g.started = Some(Instant::now());
            }
            Err(e) => {
                g.exits += 1;
                g.last_exit = Some(format!("cannot start {prog}: {e}"));
                g.next_start = Some(Instant::now() + Duration::from_millis(500 << g.exits.min(5)));
            }
        }
    }

    /// Stops the app (its whole process group), and one a killed agent left behind.
    fn kill_app(&self, g: &mut Supervised) {
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let pid = g
            .child
            .as_ref()
            .map(|c| c.id())
            .or_else(|| {
                std::fs::read_to_string(self.dir.join("app.pid"))
                    .ok()
                    .and_then(|p| p.trim().parse().ok())
            })
            .and_then(|p: u32| i32::try_from(p).ok());
        if let Some(pid) = pid {
            // Only a process that still runs from one of our slots (a stale pid file may name
            // someone else's process by now).
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
            if cwd.starts_with(&self.dir) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
                    if let Some(c) = &mut g.child
                        && let Ok(Some(_)) = c.try_wait()
                    {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if let Some(mut c) = g.child.take() {
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.dir.join("app.pid"));
    }
}

impl SlotBackend for DirSlots {
    fn boot(&self) -> Result<Booted, SlotError> {
        let mut p = self.pointer();
        let slot = match p.trial.take() {
            Some((slot, left)) if left > 0 => {
                p.trial = Some((slot.clone(), left - 1));
                slot
            }
            Some((slot, _)) => {
                tracing::warn!(%slot, "the slot on trial used up its boots; back to the good one");
                p.primary.clone()
            }
            None => p.primary.clone(),
        };
        p.booted = slot.clone();
        self.save(&p)?;
        let version = self
            .content(&slot)
            .map_or_else(|| "none".to_owned(), |c| c.version);
        let mut g = self.sup.lock().unwrap_or_else(|p| p.into_inner());
        self.kill_app(&mut g);
        g.exits = 0;
        g.last_exit = None;
        self.start(&mut g, &self.dir.join(&slot));
        tracing::info!(slot = %slot, version = %version, "booted");
        Ok(Booted {
            slot: slot.to_ascii_uppercase(),
            version,
        })
    }

    fn other(&self) -> Result<Option<SlotContent>, SlotError> {
        let p = self.pointer();
        Ok(self.content(Self::other_name(&p.booted)))
    }

    fn install(&self, bundle: &Path, m: &Manifest) -> Result<(), SlotError> {
        let p = self.pointer();
        let slot = self.dir.join(Self::other_name(&p.booted));
        // The slot is emptied first and labelled last: a slot cut off half-written has no
        // label and is never booted as a release.
        if slot.exists() {
            std::fs::remove_dir_all(&slot).map_err(|e| err(format!("{}: {e}", slot.display())))?;
        }
        std::fs::create_dir_all(&slot).map_err(|e| err(format!("{}: {e}", slot.display())))?;
        let f =
            std::fs::File::open(bundle).map_err(|e| err(format!("{}: {e}", bundle.display())))?;
        // One open file, verified as it is unpacked: the bytes in the slot are the bytes that
        // were hashed, whatever happens to the path meanwhile. A mismatch empties the slot,
        // which is never labelled.
        let mut hashed = protocol::release::Verifying::new(std::io::BufReader::new(f), m);
        let mut archive = tar::Archive::new(&mut hashed);
        archive.set_preserve_permissions(true);
        // `unpack` refuses entries that would land outside the slot.
        let unpacked = archive.unpack(&slot).map_err(|e| {
            err(format!(
                "the bundle is not a tar archive a slot can hold: {e}"
            ))
        });
        let verified = unpacked.and_then(|()| {
            hashed
                .finish()
                .map_err(|e| err(format!("the bundle changed under the install: {e}")))
        });
        if let Err(e) = verified {
            let _ = std::fs::remove_dir_all(&slot);
            return Err(e);
        }
        let label = serde_json::to_vec(&SlotContent {
            version: m.version.clone(),
            sha256: m.sha256.clone(),
        })
        .map_err(err)?;
        write_atomic(&slot.join(".slot.json"), &label)?;
        Ok(())
    }

    fn try_other(&self) -> Result<(), SlotError> {
        let mut p = self.pointer();
        let other = Self::other_name(&p.booted);
        if self.content(other).is_none() {
            return Err(err(format!("slot {other} holds no release")));
        }
        p.trial = Some((other.to_owned(), self.attempts));
        self.save(&p)
    }

    fn reboot(&self) -> Result<Booted, SlotError> {
        self.boot()
    }

    fn mark_good(&self) -> Result<(), SlotError> {
        let mut p = self.pointer();
        p.primary = p.booted.clone();
        p.trial = None;
        self.save(&p)
    }

    fn mark_bad(&self) -> Result<(), SlotError> {
        let mut p = self.pointer();
        p.trial = None;
        self.save(&p)
    }

    fn app(&self, settle: Duration) -> AppHealth {
        let g = self.sup.lock().unwrap_or_else(|p| p.into_inner());
        if g.exits >= MAX_EXITS {
            return AppHealth::Down(format!(
                "the app exited {} times since the boot (last: {})",
                g.exits,
                g.last_exit.as_deref().unwrap_or("?")
            ));
        }
        match (&g.child, g.started) {
            (Some(_), Some(t)) if t.elapsed() >= settle => AppHealth::Up,
            _ => AppHealth::Starting,
        }
    }

    fn stop(&self) {
        let mut g = self.sup.lock().unwrap_or_else(|p| p.into_inner());
        g.stopped = true;
        self.kill_app(&mut g);
    }

    fn restart_app(&self) -> Option<Result<(), SlotError>> {
        let mut g = self.sup.lock().unwrap_or_else(|p| p.into_inner());
        let Some(dir) = g.slot_dir.clone() else {
            return Some(Err(err("no slot has booted")));
        };
        // Asked for, so not a crash: the exit count stays.
        self.kill_app(&mut g);
        self.start(&mut g, &dir);
        Some(Ok(()))
    }
}

/// RAUC on the appliance image (see the module docs).
#[derive(Debug, Clone)]
pub struct Rauc {
    rauc: PathBuf,
    app: AppCheck,
    reboot: Vec<String>,
    /// Where the agent writes its verdict on a boot on trial, for `okenko-boot-health.service`.
    health_file: Option<PathBuf>,
    /// The running root's release (`/etc/okenko/release`), for a slot RAUC has no record of
    /// (the factory's).
    release_file: Option<PathBuf>,
}

/// How the RAUC backend tells whether the app is up.
#[derive(Debug, Clone)]
pub enum AppCheck {
    /// A systemd unit: up once active for `settle`; down after [`MAX_EXITS`] restarts.
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
    /// Drives `rauc`; `app` says whether the app is up; `reboot` reboots; the verdict on a
    /// boot on trial goes to `health_file`; `release_file` names the running root's release.
    pub fn new(
        rauc: PathBuf,
        app: AppCheck,
        reboot: Vec<String>,
        health_file: Option<PathBuf>,
        release_file: Option<PathBuf>,
    ) -> Rauc {
        Rauc {
            rauc,
            app,
            reboot,
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
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(format!("cannot run {prog}: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "{prog} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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
        let (prog, args) = self
            .reboot
            .split_first()
            .ok_or_else(|| err("commands.reboot is empty"))?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_program(prog, &args)?;
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
                let Some((prog, args)) = cmd.split_first() else {
                    return AppHealth::Starting;
                };
                match Command::new(prog).args(args).stdin(Stdio::null()).status() {
                    Ok(s) if s.success() => AppHealth::Up,
                    _ => AppHealth::Starting,
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

    /// A tar bundle holding `run.sh` with `text`, and its manifest.
    fn bundle(text: &str) -> (Vec<u8>, Manifest) {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, "run.sh", text.as_bytes()).unwrap();
        let bytes = b.into_inner().unwrap();
        let m = Manifest {
            version: "2.0.0".into(),
            compatible: vec!["test".into()],
            size: bytes.len() as u64,
            sha256: protocol::sha256_hex(&bytes),
            created_at: 0,
        };
        (bytes, m)
    }

    /// The `dir` slots verify the bytes they unpack: a bundle swapped on disk after its check
    /// (same path, other bytes) leaves the slot empty and unlabelled.
    #[test]
    fn dir_slots_install_only_the_bytes_they_verified() {
        let dir = std::env::temp_dir().join(format!("okenko-slots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let slots = DirSlots::new(&dir.join("slots"), vec!["./run.sh".into()], 3).unwrap();
        let (good, m) = bundle("echo good");
        let path = dir.join("bundle.tar");
        std::fs::write(&path, &good).unwrap();
        slots.install(&path, &m).unwrap();
        assert_eq!(slots.other().unwrap().unwrap().version, "2.0.0");
        // Swapped for a bundle of the same length after the updater checked it.
        let (evil, _) = bundle("echo evil");
        assert_eq!(evil.len(), good.len());
        std::fs::write(&path, &evil).unwrap();
        let e = slots.install(&path, &m).unwrap_err();
        assert!(e.to_string().contains("changed under the install"), "{e}");
        assert!(
            slots.other().unwrap().is_none(),
            "no label on a slot that failed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

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
