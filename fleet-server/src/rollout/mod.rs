//! Releases and rollouts: which kiosk should run which release, and when it may install it.
//!
//! - A [`Release`] is a signed manifest the server verified with its keyring, and the bundle
//!   uploaded after it (kept under `data_dir/releases/`).
//! - A [`Rollout`] offers one release to a group (or the whole fleet): named canary kiosks
//!   first, then a percentage. A kiosk is in the percentage when its [`bucket`], a hash of its
//!   id, is below it: the same kiosks are chosen every time, so nobody flaps as the percentage
//!   grows, and growing it only adds kiosks.
//! - Each expansion starts a *wave*. When more of the wave than the rollout's
//!   `max_failure_percent` failed or rolled back, the rollout pauses by itself.
//! - Paused: kiosks already under way finish, nobody new starts. Aborted: nobody goes on;
//!   kiosks already on the release stay there. Rolled back: every kiosk the rollout updated is
//!   sent back to the release it ran before.
//! - Kiosks report where their update stands in each heartbeat ([`KioskUpdate`]).
//!
//! [`Rollouts`] keeps all of it in memory (a few rows per kiosk) and writes every change
//! through to the store; heartbeats read it without touching the database.
//!
//! [`crate::model::rollout`] is what the store saves, [`policy`] the pure rules (who is in a rollout, when a
//! kiosk may install), this module the in-memory book.

pub mod policy;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use protocol::UnixMillis;
use protocol::fleet::{DesiredRelease, UpdateReport, UpdateState};
use protocol::release::{KeyEndorsement, Keyring, SignedManifest};
use serde::{Deserialize, Serialize};

pub use crate::model::rollout::{KioskUpdate, Release, Rollout, RolloutState};
pub use policy::{Window, bucket};

use crate::store::{Store, StoreError};

/// The lease staff changes to the book hold ([`Rollouts::exclusively`]).
const BOOK_LEASE: &str = "rollout-book";

/// What staff asked for when creating a rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRollout {
    /// The release.
    pub version: String,
    /// The group; none: every kiosk.
    #[serde(default)]
    pub group: Option<String>,
    /// Canary kiosks.
    #[serde(default)]
    pub canary: Vec<String>,
    /// Starting percentage (0 with canaries: only they).
    #[serde(default)]
    pub percent: u8,
    /// Ignore the maintenance window and citizens.
    #[serde(default)]
    pub force: bool,
    /// Own failure threshold, percent; default from the config.
    #[serde(default)]
    pub max_failure_percent: Option<u8>,
}

/// A change staff make to a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Grow to this percentage (a new wave).
    Expand(u8),
    /// Stop new kiosks from starting.
    Pause,
    /// Go on after a pause.
    Resume,
    /// Stop for good; updated kiosks stay.
    Abort,
    /// Send updated kiosks back to their previous release.
    Rollback,
}

/// Why a rollout request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// Bad request.
    #[error("{0}")]
    Invalid(String),
    /// No such release or rollout.
    #[error("{0}")]
    NotFound(String),
    /// Not now (another rollout open, state does not allow it).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts of a rollout's kiosks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Kiosks it targets now.
    pub targeted: usize,
    /// Of those, by update state (a targeted kiosk that has not reported is `pending`).
    pub by_state: BTreeMap<String, usize>,
    /// Kiosks of the current wave.
    pub wave: usize,
    /// Of those, failed or rolled back.
    pub wave_failed: usize,
}

#[derive(Debug, Default)]
struct Book {
    releases: BTreeMap<String, Release>,
    /// By id, oldest first.
    rollouts: Vec<Rollout>,
    updates: HashMap<String, KioskUpdate>,
}

impl Book {
    /// Everything, from the store.
    fn read(store: &dyn Store) -> Result<Book, StoreError> {
        let mut rollouts = store.rollouts()?;
        rollouts.sort_by_key(|r| r.id);
        Ok(Book {
            releases: store
                .releases()?
                .into_iter()
                .map(|r| (r.version.clone(), r))
                .collect(),
            rollouts,
            updates: store
                .kiosk_updates()?
                .into_iter()
                .map(|u| (u.kiosk_id.clone(), u))
                .collect(),
        })
    }
}

