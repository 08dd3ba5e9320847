//! The session middleware: a dashboard session's cookie becomes a [`Staff`] for the handlers,
//! and a change made with a session must carry its CSRF token.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppError;
use crate::staff::Staff;
use crate::state::{AppState, blocking};

/// Resolves the session cookie into a [`Staff`] for the handlers, and refuses a change
/// (anything but GET and HEAD) made with a session but without its CSRF token, given as the
/// `X-CSRF-Token` header or the `csrf` field of a form.
pub async fn sessions(State(state): State<AppState>, req: Request, next: Next) -> Response {
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
