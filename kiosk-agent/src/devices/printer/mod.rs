//! The receipt printer: ESC/POS over a serial port, a USB printer-class node (`/dev/usb/lp0`)
//! or TCP port 9100.
//!
//! The receipt is encoded with the `escpos` crate into bytes ([`receipt`]); the driver here owns
//! the transport, because the crate's drivers only write, and a job here is not done until the
//! printer's answers have been read and checked. `usblp` nodes have no read time-out of their
//! own, so a reader thread feeds their answers through a channel that has one.
//!
//! A job counts as printed only when the printer proves it: after the job the driver sends
//! `GS r 1`, which the printer answers only when it reaches it in the stream (everything before
//! it processed), and then asks the real-time status (`DLE EOT 1, 2, 4`); both must be good.
//! A printer that does not answer within the time-out is reported as not answering, never as
//! ready. The last job is kept for a reprint.

pub mod device;
pub mod receipt;
pub mod status;
pub mod transliterate;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use serialport::SerialPort;

pub use receipt::{Charset, ReceiptContent};
pub use status::{Paper, PrinterStatus};

/// Where the printer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A serial port (or USB-serial adapter) at a baud rate.
    Serial {
        /// Device path, e.g. `/dev/kiosk/printer`.
        path: PathBuf,
        /// Baud rate, e.g. 115200.
        baud: u32,
    },
    /// A USB printer-class node (`usblp`), e.g. `/dev/usb/lp0`.
    UsbLp {
        /// Device path.
        path: PathBuf,
    },
    /// A network printer's raw port, e.g. `192.0.2.10:9100`.
    Tcp {
        /// Host and port.
        addr: String,
    },
}

impl Transport {
    /// `UsbLp` when `path` resolves to a `/dev/usb/lp*` node (the udev rules' symlink may point
    /// there), else `Serial` at `baud`.
    pub fn detect(path: PathBuf, baud: u32) -> Transport {
        let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if target.starts_with("/dev/usb") {
            Transport::UsbLp { path }
        } else {
            Transport::Serial { path, baud }
        }
    }
}

/// Why a printer call failed.
#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    /// The device could not be opened.
    #[error("cannot open printer {what}")]
    Open {
        /// Which device.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing failed (unplugged).
    #[error("printer I/O failed")]
    Io(#[source] std::io::Error),
    /// No answer within the time-out (off, or not an ESC/POS printer).
    #[error("the printer did not answer {0}")]
    NoAnswer(&'static str),
    /// An answer that is not a status byte.
    #[error(transparent)]
    BadReply(#[from] status::BadStatusByte),
    /// The printer cannot print now; nothing was sent.
    #[error("the printer is not ready: {}", .0.describe())]
    NotReady(PrinterStatus),
    /// The job did not print completely.
    #[error("the job did not print: {}", .0.describe())]
    JobFailed(PrinterStatus),
    /// The receipt could not be encoded.
    #[error(transparent)]
    Encode(#[from] receipt::EncodeError),
}

/// A byte channel to a printer with read time-outs.
trait Port: Read + Write + Send {
    fn set_read_timeout(&mut self, d: Duration) -> std::io::Result<()>;
}

impl Port for serialport::TTYPort {
    fn set_read_timeout(&mut self, d: Duration) -> std::io::Result<()> {
        self.set_timeout(d).map_err(std::io::Error::other)
    }
}

/// A USB printer-class node: writes go straight to the node, answers come from a reader
/// thread so that reads can time out.
struct UsbLpPort {
    file: std::fs::File,
    answers: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    pending: std::collections::VecDeque<u8>,
    timeout: Duration,
}

impl UsbLpPort {
    fn open(path: &std::path::Path) -> std::io::Result<UsbLpPort> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?;
        let mut reader = file.try_clone()?;
        let (tx, answers) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("usblp-reader".into())
            .spawn(move || {
                let mut buf = [0u8; 64];
                loop {
                    let r = match reader.read(&mut buf) {
                        Ok(0) => Err(std::io::Error::new(
                            ErrorKind::UnexpectedEof,
                            "the printer node closed",
                        )),
                        Ok(n) => Ok(buf[..n].to_vec()),
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => Err(e),
                    };
                    let end = r.is_err();
                    if tx.send(r).is_err() || end {
                        return;
                    }
                }
            })?;
        Ok(UsbLpPort {
            file,
            answers,
            pending: Default::default(),
            timeout: Duration::from_secs(1),
        })
    }
}

impl Read for UsbLpPort {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::sync::mpsc::RecvTimeoutError;
        if self.pending.is_empty() {
            match self.answers.recv_timeout(self.timeout) {
                Ok(Ok(bytes)) => self.pending.extend(bytes),
                Ok(Err(e)) => return Err(e),
                Err(RecvTimeoutError::Timeout) => return Err(ErrorKind::TimedOut.into()),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(std::io::Error::new(
                        ErrorKind::BrokenPipe,
                        "the printer node's reader stopped",
                    ));
                }
            }
        }
        let n = out.len().min(self.pending.len());
        for (o, b) in out.iter_mut().zip(self.pending.drain(..n)) {
            *o = b;
        }
        Ok(n)
    }
}

impl Write for UsbLpPort {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Port for UsbLpPort {
    fn set_read_timeout(&mut self, d: Duration) -> std::io::Result<()> {
        self.timeout = d;
        Ok(())
    }
}

impl Port for TcpStream {
    fn set_read_timeout(&mut self, d: Duration) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, Some(d))
    }
}

