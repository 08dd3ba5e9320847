//! The admin API, `/api/admin/v1/…`, for IT staff's tools and scripts: issue bootstrap tokens,
//! publish the catalog, list kiosks, submissions (metadata only), alerts, commands, SLA and the
//! audit log. A call is made by a member of staff ([`Staff`]): a signed-in dashboard session
//! (changes carry its CSRF token) or `Authorization: Bearer <admin token>`, which acts as an
//! admin. Each change needs its role: operator (acknowledge, commands), release manager
//! (catalog), admin (tokens). The dashboard's forms call the same functions.

use std::collections::HashSet;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::fleet::Catalog;
use serde::{Deserialize, Serialize};

use super::{AppError, AppState, JsonBody, blocking};
use crate::staff::{Role, Staff};
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
        .route("/api/admin/v1/kiosks/{id}", get(kiosk))
        .route("/api/admin/v1/kiosks/{id}/health", get(kiosk_health))
        .route(
            "/api/admin/v1/kiosks/{id}/commands",
            get(kiosk_commands).post(queue_command),
        )
        .route(
            "/api/admin/v1/kiosks/{id}/commands/{command}/cancel",
            post(cancel_command),
        )
        .route("/api/admin/v1/alerts/{id}/ack", post(ack_alert))
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
    let token = crate::auth::fresh_secret(20);
    let expires_at = crate::now_ms() + i64::from(req.ttl_hours) * 3_600_000;
    store.create_bootstrap_token(
        &crate::auth::hash_secret(&token),
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
    staff: Staff,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    super::require(&staff, Role::Admin)?;
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
    staff: Staff,
    JsonBody(catalog): JsonBody<Catalog>,
) -> Result<Json<Published>, AppError> {
    super::require(&staff, Role::ReleaseManager)?;
    let version = publish_catalog(&state, &staff.name, catalog, String::new()).await?;
    Ok(Json(Published { version }))
}

/// Checks and publishes a catalog, tells the kiosks (through their heartbeat replies) and
/// the audit log; `detail` says what changed, for the log.
pub async fn publish_catalog(
    state: &AppState,
    actor: &str,
    catalog: Catalog,
    detail: String,
) -> Result<u64, AppError> {
    check_catalog(&catalog)?;
    let version = blocking(state, move |s| s.publish_catalog(&catalog, crate::now_ms())).await?;
    state.ingest.set_catalog_version(version);
    tracing::info!(version, "catalog published");
    audit(
        state,
        actor,
        "catalog.publish",
        &version.to_string(),
        detail,
    )
    .await;
    Ok(version)
}

async fn get_catalog(State(state): State<AppState>, _: Staff) -> Result<Json<Catalog>, AppError> {
    Ok(Json(
        blocking(&state, |s| s.catalog()).await?.unwrap_or_default(),
    ))
}

