//! The error every handler and operation returns: a JSON [`protocol::fleet::ErrorBody`] to the client,
//! internal details to the log only.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::fleet::ErrorBody;

use crate::store::StoreError;

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
