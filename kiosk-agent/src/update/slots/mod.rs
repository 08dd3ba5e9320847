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

mod dir;
mod rauc;

use std::path::Path;
use std::time::Duration;

use protocol::release::Manifest;
use serde::{Deserialize, Serialize};

pub use dir::DirSlots;
pub use rauc::{AppCheck, Rauc, RaucBundle, RaucSlot, RaucSlotStatus, RaucStatus, UnitState};

/// Most exits of a new release's app before it counts as crashing.
pub(crate) const MAX_EXITS: u32 = 3;

/// Why a slot operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SlotError(pub String);

pub(crate) fn err(what: impl std::fmt::Display) -> SlotError {
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

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SlotError> {
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