/// Releases, rollouts and kiosks' updates (see the module docs).
#[derive(Debug)]
pub struct Rollouts {
    book: Mutex<Book>,
    /// Trusted release keys; `None`: uploads are refused.
    pub keyring: Option<Keyring>,
    /// Endorsements sent to kiosks.
    pub endorsements: Vec<KeyEndorsement>,
    /// Key revocations sent to kiosks (the keyring above has them applied).
    pub revocations: Vec<protocol::release::KeyRevocation>,
    /// The maintenance window.
    pub window: Window,
    /// Default failure threshold, percent.
    pub max_failure_percent: u8,
}

/// A kiosk as a rollout sees it.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// Its id.
    pub kiosk_id: &'a str,
    /// Its group.
    pub group: &'a str,
}

/// What a heartbeat changed that the store must keep.
#[derive(Debug, Default)]
pub struct Changed {
    /// The kiosk's update record.
    pub update: Option<KioskUpdate>,
    /// A rollout that paused itself.
    pub paused: Option<Rollout>,
}

impl Changed {
    /// Writes it.
    pub fn save(&self, store: &dyn Store) -> Result<(), StoreError> {
        if let Some(u) = &self.update {
            store.save_kiosk_update(u)?;
        }
        if let Some(r) = &self.paused {
            store.save_rollout(r)?;
        }
        Ok(())
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.update.is_none() && self.paused.is_none()
    }
}

impl Rollouts {
    /// Loads everything from the store.
    pub fn load(
        store: &dyn Store,
        keyring: Option<Keyring>,
        endorsements: Vec<KeyEndorsement>,
        window: Window,
        max_failure_percent: u8,
    ) -> Result<Rollouts, StoreError> {
        Ok(Rollouts {
            book: Mutex::new(Book::read(store)?),
            keyring,
            endorsements,
            revocations: Vec::new(),
            window,
            max_failure_percent,
        })
    }

