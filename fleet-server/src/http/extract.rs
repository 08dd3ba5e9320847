//! Extractors: a JSON body with the protocol's limits, the client's address, the member of
//! staff making a call (session or admin token), and [`crate::staff::require`] for a role.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppError;
use crate::staff::{Role, Staff};
use crate::state::AppState;

impl axum::extract::FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    /// A session (resolved by [`crate::http::session`]) or the admin token.
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
            // A body that stalled or crawled past its deadline (`super::server::body_deadline`).
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&rej);
            while let Some(e) = cause {
                if let Some(t) = e.downcast_ref::<super::server::BodyTimeout>() {
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
