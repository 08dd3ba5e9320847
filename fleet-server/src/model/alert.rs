//! What an alert is about: one enum, stored and sent as its snake_case name, with the words
//! staff read and whether it only needs attention or stops part of the service.

use serde::{Deserialize, Serialize};

/// An alert's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// No heartbeat for longer than `alerts.offline_after_s`.
    Offline,
    /// The printer is not there.
    PrinterMissing,
    /// Out of paper.
    PrinterPaperOut,
    /// The paper roll is nearly used up.
    PrinterPaperNearEnd,
    /// The cover is open.
    PrinterCoverOpen,
    /// Another printer fault.
    PrinterFault,
    /// The card reader is not there.
    CardReaderMissing,
    /// The touchscreen is not there.
    TouchscreenMissing,
    /// No touch for a long time while the office is open.
    TouchscreenSilent,
    /// The data partition is nearly full.
    DiskFull,
    /// Too hot inside.
    TemperatureHigh,
    /// The kiosk's clock is off.
    ClockSkew,
    /// An update failed or was rolled back.
    UpdateFailed,
    /// Submissions wait too long to be sent.
    OutboxStuck,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 14] = [
        AlertKind::Offline,
        AlertKind::PrinterMissing,
        AlertKind::PrinterPaperOut,
        AlertKind::PrinterPaperNearEnd,
        AlertKind::PrinterCoverOpen,
        AlertKind::PrinterFault,
        AlertKind::CardReaderMissing,
        AlertKind::TouchscreenMissing,
        AlertKind::TouchscreenSilent,
        AlertKind::DiskFull,
        AlertKind::TemperatureHigh,
        AlertKind::ClockSkew,
        AlertKind::UpdateFailed,
        AlertKind::OutboxStuck,
    ];

    /// Its name, as stored, sent and shown in metrics: `printer_paper_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Offline => "offline",
            AlertKind::PrinterMissing => "printer_missing",
            AlertKind::PrinterPaperOut => "printer_paper_out",
            AlertKind::PrinterPaperNearEnd => "printer_paper_near_end",
            AlertKind::PrinterCoverOpen => "printer_cover_open",
            AlertKind::PrinterFault => "printer_fault",
            AlertKind::CardReaderMissing => "card_reader_missing",
            AlertKind::TouchscreenMissing => "touchscreen_missing",
            AlertKind::TouchscreenSilent => "touchscreen_silent",
            AlertKind::DiskFull => "disk_full",
            AlertKind::TemperatureHigh => "temperature_high",
            AlertKind::ClockSkew => "clock_skew",
            AlertKind::UpdateFailed => "update_failed",
            AlertKind::OutboxStuck => "outbox_stuck",
        }
    }

    /// The kind of a name, `None` for a name no kind has.
    pub fn parse(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The words staff read.
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::Offline => "Offline",
            AlertKind::PrinterPaperOut => "Printer out of paper",
            AlertKind::PrinterPaperNearEnd => "Paper running out",
            AlertKind::PrinterCoverOpen => "Printer cover open",
            AlertKind::PrinterFault => "Printer fault",
            AlertKind::PrinterMissing => "Printer missing",
            AlertKind::CardReaderMissing => "Card reader missing",
            AlertKind::TouchscreenMissing => "Touchscreen missing",
            AlertKind::TouchscreenSilent => "Touchscreen silent",
            AlertKind::DiskFull => "Data partition full",
            AlertKind::UpdateFailed => "Update failed",
            AlertKind::TemperatureHigh => "Too hot",
            AlertKind::ClockSkew => "Clock wrong",
            AlertKind::OutboxStuck => "Submissions not sent",
        }
    }

    /// It only needs attention; every other kind stops part of the service.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            AlertKind::PrinterPaperNearEnd
                | AlertKind::TouchscreenSilent
                | AlertKind::ClockSkew
                | AlertKind::OutboxStuck
        )
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AlertKind;

    #[test]
    fn names_round_trip_and_match_serde() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
        }
        assert_eq!(AlertKind::parse("printer_on_fire"), None);
    }
}
