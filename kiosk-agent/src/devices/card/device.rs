//! The card reader as a device: a serial reader or a keyboard-wedge one, its state in a
//! [`StatusCell`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::app::{DeviceState, DeviceStatus};

use crate::devices::card;
use crate::devices::status::StatusCell;

/// How the card reader is connected.
pub(crate) enum CardLink {
    Serial {
        baud: u32,
        framing: card::Framing,
        conn: Mutex<Option<card::SerialCardReader>>,
    },
    Keyboard(Arc<card::KeyboardCards>),
}

/// The card reader as a device.
pub struct CardReaderDevice {
    pub(crate) path: PathBuf,
    pub(crate) key: Vec<u8>,
    pub(crate) link: CardLink,
    pub(crate) cell: Arc<StatusCell>,
}

impl std::fmt::Debug for CardReaderDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardReaderDevice")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CardReaderDevice {
    /// Waits up to `timeout` for a card; returns its keyed hash and masked number.
    pub fn read(
        &self,
        timeout: Duration,
    ) -> Result<Option<(String, String)>, card::CardReaderError> {
        let card = match &self.link {
            CardLink::Keyboard(cards) => cards.wait(timeout),
            CardLink::Serial {
                baud,
                framing,
                conn,
            } => {
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                if conn.is_none() {
                    match card::SerialCardReader::open(&self.path, *baud, *framing) {
                        Ok(r) => *conn = Some(r),
                        Err(e) => {
                            self.cell.set(DeviceState::Missing, Some(e.to_string()));
                            return Err(e);
                        }
                    }
                }
                let Some(reader) = conn.as_mut() else {
                    return Ok(None);
                };
                match reader.read_card(timeout) {
                    Ok(card) => {
                        self.cell.set(DeviceState::Ok, None);
                        card
                    }
                    Err(e) => {
                        *conn = None;
                        self.cell.set(DeviceState::Missing, Some(e.to_string()));
                        return Err(e);
                    }
                }
            }
        };
        if card.is_some() {
            self.cell.activity(true);
        }
        Ok(card.map(|c| (c.keyed_hash(&self.key), c.masked())))
    }

    /// Checks a serial reader unless it is reading: opens it when closed, closes it when its
    /// node went away. `None` when busy or not a serial reader.
    pub(crate) fn poll(&self) -> Option<DeviceState> {
        let CardLink::Serial {
            baud,
            framing,
            conn,
        } = &self.link
        else {
            return None;
        };
        let mut conn = conn.try_lock().ok()?;
        if conn.is_some() && !self.path.exists() {
            *conn = None;
        }
        if conn.is_none() {
            match card::SerialCardReader::open(&self.path, *baud, *framing) {
                Ok(r) => {
                    *conn = Some(r);
                    self.cell.set(DeviceState::Ok, None);
                }
                Err(e) => self.cell.set(DeviceState::Missing, Some(e.to_string())),
            }
        }
        Some(self.cell.state())
    }

    /// The last known state.
    pub fn status(&self) -> DeviceStatus {
        self.cell.get()
    }
}
