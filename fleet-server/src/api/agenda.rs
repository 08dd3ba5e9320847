//! `POST /api/agenda/v1/status`: the office's agenda system reports that a request changed
//! state. Authenticated by the connector's inbound token.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use protocol::fleet::{AgendaStatusUpdate, RequestState};

use crate::auth;
use crate::http::{AppError, JsonBody};
use crate::state::{AppState, blocking};

/// Proof that the caller is the agenda system.
#[derive(Debug)]
pub struct Agenda;

impl FromRequestParts<AppState> for Agenda {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(expected) = &state.agenda_token_hash else {
            return Err(AppError::Forbidden("no agenda system is configured".into()));
        };
        let token = auth::bearer(parts.headers.get(header::AUTHORIZATION))
            .ok_or_else(|| AppError::Unauthorized("missing agenda token".into()))?;
        if auth::constant_time_eq(&auth::hash_secret(token), expected) {
            Ok(Agenda)
        } else {
            Err(AppError::Unauthorized("wrong agenda token".into()))
        }
    }
}

pub async fn update(
    State(state): State<AppState>,
    _: Agenda,
    JsonBody(u): JsonBody<AgendaStatusUpdate>,
) -> Result<StatusCode, AppError> {
    if matches!(u.state, RequestState::Queued | RequestState::Submitted) {
        return Err(AppError::BadRequest(format!(
            "{:?} is not a state the agenda system sets",
            u.state.as_str()
        )));
    }
    if let Some(n) = &u.note
        && n.all().any(|t| t.chars().count() > 2000)
    {
        return Err(AppError::BadRequest(
            "the note is longer than 2000 characters".into(),
        ));
    }
    let code = u.tracking_code.clone();
    let found = blocking(&state, move |s| {
        s.set_status(
            u.tracking_code.as_str(),
            u.state,
            u.note.as_ref(),
            crate::now_ms(),
        )
    })
    .await?;
    if !found {
        return Err(AppError::NotFound(format!(
            "no request with tracking code {code}"
        )));
    }
    tracing::info!(%code, "status changed by the agenda system");
    state.notices_wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
