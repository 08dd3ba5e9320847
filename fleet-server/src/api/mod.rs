//! The HTTP surface: [`app`] builds the router that `run` serves and tests call with `oneshot`.
//!
//! - `/api/kiosk/v1/…` ([`kiosk`]): enrolment, submissions, catalog, status, heartbeat; every
//!   call but enrolment authenticated by the kiosk's own credential, which reaches only that
//!   kiosk's data.
//! - `/api/admin/v1/…` ([`admin`]): bootstrap tokens, catalog publication, lists; admin token.
//! - `/api/agenda/v1/status` ([`agenda`]): the agenda system pushes state changes.
//! - `/s/{code}` ([`public`]): the citizen's status page, no personal data, rate-limited.
//! - `/healthz`, `/api/openapi.json`.
//!
//! Errors answer with a JSON [`protocol::fleet::ErrorBody`]; internal details are logged, never
//! shown to the client.

pub mod admin;
pub mod agenda;
pub mod kiosk;
pub mod metrics;
pub mod public;
pub mod releases;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use protocol::fleet::ErrorBody;
use serde::de::DeserializeOwned;

use crate::ratelimit::RateLimiter;
use crate::staff::{Role, Staff};
use crate::store::{Store, StoreError};

/// What every handler shares: one allocation, so that a request clones a single `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Hash of the admin token, when the admin API is enabled.
    pub admin_token_hash: Option<String>,
    /// Hash of the metrics-only token (`GET /metrics`), when enabled.
    pub metrics_token_hash: Option<String>,
    /// Hash of the agenda system's inbound token, when enabled.
    pub agenda_token_hash: Option<String>,
    /// Limits abuse of the public endpoints.
    pub limiter: Arc<RateLimiter>,
    /// Wakes the connector when new submissions arrive.
    pub connector_wake: Arc<tokio::sync::Notify>,
    /// Largest request body.
    pub max_body: usize,
    /// A request body's longest pause between reads, and its whole time.
    pub body_timeouts: (std::time::Duration, std::time::Duration),
    /// Asks the alert sweeper to look soon (a heartbeat arrived).
    pub alerts_wake: Arc<tokio::sync::Notify>,
    /// Which kiosks it should look at then.
    pub alerts_touched: crate::alerts::Touched,
    /// The alert rules, and each kiosk's alert kinds at its last check.
    pub alerts: (Arc<crate::alerts::Rules>, Arc<crate::alerts::Watch>),
    /// Availability target (0-1), the city's name and the opening hours, for SLA reports.
    pub sla: Arc<(f64, String, crate::hours::OpeningHours)>,
    /// A kiosk silent for longer is down (`alerts.offline_after_s`).
    pub offline_after_ms: i64,
    /// How far ahead of the server a kiosk's sample may be (`alerts.clock_skew_max_s`).
    pub clock_skew_allowance_ms: i64,
    /// The heartbeat writer and what heartbeat replies need.
    pub ingest: Arc<crate::ingest::Ingest>,
    /// Recently authenticated kiosks: credential hash, record and when it was checked.
    pub kiosk_auth: Arc<std::sync::RwLock<kiosk::AuthCache>>,
    /// Heartbeats received since start, for `/metrics`.
    pub heartbeats: Arc<std::sync::atomic::AtomicU64>,
    /// What changed, for the dashboard's live pages.
    pub changes: tokio::sync::broadcast::Sender<Change>,
    /// Sign-in attempts per address.
    pub login_limiter: Arc<RateLimiter>,
    /// Status look-ups (by code and by card) per kiosk.
    pub kiosk_lookups: Arc<RateLimiter<String>>,
    /// Console events a kiosk may add to the audit log, per kiosk.
    pub console_audit: Arc<RateLimiter<String>>,
    /// Releases, rollouts and kiosks' updates.
    pub rollouts: Arc<crate::rollout::Rollouts>,
    /// Where release bundles are kept.
    pub releases_dir: std::path::PathBuf,
    /// The versions whose bundles are being uploaded.
    pub uploading: releases::UploadsInProgress,
}

/// Something the dashboard's open pages may need to show anew.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// A kiosk's heartbeat, commands or record.
    Kiosk(Arc<str>),
    /// Alerts opened, resolved or were acknowledged.
    Alerts,
    /// The audit log grew.
    Audit,
}

impl AppState {
    /// Tells the open dashboard pages (nothing to do when none is open).
    pub fn changed(&self, change: Change) {
        if self.changes.receiver_count() > 0 {
            let _ = self.changes.send(change);
        }
    }
}

/// Refuses a member of staff whose role is below `role`.
pub fn require(staff: &Staff, role: Role) -> Result<(), AppError> {
    if staff.may(role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "this needs the {} role; {} is {}",
            role.label(),
            staff.name,
            staff.role.label()
        )))
    }
}

impl axum::extract::FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    /// A session (resolved by [`sessions`]) or the admin token.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        if let Some(staff) = parts.extensions.get::<Staff>() {
            return Ok(staff.clone());
        }
        let Some(token) = crate::auth::bearer(parts.headers.get(header::AUTHORIZATION)) else {
            return Err(AppError::Unauthorized(
                "sign in, or give the admin token".into(),
            ));
        };
        let Some(expected) = &state.admin_token_hash else {
            return Err(AppError::Unauthorized(
                "no admin token is configured on this server; sign in".into(),
            ));
        };
        if crate::auth::constant_time_eq(&crate::auth::hash_secret(token), expected) {
            Ok(Staff {
                name: "admin-token".into(),
                role: Role::Admin,
                csrf: String::new(),
            })
        } else {
            Err(AppError::Unauthorized("wrong admin token".into()))
        }
    }
}

