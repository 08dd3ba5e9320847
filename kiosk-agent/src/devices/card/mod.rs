//! Card readers on a serial line (RFID/Mifare UID readers and magnetic-stripe readers behind
//! USB-serial chips). [`frame`] splits the stream, [`payload`] interprets a payload; the reader
//! skips garbage with a warning and goes on to the next card.

pub mod frame;
pub mod payload;

use std::io::{ErrorKind, Read};
use std::path::Path;
use std::time::{Duration, Instant};

pub use frame::{FrameEvent, FrameParser, Framing};
pub use payload::{Card, CardKind};

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum CardReaderError {
    /// The device could not be opened.
    #[error("cannot open card reader {path}")]
    Open {
        /// The device.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading failed (unplugged).
    #[error("card reader I/O failed")]
    Io(#[source] std::io::Error),
}

/// A serial card reader.
pub struct SerialCardReader {
    port: serialport::TTYPort,
    parser: FrameParser,
}

impl std::fmt::Debug for SerialCardReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialCardReader").finish_non_exhaustive()
    }
}

impl SerialCardReader {
    /// Opens the reader at `path`.
    pub fn open(
        path: &Path,
        baud: u32,
        framing: Framing,
    ) -> Result<SerialCardReader, CardReaderError> {
        let port = serialport::new(path.to_string_lossy(), baud)
            .timeout(Duration::from_millis(100))
            .open_native()
            .map_err(|e| CardReaderError::Open {
                path: path.display().to_string(),
                source: e.into(),
            })?;
        Ok(SerialCardReader {
            port,
            parser: FrameParser::new(framing),
        })
    }

    /// Waits up to `timeout` for a card; garbage and unreadable payloads are logged (masked)
    /// and skipped.
    pub fn read_card(&mut self, timeout: Duration) -> Result<Option<Card>, CardReaderError> {
        let end = Instant::now() + timeout;
        let mut buf = [0u8; 256];
        while Instant::now() < end {
            let n = match self.port.read(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                    continue;
                }
                Err(e) => return Err(CardReaderError::Io(e)),
            };
            for event in self.parser.push(&buf[..n]) {
                match event {
                    FrameEvent::Payload(p) => match Card::parse(&p) {
                        Ok(card) => {
                            tracing::info!(card = %card.masked(), kind = ?card.kind, "card read");
                            return Ok(Some(card));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, len = p.len(), "unreadable card payload skipped")
                        }
                    },
                    FrameEvent::Garbage(why) => {
                        tracing::warn!(%why, "card reader sent garbage; skipped")
                    }
                }
            }
        }
        Ok(None)
    }
}
