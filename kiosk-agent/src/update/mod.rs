//! Signed updates into A/B slots.
//!
//! The fleet names the release a kiosk should run in each heartbeat reply
//! ([`protocol::fleet::DesiredRelease`]). The updater then goes, one state at a time, each
//! kept in the agent's database before it is acted on (so a crash or power cut resumes it):
//!
//! 1. **downloading**: the signed manifest is checked first (a trusted key, a good signature,
//!    this hardware); then the bundle comes into `<data_dir>/update/` with HTTP range
//!    requests, so a download that broke off resumes where it stopped;
//! 2. **verifying**: size and SHA-256 against the manifest (a corrupt download is fetched
//!    again, up to three times);
//! 3. **waiting**: for the maintenance window and for the kiosk to be idle (unless forced);
//! 4. **installing** into the inactive slot, 5. **rebooting** into it on trial;
//! 6. **trial**: the health check (the app up for `settle_s`, configured devices present, the
//!    fleet reachable) must pass within `health_timeout_s`; then the slot is marked good
//!    (**succeeded**). Otherwise it is marked bad and the kiosk reboots into the previous
//!    slot (**rolled back**, with the reason). A crash during the trial uses one of the slot's
//!    boot attempts; when they are used up, the boot loader (or [`slots::DirSlots`]) goes back.
//!
//! Refusals (unknown key, bad signature, other hardware, a bundle that stays wrong) end in
//! **failed** with the reason, and the kiosk stays on its release. Every state goes to the
//! fleet in the next heartbeat, sent at once on a change.
//!
//! Keys rotate through endorsements that come with the release: a key a trusted key vouches
//! for is added to the kiosk's keyring (kept in the database).
//!
//! For tests, `OKENKO_UPDATE_HOLD=<state>` makes the updater stop (and wait to be killed)
//! right after it saved that state.

pub mod config;
mod error;
mod fetch;
mod install;
pub mod slots;
mod trial;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::fleet::{DesiredRelease, UpdateReport, UpdateState};
use protocol::release::{Keyring, Manifest};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use crate::fleet::FleetClient;
use crate::power::Power;
use crate::store::Shared;
use config::{SlotKind, UpdateSection};
pub use error::UpdateError;
use slots::SlotBackend;

/// What the updater keeps in the database (setting `update`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Doc {
    state: UpdateState,
    since: i64,
    reason: Option<String>,
    /// The release being installed (or last tried).
    job: Option<DesiredRelease>,
    /// Corrupt downloads of this job so far.
    corrupt: u32,
    /// Manifests (their SHA-256s) refused for good: not tried again.
    refused: Vec<String>,
    /// When the trial's boot began (the fleet must be reached after it).
    trial_started: Option<i64>,
}

impl Default for Doc {
    fn default() -> Self {
        Doc {
            state: UpdateState::Idle,
            since: crate::store::now_ms(),
            reason: None,
            job: None,
            corrupt: 0,
            refused: Vec::new(),
            trial_started: None,
        }
    }
}

/// The updater's handle: what the heartbeat reports and what the fleet wishes.
#[derive(Debug)]
pub struct Updates {
    report: Mutex<Option<UpdateReport>>,
    desired: watch::Sender<Option<DesiredRelease>>,
    /// Notified when the report changed (the sync loop sends a heartbeat soon).
    pub changed: Notify,
    backend: Arc<dyn SlotBackend>,
    cfg: UpdateSection,
    dir: PathBuf,
}

