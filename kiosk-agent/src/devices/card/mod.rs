//! Card readers: on a serial line (RFID/Mifare UID readers and magnetic-stripe readers behind
//! USB-serial chips), or USB keyboard-wedge readers through evdev ([`wedge`]). [`frame`] splits
//! the stream, [`payload`] interprets a payload; the reader skips garbage with a warning and goes
//! on to the next card.

pub mod device;
pub mod frame;
pub mod payload;
pub mod wedge;

use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
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
            if let Some(card) = self.parser.push(&buf[..n]).into_iter().find_map(card_of) {
                return Ok(Some(card));
            }
        }
        Ok(None)
    }
}

/// Turns one payload event into a card, logging (masked) what is skipped.
fn card_of(event: FrameEvent) -> Option<Card> {
    match event {
        FrameEvent::Payload(p) => match Card::parse(&p) {
            Ok(card) => {
                tracing::info!(card = %card.masked(), kind = ?card.kind, "card read");
                Some(card)
            }
            Err(e) => {
                tracing::warn!(error = %e, len = p.len(), "unreadable card payload skipped");
                None
            }
        },
        FrameEvent::Garbage(why) => {
            tracing::warn!(%why, "card reader sent garbage; skipped");
            None
        }
    }
}

/// Cards from a keyboard-wedge reader. The reader is grabbed and read all the time (so that its
/// keystrokes never reach the UI); a card counts only when presented while someone waits for
/// one, so a card swiped earlier, perhaps by the previous citizen, is never used.
#[derive(Debug, Default)]
pub struct KeyboardCards {
    latest: Mutex<Option<Card>>,
    arrived: Condvar,
}

impl KeyboardCards {
    /// The handler of the reader's input records.
    pub fn handler(self: &Arc<Self>) -> super::input::InputHandler {
        let cards = Arc::clone(self);
        let mut keys = wedge::KeyDecoder::new();
        let mut lines = FrameParser::new(Framing::Line);
        Box::new(move |records| {
            let bytes: Vec<u8> = records.iter().filter_map(|r| keys.feed(r)).collect();
            for card in lines.push(&bytes).into_iter().filter_map(card_of) {
                *cards.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(card);
                cards.arrived.notify_all();
            }
        })
    }

    /// Waits up to `timeout` for a card presented from now on.
    pub fn wait(&self, timeout: Duration) -> Option<Card> {
        let end = Instant::now() + timeout;
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if latest.take().is_some() {
            tracing::info!("a card presented before it was asked for was ignored");
        }
        loop {
            if let Some(card) = latest.take() {
                return Some(card);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            latest = self
                .arrived
                .wait_timeout(latest, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
