//! The receipt printer as a device: opened on first use, reopened after it went away, its state
//! in a [`StatusCell`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::app::{DeviceKind, DeviceState, DeviceStatus};

use super::{Charset, EscPosPrinter, Paper, PrinterError, PrinterStatus, Transport};
use crate::devices::config::PrinterSection;
use crate::devices::events::Changes;
use crate::devices::status::StatusCell;

pub(crate) fn state_of(
    result: &Result<PrinterStatus, PrinterError>,
) -> (DeviceState, Option<String>) {
    match result {
        Ok(s) if s.is_good() && s.paper == Paper::NearEnd => {
            (DeviceState::Warning, Some(s.describe()))
        }
        Ok(s) if s.is_good() => (DeviceState::Ok, None),
        Ok(s) => (DeviceState::Fault, Some(s.describe())),
        Err(PrinterError::NotReady(s) | PrinterError::JobFailed(s)) => {
            (DeviceState::Fault, Some(s.describe()))
        }
        Err(e) => (DeviceState::Missing, Some(e.to_string())),
    }
}

/// The receipt printer as a device: opened on first use, reopened after it went away.
#[derive(Debug)]
pub struct PrinterDevice {
    pub(crate) transport: Transport,
    /// The printer's character table.
    pub charset: Charset,
    pub(crate) status_timeout: Duration,
    pub(crate) job_timeout: Duration,
    pub(crate) conn: Mutex<Option<EscPosPrinter>>,
    pub(crate) cell: StatusCell,
}

impl PrinterDevice {
    pub(crate) fn new(section: &PrinterSection, changes: &Arc<Changes>) -> PrinterDevice {
        PrinterDevice {
            transport: section.transport(),
            charset: section.charset,
            status_timeout: Duration::from_millis(section.status_timeout_ms),
            job_timeout: Duration::from_secs(section.job_timeout_s),
            conn: Mutex::new(None),
            cell: StatusCell::new(DeviceKind::Printer, changes, false),
        }
    }

    /// Runs `f` on the open printer, opening it first; an I/O failure closes it so that the
    /// next call reopens it (a printer unplugged and plugged back in).
    pub(crate) fn on_open<T>(
        &self,
        conn: &mut Option<EscPosPrinter>,
        f: impl FnOnce(&mut EscPosPrinter) -> Result<T, PrinterError>,
    ) -> Result<T, PrinterError> {
        if conn.is_none() {
            *conn = Some(EscPosPrinter::open(
                &self.transport,
                self.status_timeout,
                self.job_timeout,
            )?);
        }
        let printer = conn
            .as_mut()
            .ok_or(PrinterError::NoAnswer("an open request"))?;
        let result = f(printer);
        if matches!(result, Err(PrinterError::Io(_) | PrinterError::NoAnswer(_))) {
            *conn = None;
        }
        result
    }

    pub(crate) fn record(&self, result: &Result<PrinterStatus, PrinterError>) {
        let (state, detail) = state_of(result);
        self.cell.set(state, detail);
    }

    /// Prints a job; `Ok` only when the printer proved it printed.
    pub fn print(&self, job: &[u8]) -> Result<PrinterStatus, PrinterError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.on_open(&mut conn, |p| p.print(job));
        self.record(&result);
        result
    }

    /// Asks the printer for its status now.
    pub fn refresh(&self) -> DeviceStatus {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.on_open(&mut conn, |p| p.status());
        self.record(&result);
        drop(conn);
        self.status()
    }

    /// Asks for the status unless a job is printing; `None` when busy.
    pub(crate) fn poll(&self) -> Option<DeviceState> {
        let mut conn = self.conn.try_lock().ok()?;
        let result = self.on_open(&mut conn, |p| p.status());
        self.record(&result);
        Some(self.cell.state())
    }

    /// The last known state.
    pub fn status(&self) -> DeviceStatus {
        self.cell.get()
    }
}
