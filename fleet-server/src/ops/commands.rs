//! Remote commands for kiosks (reboot, upload logs, …): queued for a kiosk's next heartbeat
//! reply, cancelled while unanswered; for the admin API and the dashboard.

use super::audit::audit;
use crate::error::AppError;
use crate::state::{AppState, Change, blocking};

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
    state.changed(Change::Kiosk(kiosk.into()));
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
            state.heartbeats_writer.set_pending(kiosk, true);
            audit(
                state,
                actor,
                "command.queue",
                kiosk,
                format!("{name} (command {id})"),
            )
            .await;
            state.changed(Change::Kiosk(kiosk.into()));
            Ok(id)
        }
        None => Err(AppError::NotFound("no enrolled kiosk with this id".into())),
    }
}
