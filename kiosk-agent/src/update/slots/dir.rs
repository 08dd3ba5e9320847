//! [`DirSlots`]: two directories and a boot pointer, for developer machines and tests.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::release::Manifest;
use serde::{Deserialize, Serialize};

use super::{AppHealth, Booted, MAX_EXITS, SlotBackend, SlotContent, SlotError, err, write_atomic};

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
        g.slot_dir = Some(slot_dir.to_owned());
        g.next_start = None;
        let Some((prog, args)) = self.run.split_first() else {
            return;
        };
        let spawned = crate::programs::spawn_in_group(
            &slot_dir.join(prog),
            args,
            slot_dir,
            ("OKENKO_SLOT_DIR", slot_dir.as_os_str()),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
