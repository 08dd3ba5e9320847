//! Acknowledging alerts, for the admin API and the dashboard.

use super::audit::audit;
use crate::error::AppError;
use crate::state::{AppState, Change, blocking};

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
        state.changed(Change::Alerts);
        Ok(())
    } else {
        Err(AppError::NotFound("no open alert with this id".into()))
    }
}
