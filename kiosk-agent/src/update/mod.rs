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

pub mod slots;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::fleet::{DesiredRelease, UpdateReport, UpdateState};
use protocol::release::{Keyring, Manifest};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use crate::agent::Agent;
use crate::config::{SlotKind, UpdateSection};
use slots::{AppHealth, SlotBackend};

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

/// The updater's handle in [`Agent`]: what the heartbeat reports and what it hands over.
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
    /// The backend `cfg` names; `reboot` is the reboot command (RAUC).
    pub fn new(
        cfg: &UpdateSection,
        data_dir: &std::path::Path,
        reboot: &[String],
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
                reboot.to_vec(),
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

/// The updater: boots the slot, then follows the fleet's wishes until `stop`.
pub async fn run(agent: Arc<Agent>, mut stop: watch::Receiver<bool>) {
    let Some(up) = agent.updates.as_ref() else {
        return;
    };
    let mut u = match Updater::start(&agent, up).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "updates are off: the slots cannot be booted");
            return;
        }
    };
    let mut desired = up.desired.subscribe();
    loop {
        let d = desired.borrow_and_update().clone();
        if let Err(e) = u.step(&agent, d).await {
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
) -> Result<T, Failure> {
    let b = Arc::clone(backend);
    tokio::task::spawn_blocking(move || f(b.as_ref()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Checks a downloaded bundle against its manifest (size, SHA-256).
fn check_file(path: &std::path::Path, m: &Manifest) -> Result<(), Failure> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    protocol::release::check_bundle(m, &mut std::io::BufReader::new(&mut f))
        .map_err(|e| e.to_string())
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
}

type Failure = String;

impl Updater {
    async fn start(agent: &Arc<Agent>, up: &Updates) -> Result<Updater, Failure> {
        let doc: Doc = agent
            .with_store(|s| s.get_setting("update"))
            .await
            .map_err(|e| e.to_string())?
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
        if let Ok(Some(revoked)) = agent.with_store(|s| s.get_setting("update_revoked")).await {
            for id in revoked.split_whitespace() {
                keyring.forbid(id);
            }
        }
        if let Ok(Some(learned)) = agent.with_store(|s| s.get_setting("update_keys")).await {
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
        };
        u.after_boot(agent).await;
        Ok(u)
    }

    /// After a boot: a release on trial, or the boot loader went back.
    async fn after_boot(&mut self, agent: &Arc<Agent>) {
        let target = self.doc.job.as_ref().map(|j| j.version.clone());
        let on_target = target.as_deref() == Some(self.running.version.as_str());
        if matches!(
            self.doc.state,
            UpdateState::Installing | UpdateState::Rebooting | UpdateState::Trial
        ) && on_target
        {
            // Also `installing`: cut off after the slot switch, before `rebooting` was saved.
            self.doc.trial_started = Some(crate::store::now_ms());
            self.set(agent, UpdateState::Trial, None).await;
        } else if matches!(self.doc.state, UpdateState::Rebooting | UpdateState::Trial) {
            {
                let why = self.doc.reason.clone().unwrap_or_else(|| {
                    format!(
                        "release {} did not come up within {} boots",
                        target.as_deref().unwrap_or("?"),
                        self.cfg.boot_attempts
                    )
                });
                self.refuse_job();
                self.set(agent, UpdateState::RolledBack, Some(why)).await;
            }
        } else {
            self.publish(agent);
        }
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

    fn publish(&self, agent: &Arc<Agent>) {
        let Some(up) = agent.updates.as_ref() else {
            return;
        };
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
    async fn set(&mut self, agent: &Arc<Agent>, state: UpdateState, reason: Option<String>) {
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
        if let Err(e) = agent
            .with_store(move |s| s.set_setting("update", &text))
            .await
        {
            tracing::error!(error = %e, "update state not saved");
        }
        self.publish(agent);
        let _ = tokio::task::spawn_blocking(move || hold(state)).await;
    }

    async fn step(
        &mut self,
        agent: &Arc<Agent>,
        desired: Option<DesiredRelease>,
    ) -> Result<(), Failure> {
        use UpdateState as S;
        if self.doc.state == S::Trial {
            return self.trial(agent).await;
        }
        if self.doc.state == S::Rebooting {
            // Cut off between saving `rebooting` and the reboot: do it again.
            return self.reboot(agent).await;
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
            self.set(
                agent,
                S::Idle,
                Some("the fleet withdrew the release".into()),
            )
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
                self.set(agent, S::Failed, Some(why)).await;
            }
            return Ok(());
        }
        if let Some(d) = &desired {
            self.learn_keys(agent, d).await;
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
                    self.fail(agent, why).await;
                    return Ok(());
                }
                Ok(m)
                    if other.as_ref().is_some_and(|o| {
                        o.version == m.version && (o.sha256.is_empty() || o.sha256 == m.sha256)
                    }) =>
                {
                    self.set(agent, S::Waiting, Some(format!("slot holds {}", m.version)))
                        .await;
                    return Ok(());
                }
                Ok(_) => {}
            }
            self.set(agent, S::Downloading, None).await;
        }
        if let Some(j) = &mut self.doc.job {
            // Keep the fleet's latest word on when to install.
            j.install_now = d.install_now;
            j.force = d.force;
        }
        match self.doc.state {
            S::Downloading => self.download(agent, &d).await,
            S::Verifying => self.verify(agent, &d).await,
            S::Waiting => self.wait_for_window(agent, &d).await,
            S::Installing => self.install(agent, &d).await,
            _ => Ok(()),
        }
    }

    /// Adds keys the release's endorsements vouch for (rotation), withdraws the ones its
    /// revocations name, and keeps both.
    async fn learn_keys(&mut self, agent: &Arc<Agent>, d: &DesiredRelease) {
        let revoked_before = self.keyring.revoked().len();
        for r in &d.revocations {
            match self.keyring.revoke(r) {
                Ok(id) => tracing::debug!(key = %id, "release key revoked"),
                Err(e) => {
                    tracing::warn!(error = %e, "a key revocation not signed by a trusted key")
                }
            }
        }
        if self.keyring.revoked().len() != revoked_before {
            let text = self.keyring.revoked().join("\n");
            tracing::warn!(revoked = %text, "release keys revoked");
            if let Err(e) = agent
                .with_store(move |s| s.set_setting("update_revoked", &text))
                .await
            {
                tracing::error!(error = %e, "revoked keys not saved");
            }
        }
        let before = self.keyring.ids().len();
        // An endorsement may rest on another: go round until nothing new is learned.
        for _ in 0..d.endorsements.len() {
            let n = self.keyring.ids().len();
            for e in &d.endorsements {
                if let Err(err) = self.keyring.endorse(e) {
                    tracing::debug!(error = %err, "endorsement not (yet) trusted");
                }
            }
            if self.keyring.ids().len() == n {
                break;
            }
        }
        if self.keyring.ids().len() != before {
            tracing::info!(keys = ?self.keyring.ids(), "learned a release key from an endorsement");
            let text = self.keyring.to_text();
            if let Err(e) = agent
                .with_store(move |s| s.set_setting("update_keys", &text))
                .await
            {
                tracing::error!(error = %e, "learned keys not saved");
            }
        }
    }

    /// The release's manifest if this kiosk accepts it; otherwise the job fails for good.
    async fn manifest_or_fail(
        &mut self,
        agent: &Arc<Agent>,
        d: &DesiredRelease,
    ) -> Option<Manifest> {
        match self.check_manifest(d) {
            Ok(m) => Some(m),
            Err(why) => {
                self.fail(agent, why).await;
                None
            }
        }
    }

    /// The job failed for good: the kiosk stays where it is and does not try it again.
    async fn fail(&mut self, agent: &Arc<Agent>, why: String) {
        self.refuse_job();
        self.set(agent, UpdateState::Failed, Some(why)).await;
    }

    fn check_manifest(&self, d: &DesiredRelease) -> Result<Manifest, Failure> {
        let m = self
            .keyring
            .verify(&d.manifest, &self.cfg.hardware)
            .map_err(|e| format!("release {} refused: {e}", d.version))?;
        if m.version != d.version {
            return Err(format!(
                "release {} refused: its manifest is for {}",
                d.version, m.version
            ));
        }
        // No downgrade without a signed rollback that names this release and the running one
        // (TUF's rule): a compromised server or an old leaked key cannot push an old release.
        let running = &self.running.version;
        if protocol::release::compare_versions(&m.version, running).is_lt() {
            let allowed = d
                .rollback
                .as_ref()
                .map(|r| self.keyring.verify_rollback(r))
                .transpose()
                .map_err(|e| format!("release {} refused: its rollback: {e}", d.version))?
                .is_some_and(|r| r.from == *running && r.to.contains(&m.version));
            if !allowed {
                return Err(format!(
                    "release {} refused: it is older than the running {running}, and no signed \
                     rollback from {running} names it",
                    d.version
                ));
            }
        }
        Ok(m)
    }

    async fn download(&mut self, agent: &Arc<Agent>, d: &DesiredRelease) -> Result<(), Failure> {
        let Some(m) = self.manifest_or_fail(agent, d).await else {
            return Ok(());
        };
        let Some(id) = agent
            .with_store(|s| s.identity())
            .await
            .map_err(|e| e.to_string())?
        else {
            return Err("not enrolled yet".into());
        };
        let cred = crate::sync::http::Credential::new(&id.kiosk_id, &id.credential);
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let path = self.bundle_path(&d.version);
        let have = std::fs::metadata(&path).map_or(0, |m| m.len());
        tracing::info!(version = %d.version, from = have, size = m.size, "downloading the bundle");
        let mut last = std::time::Instant::now();
        let result = agent
            .fleet
            .download(&cred, &d.url, &path, m.size, |_| {
                if last.elapsed() >= Duration::from_secs(2) {
                    last = std::time::Instant::now();
                    self.publish(agent);
                }
            })
            .await;
        match result {
            Ok(()) => {
                self.set(agent, UpdateState::Verifying, None).await;
                Ok(())
            }
            Err(e) => {
                // Keep what arrived: the next try resumes there.
                let why = format!("download paused: {e}");
                if self.doc.reason.as_deref() != Some(why.as_str()) {
                    self.set(agent, UpdateState::Downloading, Some(why)).await;
                }
                Err(e.to_string())
            }
        }
    }

    async fn verify(&mut self, agent: &Arc<Agent>, d: &DesiredRelease) -> Result<(), Failure> {
        let Some(m) = self.manifest_or_fail(agent, d).await else {
            return Ok(());
        };
        let path = self.bundle_path(&d.version);
        let (p, mm) = (path.clone(), m.clone());
        let checked = tokio::task::spawn_blocking(move || check_file(&p, &mm))
            .await
            .map_err(|e| e.to_string())?;
        match checked {
            Ok(()) => self.set(agent, UpdateState::Waiting, None).await,
            Err(why) => {
                let _ = std::fs::remove_file(&path);
                self.doc.corrupt += 1;
                if self.doc.corrupt >= 3 {
                    self.fail(agent, format!("downloaded 3 times, never right: {why}"))
                        .await;
                } else {
                    tracing::warn!(%why, "downloaded bundle is wrong; fetching it again");
                    self.set(
                        agent,
                        UpdateState::Downloading,
                        Some(format!("download {} was wrong: {why}", self.doc.corrupt)),
                    )
                    .await;
                }
            }
        }
        Ok(())
    }

    async fn wait_for_window(
        &mut self,
        agent: &Arc<Agent>,
        d: &DesiredRelease,
    ) -> Result<(), Failure> {
        let why = if !d.install_now {
            Some("waiting for the maintenance window".to_owned())
        } else if !d.force && !self.idle(agent) {
            Some(format!(
                "waiting until nobody has used the kiosk for {} s",
                self.cfg.idle_s
            ))
        } else {
            None
        };
        match why {
            Some(w) => {
                if self.doc.reason.as_deref() != Some(w.as_str()) {
                    self.set(agent, UpdateState::Waiting, Some(w)).await;
                }
                Ok(())
            }
            None => {
                self.set(agent, UpdateState::Installing, None).await;
                self.install(agent, d).await
            }
        }
    }

    fn idle(&self, agent: &Arc<Agent>) -> bool {
        let last = agent
            .devices
            .statuses()
            .iter()
            .filter(|d| d.device != protocol::app::DeviceKind::Printer)
            .filter_map(|d| d.last_event_at)
            .max();
        last.is_none_or(|t| crate::store::now_ms() - t >= self.cfg.idle_s as i64 * 1000)
    }

    async fn install(&mut self, agent: &Arc<Agent>, d: &DesiredRelease) -> Result<(), Failure> {
        let Some(m) = self.manifest_or_fail(agent, d).await else {
            return Ok(());
        };
        let other = on_backend(&self.backend, |b| b.other())
            .await
            .ok()
            .flatten();
        let in_slot = other.as_ref().is_some_and(|o| {
            o.version == m.version && (o.sha256.is_empty() || o.sha256 == m.sha256)
        });
        if !in_slot {
            let path = self.bundle_path(&d.version);
            tracing::info!(version = %d.version, "installing the release into the other slot");
            // Checked again: the file sat on disk while waiting.
            let (p, mm) = (path.clone(), m.clone());
            let done = on_backend(&self.backend, move |b| {
                check_file(&p, &mm).map_err(slots::SlotError)?;
                b.install(&p, &mm)
            })
            .await;
            if let Err(why) = done {
                let _ = std::fs::remove_file(&path);
                self.fail(agent, format!("install failed: {why}")).await;
                return Ok(());
            }
            let _ = std::fs::remove_file(&path);
        }
        if let Err(e) = on_backend(&self.backend, |b| b.try_other()).await {
            self.fail(agent, format!("cannot switch slots: {e}")).await;
            return Ok(());
        }
        self.set(agent, UpdateState::Rebooting, None).await;
        self.reboot(agent).await
    }

    async fn reboot(&mut self, agent: &Arc<Agent>) -> Result<(), Failure> {
        self.running = on_backend(&self.backend, |b| b.reboot()).await?;
        self.after_boot(agent).await;
        Ok(())
    }

    async fn trial(&mut self, agent: &Arc<Agent>) -> Result<(), Failure> {
        let started = self.doc.trial_started.unwrap_or(self.doc.since);
        let elapsed_ms = crate::store::now_ms() - started;
        let settle = Duration::from_secs(self.cfg.settle_s);
        let app = on_backend(&self.backend, move |b| Ok(b.app(settle))).await?;
        let missing: Vec<String> = agent
            .devices
            .statuses()
            .iter()
            .filter(|d| d.state == protocol::app::DeviceState::Missing)
            .map(|d| format!("{:?}", d.device))
            .collect();
        let fleet_ok = agent
            .contact
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_ok_at
            .is_some_and(|t| t >= started);
        let failure = match &app {
            AppHealth::Down(why) => Some(why.clone()),
            _ if elapsed_ms >= self.cfg.health_timeout_s as i64 * 1000 => Some(format!(
                "health check not passed within {} s: {}",
                self.cfg.health_timeout_s,
                [
                    (app != AppHealth::Up).then(|| "the app is not up".to_owned()),
                    (!missing.is_empty()).then(|| format!("missing {}", missing.join(", "))),
                    (!fleet_ok).then(|| "the fleet was not reached".to_owned()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ")
            )),
            _ => None,
        };
        if let Some(why) = failure {
            let version = self.running.version.clone();
            let why = format!("release {version} failed its health check: {why}");
            tracing::warn!(%why, "going back to the previous release");
            on_backend(&self.backend, |b| b.mark_bad()).await?;
            // Kept before the reboot, so the next boot reports it.
            self.doc.reason = Some(why.clone());
            self.refuse_job();
            self.set(agent, UpdateState::Trial, Some(why.clone())).await;
            self.running = on_backend(&self.backend, |b| b.reboot()).await?;
            self.set(agent, UpdateState::RolledBack, Some(why)).await;
            return Ok(());
        }
        if app == AppHealth::Up && missing.is_empty() && fleet_ok {
            on_backend(&self.backend, |b| b.mark_good()).await?;
            self.set(agent, UpdateState::Succeeded, None).await;
        }
        Ok(())
    }
}
