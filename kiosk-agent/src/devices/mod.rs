//! The kiosk's devices as the app and the fleet see them.
//!
//! Each device has its driver ([`printer`], [`card`], [`touch`] over [`input`]) and a
//! [`StatusCell`] with its current state. A device that is not configured is reported as
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
pub mod input;
pub mod printer;
pub mod system;
pub mod touch;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use protocol::app::{DeviceEvent, DeviceKind, DeviceState, DeviceStatus, TouchPhase, TouchPoint};

use crate::backoff::Backoff;
use config::CardReaderKind;
pub use config::Setup;
use printer::{Charset, EscPosPrinter, Paper, PrinterError, PrinterStatus, Transport};

/// Longest a caller may wait for events in one request.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// A bounded log of numbered events that readers can wait on.
#[derive(Debug)]
pub struct EventLog<T> {
    inner: Mutex<(u64, VecDeque<(u64, T)>)>,
    cv: Condvar,
    cap: usize,
}

impl<T: Clone> EventLog<T> {
    /// A log keeping the newest `cap` events.
    pub fn new(cap: usize) -> EventLog<T> {
        EventLog {
            inner: Mutex::new((0, VecDeque::new())),
            cv: Condvar::new(),
            cap: cap.max(1),
        }
    }

    /// Appends the event `make` builds from its sequence number; returns the number.
    pub fn push(&self, make: impl FnOnce(u64) -> T) -> u64 {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let seq = g.0;
        g.1.push_back((seq, make(seq)));
        while g.1.len() > self.cap {
            g.1.pop_front();
        }
        drop(g);
        self.cv.notify_all();
        seq
    }

    /// Events numbered above `after`, waiting up to `wait` (at most [`MAX_WAIT`]) for one, and
    /// the newest number.
    pub fn after(&self, after: u64, wait: Duration) -> (Vec<T>, u64) {
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // A reader from an earlier agent run may hold a number above ours: start it over.
        let after = if after > g.0 { 0 } else { after };
        loop {
            if g.0 > after {
                let items =
                    g.1.iter()
                        .filter(|(s, _)| *s > after)
                        .map(|(_, t)| t.clone())
                        .collect();
                return (items, g.0);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (Vec::new(), g.0);
            }
            g = self
                .cv
                .wait_timeout(g, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Where device state changes go: the log the app reads and the sync loop's wake-up.
#[derive(Debug)]
pub struct Changes {
    /// State changes, newest last.
    pub log: EventLog<DeviceEvent>,
    /// Notified on every change; the sync loop sends a heartbeat soon after.
    pub notify: tokio::sync::Notify,
}

/// Input activity over the last minute, for health.
#[derive(Debug, Default)]
pub struct Activity {
    events: VecDeque<i64>,
    last_ms: Option<i64>,
}

impl Activity {
    /// Records that the device sent something at `now_ms`; `counted` when it is an event that
    /// counts toward the rate (a finger put down, a card).
    pub fn record(&mut self, now_ms: i64, counted: bool) {
        self.last_ms = Some(now_ms);
        if counted {
            self.events.push_back(now_ms);
        }
        self.expire(now_ms);
    }

    fn expire(&mut self, now_ms: i64) {
        while self.events.front().is_some_and(|t| *t <= now_ms - 60_000) {
            self.events.pop_front();
        }
    }

    /// Counted events in the minute before `now_ms`.
    pub fn per_minute(&mut self, now_ms: i64) -> u32 {
        self.expire(now_ms);
        self.events.len() as u32
    }

    /// When the device last sent anything.
    pub fn last(&self) -> Option<i64> {
        self.last_ms
    }
}

/// One device's current state; changes become events.
#[derive(Debug)]
pub struct StatusCell {
    status: Mutex<DeviceStatus>,
    activity: Option<Mutex<Activity>>,
    changes: Arc<Changes>,
}

impl StatusCell {
    fn new(device: DeviceKind, changes: &Arc<Changes>, input: bool) -> StatusCell {
        StatusCell {
            status: Mutex::new(DeviceStatus {
                device,
                state: DeviceState::Missing,
                detail: Some("not checked yet".into()),
                since: crate::store::now_ms(),
                last_event_at: None,
                events_per_minute: None,
            }),
            activity: input.then(|| Mutex::new(Activity::default())),
            changes: Arc::clone(changes),
        }
    }

    /// Sets the state; a change is logged and becomes an event.
    pub fn set(&self, state: DeviceState, detail: Option<String>) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if s.state == state && s.detail == detail {
            return;
        }
        tracing::info!(
            device = ?s.device,
            ?state,
            detail = detail.as_deref().unwrap_or(""),
            "device state changed"
        );
        s.state = state;
        s.detail = detail;
        s.since = crate::store::now_ms();
        let status = s.clone();
        drop(s);
        self.changes.log.push(|seq| DeviceEvent {
            seq,
            status: status.clone(),
        });
        self.changes.notify.notify_one();
    }

    /// Records input activity (no event: activity is read with the status).
    pub fn activity(&self, counted: bool) {
        if let Some(a) = &self.activity {
            a.lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(crate::store::now_ms(), counted);
        }
    }

    /// The current state, with activity for input devices.
    pub fn get(&self) -> DeviceStatus {
        let mut s = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(a) = &self.activity {
            let mut a = a.lock().unwrap_or_else(|p| p.into_inner());
            s.last_event_at = a.last();
            s.events_per_minute = Some(a.per_minute(crate::store::now_ms()));
        }
        s
    }

    fn state(&self) -> DeviceState {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).state
    }
}

/// When a device is checked next: at the poll interval while it answers, with back-off while
/// it is missing.
#[derive(Debug)]
struct Retry {
    backoff: Backoff,
    next: Instant,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
            next: Instant::now(),
        }
    }

    fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    fn after(&mut self, ok: bool, poll: Duration) {
        let wait = if ok {
            self.backoff.reset();
            poll
        } else {
            self.backoff.fail()
        };
        self.next = Instant::now() + wait;
    }
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

/// The receipt printer as a device: opened on first use, reopened after it went away.
#[derive(Debug)]
pub struct PrinterDevice {
    transport: Transport,
    /// The printer's character table.
    pub charset: Charset,
    status_timeout: Duration,
    job_timeout: Duration,
    conn: Mutex<Option<EscPosPrinter>>,
    cell: StatusCell,
}

impl PrinterDevice {
    fn new(section: &config::PrinterSection, changes: &Arc<Changes>) -> PrinterDevice {
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
    fn on_open<T>(
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

    fn record(&self, result: &Result<PrinterStatus, PrinterError>) {
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
    fn poll(&self) -> Option<DeviceState> {
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

/// How the card reader is connected.
enum CardLink {
    Serial {
        baud: u32,
        framing: card::Framing,
        conn: Mutex<Option<card::SerialCardReader>>,
    },
    Keyboard(Arc<card::KeyboardCards>),
}

/// The card reader as a device.
pub struct CardReaderDevice {
    path: PathBuf,
    key: Vec<u8>,
    link: CardLink,
    cell: Arc<StatusCell>,
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
    fn poll(&self) -> Option<DeviceState> {
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

/// The touchscreen, watched by its own thread.
#[derive(Debug)]
pub struct TouchDevice {
    path: String,
    cell: Arc<StatusCell>,
    /// Touches, for the technician's touch test.
    pub touches: Arc<EventLog<TouchPoint>>,
}

impl TouchDevice {
    /// The last known state.
    pub fn status(&self) -> DeviceStatus {
        self.cell.get()
    }

    fn resolve(&self) -> std::io::Result<PathBuf> {
        if self.path != "auto" {
            return Ok(PathBuf::from(&self.path));
        }
        input::find_touchscreens(Path::new("/sys/class/input"))
            .into_iter()
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no input device with touch capabilities",
                )
            })
    }

    fn run(&self, stop: &AtomicBool) {
        let touches = Arc::clone(&self.touches);
        let cell = Arc::clone(&self.cell);
        input_loop(
            "touchscreen",
            || self.resolve(),
            false,
            &self.cell,
            stop,
            |source| {
                let x = source
                    .axis_range(touch::ABS_MT_POSITION_X)
                    .or_else(|| source.axis_range(touch::ABS_X))
                    .unwrap_or(input::AxisRange::DEFAULT);
                let y = source
                    .axis_range(touch::ABS_MT_POSITION_Y)
                    .or_else(|| source.axis_range(touch::ABS_Y))
                    .unwrap_or(input::AxisRange::DEFAULT);
                let mut decoder = touch::TouchDecoder::new(x, y);
                let touches = Arc::clone(&touches);
                let cell = Arc::clone(&cell);
                Box::new(move |records: &[input::InputRecord]| {
                    for r in records {
                        for t in decoder.feed(r) {
                            cell.activity(t.phase == TouchPhase::Down);
                            touches.push(|seq| TouchPoint {
                                seq,
                                at: t.time_us / 1000,
                                slot: t.slot,
                                phase: t.phase,
                                x: t.x,
                                y: t.y,
                            });
                        }
                    }
                })
            },
        );
    }
}

/// Opens an input device, feeds its records to the handler `start` makes for it, and reopens
/// it with back-off when it goes away, until `stop`.
fn input_loop(
    what: &str,
    resolve: impl Fn() -> std::io::Result<PathBuf>,
    grab: bool,
    cell: &StatusCell,
    stop: &AtomicBool,
    mut start: impl FnMut(&input::InputSource) -> input::InputHandler,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    while !stop.load(Ordering::Relaxed) {
        match resolve().and_then(|p| input::InputSource::open(&p, grab).map(|s| (p, s))) {
            Ok((path, mut source)) => {
                backoff.reset();
                cell.set(DeviceState::Ok, Some(path.display().to_string()));
                let mut handle = start(&source);
                loop {
                    match source.next_batch() {
                        Ok(records) => {
                            cell.activity(false);
                            handle(&records);
                        }
                        Err(e) => {
                            cell.set(DeviceState::Missing, Some(format!("{what} lost: {e}")));
                            break;
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            }
            Err(e) => cell.set(
                DeviceState::Missing,
                Some(format!("cannot open {what}: {e}")),
            ),
        }
        std::thread::sleep(backoff.fail());
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_log_numbers_bounds_and_waits() {
        let log = Arc::new(EventLog::<u64>::new(3));
        for _ in 0..5 {
            log.push(|seq| seq * 10);
        }
        assert_eq!(log.after(0, Duration::ZERO), (vec![30, 40, 50], 5));
        assert_eq!(log.after(4, Duration::ZERO), (vec![50], 5));
        assert_eq!(log.after(5, Duration::from_millis(20)), (vec![], 5));
        // A number from an earlier run starts over.
        assert_eq!(log.after(99, Duration::ZERO).0.len(), 3);
        let l = Arc::clone(&log);
        let waiter = std::thread::spawn(move || l.after(5, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        log.push(|seq| seq);
        assert_eq!(waiter.join().unwrap(), (vec![6], 6));
    }

    #[test]
    fn activity_counts_events_of_the_last_minute() {
        let mut a = Activity::default();
        a.record(1_000, true);
        a.record(30_000, true);
        a.record(31_000, false);
        assert_eq!(a.per_minute(59_000), 2);
        assert_eq!(a.per_minute(61_000), 1);
        assert_eq!(a.last(), Some(31_000));
    }
}
