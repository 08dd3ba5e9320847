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

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use protocol::UnixMillis;
use protocol::fleet::{DesiredRelease, UpdateReport, UpdateState};
use protocol::release::{KeyEndorsement, Keyring, SignedManifest};
use serde::{Deserialize, Serialize};

use crate::hours::OpeningHours;
use crate::store::{Store, StoreError};

/// A release the server accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Its version.
    pub version: String,
    /// The signed manifest, as uploaded.
    pub manifest: SignedManifest,
    /// Bundle size, bytes.
    pub size: u64,
    /// Bundle SHA-256, hex.
    pub sha256: String,
    /// Hardware it is for.
    pub compatible: Vec<String>,
    /// The key that signed it.
    pub key_id: String,
    /// When its manifest was accepted.
    pub created_at: UnixMillis,
    /// When its bundle arrived whole; `None` while it is still awaited.
    pub uploaded_at: Option<UnixMillis>,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// The signed rollback that lets its kiosks go back to an older release, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<protocol::release::SignedRollback>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Kiosks in its target install the release.
    Active,
    /// Nobody new starts (by hand, or because too many failed).
    Paused,
    /// Stopped; kiosks already updated stay.
    Aborted,
    /// Every kiosk it updated goes back to its previous release.
    RolledBack,
    /// Superseded by a newer rollout after reaching everybody.
    Completed,
}

impl RolloutState {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Active => "active",
            RolloutState::Paused => "paused",
            RolloutState::Aborted => "aborted",
            RolloutState::RolledBack => "rolled_back",
            RolloutState::Completed => "completed",
        }
    }

    /// Whether it still moves kiosks forward (active or paused).
    pub fn is_open(self) -> bool {
        matches!(self, RolloutState::Active | RolloutState::Paused)
    }
}

/// A rollout of one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Its number.
    pub id: i64,
    /// The release.
    pub version: String,
    /// The kiosk group it targets; `None`: every kiosk.
    pub group: Option<String>,
    /// Kiosks that get it whatever the percentage (the canaries).
    pub canary: Vec<String>,
    /// Share of the group that gets it, percent.
    pub percent: u8,
    /// Its state.
    pub state: RolloutState,
    /// Install at once, ignoring the maintenance window and citizens at the kiosk.
    pub force: bool,
    /// Pauses when more of the current wave than this failed, percent.
    pub max_failure_percent: u8,
    /// The kiosks the latest create or expand added (the current wave).
    pub wave: Vec<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: UnixMillis,
    /// Last change.
    pub updated_at: UnixMillis,
    /// Why it is paused, aborted or rolled back.
    pub reason: Option<String>,
}

/// A kiosk's update, as it last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KioskUpdate {
    /// The kiosk.
    pub kiosk_id: String,
    /// Its report.
    pub report: UpdateReport,
    /// The release it ran when the rollout `from_rollout` first reached it (where a rollback
    /// sends it).
    pub from_version: Option<String>,
    /// That rollout.
    pub from_rollout: Option<i64>,
    /// When the server received the report.
    pub received_at: UnixMillis,
}

/// A kiosk's place in every percentage, 0 to 9999: from a hash of its id, so it never changes.
pub fn bucket(kiosk_id: &str) -> u16 {
    let d = protocol::sha256_hex(format!("okenko-rollout:{kiosk_id}"));
    // 16 hex digits are 64 bits; their remainder by 10,000 is as good as uniform.
    u64::from_str_radix(d.get(..16).unwrap_or("0"), 16).map_or(0, |n| (n % 10_000) as u16)
}

impl Rollout {
    /// Whether it offers its release to `kiosk_id` of `group`.
    pub fn targets(&self, kiosk_id: &str, group: &str) -> bool {
        self.canary.iter().any(|c| c == kiosk_id)
            || (self.group.as_deref().is_none_or(|g| g == group)
                && bucket(kiosk_id) < u16::from(self.percent) * 100)
    }
}

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

/// When kiosks may install.
#[derive(Debug, Clone)]
pub enum Window {
    /// At any time.
    Always,
    /// Within these hours.
    Within(OpeningHours),
    /// Outside these (opening) hours.
    OutsideOf(OpeningHours),
}

impl Window {
    /// The window from `releases.window` and `alerts.opening_hours`.
    pub fn from_config(window: &OpeningHours, opening: &OpeningHours) -> Window {
        if !window.always_open() {
            Window::Within(window.clone())
        } else if !opening.always_open() {
            Window::OutsideOf(opening.clone())
        } else {
            Window::Always
        }
    }

