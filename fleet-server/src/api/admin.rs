//! The admin API, `/api/admin/v1/…`, for IT staff's tools until staff accounts exist: issue
//! bootstrap tokens, publish the catalog, list kiosks and submissions (metadata only). Every
//! call needs `Authorization: Bearer <admin token>`; without a configured token the API is off.

use std::collections::HashSet;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::fleet::Catalog;
use serde::{Deserialize, Serialize};

use super::{AppError, AppState, JsonBody, blocking};
use crate::auth;
use crate::store::{Alert, KioskRecord, SubmissionMeta};

/// The admin routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/v1/bootstrap-tokens", post(create_token))
        .route("/api/admin/v1/catalog", get(get_catalog).put(publish))
        .route("/api/admin/v1/kiosks", get(kiosks))
        .route("/api/admin/v1/submissions", get(submissions))
        .route("/api/admin/v1/alerts", get(alerts))
        .route("/api/admin/v1/sla", get(sla_report))
        .route("/api/admin/v1/audit", get(audit_log))
        .route("/api/admin/v1/kiosks/{id}/health", get(kiosk_health))
        .route(
            "/api/admin/v1/kiosks/{id}/commands",
            get(kiosk_commands).post(queue_command),
        )
        .route("/api/admin/v1/alerts/{id}/ack", post(ack_alert))
}

/// Proof that the caller holds the admin token.
#[derive(Debug)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(expected) = &state.admin_token_hash else {
            return Err(AppError::Forbidden(
                "the admin API is not enabled on this server".into(),
            ));
        };
        let token = auth::bearer(parts.headers.get(header::AUTHORIZATION))
            .ok_or_else(|| AppError::Unauthorized("missing admin token".into()))?;
        if auth::constant_time_eq(&auth::hash_secret(token), expected) {
            Ok(Admin)
        } else {
            Err(AppError::Unauthorized("wrong admin token".into()))
        }
    }
}

/// Request for a bootstrap token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Fleet identifier of the kiosk, e.g. `ostrava-01`.
    pub kiosk_id: String,
    /// Human name.
    pub name: String,
    /// Group; default `default`.
    #[serde(default = "default_group")]
    pub group: String,
    /// Validity in hours; default 72.
    #[serde(default = "default_ttl")]
    pub ttl_hours: u32,
}

fn default_group() -> String {
    "default".into()
}
fn default_ttl() -> u32 {
    72
}

/// A freshly issued token; shown once, stored only as a hash.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The token to put in the kiosk's configuration.
    pub token: String,
    /// The kiosk.
    pub kiosk_id: String,
    /// When it stops working.
    pub expires_at: i64,
}

/// Issues a token: shared by the HTTP API and the `fleet-server token` command.
pub fn issue_token(
    store: &dyn crate::store::Store,
    req: &TokenRequest,
) -> Result<TokenResponse, AppError> {
    if !protocol::form::is_valid_id(&req.kiosk_id) {
        return Err(AppError::BadRequest(
            "kiosk_id must be 1-64 characters of a-z, 0-9, '-', '_'".into(),
        ));
    }
    if !protocol::form::is_valid_id(&req.group) {
        return Err(AppError::BadRequest(
            "group must be 1-64 characters of a-z, 0-9, '-', '_'".into(),
        ));
    }
    if req.name.trim().is_empty() || req.name.chars().count() > 200 {
        return Err(AppError::BadRequest("name must be 1-200 characters".into()));
    }
    if !(1..=24 * 90).contains(&req.ttl_hours) {
        return Err(AppError::BadRequest(
            "ttl_hours must be between 1 and 2160".into(),
        ));
    }
    let token = auth::fresh_secret(20);
    let expires_at = crate::now_ms() + i64::from(req.ttl_hours) * 3_600_000;
    store.create_bootstrap_token(
        &auth::hash_secret(&token),
        &req.kiosk_id,
        req.name.trim(),
        &req.group,
        expires_at,
    )?;
    Ok(TokenResponse {
        token,
        kiosk_id: req.kiosk_id.clone(),
        expires_at,
    })
}

