//! The kiosk's devices as the app and the fleet see them.
//!
//! Each device has a folder with its driver and its device (`printer/device.rs`,
//! `card/device.rs`, `touch/device.rs`; the input devices over [`input`]) and a [`StatusCell`]
//! with its current state (`status.rs`); the events are in `events.rs`, their sections of the
//! configuration in [`config`]; this file builds [`Devices`] and runs the monitor. A device that is not configured is reported as
//! [`DeviceState::NotConfigured`], and one that does not answer as [`DeviceState::Missing`],
//! never as healthy.
//!
//! Hot-plug: [`Devices::start`] runs a monitor that checks the printer and the serial card reader
//! every `agent.device_poll_ms` and, while one is missing, retries with back-off (up to a
//! minute); input devices (touchscreen, keyboard-wedge reader) have a thread each that reopens
//! them the same way. Every state change is an event: kept in a [`EventLog`] the app reads with
//! `DeviceEvents` (long poll), logged, and it wakes the sync loop so the fleet sees it at once.

pub mod card;
pub mod config;
mod events;
pub mod input;
pub mod printer;
mod status;
pub mod system;
pub mod touch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::app::{DeviceKind, DeviceState, DeviceStatus};

use card::device::CardLink;
pub use card::device::CardReaderDevice;
use config::CardReaderKind;
pub use config::Setup;
pub use events::{Changes, EventLog, MAX_WAIT};
use input::input_loop;
pub use printer::device::PrinterDevice;
use status::Retry;
pub use status::{Activity, StatusCell};
pub use touch::device::TouchDevice;

/// Every device of the kiosk.
#[derive(Debug)]
pub struct Devices {
    /// The receipt printer, when configured.
    pub printer: Option<PrinterDevice>,
    /// The card reader, when configured.
    pub card_reader: Option<CardReaderDevice>,
    /// The touchscreen, when configured.
    pub touchscreen: Option<Arc<TouchDevice>>,
    /// State changes.
    pub changes: Arc<Changes>,
    poll: Duration,
    stop: Arc<AtomicBool>,
}

impl Devices {
    /// The devices `setup` describes. Nothing is opened until [`Devices::start`] or first use.
    pub fn new(setup: &Setup) -> Devices {
        let changes = Arc::new(Changes {
            log: EventLog::new(256),
            notify: tokio::sync::Notify::new(),
        });
        let card_reader = match &setup.card_reader {
            Some((c, key)) => {
                let keyboard = c.kind == CardReaderKind::Keyboard;
                let cell = Arc::new(StatusCell::new(DeviceKind::CardReader, &changes, true));
                Some(CardReaderDevice {
                    path: c.path.clone(),
                    key: key.clone(),
                    link: if keyboard {
                        CardLink::Keyboard(Arc::new(card::KeyboardCards::default()))
                    } else {
                        CardLink::Serial {
                            baud: c.baud,
                            framing: c.framing,
                            conn: Mutex::new(None),
                        }
                    },
                    cell,
                })
            }
            None => None,
        };
        let touchscreen = setup.touchscreen.as_ref().map(|t| {
            Arc::new(TouchDevice {
                path: t.path.clone(),
                cell: Arc::new(StatusCell::new(DeviceKind::Touchscreen, &changes, true)),
                touches: Arc::new(EventLog::new(512)),
            })
        });
        Devices {
            printer: setup
                .printer
                .as_ref()
                .map(|p| PrinterDevice::new(p, &changes)),
            card_reader,
            touchscreen,
            changes,
            poll: setup.poll,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts watching the devices: a thread per input device and the monitor, which holds
    /// the devices for as long as it runs.
    pub fn start(devices: &Arc<Devices>) -> std::io::Result<()> {
        if let Some(t) = &devices.touchscreen {
            let t = Arc::clone(t);
            let stop = Arc::clone(&devices.stop);
            std::thread::Builder::new()
                .name("touchscreen".into())
                .spawn(move || t.run(&stop))?;
        }
        if let Some(reader) = &devices.card_reader
            && let CardLink::Keyboard(cards) = &reader.link
        {
            let cards = Arc::clone(cards);
            let cell = Arc::clone(&reader.cell);
            let path = reader.path.clone();
            let stop = Arc::clone(&devices.stop);
            std::thread::Builder::new()
                .name("card-reader".into())
                .spawn(move || {
                    input_loop(
                        "card reader",
                        || Ok(path.clone()),
                        true,
                        &cell,
                        &stop,
                        |_| cards.handler(),
                    )
                })?;
        }
        let devices = Arc::clone(devices);
        std::thread::Builder::new()
            .name("device-monitor".into())
            .spawn(move || devices.monitor())?;
        Ok(())
    }

    /// Stops the monitor and the input threads (an input thread blocked on a silent device
    /// ends with its next event).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn monitor(&self) {
        let mut printer = Retry::new();
        let mut reader = Retry::new();
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(p) = &self.printer
                && printer.due()
                && let Some(state) = p.poll()
            {
                printer.after(state != DeviceState::Missing, self.poll);
            }
            if let Some(r) = &self.card_reader
                && reader.due()
                && let Some(state) = r.poll()
            {
                reader.after(state != DeviceState::Missing, self.poll);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// When somebody last used the kiosk: the newest event of a device a person touches (not
    /// the printer).
    pub fn last_use_at(&self) -> Option<i64> {
        last_use_at(&self.statuses())
    }

    /// The state of every device kind.
    pub fn statuses(&self) -> Vec<DeviceStatus> {
        let not_configured = |device| DeviceStatus {
            device,
            state: DeviceState::NotConfigured,
            detail: None,
            since: 0,
            last_event_at: None,
            events_per_minute: None,
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
            self.touchscreen
                .as_ref()
                .map(|t| t.status())
                .unwrap_or_else(|| not_configured(DeviceKind::Touchscreen)),
        ]
    }
}

/// When somebody last used the kiosk, from its devices' states (see [`Devices::last_use_at`]).
pub fn last_use_at(statuses: &[DeviceStatus]) -> Option<i64> {
    statuses
        .iter()
        .filter(|d| d.device != DeviceKind::Printer)
        .filter_map(|d| d.last_event_at)
        .max()
}
