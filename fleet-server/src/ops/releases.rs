//! Releases and rollouts: what the JSON API and the dashboard both do with them. Each change
//! needs the release manager's role and goes to the audit log.

use protocol::release::{SignedManifest, SignedRollback};
use serde::{Deserialize, Serialize};

use super::audit::audit;
use crate::error::AppError;
use crate::rollout::{Action, KioskUpdate, Member, NewRollout, Progress, Release, Rollout};
use crate::staff::require;
use crate::staff::{Role, Staff};
use crate::state::{AppState, blocking};
use crate::store::KioskRecord;

/// A rollout refusal as the client sees it.
pub fn rollout_error(e: crate::rollout::RolloutError) -> AppError {
    use crate::rollout::RolloutError as E;
    match e {
        E::Invalid(m) => AppError::BadRequest(m),
        E::NotFound(m) => AppError::NotFound(m),
        E::Conflict(m) => AppError::Conflict(m),
        E::Store(e) => e.into(),
    }
}

/// Accepts a release's signed manifest (its bundle comes next).
pub async fn add_manifest(
    state: &AppState,
    staff: &Staff,
    signed: SignedManifest,
) -> Result<Release, AppError> {
    require(staff, Role::ReleaseManager)?;
    let (rollouts, who) = (state.rollouts.clone(), staff.name.clone());
    let r = blocking(state, move |s| {
        Ok(rollouts.accept_manifest(s, signed, &who, crate::now_ms()))
    })
    .await?
    .map_err(rollout_error)?;
    audit(
        state,
        &staff.name,
        "release.manifest",
        &r.version,
        format!("{} bytes, key {}", r.size, r.key_id),
    )
    .await;
    Ok(r)
}

/// Keeps a signed rollback with the release rollout `id` rolled out (the dashboard's form).
pub async fn keep_rollback(
    state: &AppState,
    staff: &Staff,
    id: i64,
    signed: SignedRollback,
) -> Result<Release, AppError> {
    let version = state
        .rollouts
        .rollout(id)
        .ok_or_else(|| AppError::NotFound(format!("no rollout {id}")))?
        .version;
    keep_signed_rollback(state, staff, &version, signed).await
}

/// Keeps a signed rollback with release `version`, the one it leaves.
pub async fn keep_signed_rollback(
    state: &AppState,
    staff: &Staff,
    version: &str,
    signed: SignedRollback,
) -> Result<Release, AppError> {
    require(staff, Role::ReleaseManager)?;
    let (rollouts, v) = (state.rollouts.clone(), version.to_owned());
    let key = signed.key_id.clone();
    let r = blocking(state, move |s| Ok(rollouts.accept_rollback(s, &v, signed)))
        .await?
        .map_err(rollout_error)?;
    audit(
        state,
        &staff.name,
        "release.rollback_signed",
        version,
        format!("key {key}"),
    )
    .await;
    Ok(r)
}

pub use crate::state::UploadsInProgress;

/// A version's upload, in progress until dropped.
#[derive(Debug)]
pub struct Uploading<'a> {
    set: &'a UploadsInProgress,
    version: String,
}

impl<'a> Uploading<'a> {
    /// Claims `version`; refused while another upload of it runs.
    pub fn claim(set: &'a UploadsInProgress, version: &str) -> Result<Uploading<'a>, AppError> {
        let mut uploads = set.lock().unwrap_or_else(|p| p.into_inner());
        if !uploads.insert(version.to_owned()) {
            return Err(AppError::Conflict(format!(
                "release {version}'s bundle is being uploaded already; try again when it is done"
            )));
        }
        Ok(Uploading {
            set,
            version: version.to_owned(),
        })
    }
}

impl Drop for Uploading<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.version);
    }
}

/// The file a release's bundle is kept in.
pub fn bundle_path(state: &AppState, version: &str) -> std::path::PathBuf {
    // Versions are letters, digits and `._-+` (checked with the manifest): one path component.
    state.releases_dir.join(format!("{version}.bundle"))
}

/// A rollout and how far it got.
#[derive(Debug, Serialize, Deserialize)]
pub struct RolloutView {
    /// The rollout.
    #[serde(flatten)]
    pub rollout: Rollout,
    /// Its kiosks by state.
    pub progress: Progress,
}

/// The kiosks a rollout may reach.
pub async fn members(state: &AppState) -> Result<Vec<KioskRecord>, AppError> {
    blocking(state, |s| s.kiosks()).await
}

/// The rollout book's view of `kiosks`.
pub fn as_members(kiosks: &[KioskRecord]) -> Vec<Member<'_>> {
    kiosks
        .iter()
        .map(|k| Member {
            kiosk_id: &k.kiosk_id,
            group: &k.group,
        })
        .collect()
}

