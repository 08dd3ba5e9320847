//! The kiosk's devices as the app and the fleet see them.
//!
//! The receipt printer has its driver ([`printer`]); the card reader, touchscreen and system
//! health drivers join it. A device that is not configured is reported as
//! [`DeviceState::NotConfigured`], and one that does not answer as [`DeviceState::Missing`],
//! never as healthy.

pub mod card;
pub mod printer;
pub mod system;

use std::sync::Mutex;
use std::time::Duration;

use protocol::app::{DeviceKind, DeviceState, DeviceStatus};

use crate::config::Config;
use printer::{Charset, EscPosPrinter, Paper, PrinterError, PrinterStatus, Transport};

/// The receipt printer as a device: opened on first use, reopened after it went away.
#[derive(Debug)]
pub struct PrinterDevice {
    transport: Transport,
    /// The printer's character table.
    pub charset: Charset,
    status_timeout: Duration,
    job_timeout: Duration,
    conn: Mutex<Option<EscPosPrinter>>,
    state: Mutex<DeviceStatus>,
}

fn state_of(result: &Result<PrinterStatus, PrinterError>) -> (DeviceState, Option<String>) {
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

impl PrinterDevice {
    fn new(config: &Config) -> Option<PrinterDevice> {
        let section = config.printer.as_ref()?;
        Some(PrinterDevice {
            transport: config.printer_transport()?,
            charset: section.charset,
            status_timeout: Duration::from_millis(section.status_timeout_ms),
            job_timeout: Duration::from_secs(section.job_timeout_s),
            conn: Mutex::new(None),
            state: Mutex::new(DeviceStatus {
                device: DeviceKind::Printer,
                state: DeviceState::Missing,
                detail: Some("not checked yet".into()),
                since: crate::store::now_ms(),
            }),
        })
    }

    /// Runs `f` on the open printer, opening it first; an I/O failure closes it so that the
    /// next call reopens it (a printer unplugged and plugged back in).
    fn with<T>(
        &self,
        f: impl FnOnce(&mut EscPosPrinter) -> Result<T, PrinterError>,
    ) -> Result<T, PrinterError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
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

    fn record(&self, result: &Result<PrinterStatus, PrinterError>) {
        let (state, detail) = state_of(result);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.state != state || s.detail != detail {
            tracing::info!(
                ?state,
                detail = detail.as_deref().unwrap_or(""),
                "printer state changed"
            );
            *s = DeviceStatus {
                device: DeviceKind::Printer,
                state,
                detail,
                since: crate::store::now_ms(),
            };
        }
    }

    /// Prints a job; `Ok` only when the printer proved it printed.
    pub fn print(&self, job: &[u8]) -> Result<PrinterStatus, PrinterError> {
        let result = self.with(|p| p.print(job));
        self.record(&result);
        result
    }

    /// Asks the printer for its status now.
    pub fn refresh(&self) -> DeviceStatus {
        let result = self.with(|p| p.status());
        self.record(&result);
        self.status()
    }

    /// The last known state.
    pub fn status(&self) -> DeviceStatus {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The card reader as a device: opened on first use, reopened after it went away.
pub struct CardReaderDevice {
    path: std::path::PathBuf,
    baud: u32,
    framing: card::Framing,
    key: Vec<u8>,
    conn: Mutex<Option<card::SerialCardReader>>,
    state: Mutex<DeviceStatus>,
}

impl std::fmt::Debug for CardReaderDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardReaderDevice")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CardReaderDevice {
    fn set_state(&self, state: DeviceState, detail: Option<String>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.state != state || s.detail != detail {
            tracing::info!(
                ?state,
                detail = detail.as_deref().unwrap_or(""),
                "card reader state changed"
            );
            *s = DeviceStatus {
                device: DeviceKind::CardReader,
                state,
                detail,
                since: crate::store::now_ms(),
            };
        }
    }

    /// Waits up to `timeout` for a card; returns its keyed hash and masked number.
    pub fn read(
        &self,
        timeout: Duration,
    ) -> Result<Option<(String, String)>, card::CardReaderError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if conn.is_none() {
            match card::SerialCardReader::open(&self.path, self.baud, self.framing) {
                Ok(r) => *conn = Some(r),
                Err(e) => {
                    self.set_state(DeviceState::Missing, Some(e.to_string()));
                    return Err(e);
                }
            }
        }
        let Some(reader) = conn.as_mut() else {
            return Ok(None);
        };
        match reader.read_card(timeout) {
            Ok(card) => {
                self.set_state(DeviceState::Ok, None);
                Ok(card.map(|c| (c.keyed_hash(&self.key), c.masked())))
            }
            Err(e) => {
                *conn = None;
                self.set_state(DeviceState::Missing, Some(e.to_string()));
                Err(e)
            }
        }
    }

    /// The last known state.
    pub fn status(&self) -> DeviceStatus {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Every device of the kiosk.
#[derive(Debug)]
pub struct Devices {
    /// The receipt printer, when configured.
    pub printer: Option<PrinterDevice>,
    /// The card reader, when configured.
    pub card_reader: Option<CardReaderDevice>,
}

impl Devices {
    /// The devices `config` describes; reads the card key file.
    pub fn new(config: &Config) -> Result<Devices, crate::config::ConfigError> {
        let card_reader = match (&config.card_reader, config.card_key()?) {
            (Some(c), Some(key)) => Some(CardReaderDevice {
                path: c.path.clone(),
                baud: c.baud,
                framing: c.framing,
                key,
                conn: Mutex::new(None),
                state: Mutex::new(DeviceStatus {
                    device: DeviceKind::CardReader,
                    state: DeviceState::Missing,
                    detail: Some("not checked yet".into()),
                    since: crate::store::now_ms(),
                }),
            }),
            _ => None,
        };
        Ok(Devices {
            printer: PrinterDevice::new(config),
            card_reader,
        })
    }

    /// The state of every device kind.
    pub fn statuses(&self) -> Vec<DeviceStatus> {
        let not_configured = |device| DeviceStatus {
            device,
            state: DeviceState::NotConfigured,
            detail: None,
            since: 0,
        };
        vec![
            self.printer
                .as_ref()
                .map(PrinterDevice::status)
                .unwrap_or_else(|| not_configured(DeviceKind::Printer)),
            self.card_reader
                .as_ref()
                .map(CardReaderDevice::status)
                .unwrap_or_else(|| not_configured(DeviceKind::CardReader)),
            not_configured(DeviceKind::Touchscreen),
        ]
    }
}