/// An ESC/POS receipt printer.
pub struct EscPosPrinter {
    port: Box<dyn Port>,
    status_timeout: Duration,
    job_timeout: Duration,
    last_job: Option<Vec<u8>>,
}

impl std::fmt::Debug for EscPosPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscPosPrinter")
            .field("status_timeout", &self.status_timeout)
            .finish_non_exhaustive()
    }
}

impl EscPosPrinter {
    /// Opens the printer. `status_timeout` bounds each status answer, `job_timeout` the time a
    /// job may take to print.
    pub fn open(
        transport: &Transport,
        status_timeout: Duration,
        job_timeout: Duration,
    ) -> Result<EscPosPrinter, PrinterError> {
        let port: Box<dyn Port> = match transport {
            Transport::Serial { path, baud } => {
                let p = serialport::new(path.to_string_lossy(), *baud)
                    .timeout(status_timeout)
                    .open_native()
                    .map_err(|e| PrinterError::Open {
                        what: path.display().to_string(),
                        source: e.into(),
                    })?;
                Box::new(p)
            }
            Transport::UsbLp { path } => {
                Box::new(UsbLpPort::open(path).map_err(|source| PrinterError::Open {
                    what: path.display().to_string(),
                    source,
                })?)
            }
            Transport::Tcp { addr } => {
                let s = TcpStream::connect(addr.as_str()).map_err(|source| PrinterError::Open {
                    what: addr.clone(),
                    source,
                })?;
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
        };
        Ok(EscPosPrinter {
            port,
            status_timeout,
            job_timeout,
            last_job: None,
        })
    }

    fn read_byte(&mut self, timeout: Duration, what: &'static str) -> Result<u8, PrinterError> {
        self.port
            .set_read_timeout(timeout)
            .map_err(PrinterError::Io)?;
        let mut b = [0u8; 1];
        match self.port.read(&mut b) {
            Ok(1) => Ok(b[0]),
            Ok(_) => Err(PrinterError::NoAnswer(what)),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                Err(PrinterError::NoAnswer(what))
            }
            Err(e) => Err(PrinterError::Io(e)),
        }
    }

    /// Throws away replies that arrived too late to be matched to their question.
    fn drain_input(&mut self) -> Result<(), PrinterError> {
        self.port
            .set_read_timeout(Duration::from_millis(1))
            .map_err(PrinterError::Io)?;
        let mut buf = [0u8; 64];
        loop {
            match self.port.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                    return Ok(());
                }
                Err(e) => return Err(PrinterError::Io(e)),
            }
        }
    }

    fn ask(&mut self, n: u8) -> Result<u8, PrinterError> {
        self.port
            .write_all(&[0x10, 0x04, n])
            .map_err(PrinterError::Io)?;
        self.port.flush().map_err(PrinterError::Io)?;
        self.read_byte(self.status_timeout, "a status request (DLE EOT)")
    }

    /// The printer's status now.
    pub fn status(&mut self) -> Result<PrinterStatus, PrinterError> {
        self.drain_input()?;
        let printer = self.ask(1)?;
        let offline = self.ask(2)?;
        let paper = self.ask(4)?;
        Ok(status::from_dle_eot(printer, offline, paper)?)
    }

    /// Prints a job (ESC/POS bytes); `Ok` only when the printer proved it printed.
    pub fn print(&mut self, job: &[u8]) -> Result<PrinterStatus, PrinterError> {
        let before = self.status()?;
        if !before.is_good() {
            return Err(PrinterError::NotReady(before));
        }
        self.last_job = Some(job.to_vec());
        self.port.write_all(job).map_err(PrinterError::Io)?;
        // In-order status request: answered only once everything before it was processed.
        self.port
            .write_all(&[0x1D, b'r', 1])
            .map_err(PrinterError::Io)?;
        self.port.flush().map_err(PrinterError::Io)?;
        let paper =
            status::paper_from_gs_r(self.read_byte(self.job_timeout, "after the job (GS r)")?);
        let after = self.status()?;
        if paper == Paper::Out || !after.is_good() {
            let mut s = after;
            if paper == Paper::Out {
                s.paper = Paper::Out;
            }
            return Err(PrinterError::JobFailed(s));
        }
        Ok(after)
    }

    /// Prints the last job again.
    pub fn reprint(&mut self) -> Result<PrinterStatus, PrinterError> {
        let job = self
            .last_job
            .clone()
            .ok_or(PrinterError::NoAnswer("a reprint: nothing was printed yet"))?;
        self.print(&job)
    }
}
