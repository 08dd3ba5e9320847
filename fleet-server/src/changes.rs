//! What changed, for the dashboard's live pages: sent by whoever changes it (a heartbeat, an
//! alert sweep, an audited action), received by the open pages' event streams.

use std::sync::Arc;

/// Something the dashboard's open pages may need to show anew.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// A kiosk's heartbeat, commands or record.
    Kiosk(Arc<str>),
    /// Alerts opened, resolved or were acknowledged.
    Alerts,
    /// The audit log grew.
    Audit,
}
