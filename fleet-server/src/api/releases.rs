//! Releases and rollouts in the admin API, `/api/admin/v1/…` (see [`crate::rollout`]):
//!
//! - `POST releases` (a signed manifest, JSON), then `PUT releases/{version}/bundle` (the
//!   bundle's bytes, streamed to disk and checked against the manifest): release manager.
//! - `POST rollouts`, `POST rollouts/{id}/{expand|pause|resume|abort|rollback}`: release
//!   manager. Reads (`GET releases`, `rollouts`, `updates`, `whoami`) need any role.
//!
//! Every change is in the audit log. `fleetctl` and the dashboard call these.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::StreamExt;
use protocol::release::{SignedManifest, check_bundle};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::{AppError, AppState, JsonBody, blocking, require};
use crate::rollout::{Action, KioskUpdate, Member, NewRollout, Progress, Release, Rollout};
use crate::staff::{Role, Staff};
use crate::store::KioskRecord;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/v1/whoami", get(whoami))
        .route("/api/admin/v1/releases", get(releases).post(add_release))
        .route(
            "/api/admin/v1/releases/{version}/bundle",
            put(upload_bundle),
        )
        .route(
            "/api/admin/v1/releases/{version}/rollback",
            post(add_rollback),
        )
        .route("/api/admin/v1/rollouts", get(rollouts).post(create))
        .route("/api/admin/v1/rollouts/{id}", get(rollout))
        .route("/api/admin/v1/rollouts/{id}/{action}", post(act))
        .route("/api/admin/v1/updates", get(updates))
}

/// Who is calling, and the CSRF token their changes carry (for `fleetctl login`).
#[derive(Debug, Serialize, Deserialize)]
pub struct WhoAmI {
    /// User name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The session's CSRF token.
    pub csrf: String,
}

async fn whoami(staff: Staff) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: staff.name,
        role: staff.role.as_str().to_owned(),
        csrf: staff.csrf,
    })
}

async fn releases(State(state): State<AppState>, _staff: Staff) -> Json<Vec<Release>> {
    Json(state.rollouts.releases())
}

fn rollout_error(e: crate::rollout::RolloutError) -> AppError {
    use crate::rollout::RolloutError as E;
    match e {
        E::Invalid(m) => AppError::BadRequest(m),
        E::NotFound(m) => AppError::NotFound(m),
        E::Conflict(m) => AppError::Conflict(m),
        E::Store(e) => e.into(),
    }
}

async fn add_release(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(signed): JsonBody<SignedManifest>,
) -> Result<(StatusCode, Json<Release>), AppError> {
    require(&staff, Role::ReleaseManager)?;
    let (rollouts, who) = (state.rollouts.clone(), staff.name.clone());
    let r = blocking(&state, move |s| {
        Ok(rollouts.accept_manifest(s, signed, &who, crate::now_ms()))
    })
    .await?
    .map_err(rollout_error)?;
    super::admin::audit(
        &state,
        &staff.name,
        "release.manifest",
        &r.version,
        format!("{} bytes, key {}", r.size, r.key_id),
    )
    .await;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Keeps a signed rollback with the release it leaves (`fleetctl rollback … --key`).
async fn add_rollback(
    State(state): State<AppState>,
    staff: Staff,
    Path(version): Path<String>,
    JsonBody(signed): JsonBody<protocol::release::SignedRollback>,
) -> Result<Json<Release>, AppError> {
    Ok(Json(
        keep_signed_rollback(&state, &staff, &version, signed).await?,
    ))
}

/// Keeps a signed rollback with the release rollout `id` rolled out (the dashboard's form).
pub async fn keep_rollback(
    state: &AppState,
    staff: &Staff,
    id: i64,
    signed: protocol::release::SignedRollback,
) -> Result<Release, AppError> {
    let version = state
        .rollouts
        .rollout(id)
        .ok_or_else(|| AppError::NotFound(format!("no rollout {id}")))?
        .version;
    keep_signed_rollback(state, staff, &version, signed).await
}

async fn keep_signed_rollback(
    state: &AppState,
    staff: &Staff,
    version: &str,
    signed: protocol::release::SignedRollback,
) -> Result<Release, AppError> {
    require(staff, Role::ReleaseManager)?;
    let (rollouts, v) = (state.rollouts.clone(), version.to_owned());
    let key = signed.key_id.clone();
    let r = blocking(state, move |s| Ok(rollouts.accept_rollback(s, &v, signed)))
        .await?
        .map_err(rollout_error)?;
    super::admin::audit(
        state,
        &staff.name,
        "release.rollback_signed",
        version,
        format!("key {key}"),
    )
    .await;
    Ok(r)
}

/// The versions whose bundles are being uploaded.
pub type UploadsInProgress = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// A version's upload, in progress until dropped.
struct Uploading<'a> {
    set: &'a UploadsInProgress,
    version: String,
}

