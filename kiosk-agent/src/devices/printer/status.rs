//! Printer status from `DLE EOT n` (real-time) and `GS r 1` (in stream order) replies.

use protocol::app::printer_detail;

/// Paper supply as the sensors report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    /// Enough.
    Ok,
    /// The roll is nearly used up.
    NearEnd,
    /// None.
    Out,
}

/// What the printer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterStatus {
    /// Online (ready to print).
    pub online: bool,
    /// Cover open.
    pub cover_open: bool,
    /// Paper.
    pub paper: Paper,
    /// An error (cutter, mechanical, over-temperature).
    pub error: bool,
}

impl PrinterStatus {
    /// Whether a job can print (paper near end still prints).
    pub fn is_good(&self) -> bool {
        self.online && !self.cover_open && self.paper != Paper::Out && !self.error
    }

    /// One line for logs and technicians.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.online {
            parts.push("offline");
        }
        if self.cover_open {
            parts.push(printer_detail::COVER_OPEN);
        }
        match self.paper {
            Paper::Out => parts.push(printer_detail::PAPER_OUT),
            Paper::NearEnd => parts.push(printer_detail::PAPER_NEAR_END),
            Paper::Ok => {}
        }
        if self.error {
            parts.push("error");
        }
        if parts.is_empty() {
            "ready".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Why a status byte was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status byte {0:#04x} does not have the fixed bits of an ESC/POS status reply")]
pub struct BadStatusByte(pub u8);

/// Checks the fixed bits of a `DLE EOT` reply (bit 0 and 7 clear, bits 1 and 4 set).
fn checked(b: u8) -> Result<u8, BadStatusByte> {
    if b & 0x93 == 0x12 {
        Ok(b)
    } else {
        Err(BadStatusByte(b))
    }
}

/// Combines the replies to `DLE EOT 1`, `2` and `4`.
pub fn from_dle_eot(printer: u8, offline: u8, paper: u8) -> Result<PrinterStatus, BadStatusByte> {
    let (printer, offline, paper) = (checked(printer)?, checked(offline)?, checked(paper)?);
    Ok(PrinterStatus {
        online: printer & 0x08 == 0,
        cover_open: offline & 0x04 != 0,
        paper: if paper & 0x60 != 0 || offline & 0x20 != 0 {
            Paper::Out
        } else if paper & 0x0C != 0 {
            Paper::NearEnd
        } else {
            Paper::Ok
        },
        error: offline & 0x40 != 0,
    })
}

/// The paper state from a `GS r 1` reply.
pub fn paper_from_gs_r(b: u8) -> Paper {
    if b & 0x0C != 0 {
        Paper::Out
    } else if b & 0x03 != 0 {
        Paper::NearEnd
    } else {
        Paper::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bytes() {
        let ready = from_dle_eot(0x12, 0x12, 0x12).unwrap();
        assert!(ready.is_good());
        assert_eq!(ready.describe(), "ready");
        let out = from_dle_eot(0x1A, 0x32, 0x7E).unwrap();
        assert!(!out.online && out.paper == Paper::Out && !out.is_good());
        let cover = from_dle_eot(0x1A, 0x16, 0x12).unwrap();
        assert!(cover.cover_open);
        assert_eq!(cover.describe(), "offline, cover open");
        let near = from_dle_eot(0x12, 0x12, 0x1E).unwrap();
        assert_eq!(near.paper, Paper::NearEnd);
        assert!(near.is_good());
        assert_eq!(from_dle_eot(0xFF, 0x12, 0x12), Err(BadStatusByte(0xFF)));
        assert_eq!(paper_from_gs_r(0x0F), Paper::Out);
        assert_eq!(paper_from_gs_r(0x03), Paper::NearEnd);
        assert_eq!(paper_from_gs_r(0x00), Paper::Ok);
    }
}
