//! Releases and rollouts in the admin API, `/api/admin/v1/…` (see [`crate::rollout`]):
//!
//! - `POST releases` (a signed manifest, JSON), then `PUT releases/{version}/bundle` (the
//!   bundle's bytes, streamed to disk and checked against the manifest): release manager.
//! - `POST rollouts`, `POST rollouts/{id}/{expand|pause|resume|abort|rollback}`: release
//!   manager. Reads (`GET releases`, `rollouts`, `updates`, `whoami`) need any role.
//!
//! Every change is in the audit log. `fleetctl` and the dashboard call these.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use futures_util::StreamExt;
use protocol::release::{SignedManifest, check_bundle};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::http::{AppError, JsonBody, require};
use crate::ops::audit::audit;
use crate::ops::releases::{
    self, RolloutView, Updates, Uploading, act_on, bundle_path, create_rollout, fleet_updates,
    keep_signed_rollback, members, parse_action, rollout_error, view,
};
use crate::rollout::{NewRollout, Release};
use crate::staff::{Role, Staff};
use crate::state::{AppState, blocking};

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

pub async fn whoami(staff: Staff) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: staff.name,
        role: staff.role.as_str().to_owned(),
        csrf: staff.csrf,
    })
}

pub async fn releases(State(state): State<AppState>, _staff: Staff) -> Json<Vec<Release>> {
    Json(state.rollouts.releases())
}

pub async fn add_release(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(signed): JsonBody<SignedManifest>,
) -> Result<(StatusCode, Json<Release>), AppError> {
    let r = releases::add_manifest(&state, &staff, signed).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// Keeps a signed rollback with the release it leaves (`fleetctl rollback … --key`).
pub async fn add_rollback(
    State(state): State<AppState>,
    staff: Staff,
    Path(version): Path<String>,
    JsonBody(signed): JsonBody<protocol::release::SignedRollback>,
) -> Result<Json<Release>, AppError> {
    Ok(Json(
        keep_signed_rollback(&state, &staff, &version, signed).await?,
    ))
}

pub async fn upload_bundle(
    State(state): State<AppState>,
    staff: Staff,
    Path(version): Path<String>,
    body: Body,
) -> Result<Json<Release>, AppError> {
    require(&staff, Role::ReleaseManager)?;
    let (book, v) = (Arc::clone(&state.rollouts), version.clone());
    let rel = blocking(&state, move |s| book.release_fresh(&v, s))
        .await?
        .ok_or_else(|| {
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
    audit(
        &state,
        &staff.name,
        "release.upload",
        &version,
        format!("{n} bytes"),
    )
    .await;
    Ok(Json(r))
}

pub async fn rollouts(
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

pub async fn rollout(
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

pub async fn create(
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

pub async fn act(
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

pub async fn updates(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Updates>, AppError> {
    Ok(Json(fleet_updates(&state).await?))
}