/// A rollout with its progress over `kiosks`.
pub fn view(state: &AppState, r: Rollout, kiosks: &[KioskRecord]) -> RolloutView {
    let progress = state.rollouts.progress(&r, &as_members(kiosks));
    RolloutView {
        rollout: r,
        progress,
    }
}

/// Creates a rollout for `who`: shared by the API and the dashboard.
pub async fn create_rollout(
    state: &AppState,
    staff: &Staff,
    req: NewRollout,
) -> Result<RolloutView, AppError> {
    require(staff, Role::ReleaseManager)?;
    let kiosks = members(state).await?;
    let (rollouts, who, ks) = (state.rollouts.clone(), staff.name.clone(), kiosks.clone());
    let shared = state.bus.is_some();
    let r = blocking(state, move |s| {
        rollouts.exclusively(s, shared, |book| {
            book.create(s, req, &as_members(&ks), &who, crate::now_ms())
        })
    })
    .await?
    .map_err(rollout_error)?;
    audit(
        state,
        &staff.name,
        "rollout.create",
        &format!("rollout {}", r.id),
        format!(
            "{} to {}{} % of {}{}",
            r.version,
            if r.canary.is_empty() {
                String::new()
            } else {
                format!("{} and ", r.canary.join(", "))
            },
            r.percent,
            r.group.as_deref().unwrap_or("all kiosks"),
            if r.force { ", forced" } else { "" }
        ),
    )
    .await;
    Ok(view(state, r, &kiosks))
}

/// Parses an action's name (and `expand`'s percentage).
pub fn parse_action(name: &str, percent: Option<u8>) -> Result<Action, AppError> {
    Ok(match name {
        "expand" => Action::Expand(
            percent.ok_or_else(|| AppError::BadRequest("expand needs a percent".into()))?,
        ),
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "abort" => Action::Abort,
        "rollback" => Action::Rollback,
        other => {
            return Err(AppError::NotFound(format!(
                "no action {other:?}; use expand, pause, resume, abort or rollback"
            )));
        }
    })
}

/// Changes a rollout for `who`: shared by the API and the dashboard.
pub async fn act_on(
    state: &AppState,
    staff: &Staff,
    id: i64,
    action: Action,
) -> Result<RolloutView, AppError> {
    require(staff, Role::ReleaseManager)?;
    let kiosks = members(state).await?;
    let (rollouts, who, ks) = (state.rollouts.clone(), staff.name.clone(), kiosks.clone());
    let shared = state.bus.is_some();
    let r = blocking(state, move |s| {
        rollouts.exclusively(s, shared, |book| {
            book.act(s, id, action, &as_members(&ks), &who, crate::now_ms())
        })
    })
    .await?
    .map_err(rollout_error)?;
    let what = match action {
        Action::Expand(p) => format!("expanded to {p} %"),
        Action::Pause => "paused".into(),
        Action::Resume => "resumed".into(),
        Action::Abort => "aborted".into(),
        Action::Rollback => "rolled back".into(),
    };
    audit(
        state,
        &staff.name,
        "rollout.change",
        &format!("rollout {id}"),
        format!("{} {what}", r.version),
    )
    .await;
    Ok(view(state, r, &kiosks))
}

/// A kiosk's release and update, for `fleetctl status`.
#[derive(Debug, Serialize, Deserialize)]
pub struct KioskRelease {
    /// The kiosk.
    pub kiosk_id: String,
    /// Its group.
    pub group: String,
    /// Last heartbeat.
    pub last_seen: Option<i64>,
    /// Its update record, if it reported one.
    pub update: Option<KioskUpdate>,
}

/// Every kiosk's release and update state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Updates {
    /// Kiosks by release running (`unknown` before a report).
    pub by_version: std::collections::BTreeMap<String, usize>,
    /// Kiosks by update state.
    pub by_state: std::collections::BTreeMap<String, usize>,
    /// Each kiosk.
    pub kiosks: Vec<KioskRelease>,
}

/// The fleet's releases and update states.
pub async fn fleet_updates(state: &AppState) -> Result<Updates, AppError> {
    let kiosks = members(state).await?;
    let mut u = Updates {
        by_version: Default::default(),
        by_state: Default::default(),
        kiosks: Vec::new(),
    };
    let mut updates = state.rollouts.updates_by_kiosk();
    for k in kiosks {
        let update = updates.remove(&k.kiosk_id);
        let (v, s) = update.as_ref().map_or(("unknown", "unknown"), |x| {
            (x.report.running.as_str(), x.report.state.as_str())
        });
        *u.by_version.entry(v.to_owned()).or_default() += 1;
        *u.by_state.entry(s.to_owned()).or_default() += 1;
        u.kiosks.push(KioskRelease {
            kiosk_id: k.kiosk_id,
            group: k.group,
            last_seen: k.last_seen,
            update,
        });
    }
    Ok(u)
}
