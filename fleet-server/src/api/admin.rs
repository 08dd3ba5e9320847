//! The admin API, `/api/admin/v1/…`, for IT staff's tools and scripts: issue bootstrap tokens,
//! publish the catalog, list kiosks, submissions (metadata only), alerts, commands, SLA and the
//! audit log. A call is made by a member of staff ([`Staff`]): a signed-in dashboard session
//! (changes carry its CSRF token) or `Authorization: Bearer <admin token>`, which acts as an
//! admin. Each change needs its role: operator (acknowledge, commands), release manager
//! (catalog), admin (tokens). The dashboard's forms call the same functions.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use protocol::fleet::Catalog;
use serde::{Deserialize, Serialize};

use crate::http::{AppError, JsonBody, require};
use crate::ops::alerts::ack;
use crate::ops::audit::audit;
use crate::ops::catalog::publish_catalog;
use crate::ops::commands::{cancel, queue};
use crate::ops::sla::sla_of;
use crate::ops::tokens::{TokenRequest, TokenResponse, issue_token};
use crate::staff::{Role, Staff};
use crate::state::{AppState, blocking};
use crate::store::{Alert, KioskRecord, SubmissionMeta};

pub async fn create_token(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    require(&staff, Role::Admin)?;
    let store = std::sync::Arc::clone(&state.store);
    let resp = tokio::task::spawn_blocking(move || issue_token(store.as_ref(), &req))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    // Its name or group may have changed.
    super::kiosk::forget(&state, &resp.kiosk_id);
    audit(
        &state,
        &staff.name,
        "token.issue",
        &resp.kiosk_id,
        format!(
            "valid until {}",
            protocol::time::format_czech(resp.expires_at)
        ),
    )
    .await;
    tracing::info!(kiosk = %resp.kiosk_id, "bootstrap token issued");
    Ok(Json(resp))
}

/// The answer to a publication.
#[derive(Debug, Serialize, Deserialize)]
pub struct Published {
    /// The new catalog version.
    pub version: u64,
}

pub async fn publish(
    State(state): State<AppState>,
    staff: Staff,
    JsonBody(catalog): JsonBody<Catalog>,
) -> Result<Json<Published>, AppError> {
    require(&staff, Role::ReleaseManager)?;
    let version = publish_catalog(&state, &staff.name, catalog, String::new()).await?;
    Ok(Json(Published { version }))
}

pub async fn get_catalog(
    State(state): State<AppState>,
    _: Staff,
) -> Result<Json<Catalog>, AppError> {
    Ok(Json(
        blocking(&state, |s| s.catalog()).await?.unwrap_or_default(),
    ))
}

pub async fn kiosks(
    State(state): State<AppState>,
    _: Staff,
) -> Result<Json<Vec<KioskRecord>>, AppError> {
    Ok(Json(blocking(&state, |s| s.kiosks()).await?))
}

/// `?limit=` for lists.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Most rows; default 100, at most 100,000.
    pub limit: Option<usize>,
}

pub async fn submissions(
    State(state): State<AppState>,
    _: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<SubmissionMeta>>, AppError> {
    let limit = q.limit.unwrap_or(100).min(100_000);
    Ok(Json(blocking(&state, move |s| s.submissions(limit)).await?))
}

/// `?open=&limit=` for alerts.
#[derive(Debug, Deserialize)]
pub struct AlertQuery {
    /// Only the open ones (default), or all.
    pub open: Option<bool>,
    /// Most rows; default 100, at most 10,000.
    pub limit: Option<usize>,
}

pub async fn alerts(
    State(state): State<AppState>,
    _: Staff,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Vec<Alert>>, AppError> {
    let (open, limit) = (q.open.unwrap_or(true), q.limit.unwrap_or(100).min(10_000));
    Ok(Json(
        blocking(&state, move |s| s.alerts(open, limit)).await?,
    ))
}

/// Acknowledging an alert: who and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Who takes care of it (for calls with the admin token; a session's user is known).
    #[serde(default)]
    pub by: String,
    /// What they do about it.
    pub comment: String,
}

pub async fn ack_alert(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<i64>,
    JsonBody(req): JsonBody<AckRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    require(&staff, Role::Operator)?;
    ack(&state, &actor(&staff, &req.by)?, id, &req.comment).await?;
    Ok(Json(serde_json::json!({ "acked": id })))
}

/// Who made a change: the signed-in user, or for the admin token the `by` the request names.
fn actor(staff: &Staff, by: &str) -> Result<String, AppError> {
    if staff.is_token() {
        let by = by.trim();
        if by.is_empty() || by.chars().count() > 100 {
            return Err(AppError::BadRequest(
                "`by` (1-100 characters) says who acts with the admin token".into(),
            ));
        }
        Ok(by.to_owned())
    } else {
        Ok(staff.name.clone())
    }
}

/// Queuing a command for a kiosk.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// What to do.
    pub action: protocol::fleet::CommandAction,
    /// Who asks (for calls with the admin token).
    #[serde(default)]
    pub by: String,
}

