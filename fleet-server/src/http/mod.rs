//! HTTP plumbing shared by the JSON API and the dashboard: the error type, extractors, the
//! session/CSRF middleware, HTML escaping, the layers every request passes and the server
//! (HTTP/1.1 over TCP or rustls, with connection and body limits). Which path goes to which
//! handler is [`crate::routes`].

pub mod extract;
pub mod html;
pub mod server;
pub mod session;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use protocol::fleet::ErrorBody;

pub use crate::error::AppError;
pub use crate::staff::require;
pub use extract::{ClientIp, JsonBody};

use crate::state::AppState;

/// The largest body a route open to anyone (sign-in, enrolment) reads.
pub const PUBLIC_MAX_BODY: usize = 16 * 1024;

/// The layers every request passes, outermost last: tracing, JSON errors for the API, the
/// body's deadlines, the session, the body limit, and the fallback.
pub fn layered(router: Router<AppState>, state: AppState) -> Router {
    let max_body = state.max_body;
    router
        .fallback(|| async { AppError::NotFound("no such endpoint".into()) })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::sessions,
        ))
        .layer(middleware::from_fn_with_state(
            state.body_timeouts,
            server::body_deadline,
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
