//! A serial card reader on a real pseudo-terminal: it sends card frames the way RFID and
//! magnetic-stripe readers do (`STX payload ETX`, or one payload per line), and on request
//! garbage and frames cut short, so drivers are tested against what a cheap reader really sends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serialport::{SerialPort, TTYPort};

/// How the simulated reader frames cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFraming {
    /// `0x02 payload CR LF 0x03`.
    StxEtx,
    /// `payload CR LF`.
    Line,
}

/// A running simulated card reader.
#[derive(Debug)]
pub struct CardReaderSim {
    path: PathBuf,
    master: Mutex<TTYPort>,
    framing: SimFraming,
    _slave: TTYPort,
}

impl CardReaderSim {
    /// Opens a pty for a reader with `framing`.
    pub fn start(framing: SimFraming) -> std::io::Result<CardReaderSim> {
        let (master, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let path = PathBuf::from(
            slave
                .name()
                .ok_or_else(|| std::io::Error::other("pty without a name"))?,
        );
        Ok(CardReaderSim {
            path,
            master: Mutex::new(master),
            framing,
            _slave: slave,
        })
    }

    /// The device path a driver opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends raw bytes (garbage, partial frames).
    pub fn send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut m = self.master.lock().unwrap_or_else(|p| p.into_inner());
        m.write_all(bytes)?;
        m.flush()
    }

    /// Presents a card: its payload (a UID in hex, or a magnetic track) in a frame.
    pub fn present(&self, payload: &str) -> std::io::Result<()> {
        let mut frame = Vec::new();
        match self.framing {
            SimFraming::StxEtx => {
                frame.push(0x02);
                frame.extend(payload.as_bytes());
                frame.extend(b"\r\n\x03");
            }
            SimFraming::Line => {
                frame.extend(payload.as_bytes());
                frame.extend(b"\r\n");
            }
        }
        self.send_raw(&frame)
    }
}