/// Resolves the session cookie into a [`Staff`] for the handlers, and refuses a change
/// (anything but GET and HEAD) made with a session but without its CSRF token, given as the
/// `X-CSRF-Token` header or the `csrf` field of a form.
async fn sessions(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = crate::staff::cookie_token(req.headers().get(header::COOKIE)) else {
        return next.run(req).await;
    };
    let token = token.to_owned();
    let staff = match blocking(&state, move |s| {
        crate::staff::resume(s, &token, crate::now_ms())
    })
    .await
    {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some(staff) = staff else {
        return next.run(req).await;
    };
    let safe = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let (mut parts, body) = req.into_parts();
    let refused = |staff: &Staff| {
        tracing::warn!(user = %staff.name, "change refused: missing or wrong CSRF token");
        AppError::Forbidden("missing or wrong CSRF token; reload the page and try again".into())
            .into_response()
    };
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = if safe {
        body
    } else if let Some(given) = header_token {
        // The header suffices: the body (a release bundle, say) streams on untouched.
        if !crate::auth::constant_time_eq(&given, &staff.csrf) {
            return refused(&staff);
        }
        body
    } else {
        let bytes = match axum::body::to_bytes(body, state.max_body).await {
            Ok(b) => b,
            Err(_) => return AppError::TooLarge(state.max_body).into_response(),
        };
        let given = form_urlencoded_field(&bytes, "csrf");
        if !given.is_some_and(|g| crate::auth::constant_time_eq(&g, &staff.csrf)) {
            return refused(&staff);
        }
        axum::body::Body::from(bytes)
    };
    parts.extensions.insert(staff);
    next.run(Request::from_parts(parts, body)).await
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// Body over the limit.
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    /// Too many requests from this address.
    #[error("too many requests; try again in a minute")]
    RateLimited,
    /// The request body did not arrive in time.
    #[error("{0}")]
    Timeout(String),
    /// Anything else; the detail is logged, the client sees none.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::NotFound(m) => AppError::NotFound(format!("{m} not found")),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            AppError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let body = ErrorBody {
            error: kind.into(),
            message: self.to_string(),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// A JSON body decoded with the protocol's limits and clear errors (axum's own `Json` answers
/// in plain text).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(AppError::BadRequest(
                "expected Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                return AppError::TooLarge(0);
            }
            // A body that stalled or crawled past its deadline (`http_server::body_deadline`).
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&rej);
            while let Some(e) = cause {
                if let Some(t) = e.downcast_ref::<crate::http_server::BodyTimeout>() {
                    return AppError::Timeout(t.to_string());
                }
                cause = e.source();
            }
            AppError::BadRequest(rej.body_text())
        })?;
        protocol::json::decode(&bytes, usize::MAX)
            .map(JsonBody)
            .map_err(|e| AppError::BadRequest(e.to_string()))
    }
}

/// The client's address (loopback when the server was not started with connect info, as in
/// `oneshot` tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(ip))
    }
}

/// Runs `f` on the store on the blocking pool.
pub async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, AppError>
where
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = Arc::clone(&state.store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| AppError::Internal(format!("store task failed: {e}")))?
        .map_err(AppError::from)
}

/// The largest body a route open to anyone (sign-in, enrolment) reads.
pub const PUBLIC_MAX_BODY: usize = 16 * 1024;

/// The whole router.
pub fn app(state: AppState) -> Router {
    let max_body = state.max_body;
    Router::new()
        .merge(kiosk::routes(&state))
        .merge(admin::routes())
        .merge(releases::routes())
        .merge(agenda::routes())
        .merge(public::routes())
        .merge(metrics::routes())
        .merge(crate::dashboard::routes(&state))
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .fallback(|| async { AppError::NotFound("no such endpoint".into()) })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(state.clone(), sessions))
        .layer(middleware::from_fn_with_state(
            state.body_timeouts,
            crate::http_server::body_deadline,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// Every error of the API is the JSON error body: axum's own refusals (a path or query that does
/// not parse, a wrong method, a body over the limit) come as plain text, and are rewritten here.
async fn json_errors(req: Request, next: Next) -> Response {
    let api = {
        let p = req.uri().path();
        p.starts_with("/api/") || p == "/metrics" || p == "/healthz"
    };
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let kind = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        _ if status.is_server_error() => "internal",
        _ => "error",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let body = ErrorBody {
        error: kind.into(),
        message,
    };
    let mut out = (status, axum::Json(body)).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    blocking(&state, |s| s.catalog().map(drop)).await?;
    Ok("ok\n")
}

/// The OpenAPI description of every endpoint.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// One span per request with method and route; one line when it ends.
async fn trace_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let span = tracing::info_span!("http", %method, %route);
    let start = Instant::now();
    let resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, ms, "request failed");
        } else {
            tracing::debug!(status, ms, "request");
        }
    });
    resp
}
