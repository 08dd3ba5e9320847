//! The JSON API's handlers; which path reaches which is [`crate::routes`].
//!
//! - `/api/kiosk/v1/…` ([`kiosk`]): enrolment, submissions, catalog, status, heartbeat; every
//!   call but enrolment authenticated by the kiosk's own credential, which reaches only that
//!   kiosk's data.
//! - `/api/admin/v1/…` ([`admin`], [`releases`]): bootstrap tokens, catalog publication,
//!   lists, commands, releases and rollouts; a member of staff with the role each change needs.
//! - `/api/agenda/v1/status` ([`agenda`]): the agenda system pushes state changes.
//! - `/s/{code}` ([`public`]): the citizen's status page, no personal data, rate-limited.
//! - `/metrics` ([`metrics`]), `/healthz`, `/api/openapi.json`.
//!
//! Handlers parse and authorise; what a change does (and its audit entry) is in [`crate::ops`],
//! which the dashboard calls too. Errors answer with a JSON [`protocol::fleet::ErrorBody`];
//! internal details are logged, never shown to the client.

pub mod admin;
pub mod agenda;
pub mod kiosk;
pub mod metrics;
pub mod public;
pub mod releases;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::http::AppError;
use crate::state::{AppState, blocking};

/// `GET /healthz`: the store answers.
pub async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    blocking(&state, |s| s.catalog().map(drop)).await?;
    Ok("ok\n")
}

/// The OpenAPI description of every endpoint.
pub const OPENAPI: &str = include_str!("openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
