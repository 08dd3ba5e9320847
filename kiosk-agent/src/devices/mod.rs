//! Device states as the app and the fleet see them.
//!
//! The drivers (printer, card reader, touchscreen, system health) arrive with the devices work;
//! until a device is configured it is reported as [`DeviceState::NotConfigured`], never as
//! healthy.

pub mod printer;

use protocol::app::{DeviceKind, DeviceState, DeviceStatus};

/// The state of every device kind.
pub fn statuses() -> Vec<DeviceStatus> {
    [
        DeviceKind::Printer,
        DeviceKind::CardReader,
        DeviceKind::Touchscreen,
    ]
    .into_iter()
    .map(|device| DeviceStatus {
        device,
        state: DeviceState::NotConfigured,
        detail: None,
        since: 0,
    })
    .collect()
}