async fn create_token(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    let store = std::sync::Arc::clone(&state.store);
    let resp = tokio::task::spawn_blocking(move || issue_token(store.as_ref(), &req))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    // Its name or group may have changed.
    super::kiosk::forget(&state, &resp.kiosk_id);
    audit(
        &state,
        TOKEN_ACTOR,
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

/// Checks a catalog before publication: every service well-formed, ids unique, categories known.
pub fn check_catalog(c: &Catalog) -> Result<(), AppError> {
    let bad = |m: String| Err(AppError::BadRequest(m));
    if c.services.len() > protocol::form::limits::MAX_SERVICES {
        return bad(format!(
            "more than {} services",
            protocol::form::limits::MAX_SERVICES
        ));
    }
    let mut categories = HashSet::new();
    for cat in &c.categories {
        if !protocol::form::is_valid_id(&cat.id) || !categories.insert(cat.id.as_str()) {
            return bad(format!("category id {:?} is malformed or repeated", cat.id));
        }
        if cat.name.cs.trim().is_empty() {
            return bad(format!("category {:?} has no Czech name", cat.id));
        }
    }
    let mut ids = HashSet::new();
    for s in &c.services {
        s.check()
            .map_err(|e| AppError::BadRequest(format!("service {:?}: {e}", s.id)))?;
        if !ids.insert(s.id.as_str()) {
            return bad(format!("service {:?} appears twice", s.id));
        }
        if !categories.contains(s.category.as_str()) {
            return bad(format!(
                "service {:?} is in unknown category {:?}",
                s.id, s.category
            ));
        }
    }
    let mut notices = HashSet::new();
    for n in &c.notices {
        if !protocol::form::is_valid_id(&n.id) || !notices.insert(n.id.as_str()) {
            return bad(format!("notice id {:?} is malformed or repeated", n.id));
        }
        if n.title.cs.trim().is_empty() {
            return bad(format!("notice {:?} has no Czech title", n.id));
        }
    }
    Ok(())
}

/// The answer to a publication.
#[derive(Debug, Serialize, Deserialize)]
pub struct Published {
    /// The new catalog version.
    pub version: u64,
}

async fn publish(
    State(state): State<AppState>,
    _: Admin,
    JsonBody(catalog): JsonBody<Catalog>,
) -> Result<Json<Published>, AppError> {
    check_catalog(&catalog)?;
    let version = blocking(&state, move |s| {
        s.publish_catalog(&catalog, crate::now_ms())
    })
    .await?;
    state.ingest.set_catalog_version(version);
    tracing::info!(version, "catalog published");
    audit(
        &state,
        TOKEN_ACTOR,
        "catalog.publish",
        &version.to_string(),
        String::new(),
    )
    .await;
    Ok(Json(Published { version }))
}

async fn get_catalog(State(state): State<AppState>, _: Admin) -> Result<Json<Catalog>, AppError> {
    Ok(Json(
        blocking(&state, |s| s.catalog()).await?.unwrap_or_default(),
    ))
}

async fn kiosks(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<Vec<KioskRecord>>, AppError> {
    Ok(Json(blocking(&state, |s| s.kiosks()).await?))
}

/// `?limit=` for lists.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Most rows; default 100, at most 100,000.
    pub limit: Option<usize>,
}

async fn submissions(
    State(state): State<AppState>,
    _: Admin,
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

async fn alerts(
    State(state): State<AppState>,
    _: Admin,
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
    /// Who takes care of it.
    pub by: String,
    /// What they do about it.
    pub comment: String,
}

async fn ack_alert(
    State(state): State<AppState>,
    _: Admin,
    axum::extract::Path(id): axum::extract::Path<i64>,
    JsonBody(req): JsonBody<AckRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (by, comment) = (req.by.trim().to_owned(), req.comment.trim().to_owned());
    if by.is_empty() || by.len() > 100 || comment.is_empty() || comment.len() > 2000 {
        return Err(AppError::BadRequest(
            "`by` (1-100 characters) and `comment` (1-2000 characters) are required".into(),
        ));
    }
    let now = crate::now_ms();
    let (who, why) = (by.clone(), comment.clone());
    if blocking(&state, move |s| s.ack_alert(id, &by, &comment, now)).await? {
        audit(&state, &who, "alert.ack", &id.to_string(), why).await;
        Ok(Json(serde_json::json!({ "acked": id })))
    } else {
        Err(AppError::NotFound("no open alert with this id".into()))
    }
}

/// Queuing a command for a kiosk.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// What to do.
    pub action: protocol::fleet::CommandAction,
    /// Who asks.
    pub by: String,
}

async fn queue_command(
    State(state): State<AppState>,
    _: Admin,
    axum::extract::Path(kiosk): axum::extract::Path<String>,
    JsonBody(req): JsonBody<CommandRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let by = req.by.trim().to_owned();
    if by.is_empty() || by.len() > 100 {
        return Err(AppError::BadRequest("`by` needs 1-100 characters".into()));
    }
    if let protocol::fleet::CommandAction::UploadLogs { lines } = req.action
        && (lines == 0 || lines > protocol::fleet::MAX_LOG_LINES)
    {
        return Err(AppError::BadRequest(format!(
            "upload_logs takes 1 to {} lines",
            protocol::fleet::MAX_LOG_LINES
        )));
    }
    let now = crate::now_ms();
    let action = req.action.clone();
    let (k, who) = (kiosk.clone(), by.clone());
    match blocking(&state, move |s| s.queue_command(&k, &action, &by, now)).await? {
        Some(id) => {
            state.ingest.set_pending(&kiosk, true);
            audit(
                &state,
                &who,
                "command.queue",
                &kiosk,
                format!("{} (command {id})", req.action.name()),
            )
            .await;
            Ok(Json(serde_json::json!({ "id": id })))
        }
        None => Err(AppError::NotFound("no enrolled kiosk with this id".into())),
    }
}

async fn kiosk_commands(
    State(state): State<AppState>,
    _: Admin,
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
async fn sla_report(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<SlaQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let now = crate::now_ms();
    let month = match q.month.as_deref() {
        Some(m) => crate::sla::parse_month(m)
            .ok_or_else(|| AppError::BadRequest("month must be YYYY-MM".into()))?,
        None => {
            let c = protocol::time::czech(now);
            (c.year, c.month)
        }
    };
    let format = q.format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "csv" | "html") {
        return Err(AppError::BadRequest(
            "format must be json, csv or html".into(),
        ));
    }
    let (from, to) = (
        format!("{:04}-{:02}-01", month.0, month.1),
        format!("{:04}-{:02}-31", month.0, month.1),
    );
    let (kiosks, uptime) =
        blocking(&state, move |s| Ok((s.kiosks()?, s.uptime(&from, &to)?))).await?;
    let (target, city, hours) = &*state.sla;
    let report = crate::sla::report(month, &kiosks, &uptime, hours, *target, now);
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

/// `?days=` of health history.
#[derive(Debug, Deserialize)]
pub struct HealthQuery {
    /// Days back; default 7, at most 400.
    pub days: Option<u32>,
}

async fn kiosk_health(
    State(state): State<AppState>,
    _: Admin,
    axum::extract::Path(kiosk): axum::extract::Path<String>,
    Query(q): Query<HealthQuery>,
) -> Result<Json<Vec<crate::store::HealthPoint>>, AppError> {
    let since = crate::now_ms() - i64::from(q.days.unwrap_or(7).min(400)) * 86_400_000;
    Ok(Json(
        blocking(&state, move |s| s.health_history(&kiosk, since)).await?,
    ))
}

/// Records a change in the audit log; a failure is logged, never refused to the caller after
/// the change was made.
async fn audit(state: &AppState, actor: &str, action: &str, target: &str, detail: String) {
    let entry = crate::store::AuditEntry {
        at: crate::now_ms(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    };
    if let Err(e) = blocking(state, move |s| s.audit(&entry)).await {
        tracing::error!(error = %e, "audit log not written");
    }
}

/// Who acts through the admin token until staff accounts exist.
const TOKEN_ACTOR: &str = "admin-token";

async fn audit_log(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<crate::store::AuditEntry>>, AppError> {
    let limit = q.limit.unwrap_or(100).min(100_000);
    Ok(Json(blocking(&state, move |s| s.audit_log(limit)).await?))
}