pub async fn queue_command(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(kiosk): axum::extract::Path<String>,
    JsonBody(req): JsonBody<CommandRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    require(&staff, Role::Operator)?;
    let id = queue(&state, &actor(&staff, &req.by)?, &kiosk, req.action).await?;
    Ok(Json(serde_json::json!({ "id": id })))
}

pub async fn cancel_command(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path((kiosk, id)): axum::extract::Path<(String, i64)>,
    JsonBody(req): JsonBody<ByRequest>,
) -> Result<StatusCode, AppError> {
    require(&staff, Role::Operator)?;
    cancel(&state, &actor(&staff, &req.by)?, &kiosk, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who asks, for a change through the admin token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByRequest {
    /// The person acting with the admin token.
    #[serde(default)]
    pub by: String,
}

pub async fn kiosk_commands(
    State(state): State<AppState>,
    _: Staff,
    axum::extract::Path(kiosk): axum::extract::Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<crate::store::CommandRecord>>, AppError> {
    let limit = q.limit.unwrap_or(100).min(10_000);
    Ok(Json(
        blocking(&state, move |s| s.commands(&kiosk, limit)).await?,
    ))
}

/// `?month=YYYY-MM&format=json|csv|html`.
#[derive(Debug, Deserialize)]
pub struct SlaQuery {
    /// The month; default the current one.
    pub month: Option<String>,
    /// `json` (default), `csv` or `html`.
    pub format: Option<String>,
}

/// The monthly availability report against the target, with incidents and mean time to repair.
pub async fn sla_report(
    State(state): State<AppState>,
    _: Staff,
    Query(q): Query<SlaQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let format = q.format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "csv" | "html") {
        return Err(AppError::BadRequest(
            "format must be json, csv or html".into(),
        ));
    }
    let report = sla_of(&state, q.month.as_deref()).await?;
    let city = &state.sla.city;
    let name = format!("okenko-sla-{}", report.month);
    Ok(match format.as_str() {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            crate::sla::csv(&report),
        )
            .into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::sla::html(&report, city),
        )
            .into_response(),
        _ => Json(report).into_response(),
    })
}

/// A kiosk and its newest heartbeat.
#[derive(Debug, Serialize)]
pub struct KioskNow {
    /// The kiosk.
    pub kiosk: KioskRecord,
    /// Its newest heartbeat, if any arrived.
    pub heartbeat: Option<protocol::fleet::Heartbeat>,
}

pub async fn kiosk(
    State(state): State<AppState>,
    _: Staff,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<KioskNow>, AppError> {
    let k = id.clone();
    match blocking(&state, move |s| s.kiosk_health_of(&k)).await? {
        Some((kiosk, heartbeat)) => Ok(Json(KioskNow { kiosk, heartbeat })),
        None => Err(AppError::NotFound(format!("no kiosk {id:?}"))),
    }
}

#[derive(Debug, Deserialize)]
pub struct HealthQuery {
    /// Days back; default 7, at most 400.
    pub days: Option<u32>,
}

pub async fn kiosk_health(
    State(state): State<AppState>,
    _: Staff,
    axum::extract::Path(kiosk): axum::extract::Path<String>,
    Query(q): Query<HealthQuery>,
) -> Result<Json<Vec<crate::store::HealthPoint>>, AppError> {
    let since = crate::now_ms() - i64::from(q.days.unwrap_or(7).min(400)) * 86_400_000;
    Ok(Json(
        blocking(&state, move |s| s.health_history(&kiosk, since)).await?,
    ))
}

pub async fn audit_log(
    State(state): State<AppState>,
    _: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<crate::store::AuditEntry>>, AppError> {
    let limit = q.limit.unwrap_or(100).min(100_000);
    Ok(Json(blocking(&state, move |s| s.audit_log(limit)).await?))
}

/// A request as the call centre sees it (`fleetctl request show CODE`): its state history, the
/// kiosk, the notices and their delivery; never form values or the identity. The code may be
/// typed as read over the phone (spaces, dashes, lower case, `O` for `0`). Audited.
pub async fn request(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(code): axum::extract::Path<String>,
) -> Result<Json<crate::store::RequestView>, AppError> {
    require(&staff, Role::CallCentre)?;
    crate::ops::notices::look_up(&state, &staff.name, &code)
        .await
        .map(Json)
}

/// Who asks (for calls with the admin token).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// Who asks.
    #[serde(default)]
    pub by: String,
}

pub async fn resend_notice(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(code): axum::extract::Path<String>,
    JsonBody(req): JsonBody<ResendRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    require(&staff, Role::CallCentre)?;
    let id = crate::ops::notices::resend(&state, &actor(&staff, &req.by)?, &code).await?;
    Ok(Json(serde_json::json!({ "queued": id })))
}

/// A note for the office.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note (1-2000 characters).
    pub text: String,
    /// Who writes it (for calls with the admin token).
    #[serde(default)]
    pub by: String,
}

pub async fn add_note(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(code): axum::extract::Path<String>,
    JsonBody(req): JsonBody<NoteRequest>,
) -> Result<StatusCode, AppError> {
    require(&staff, Role::CallCentre)?;
    crate::ops::notices::add_note(&state, &actor(&staff, &req.by)?, &code, &req.text).await?;
    Ok(StatusCode::NO_CONTENT)
}