impl<'a> Uploading<'a> {
    fn claim(set: &'a UploadsInProgress, version: &str) -> Result<Uploading<'a>, AppError> {
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

async fn upload_bundle(
    State(state): State<AppState>,
    staff: Staff,
    Path(version): Path<String>,
    body: Body,
) -> Result<Json<Release>, AppError> {
    require(&staff, Role::ReleaseManager)?;
    let rel = state.rollouts.release(&version).ok_or_else(|| {
        AppError::NotFound(format!("no release {version}; upload its manifest first"))
    })?;
    if rel.uploaded_at.is_some() {
        return Err(AppError::Conflict(format!(
            "release {version}'s bundle is here already"
        )));
    }
    // One upload of a version at a time; the second is told so rather than racing the first.
    let _uploading = Uploading::claim(&state.uploading, &version)?;
    let dir = state.releases_dir.clone();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| AppError::Internal(format!("{}: {e}", dir.display())))?;
    // A name of its own, made fresh: nothing else writes into this file.
    let part = dir.join(format!("{version}.{}.part", crate::auth::fresh_secret(8)));
    let io = |e: std::io::Error| AppError::Internal(format!("{}: {e}", part.display()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)
        .await
        .map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut n: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(AppError::BadRequest(format!("upload broke off: {e}")));
            }
        };
        n += chunk.len() as u64;
        if n > rel.size {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(AppError::BadRequest(format!(
                "the bundle is longer than the {} bytes of its manifest",
                rel.size
            )));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    drop(file);
    let manifest = state
        .rollouts
        .keyring
        .as_ref()
        .ok_or_else(|| AppError::Conflict("no release keyring".into()))?
        .verify_signature(&rel.manifest)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let (check_path, final_path) = (part.clone(), bundle_path(&state, &version));
    let checked = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let mut f = std::fs::File::open(&check_path).map_err(|e| e.to_string())?;
        check_bundle(&manifest, &mut std::io::BufReader::new(&mut f)).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    if let Err(e) = checked {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(AppError::BadRequest(format!("bundle refused: {e}")));
    }
    tokio::fs::rename(&part, &final_path).await.map_err(io)?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    let (rollouts, v) = (state.rollouts.clone(), version.clone());
    let r = blocking(&state, move |s| {
        Ok(rollouts.bundle_arrived(s, &v, crate::now_ms()))
    })
    .await?
    .map_err(rollout_error)?;
    super::admin::audit(
        &state,
        &staff.name,
        "release.upload",
        &version,
        format!("{n} bytes"),
    )
    .await;
    Ok(Json(r))
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

async fn members(state: &AppState) -> Result<Vec<KioskRecord>, AppError> {
    blocking(state, |s| s.kiosks()).await
}

fn as_members(kiosks: &[KioskRecord]) -> Vec<Member<'_>> {
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

async fn rollouts(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<RolloutView>>, AppError> {
    let kiosks = members(&state).await?;
    Ok(Json(
        state
            .rollouts
            .rollouts()
            .into_iter()
            .map(|r| view(&state, r, &kiosks))
            .collect(),
    ))
}

async fn rollout(
    State(state): State<AppState>,
    _staff: Staff,
    Path(id): Path<i64>,
) -> Result<Json<RolloutView>, AppError> {
    let r = state
        .rollouts
        .rollout(id)
        .ok_or_else(|| AppError::NotFound(format!("no rollout {id}")))?;
    let kiosks = members(&state).await?;
    Ok(Json(view(&state, r, &kiosks)))
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
    let r = blocking(state, move |s| {
        Ok(rollouts.create(s, req, &as_members(&ks), &who, crate::now_ms()))
    })
    .await?
    .map_err(rollout_error)?;
    super::admin::audit(
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

async fn create(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(req): JsonBody<NewRollout>,
) -> Result<(StatusCode, Json<RolloutView>), AppError> {
    let v = create_rollout(&state, &staff, req).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// `expand`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expand {
    percent: u8,
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
    let r = blocking(state, move |s| {
        Ok(rollouts.act(s, id, action, &as_members(&ks), &who, crate::now_ms()))
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
    super::admin::audit(
        state,
        &staff.name,
        "rollout.change",
        &format!("rollout {id}"),
        format!("{} {what}", r.version),
    )
    .await;
    Ok(view(state, r, &kiosks))
}

async fn act(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<Json<RolloutView>, AppError> {
    let percent = if action == "expand" {
        let e: Expand = protocol::json::decode(&body, 4096)
            .map_err(|e| AppError::BadRequest(format!("expand: {e}")))?;
        Some(e.percent)
    } else {
        None
    };
    let action = parse_action(&action, percent)?;
    Ok(Json(act_on(&state, &staff, id, action).await?))
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

async fn updates(State(state): State<AppState>, _staff: Staff) -> Result<Json<Updates>, AppError> {
    Ok(Json(fleet_updates(&state).await?))
}