    /// Whether it is open at `now`.
    pub fn is_open(&self, now: UnixMillis) -> bool {
        match self {
            Window::Always => true,
            Window::Within(h) => h.is_open(now),
            Window::OutsideOf(h) => !h.is_open(now),
        }
    }
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
        let mut rollouts = store.rollouts()?;
        rollouts.sort_by_key(|r| r.id);
        let book = Book {
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
        };
        Ok(Rollouts {
            book: Mutex::new(book),
            keyring,
            endorsements,
            revocations: Vec::new(),
            window,
            max_failure_percent,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(percent: u8, group: Option<&str>, canary: &[&str]) -> Rollout {
        Rollout {
            id: 1,
            version: "2.0.0".into(),
            group: group.map(str::to_owned),
            canary: canary.iter().map(|c| (*c).to_owned()).collect(),
            percent,
            state: RolloutState::Active,
            force: false,
            max_failure_percent: 20,
            wave: Vec::new(),
            created_by: "t".into(),
            created_at: 0,
            updated_at: 0,
            reason: None,
        }
    }

    #[test]
    fn percentages_are_stable_and_only_grow() {
        let ids: Vec<String> = (1..=1000).map(|i| format!("kiosk-{i:04}")).collect();
        let mut before = 0;
        for p in [0u8, 1, 5, 25, 50, 99, 100] {
            let r = rollout(p, None, &[]);
            let chosen: Vec<&String> = ids.iter().filter(|k| r.targets(k, "g")).collect();
            assert!(chosen.len() >= before, "growing to {p} % dropped kiosks");
            // Everyone chosen at a lower percentage is still chosen.
            let lower = rollout(p / 2, None, &[]);
            assert!(
                ids.iter()
                    .filter(|k| lower.targets(k, "g"))
                    .all(|k| r.targets(k, "g"))
            );
            // Roughly the share asked for, on a thousand kiosks.
            let share = chosen.len() as f64 / 10.0;
            assert!((share - f64::from(p)).abs() <= 5.0, "{p} %: {share}");
            before = chosen.len();
        }
        assert_eq!(bucket("kiosk-0001"), bucket("kiosk-0001"));
        assert_ne!(bucket("kiosk-0001"), bucket("kiosk-0002"));
    }

    #[test]
    fn groups_and_canaries() {
        let r = rollout(100, Some("north"), &["south-1"]);
        assert!(r.targets("north-1", "north"));
        assert!(!r.targets("south-2", "south"));
        assert!(r.targets("south-1", "south"), "a canary outside the group");
        let c = rollout(0, None, &["a"]);
        assert!(c.targets("a", "x") && !c.targets("b", "x"));
    }

    fn report(kiosk_running: &str, rollout: i64, state: UpdateState, at: i64) -> UpdateReport {
        UpdateReport {
            running: kiosk_running.into(),
            slot: "A".into(),
            target: Some("2.0.0".into()),
            rollout_id: Some(rollout),
            state,
            progress: None,
            reason: None,
            since: at,
        }
    }

    #[test]
    fn a_rollout_pauses_on_failures_and_steers_kiosks_through_its_states() {
        use crate::store::sqlite::SqliteStore;
        let store = SqliteStore::open(std::path::Path::new(":memory:")).unwrap();
        let (key, _) = protocol::release::SigningKey::generate().unwrap();
        let mut ring = Keyring::default();
        ring.add(&key.public_hex()).unwrap();
        let book = Rollouts::load(&store, Some(ring), Vec::new(), Window::Always, 20).unwrap();
        let bundle = b"bundle".to_vec();
        for v in ["1.0.0", "2.0.0"] {
            let m = protocol::release::manifest_of(&mut bundle.as_slice(), v, &["hw".into()], 1)
                .unwrap();
            book.accept_manifest(&store, key.sign(&m).unwrap(), "rm", 1)
                .unwrap();
        }
        let ids: Vec<String> = (1..=40).map(|i| format!("k{i:02}")).collect();
        let members: Vec<Member<'_>> = ids
            .iter()
            .map(|k| Member {
                kiosk_id: k,
                group: "g",
            })
            .collect();
        let new = NewRollout {
            version: "2.0.0".into(),
            canary: vec!["k01".into()],
            ..NewRollout::default()
        };
        // Not before the bundle arrived.
        assert!(matches!(
            book.create(&store, new.clone(), &members, "rm", 2),
            Err(RolloutError::Conflict(_))
        ));
        book.bundle_arrived(&store, "2.0.0", 2).unwrap();
        book.bundle_arrived(&store, "1.0.0", 2).unwrap();
        let r = book.create(&store, new.clone(), &members, "rm", 3).unwrap();
        assert_eq!(r.wave, ["k01"]);
        let k01 = members[0];
        let (d, _) = book.on_heartbeat(k01, Some(&report("1.0.0", 1, UpdateState::Idle, 4)), 4);
        assert_eq!(d.map(|d| d.version), Some("2.0.0".into()));
        let (d, _) = book.on_heartbeat(members[1], None, 4);
        assert!(d.is_none(), "only the canary");
        // A second open rollout is refused.
        assert!(book.create(&store, new.clone(), &members, "rm", 5).is_err());
        // The canary fails: its whole wave failed, so the rollout pauses itself.
        let (_, changed) = book.on_heartbeat(
            k01,
            Some(&report("1.0.0", 1, UpdateState::RolledBack, 6)),
            6,
        );
        let paused = changed.paused.expect("paused");
        assert_eq!(paused.state, RolloutState::Paused);
        assert!(paused.reason.unwrap().contains("1 of the 1 kiosks"));
        assert!(book.on_heartbeat(members[1], None, 7).0.is_none());
        // Expanding needs an explicit resume first.
        assert!(
            book.act(&store, 1, Action::Expand(50), &members, "rm", 8)
                .is_err()
        );
        book.act(&store, 1, Action::Resume, &members, "rm", 8)
            .unwrap();
        let r = book
            .act(&store, 1, Action::Expand(50), &members, "rm", 9)
            .unwrap();
        assert!(!r.wave.is_empty() && !r.wave.contains(&"k01".to_owned()));
        assert!(
            book.act(&store, 1, Action::Expand(40), &members, "rm", 9)
                .is_err(),
            "no shrinking"
        );
        let in_wave = members
            .iter()
            .find(|m| r.wave.iter().any(|w| w == m.kiosk_id))
            .unwrap();
        // It updates; a replayed older report does not undo that.
        book.on_heartbeat(
            *in_wave,
            Some(&report("1.0.0", 1, UpdateState::Downloading, 10)),
            10,
        );
        let mut done = report("2.0.0", 1, UpdateState::Succeeded, 12);
        done.slot = "B".into();
        book.on_heartbeat(*in_wave, Some(&done), 12)
            .1
            .save(&store)
            .unwrap();
        book.on_heartbeat(
            *in_wave,
            Some(&report("1.0.0", 1, UpdateState::Downloading, 11)),
            13,
        );
        let u = book.update_of(in_wave.kiosk_id).unwrap();
        assert_eq!(
            (u.report.running.as_str(), u.from_version.as_deref()),
            ("2.0.0", Some("1.0.0"))
        );
        // Roll back: refused until a release key signed the rollback from 2.0.0 (kiosks would
        // refuse the older release without it); then the updated kiosk is sent to 1.0.0,
        // forced, with the signed rollback; the others get nothing.
        let e = book
            .act(&store, 1, Action::Rollback, &members, "rm", 14)
            .unwrap_err();
        assert!(e.to_string().contains("signed"), "{e}");
        let rb = key
            .sign_rollback(&protocol::release::Rollback {
                from: "2.0.0".into(),
                to: vec!["1.0.0".into()],
                created_at: 14,
            })
            .unwrap();
        let forged = protocol::release::SignedRollback {
            signature: "00".repeat(64),
            ..rb.clone()
        };
        assert!(book.accept_rollback(&store, "2.0.0", forged).is_err());
        assert!(
            book.accept_rollback(&store, "1.0.0", rb.clone()).is_err(),
            "not for that release"
        );
        book.accept_rollback(&store, "2.0.0", rb.clone()).unwrap();
        let r = book
            .act(&store, 1, Action::Rollback, &members, "rm", 14)
            .unwrap();
        assert_eq!(r.state, RolloutState::RolledBack);
        let d = book.on_heartbeat(*in_wave, None, 15).0.unwrap();
        assert_eq!(
            (d.version.as_str(), d.force, d.install_now),
            ("1.0.0", true, true)
        );
        assert_eq!(d.rollback, Some(rb));
        assert!(book.on_heartbeat(members[39], None, 15).0.is_none());
        // All of it survives a restart.
        let again = Rollouts::load(&store, None, Vec::new(), Window::Always, 20).unwrap();
        assert_eq!(again.rollout(1).unwrap().state, RolloutState::RolledBack);
        assert_eq!(
            again.update_of(in_wave.kiosk_id).unwrap().report.running,
            "2.0.0"
        );
    }

    #[test]
    fn windows() {
        let open = OpeningHours::parse("Mo-Su 08:00-18:00").unwrap();
        // 2026-11-23 (Monday) 12:00 and 23:00 Czech time (UTC+1).
        let noon = 1_795_392_000_000 + 11 * 3_600_000;
        let night = 1_795_392_000_000 + 22 * 3_600_000;
        let w = Window::from_config(&OpeningHours::default(), &open);
        assert!(!w.is_open(noon) && w.is_open(night));
        let own = OpeningHours::parse("Mo-Su 11:00-13:00").unwrap();
        let w = Window::from_config(&own, &open);
        assert!(w.is_open(noon) && !w.is_open(night));
        let w = Window::from_config(&OpeningHours::default(), &OpeningHours::default());
        assert!(w.is_open(noon) && w.is_open(night));
    }
}