async fn kiosks(
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

async fn submissions(
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

async fn alerts(
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

async fn ack_alert(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(id): axum::extract::Path<i64>,
    JsonBody(req): JsonBody<AckRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    super::require(&staff, Role::Operator)?;
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

/// Acknowledges an open alert with a comment, and logs it.
pub async fn ack(state: &AppState, actor: &str, id: i64, comment: &str) -> Result<(), AppError> {
    let comment = comment.trim().to_owned();
    if comment.is_empty() || comment.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "a comment (1-2000 characters) says what is being done".into(),
        ));
    }
    let now = crate::now_ms();
    let (by, why) = (actor.to_owned(), comment.clone());
    if blocking(state, move |s| s.ack_alert(id, &by, &comment, now)).await? {
        audit(state, actor, "alert.ack", &id.to_string(), why).await;
        state.changed(super::Change::Alerts);
        Ok(())
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
    /// Who asks (for calls with the admin token).
    #[serde(default)]
    pub by: String,
}

async fn queue_command(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path(kiosk): axum::extract::Path<String>,
    JsonBody(req): JsonBody<CommandRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    super::require(&staff, Role::Operator)?;
    let id = queue(&state, &actor(&staff, &req.by)?, &kiosk, req.action).await?;
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn cancel_command(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path((kiosk, id)): axum::extract::Path<(String, i64)>,
    JsonBody(req): JsonBody<ByRequest>,
) -> Result<StatusCode, AppError> {
    super::require(&staff, Role::Operator)?;
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

/// Cancels a command the kiosk has not answered (a long `upload_logs` a kiosk cannot send, a
/// reboot no longer wanted), and logs it.
pub async fn cancel(state: &AppState, actor: &str, kiosk: &str, id: i64) -> Result<(), AppError> {
    let now = crate::now_ms();
    let (k, by) = (kiosk.to_owned(), actor.to_owned());
    if !blocking(state, move |s| s.cancel_command(&k, id, &by, now)).await? {
        return Err(AppError::NotFound(
            "this kiosk has no pending command with this id".into(),
        ));
    }
    audit(
        state,
        actor,
        "command.cancel",
        kiosk,
        format!("command {id}"),
    )
    .await;
    state.changed(super::Change::Kiosk(kiosk.into()));
    Ok(())
}

/// Queues a remote command for a kiosk's next heartbeat reply, and logs it.
pub async fn queue(
    state: &AppState,
    actor: &str,
    kiosk: &str,
    action: protocol::fleet::CommandAction,
) -> Result<i64, AppError> {
    if let protocol::fleet::CommandAction::UploadLogs { lines } = action
        && (lines == 0 || lines > protocol::fleet::MAX_LOG_LINES)
    {
        return Err(AppError::BadRequest(format!(
            "upload_logs takes 1 to {} lines",
            protocol::fleet::MAX_LOG_LINES
        )));
    }
    let now = crate::now_ms();
    let name = action.name();
    let (k, by) = (kiosk.to_owned(), actor.to_owned());
    match blocking(state, move |s| s.queue_command(&k, &action, &by, now)).await? {
        Some(id) => {
            state.ingest.set_pending(kiosk, true);
            audit(
                state,
                actor,
                "command.queue",
                kiosk,
                format!("{name} (command {id})"),
            )
            .await;
            state.changed(super::Change::Kiosk(kiosk.into()));
            Ok(id)
        }
        None => Err(AppError::NotFound("no enrolled kiosk with this id".into())),
    }
}

async fn kiosk_commands(
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
async fn sla_report(
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
    let city = &state.sla.1;
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
/// The SLA report of `month` (`YYYY-MM`; the current Czech month when absent).
pub async fn sla_of(state: &AppState, month: Option<&str>) -> Result<crate::sla::Report, AppError> {
    let now = crate::now_ms();
    let month = match month.filter(|m| !m.is_empty()) {
        Some(m) => crate::sla::parse_month(m)
            .ok_or_else(|| AppError::BadRequest("month must be YYYY-MM".into()))?,
        None => {
            let c = protocol::time::czech(now);
            (c.year, c.month)
        }
    };
    let (from, to) = (
        format!("{:04}-{:02}-01", month.0, month.1),
        format!("{:04}-{:02}-31", month.0, month.1),
    );
    let (kiosks, uptime, late) = blocking(state, move |s| {
        Ok((
            s.kiosks()?,
            s.uptime(&from, &to)?,
            s.late_uptime(&from, &to)?,
        ))
    })
    .await?;
    let (target, _, hours) = &*state.sla;
    Ok(crate::sla::report(
        month, &kiosks, &uptime, &late, hours, *target, now,
    ))
}

/// A kiosk and its newest heartbeat.
#[derive(Debug, Serialize)]
pub struct KioskNow {
    /// The kiosk.
    pub kiosk: KioskRecord,
    /// Its newest heartbeat, if any arrived.
    pub heartbeat: Option<protocol::fleet::Heartbeat>,
}

async fn kiosk(
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

async fn kiosk_health(
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

/// Records a change in the audit log; a failure is logged, never refused to the caller after
/// the change was made.
pub async fn audit(state: &AppState, actor: &str, action: &str, target: &str, detail: String) {
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
    state.changed(super::Change::Audit);
}

async fn audit_log(
    State(state): State<AppState>,
    _: Staff,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<crate::store::AuditEntry>>, AppError> {
    let limit = q.limit.unwrap_or(100).min(100_000);
    Ok(Json(blocking(&state, move |s| s.audit_log(limit)).await?))
}