    /// Reads the whole book from the store again (another instance may have changed it while
    /// this one could not hear of it).
    pub fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let book = Book::read(store)?;
        *self.book() = book;
        Ok(())
    }

    /// Runs a staff change `f` to the book so that no other instance changes it meanwhile (a
    /// short lease in the store), with the book read anew first when instances share the
    /// store (`shared`): two instances then never give two rollouts one id, nor start two at
    /// once. `Conflict` when another change holds the book for longer than 10 s.
    pub fn exclusively<T>(
        &self,
        store: &dyn Store,
        shared: bool,
        f: impl FnOnce(&Rollouts) -> T,
    ) -> Result<T, StoreError> {
        let me = format!("edit-{}", uuid::Uuid::new_v4().simple());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !store.hold_lease(BOOK_LEASE, &me, crate::now_ms(), 30_000)? {
            if std::time::Instant::now() > deadline {
                return Err(StoreError::Conflict(
                    "another change to the rollouts is under way; try again".into(),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = if shared {
            self.reload(store).map(|()| f(self))
        } else {
            Ok(f(self))
        };
        if let Err(e) = store.release_lease(BOOK_LEASE, &me) {
            tracing::warn!(error = %e, "the rollout book's lease lapses by itself");
        }
        out
    }

    /// Takes in what another instance saved (`kind`: `release`, `rollout`, `kiosk_update`, as
    /// JSON in `data`), or reads the whole book again (`reload`).
    pub fn take(&self, kind: &str, data: &str, store: &dyn Store) -> Result<(), StoreError> {
        let bad = |e: serde_json::Error| StoreError::Corrupt {
            what: "another instance's notice",
            message: e.to_string(),
        };
        match kind {
            "release" => {
                let r: Release = serde_json::from_str(data).map_err(bad)?;
                self.book().releases.insert(r.version.clone(), r);
            }
            "rollout" => {
                let r: Rollout = serde_json::from_str(data).map_err(bad)?;
                let mut book = self.book();
                match book.rollouts.iter_mut().find(|x| x.id == r.id) {
                    Some(x) => *x = r,
                    None => {
                        book.rollouts.push(r);
                        book.rollouts.sort_by_key(|r| r.id);
                    }
                }
            }
            "kiosk_update" => {
                let u: KioskUpdate = serde_json::from_str(data).map_err(bad)?;
                self.book().updates.insert(u.kiosk_id.clone(), u);
            }
            _ => self.reload(store)?,
        }
        Ok(())
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every release, newest version first.
    pub fn releases(&self) -> Vec<Release> {
        let mut v: Vec<Release> = self.book().releases.values().cloned().collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        v
    }

    /// One release.
    pub fn release(&self, version: &str) -> Option<Release> {
        self.book().releases.get(version).cloned()
    }

    /// One release, reading the book anew from `store` when it is not in it (another instance
    /// may have saved it a moment ago, its notice still on the way).
    pub fn release_fresh(
        &self,
        version: &str,
        store: &dyn Store,
    ) -> Result<Option<Release>, StoreError> {
        if let Some(r) = self.release(version) {
            return Ok(Some(r));
        }
        self.reload(store)?;
        Ok(self.release(version))
    }

    /// Every rollout, newest first.
    pub fn rollouts(&self) -> Vec<Rollout> {
        self.book().rollouts.iter().rev().cloned().collect()
    }

    /// One rollout.
    pub fn rollout(&self, id: i64) -> Option<Rollout> {
        self.book().rollouts.iter().find(|r| r.id == id).cloned()
    }

    /// Every kiosk's update record, by kiosk (one lock for a whole page).
    pub fn updates_by_kiosk(&self) -> HashMap<String, KioskUpdate> {
        self.book().updates.clone()
    }

    /// One kiosk's update record.
    pub fn update_of(&self, kiosk_id: &str) -> Option<KioskUpdate> {
        self.book().updates.get(kiosk_id).cloned()
    }

    /// Accepts a signed manifest: a trusted key and a good signature, a new version (or the
    /// same manifest again while its bundle is awaited).
    pub fn accept_manifest(
        &self,
        store: &dyn Store,
        signed: SignedManifest,
        who: &str,
        now: UnixMillis,
    ) -> Result<Release, RolloutError> {
        let ring = self.keyring.as_ref().ok_or_else(|| {
            RolloutError::Conflict(
                "this server has no release keyring (releases.keyring); uploads are refused".into(),
            )
        })?;
        let m = ring
            .verify_signature(&signed)
            .map_err(|e| RolloutError::Invalid(format!("manifest refused: {e}")))?;
        let mut book = self.book();
        if let Some(old) = book.releases.get(&m.version) {
            if old.uploaded_at.is_some() || old.manifest != signed {
                return Err(RolloutError::Conflict(format!(
                    "release {} exists already; a version is never replaced",
                    m.version
                )));
            }
            return Ok(old.clone());
        }
        let r = Release {
            version: m.version.clone(),
            size: m.size,
            sha256: m.sha256.to_ascii_lowercase(),
            compatible: m.compatible.clone(),
            key_id: signed.key_id.clone(),
            manifest: signed,
            created_at: now,
            uploaded_at: None,
            uploaded_by: who.to_owned(),
            rollback: None,
        };
        store.save_release(&r)?;
        book.releases.insert(r.version.clone(), r.clone());
        Ok(r)
    }

    /// Keeps a signed rollback with the release it leaves (`from`), after checking it with the
    /// fleet's keyring; kiosks running that release get it with the older one.
    pub fn accept_rollback(
        &self,
        store: &dyn Store,
        version: &str,
        signed: protocol::release::SignedRollback,
    ) -> Result<Release, RolloutError> {
        let ring = self.keyring.as_ref().ok_or_else(|| {
            RolloutError::Conflict("this server has no release keyring (releases.keyring)".into())
        })?;
        let rb = ring
            .verify_rollback(&signed)
            .map_err(|e| RolloutError::Invalid(format!("the rollback is refused: {e}")))?;
        if rb.from != version {
            return Err(RolloutError::Invalid(format!(
                "the rollback is signed for leaving {}, not {version}",
                rb.from
            )));
        }
        let mut book = self.book();
        let rel = book
            .releases
            .get_mut(version)
            .ok_or_else(|| RolloutError::NotFound(format!("no release {version}")))?;
        let mut new = rel.clone();
        new.rollback = Some(signed);
        store.save_release(&new)?;
        *rel = new.clone();
        Ok(new)
    }

    /// Records that a release's bundle arrived whole (checked against its manifest).
    pub fn bundle_arrived(
        &self,
        store: &dyn Store,
        version: &str,
        now: UnixMillis,
    ) -> Result<Release, RolloutError> {
        let mut book = self.book();
        let r = book
            .releases
            .get_mut(version)
            .ok_or_else(|| RolloutError::NotFound(format!("no release {version}")))?;
        let mut new = r.clone();
        new.uploaded_at = Some(now);
        store.save_release(&new)?;
        *r = new.clone();
        Ok(new)
    }

    /// Starts a rollout. Another open rollout must be aborted first, unless it reached
    /// everybody (then it is completed).
    pub fn create(
        &self,
        store: &dyn Store,
        req: NewRollout,
        kiosks: &[Member<'_>],
        who: &str,
        now: UnixMillis,
    ) -> Result<Rollout, RolloutError> {
        if req.percent > 100 || req.max_failure_percent.is_some_and(|p| p > 100) {
            return Err(RolloutError::Invalid("percentages are 0 to 100".to_owned()));
        }
        if req.percent == 0 && req.canary.is_empty() {
            return Err(RolloutError::Invalid(
                "a rollout needs canary kiosks or a percentage".into(),
            ));
        }
        for c in &req.canary {
            if !kiosks.iter().any(|k| k.kiosk_id == c) {
                return Err(RolloutError::Invalid(format!("no kiosk {c:?}")));
            }
        }
        let mut book = self.book();
        match book.releases.get(&req.version) {
            Some(r) if r.uploaded_at.is_some() => {}
            Some(_) => {
                return Err(RolloutError::Conflict(format!(
                    "release {}'s bundle has not been uploaded",
                    req.version
                )));
            }
            None => {
                return Err(RolloutError::NotFound(format!(
                    "no release {}",
                    req.version
                )));
            }
        }
        let mut superseded = None;
        if let Some(open) = book.rollouts.iter_mut().rev().find(|r| r.state.is_open()) {
            if open.state == RolloutState::Active && open.percent == 100 {
                open.state = RolloutState::Completed;
                open.updated_at = now;
                superseded = Some(open.clone());
            } else {
                return Err(RolloutError::Conflict(format!(
                    "rollout {} of {} is still {} at {} %; expand it to 100 % or abort it first",
                    open.id,
                    open.version,
                    open.state.as_str(),
                    open.percent
                )));
            }
        }
        let mut r = Rollout {
            id: book.rollouts.last().map_or(1, |r| r.id + 1),
            version: req.version,
            group: req.group.filter(|g| !g.is_empty()),
            canary: req.canary,
            percent: req.percent,
            state: RolloutState::Active,
            force: req.force,
            max_failure_percent: req.max_failure_percent.unwrap_or(self.max_failure_percent),
            wave: Vec::new(),
            created_by: who.to_owned(),
            created_at: now,
            updated_at: now,
            reason: None,
        };
        r.wave = kiosks
            .iter()
            .filter(|k| r.targets(k.kiosk_id, k.group))
            .map(|k| k.kiosk_id.to_owned())
            .collect();
        if let Some(s) = &superseded {
            store.save_rollout(s)?;
        }
        store.save_rollout(&r)?;
        book.rollouts.push(r.clone());
        Ok(r)
    }

    /// Expands, pauses, resumes, aborts or rolls back a rollout.
    pub fn act(
        &self,
        store: &dyn Store,
        id: i64,
        action: Action,
        kiosks: &[Member<'_>],
        who: &str,
        now: UnixMillis,
    ) -> Result<Rollout, RolloutError> {
        let mut book = self.book();
        let latest = book.rollouts.last().map(|r| r.id);
        // Whether the rollout's release has its signed rollback (asked before `r` borrows).
        let rollback_signed = book
            .rollouts
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| book.releases.get(&r.version))
            .is_some_and(|rel| rel.rollback.is_some());
        let r = book
            .rollouts
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| RolloutError::NotFound(format!("no rollout {id}")))?;
        let mut new = r.clone();
        let refuse = |what: &str| {
            RolloutError::Conflict(format!(
                "rollout {id} is {}; it cannot be {what}",
                r.state.as_str()
            ))
        };
        match action {
            Action::Expand(p) => {
                if r.state == RolloutState::Paused {
                    return Err(RolloutError::Conflict(format!(
                        "rollout {id} is paused ({}); resume it before expanding it",
                        r.reason.as_deref().unwrap_or("by hand")
                    )));
                }
                if !r.state.is_open() {
                    return Err(refuse("expanded"));
                }
                if p > 100 || p < r.percent {
                    return Err(RolloutError::Invalid(format!(
                        "it is at {} %; expand it to between that and 100 %",
                        r.percent
                    )));
                }
                new.percent = p;
                new.wave = kiosks
                    .iter()
                    .filter(|k| new.targets(k.kiosk_id, k.group) && !r.targets(k.kiosk_id, k.group))
                    .map(|k| k.kiosk_id.to_owned())
                    .collect();
            }
            Action::Pause => {
                if r.state != RolloutState::Active {
                    return Err(refuse("paused"));
                }
                new.state = RolloutState::Paused;
                new.reason = Some(format!("paused by {who}"));
            }
            Action::Resume => {
                if r.state != RolloutState::Paused {
                    return Err(refuse("resumed"));
                }
                new.state = RolloutState::Active;
                new.reason = None;
            }
            Action::Abort => {
                if !r.state.is_open() {
                    return Err(refuse("aborted"));
                }
                new.state = RolloutState::Aborted;
                new.reason = Some(format!("aborted by {who}"));
            }
            Action::Rollback => {
                if r.state == RolloutState::RolledBack {
                    return Err(refuse("rolled back"));
                }
                // Kiosks refuse to go back without a signed rollback: say so now, not later.
                if !rollback_signed {
                    return Err(RolloutError::Conflict(format!(
                        "rolling back {v} needs a rollback signed with a release key: \
                         fleetctl rollback {id} --key KEYFILE --to VERSION",
                        v = r.version
                    )));
                }
                if latest != Some(id) {
                    return Err(RolloutError::Conflict(format!(
                        "rollout {id} is not the newest; roll back the newest one"
                    )));
                }
                new.state = RolloutState::RolledBack;
                new.reason = Some(format!("rolled back by {who}"));
            }
        }
        new.updated_at = now;
        store.save_rollout(&new)?;
        *r = new.clone();
        Ok(new)
    }

    /// Takes a kiosk's update report and answers with the release it should run. The caller
    /// saves what [`Changed`] holds.
    pub fn on_heartbeat(
        &self,
        kiosk: Member<'_>,
        report: Option<&UpdateReport>,
        now: UnixMillis,
    ) -> (Option<DesiredRelease>, Changed) {
        let mut changed = Changed::default();
        let mut book = self.book();
        if let Some(report) = report {
            let old = book.updates.get(kiosk.kiosk_id).cloned();
            let old = old.as_ref();
            // A heartbeat replayed after an outage carries an older report: keep the newer.
            let newer = old.is_none_or(|o| {
                o.report.since < report.since
                    || (o.report.since == report.since && o.report != *report)
            });
            if newer {
                let (mut from_version, mut from_rollout) = old
                    .map(|o| (o.from_version.clone(), o.from_rollout))
                    .unwrap_or_default();
                if report.rollout_id.is_some()
                    && report.rollout_id != from_rollout
                    && report.target.as_deref() != Some(report.running.as_str())
                {
                    // The first word from this kiosk about this rollout: it runs what it ran
                    // before.
                    from_rollout = report.rollout_id;
                    from_version = Some(report.running.clone());
                }
                let u = KioskUpdate {
                    kiosk_id: kiosk.kiosk_id.to_owned(),
                    report: report.clone(),
                    from_version,
                    from_rollout,
                    received_at: now,
                };
                book.updates.insert(u.kiosk_id.clone(), u.clone());
                // A new failure: the state turned, or a failure of another release.
                if report.state.is_failure()
                    && old.is_none_or(|o| {
                        !o.report.state.is_failure()
                            || o.report.rollout_id != report.rollout_id
                            || o.report.target != report.target
                    })
                    && let Some(r) = report.rollout_id
                {
                    changed.paused = pause_if_failing(&mut book, r, now);
                }
                changed.update = Some(u);
            }
        }
        let desired = self.desired(&book, kiosk, now);
        (desired, changed)
    }

    fn desired(&self, book: &Book, kiosk: Member<'_>, now: UnixMillis) -> Option<DesiredRelease> {
        let r = book.rollouts.last()?;
        let upd = book.updates.get(kiosk.kiosk_id);
        let engaged = upd.is_some_and(|u| {
            u.report.rollout_id == Some(r.id) && u.report.state != UpdateState::Idle
        });
        let version = match r.state {
            RolloutState::Active | RolloutState::Completed => r
                .targets(kiosk.kiosk_id, kiosk.group)
                .then(|| r.version.clone()),
            RolloutState::Paused => {
                (engaged && r.targets(kiosk.kiosk_id, kiosk.group)).then(|| r.version.clone())
            }
            RolloutState::Aborted => None,
            RolloutState::RolledBack => upd
                .filter(|u| u.from_rollout == Some(r.id))
                .and_then(|u| u.from_version.clone())
                .filter(|v| *v != r.version),
        }?;
        let rel = book.releases.get(&version)?;
        rel.uploaded_at?;
        // A kiosk going back to an older release needs the rollback signed for the one it runs.
        let rollback = upd
            .and_then(|u| book.releases.get(&u.report.running))
            .and_then(|running| running.rollback.clone());
        Some(DesiredRelease {
            rollout_id: r.id,
            version: rel.version.clone(),
            manifest: rel.manifest.clone(),
            url: format!("/releases/{}", rel.version),
            install_now: r.force || r.state == RolloutState::RolledBack || self.window.is_open(now),
            force: r.force || r.state == RolloutState::RolledBack,
            endorsements: self.endorsements.clone(),
            revocations: self.revocations.clone(),
            rollback,
        })
    }

    /// Whether `kiosk` may download `version` now (it is the release it should run).
    pub fn may_download(&self, kiosk: Member<'_>, version: &str, now: UnixMillis) -> bool {
        let book = self.book();
        self.desired(&book, kiosk, now)
            .is_some_and(|d| d.version == version)
    }

    /// How far a rollout got.
    pub fn progress(&self, r: &Rollout, kiosks: &[Member<'_>]) -> Progress {
        let book = self.book();
        let mut p = Progress::default();
        for k in kiosks.iter().filter(|k| r.targets(k.kiosk_id, k.group)) {
            p.targeted += 1;
            let state = match book.updates.get(k.kiosk_id) {
                Some(u) if u.report.rollout_id == Some(r.id) => u.report.state.as_str(),
                Some(u) if u.report.running == r.version => "succeeded",
                _ => "pending",
            };
            *p.by_state.entry(state.to_owned()).or_default() += 1;
        }
        let (failed, size) = wave_failures(&book, r);
        p.wave = size;
        p.wave_failed = failed;
        p
    }
}

fn wave_failures(book: &Book, r: &Rollout) -> (usize, usize) {
    let failed = r
        .wave
        .iter()
        .filter(|k| {
            book.updates
                .get(k.as_str())
                .is_some_and(|u| u.report.rollout_id == Some(r.id) && u.report.state.is_failure())
        })
        .count();
    (failed, r.wave.len())
}

fn pause_if_failing(book: &mut Book, id: i64, now: UnixMillis) -> Option<Rollout> {
    let r = book.rollouts.iter().find(|r| r.id == id)?;
    if r.state != RolloutState::Active {
        return None;
    }
    let (failed, size) = wave_failures(book, r);
    if size == 0 || failed * 100 <= size * usize::from(r.max_failure_percent) {
        return None;
    }
    let r = book.rollouts.iter_mut().find(|r| r.id == id)?;
    r.state = RolloutState::Paused;
    r.updated_at = now;
    r.reason = Some(format!(
        "paused by itself: {failed} of the {size} kiosks of its current wave failed \
         (more than {} %)",
        r.max_failure_percent
    ));
    tracing::warn!(
        rollout = id,
        failed,
        size,
        "rollout paused: too many failures"
    );
    Some(r.clone())
}