impl Updates {
    /// The backend `cfg` names; `power` reboots (RAUC).
    pub fn new(
        cfg: &UpdateSection,
        data_dir: &std::path::Path,
        power: Power,
    ) -> Result<Updates, slots::SlotError> {
        let backend: Arc<dyn SlotBackend> = match cfg.backend {
            SlotKind::Dir => Arc::new(slots::DirSlots::new(
                &cfg.slots_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("slots")),
                cfg.run.clone(),
                cfg.boot_attempts,
            )?),
            SlotKind::Rauc => Arc::new(slots::Rauc::new(
                cfg.rauc.clone(),
                match &cfg.app_unit {
                    Some(unit) => slots::AppCheck::Unit(unit.clone()),
                    None => slots::AppCheck::Command(cfg.app_check.clone()),
                },
                power,
                cfg.health_file.clone(),
                cfg.release_file.clone(),
            )),
        };
        Ok(Updates {
            report: Mutex::new(None),
            desired: watch::channel(None).0,
            changed: Notify::new(),
            backend,
            cfg: cfg.clone(),
            dir: data_dir.join("update"),
        })
    }

    /// The report for the next heartbeat.
    pub fn report(&self) -> Option<UpdateReport> {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The fleet's answer: the release this kiosk should run, or none.
    pub fn desire(&self, d: Option<DesiredRelease>) {
        self.desired.send_if_modified(|old| {
            let changed = *old != d;
            *old = d;
            changed
        });
    }

    /// Restarts the app when the slot backend runs it itself (`dir`); `None` otherwise.
    pub fn restart_app(&self) -> Option<Result<(), slots::SlotError>> {
        self.backend.restart_app()
    }

    /// Stops the supervised app (agent shutdown).
    pub fn stop(&self) {
        self.backend.stop();
    }
}

