//! Notices and the call centre's look-up of a request, for the kiosk API, the admin API and the
//! dashboard: keeping a citizen's address, finding a request by a code read over the phone,
//! resending a notice, adding a note for the office. Every look-up is audited.

use protocol::UnixMillis;
use protocol::fleet::{ItemAck, ItemOutcome, SubmissionUpload};
use protocol::tracking::{CodeError, TrackingCode};

use super::audit::audit;
use crate::error::AppError;
use crate::notices::ContactKey;
use crate::state::{AppState, blocking};
use crate::store::{RequestView, SealedContact, Store, StoreError};

/// Takes the citizens' addresses out of an upload (so they never reach a submission's body),
/// checked and sealed, by submission id. A malformed one (the kiosk checked it, so this is a
/// kiosk of another make or a bug) is dropped with a warning that names no address.
pub fn take_contacts(
    items: &mut [SubmissionUpload],
    key: &ContactKey,
) -> Vec<(uuid::Uuid, String, SealedContact)> {
    let mut out = Vec::new();
    for item in items {
        let Some(n) = item.notify.take() else {
            continue;
        };
        match n.normalized() {
            Ok(n) => out.push((
                item.id,
                item.tracking_code.as_str().to_owned(),
                key.seal(item.tracking_code.as_str(), &n, item.language),
            )),
            Err(reason) => tracing::warn!(
                submission = %item.id,
                channel = n.channel.as_str(),
                %reason,
                "the address for notices is unusable; none will be sent"
            ),
        }
    }
    out
}

/// Keeps the addresses of the items the fleet holds (accepted now, or before: a retry after a
/// lost answer), and with `tell_receipt` queues their receipt notices; how many were kept.
pub fn keep_contacts(
    s: &dyn Store,
    acks: &[ItemAck],
    contacts: &[(uuid::Uuid, String, SealedContact)],
    tell_receipt: bool,
    now: UnixMillis,
) -> Result<usize, StoreError> {
    let mut told = 0;
    for (id, code, contact) in contacts {
        let held = acks.iter().any(|a| {
            a.id == *id
                && matches!(
                    a.outcome,
                    ItemOutcome::Accepted { .. } | ItemOutcome::Duplicate { .. }
                )
        });
        if held && s.save_contact(code, contact, tell_receipt, now)? {
            told += 1;
        }
    }
    Ok(told)
}

/// A code as typed or read over the phone, or what is wrong with it in words for the
/// operator.
pub fn read_code(typed: &str) -> Result<TrackingCode, String> {
    TrackingCode::parse(typed.trim()).map_err(|e| match e {
        CodeError::Check => {
            "This code is not valid: its last character does not match (a character was probably misheard or mistyped).".into()
        }
        CodeError::Length(n) => {
            format!("This code is not valid: a tracking code has 9 characters, this has {n}.")
        }
        CodeError::Character(c) => {
            format!("This code is not valid: {c:?} does not occur in tracking codes.")
        }
    })
}

/// Finds a request by a typed code, for `actor`; audited whether or not it is found.
pub async fn look_up(state: &AppState, actor: &str, typed: &str) -> Result<RequestView, AppError> {
    let code = match read_code(typed) {
        Ok(c) => c,
        Err(why) => {
            audit(
                state,
                actor,
                "request.lookup",
                "(invalid code)",
                why.clone(),
            )
            .await;
            return Err(AppError::BadRequest(why));
        }
    };
    let c = code.as_str().to_owned();
    let view = blocking(state, move |s| s.request_view(&c)).await?;
    let found = if view.is_some() { "found" } else { "not found" };
    audit(state, actor, "request.lookup", code.as_str(), found.into()).await;
    view.ok_or_else(|| AppError::NotFound(format!("no request has the code {code}")))
}

/// Queues the notice of the request's current state again.
pub async fn resend(state: &AppState, actor: &str, code: &str) -> Result<i64, AppError> {
    let code = read_code(code).map_err(AppError::BadRequest)?;
    let (c, by) = (code.as_str().to_owned(), actor.to_owned());
    let id = blocking(state, move |s| s.resend_notice(&c, &by, crate::now_ms())).await?;
    let Some(id) = id else {
        return Err(AppError::Conflict(
            "the citizen's address is not kept (none was given, or the request is closed)".into(),
        ));
    };
    audit(
        state,
        actor,
        "notice.resend",
        code.as_str(),
        format!("notice {id}"),
    )
    .await;
    state.notices_wake.notify_one();
    Ok(id)
}

/// Adds a note for the office to the request's history.
pub async fn add_note(
    state: &AppState,
    actor: &str,
    code: &str,
    text: &str,
) -> Result<(), AppError> {
    let code = read_code(code).map_err(AppError::BadRequest)?;
    let text = text.trim().to_owned();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(AppError::BadRequest("a note has 1-2000 characters".into()));
    }
    let (c, by) = (code.as_str().to_owned(), actor.to_owned());
    let now = crate::now_ms();
    if !blocking(state, move |s| s.add_request_note(&c, &by, &text, now)).await? {
        return Err(AppError::NotFound(format!(
            "no request has the code {code}"
        )));
    }
    audit(state, actor, "request.note", code.as_str(), String::new()).await;
    Ok(())
}
