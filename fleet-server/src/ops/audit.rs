//! The audit log: who changed what, written after each change.

use crate::state::{AppState, Change, blocking};

/// Records a change in the audit log; a failure is logged, never refused to the caller after
/// the change was made.
pub async fn audit(state: &AppState, actor: &str, action: &str, target: &str, detail: String) {
    let entry = crate::store::AuditEntry {
        at: crate::now_ms(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    };
    if let Err(e) = blocking(state, move |s| s.audit(&entry)).await {
        tracing::error!(error = %e, "audit log not written");
    }
    state.changed(Change::Audit);
}