fn hold(state: UpdateState) {
    if std::env::var("OKENKO_UPDATE_HOLD").is_ok_and(|h| h == state.as_str()) {
        tracing::warn!(state = state.as_str(), "OKENKO_UPDATE_HOLD: holding here");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}

/// What the updater's checks read from the rest of the kiosk (the agent wires it): the idle
/// wait before an install and the health check of a release on trial.
pub trait Surroundings: Send + Sync + std::fmt::Debug {
    /// When somebody last used the kiosk (touch, card; not the printer), in ms.
    fn last_use_at(&self) -> Option<i64>;
    /// The configured devices that are missing, by name.
    fn missing_devices(&self) -> Vec<String>;
    /// When the fleet last answered a heartbeat, in ms.
    fn fleet_reached_at(&self) -> Option<i64>;
}

/// What the updater works with, handed over by [`crate::agent`].
#[derive(Debug, Clone)]
pub struct Parts {
    /// Its handle (the report it publishes, the fleet's wish it follows).
    pub updates: Arc<Updates>,
    /// The store: its state, learned and revoked keys, the kiosk's credential.
    pub store: Shared,
    /// The fleet client (bundle downloads).
    pub fleet: FleetClient,
    /// The rest of the kiosk, as far as the updater looks.
    pub around: Arc<dyn Surroundings>,
}

/// The updater: boots the slot, then follows the fleet's wishes until `stop`.
pub async fn run(parts: Parts, mut stop: watch::Receiver<bool>) {
    let mut desired = parts.updates.desired.subscribe();
    let mut u = match Updater::start(parts).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "updates are off: the slots cannot be booted");
            return;
        }
    };
    loop {
        let d = desired.borrow_and_update().clone();
        if let Err(e) = u.step(d).await {
            tracing::warn!(error = %e, "update step failed; trying again");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = desired.changed() => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Runs `f` on the slot backend off the async thread: the RAUC backend runs `rauc`, and the
/// `dir` backend waits for its app to stop.
async fn on_backend<T: Send + 'static>(
    backend: &Arc<dyn SlotBackend>,
    f: impl FnOnce(&dyn SlotBackend) -> Result<T, slots::SlotError> + Send + 'static,
) -> Result<T, UpdateError> {
    let b = Arc::clone(backend);
    Ok(tokio::task::spawn_blocking(move || f(b.as_ref())).await??)
}

struct Updater {
    doc: Doc,
    running: slots::Booted,
    keyring: Keyring,
    /// Why the keyring could not be read: no new release is accepted then.
    keyring_error: Option<String>,
    backend: Arc<dyn SlotBackend>,
    cfg: UpdateSection,
    dir: PathBuf,
    parts: Parts,
}

impl Updater {
    async fn start(parts: Parts) -> Result<Updater, UpdateError> {
        let up = Arc::clone(&parts.updates);
        let doc: Doc = parts
            .store
            .run(|s| s.get_setting("update"))
            .await?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        // Without its keyring the kiosk still boots and checks a release on trial; it only
        // cannot accept new ones (and says so to the fleet).
        let (mut keyring, keyring_error) = match std::fs::read_to_string(&up.cfg.keyring)
            .map_err(|e| e.to_string())
            .and_then(|t| Keyring::parse(&t).map_err(|e| e.to_string()))
        {
            Ok(k) => (k, None),
            Err(e) => {
                let why = format!(
                    "updates are off: update.keyring {}: {e}",
                    up.cfg.keyring.display()
                );
                tracing::error!(%why);
                (Keyring::default(), Some(why))
            }
        };
        // Keys revoked (first: nothing brings them back), then keys learned from endorsements.
        if let Ok(Some(revoked)) = parts.store.run(|s| s.get_setting("update_revoked")).await {
            for id in revoked.split_whitespace() {
                keyring.forbid(id);
            }
        }
        if let Ok(Some(learned)) = parts.store.run(|s| s.get_setting("update_keys")).await {
            for line in learned.lines().filter(|l| !l.trim().is_empty()) {
                let _ = keyring.add(line.split('#').next().unwrap_or(""));
            }
        }
        let backend = Arc::clone(&up.backend);
        let running = on_backend(&backend, |b| b.boot()).await?;
        let mut u = Updater {
            doc,
            running,
            keyring,
            keyring_error,
            backend,
            cfg: up.cfg.clone(),
            dir: up.dir.clone(),
            parts,
        };
        u.after_boot().await;
        Ok(u)
    }

    fn refuse_job(&mut self) {
        if let Some(j) = &self.doc.job {
            let sha = protocol::sha256_hex(&j.manifest.manifest);
            if !self.doc.refused.contains(&sha) {
                self.doc.refused.push(sha);
            }
        }
    }

    fn bundle_path(&self, version: &str) -> PathBuf {
        self.dir
            .join(format!("{version}.{}", self.backend.bundle_suffix()))
    }

    fn publish(&self) {
        let up = &self.parts.updates;
        let job = self.doc.job.as_ref();
        let progress = match (self.doc.state, job) {
            (UpdateState::Downloading, Some(j)) => {
                let have = std::fs::metadata(self.bundle_path(&j.version)).map_or(0, |m| m.len());
                let size = self.manifest_size(j).unwrap_or(0).max(1);
                Some((have.saturating_mul(100) / size).min(100) as u8)
            }
            _ => None,
        };
        let report = UpdateReport {
            running: self.running.version.clone(),
            slot: self.running.slot.clone(),
            target: job.map(|j| j.version.clone()),
            rollout_id: job.map(|j| j.rollout_id),
            state: self.doc.state,
            progress,
            reason: self.doc.reason.clone(),
            since: self.doc.since,
        };
        let mut r = up.report.lock().unwrap_or_else(|p| p.into_inner());
        let notify = r.as_ref().is_none_or(|o| {
            o.state != report.state || o.reason != report.reason || o.target != report.target
        });
        *r = Some(report);
        drop(r);
        if notify {
            up.changed.notify_one();
        }
    }

    fn manifest_size(&self, j: &DesiredRelease) -> Option<u64> {
        protocol::json::decode::<Manifest>(j.manifest.manifest.as_bytes(), 64 * 1024)
            .ok()
            .map(|m| m.size)
    }

    /// Saves the state, then acts on it.
    async fn set(&mut self, state: UpdateState, reason: Option<String>) {
        if self.doc.state != state {
            self.doc.since = crate::store::now_ms();
            tracing::info!(
                state = state.as_str(),
                target = self.doc.job.as_ref().map(|j| j.version.as_str()),
                reason = reason.as_deref(),
                "update"
            );
        }
        self.doc.state = state;
        self.doc.reason = reason;
        let text = serde_json::to_string(&self.doc).unwrap_or_default();
        if let Err(e) = self
            .parts
            .store
            .run(move |s| s.set_setting("update", &text))
            .await
        {
            tracing::error!(error = %e, "update state not saved");
        }
        self.publish();
        let _ = tokio::task::spawn_blocking(move || hold(state)).await;
    }

    async fn step(&mut self, desired: Option<DesiredRelease>) -> Result<(), UpdateError> {
        use UpdateState as S;
        if self.doc.state == S::Trial {
            return self.trial().await;
        }
        if self.doc.state == S::Rebooting {
            // Cut off between saving `rebooting` and the reboot: do it again.
            return self.reboot().await;
        }
        let in_flight = matches!(
            self.doc.state,
            S::Downloading | S::Verifying | S::Waiting | S::Installing
        );
        // The fleet changed its mind before the install began: drop the download.
        let wanted = desired
            .as_ref()
            .filter(|d| d.version != self.running.version)
            .filter(|d| {
                !self
                    .doc
                    .refused
                    .contains(&protocol::sha256_hex(&d.manifest.manifest))
            });
        let same_job = match (wanted, &self.doc.job) {
            (Some(d), Some(j)) => d.version == j.version && d.manifest == j.manifest,
            _ => false,
        };
        if in_flight && !same_job && self.doc.state != S::Installing {
            if let Some(j) = self.doc.job.take() {
                let _ = std::fs::remove_file(self.bundle_path(&j.version));
            }
            self.doc.corrupt = 0;
            self.set(S::Idle, Some("the fleet withdrew the release".into()))
                .await;
            return Ok(());
        }
        if let Some(d) = &desired
            && d.version == self.running.version
            && self.doc.state == S::Idle
            && self.doc.job.is_some()
        {
            self.doc.job = None;
        }
        let Some(d) = wanted.cloned() else {
            return Ok(());
        };
        if let Some(why) = self.keyring_error.clone() {
            // Not refused for good: with the keyring mended, the next start takes it.
            if self.doc.reason.as_deref() != Some(why.as_str()) {
                self.doc.job = Some(d.clone());
                self.set(S::Failed, Some(why)).await;
            }
            return Ok(());
        }
        if let Some(d) = &desired {
            self.learn_keys(d).await;
        }
        if !in_flight {
            // A new job.
            self.doc.job = Some(d.clone());
            self.doc.corrupt = 0;
            self.doc.trial_started = None;
            // The other slot may hold it already (a rollback): no download then.
            let other = on_backend(&self.backend, |b| b.other())
                .await
                .ok()
                .flatten();
            let m = self.check_manifest(&d);
            match m {
                Err(why) => {
                    self.fail(why).await;
                    return Ok(());
                }
                Ok(m)
                    if other.as_ref().is_some_and(|o| {
                        o.version == m.version && (o.sha256.is_empty() || o.sha256 == m.sha256)
                    }) =>
                {
                    self.set(S::Waiting, Some(format!("slot holds {}", m.version)))
                        .await;
                    return Ok(());
                }
                Ok(_) => {}
            }
            self.set(S::Downloading, None).await;
        }
        if let Some(j) = &mut self.doc.job {
            // Keep the fleet's latest word on when to install.
            j.install_now = d.install_now;
            j.force = d.force;
        }
        match self.doc.state {
            S::Downloading => self.download(&d).await,
            S::Verifying => self.verify(&d).await,
            S::Waiting => self.wait_for_window(&d).await,
            S::Installing => self.install(&d).await,
            _ => Ok(()),
        }
    }

    /// The job failed for good: the kiosk stays where it is and does not try it again.
    async fn fail(&mut self, why: impl std::fmt::Display) {
        self.refuse_job();
        self.set(UpdateState::Failed, Some(why.to_string())).await;
    }
}
