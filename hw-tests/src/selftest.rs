//! The hardware self-test behind `kiosk-hwtest`: the same checks against the simulators (the
//! default, used in CI) or against real devices given by path.
//!
//! - **Printer**: opens it, asks its status, prints the test receipt (a job counts only when the
//!   printer proves it printed) and reports every status transition it sees while watching.
//!   Against the simulator the paper runs low, runs out, the cover opens and everything is put
//!   right again, and each transition must be reported.
//! - **Card reader**: reads a presented card within the time-out (the simulator sends garbage and
//!   a frame cut short first); only the masked number is shown.
//! - **Touchscreen**: taps in the four corners within the time-out (on real hardware the
//!   technician taps them; the simulator replays a recording).
//!
//! The drivers are the agent's own, so a pass here means the agent can use the device.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kiosk_agent::config::CardReaderKind;
use kiosk_agent::devices::card::{Card, FrameParser, Framing, SerialCardReader, wedge};
use kiosk_agent::devices::input::{AxisRange, InputSource};
use kiosk_agent::devices::printer::{Charset, EscPosPrinter, PrinterStatus, Transport, receipt};
use kiosk_agent::devices::touch::{self, TouchDecoder};
use protocol::app::TouchPhase;
use serde::Serialize;

use crate::cardsim::{CardReaderSim, SimFraming};
use crate::escpos::sim::{Paper as SimPaper, PrinterSim, PrinterState};
use crate::touchsim::{InputFifo, Recording};

/// A card reader to test.
#[derive(Debug, Clone)]
pub struct CardTarget {
    /// Device path.
    pub path: PathBuf,
    /// Serial or keyboard wedge.
    pub kind: CardReaderKind,
    /// Framing of a serial reader.
    pub framing: Framing,
    /// Baud rate of a serial reader.
    pub baud: u32,
}

/// The devices to test.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// The printer.
    pub printer: Option<Transport>,
    /// Its character table.
    pub charset: Charset,
    /// The card reader.
    pub card: Option<CardTarget>,
    /// The touchscreen's evdev node.
    pub touch: Option<PathBuf>,
    /// How long to wait for a card and for the corner taps.
    pub timeout: Duration,
    /// How long to watch the printer's status for transitions (real printers; the technician
    /// opens the cover, takes the paper out, …).
    pub watch: Duration,
}

/// One device's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `printer`, `card_reader` or `touchscreen`.
    pub device: String,
    /// Whether it passed.
    pub passed: bool,
    /// One line.
    pub summary: String,
    /// What happened, step by step.
    pub steps: Vec<String>,
    /// How long the check took, milliseconds.
    pub duration_ms: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `simulators` or `devices`.
    pub mode: String,
    /// Every check passed (and there was at least one).
    pub passed: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// A report of `checks`.
    pub fn new(mode: &str, checks: Vec<Check>) -> Report {
        Report {
            mode: mode.into(),
            passed: !checks.is_empty() && checks.iter().all(|c| c.passed),
            checks,
        }
    }

    /// The report as a technician reads it.
    pub fn to_text(&self) -> String {
        let mut out = format!("Okénko hardware self-test ({})\n", self.mode);
        for c in &self.checks {
            out.push_str(&format!(
                "{}  {:<12} {} ({:.1} s)\n",
                if c.passed { "PASS" } else { "FAIL" },
                c.device,
                c.summary,
                c.duration_ms as f64 / 1000.0
            ));
            for s in &c.steps {
                out.push_str(&format!("      - {s}\n"));
            }
        }
        let passed = self.checks.iter().filter(|c| c.passed).count();
        out.push_str(&format!(
            "RESULT: {} ({passed}/{} passed)\n",
            if self.passed { "PASS" } else { "FAIL" },
            self.checks.len()
        ));
        out
    }
}

/// Collects the steps of a check.
struct Steps {
    device: &'static str,
    started: Instant,
    steps: Vec<String>,
}

impl Steps {
    fn new(device: &'static str) -> Steps {
        Steps {
            device,
            started: Instant::now(),
            steps: Vec::new(),
        }
    }

    fn step(&mut self, s: impl Into<String>) {
        self.steps.push(s.into());
    }

    fn done(self, passed: bool, summary: impl Into<String>) -> Check {
        Check {
            device: self.device.into(),
            passed,
            summary: summary.into(),
            steps: self.steps,
            duration_ms: self.started.elapsed().as_millis() as u64,
        }
    }
}

fn describe(t: &Transport) -> String {
    match t {
        Transport::Serial { path, baud } => format!("{} (serial, {baud} baud)", path.display()),
        Transport::UsbLp { path } => format!("{} (USB printer class)", path.display()),
        Transport::Tcp { addr } => format!("{addr} (TCP)"),
    }
}

fn status_text(s: &Result<PrinterStatus, kiosk_agent::devices::printer::PrinterError>) -> String {
    match s {
        Ok(s) => s.describe(),
        Err(e) => format!("no status: {e}"),
    }
}

/// Changes to a simulator's state, run while the check watches, and the statuses they should
/// cause, in order.
pub type Script<'a> = (Box<dyn FnOnce() + Send>, Vec<&'a str>);

/// The printer check. `script`, run on another thread while the status is watched, changes a
/// simulator's state; the statuses it should cause are `expect`ed in order.
pub fn check_printer(
    transport: &Transport,
    charset: Charset,
    watch: Duration,
    script: Option<Script<'_>>,
) -> Check {
    let mut s = Steps::new("printer");
    let mut p =
        match EscPosPrinter::open(transport, Duration::from_secs(1), Duration::from_secs(30)) {
            Ok(p) => p,
            Err(e) => return s.done(false, format!("cannot open {}: {e}", describe(transport))),
        };
    s.step(format!("opened {}", describe(transport)));
    let before = p.status();
    s.step(format!("status: {}", status_text(&before)));
    match before {
        Ok(st) if st.is_good() => {}
        _ => return s.done(false, format!("not ready: {}", status_text(&before))),
    }
    let now = kiosk_agent::store::now_ms();
    let job = match receipt::test_page("Okénko", "self-test", now, charset) {
        Ok(j) => j,
        Err(e) => return s.done(false, e.to_string()),
    };
    match p.print(&job) {
        Ok(after) => s.step(format!(
            "test receipt printed ({} bytes); status after: {}",
            job.len(),
            after.describe()
        )),
        Err(e) => return s.done(false, format!("the test receipt did not print: {e}")),
    }
    // Watch the status for transitions.
    let (expect, runner) = match script {
        Some((run, expect)) => (expect, Some(std::thread::spawn(run))),
        None => (Vec::new(), None),
    };
    let mut seen: Vec<String> = Vec::new();
    let end = Instant::now() + watch;
    let mut last = String::new();
    loop {
        let now = status_text(&p.status());
        if now != last {
            if !last.is_empty() {
                s.step(format!("status changed: {last} → {now}"));
            }
            seen.push(now.clone());
            last = now;
        }
        let script_done = runner.as_ref().is_none_or(|r| r.is_finished());
        if Instant::now() >= end && script_done {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(r) = runner {
        let _ = r.join();
    }
    // Every expected status must have been seen, in order.
    let mut it = seen.iter();
    let missing: Vec<&str> = expect
        .iter()
        .copied()
        .filter(|want| !it.any(|got| got == want))
        .collect();
    if !missing.is_empty() {
        return s.done(
            false,
            format!("status transitions not reported: {missing:?}"),
        );
    }
    let end_state = seen.last().cloned().unwrap_or_default();
    if end_state != "ready" {
        return s.done(false, format!("the printer ended {end_state}"));
    }
    s.done(
        true,
        format!(
            "test receipt printed; {} status transition(s) reported",
            seen.len().saturating_sub(1)
        ),
    )
}

fn wedge_read(path: &std::path::Path, timeout: Duration) -> std::io::Result<Option<Card>> {
    let mut source = InputSource::open(path, true)?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut keys = wedge::KeyDecoder::new();
        let mut lines = FrameParser::new(Framing::Line);
        while let Ok(batch) = source.next_batch() {
            let bytes: Vec<u8> = batch.iter().filter_map(|r| keys.feed(r)).collect();
            for e in lines.push(&bytes) {
                if let kiosk_agent::devices::card::FrameEvent::Payload(p) = e
                    && let Ok(card) = Card::parse(&p)
                    && tx.send(card).is_err()
                {
                    return;
                }
            }
        }
    });
    Ok(rx.recv_timeout(timeout).ok())
}

/// The card reader check: a card presented within `timeout`.
pub fn check_card(target: &CardTarget, timeout: Duration, prompt: &dyn Fn(&str)) -> Check {
    let mut s = Steps::new("card_reader");
    let kind = match target.kind {
        CardReaderKind::Serial => "serial",
        CardReaderKind::Keyboard => "keyboard wedge, grabbed",
    };
    prompt(&format!(
        "Present a card to the reader within {} s.",
        timeout.as_secs()
    ));
    let result = match target.kind {
        CardReaderKind::Serial => SerialCardReader::open(&target.path, target.baud, target.framing)
            .map_err(|e| e.to_string())
            .inspect(|_| s.step(format!("opened {} ({kind})", target.path.display())))
            .and_then(|mut r| r.read_card(timeout).map_err(|e| e.to_string())),
        CardReaderKind::Keyboard => wedge_read(&target.path, timeout)
            .map_err(|e| format!("cannot open {}: {e}", target.path.display()))
            .inspect(|_| s.step(format!("opened {} ({kind})", target.path.display()))),
    };
    match result {
        Ok(Some(card)) => {
            s.step(format!("read {:?} card {}", card.kind, card.masked()));
            s.done(true, format!("card read: {}", card.masked()))
        }
        Ok(None) => s.done(false, format!("no card within {} s", timeout.as_secs())),
        Err(e) => s.done(false, e),
    }
}

/// Which corner a touch is in (within 20 % of both edges), as (right, bottom).
fn corner(x: u16, y: u16) -> Option<(bool, bool)> {
    let side = |v: u16| match v {
        0..=2_000 => Some(false),
        8_000.. => Some(true),
        _ => None,
    };
    Some((side(x)?, side(y)?))
}

/// The touchscreen check: taps in all four corners within `timeout`.
pub fn check_touch(path: &std::path::Path, timeout: Duration, prompt: &dyn Fn(&str)) -> Check {
    let mut s = Steps::new("touchscreen");
    let (tx, rx) = mpsc::channel();
    let opened = {
        let path = path.to_owned();
        let (otx, orx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut source = match InputSource::open(&path, false) {
                Ok(src) => {
                    let _ = otx.send(Ok(()));
                    src
                }
                Err(e) => {
                    let _ = otx.send(Err(e.to_string()));
                    return;
                }
            };
            let range = |mt, st| {
                source
                    .axis_range(mt)
                    .or_else(|| source.axis_range(st))
                    .unwrap_or(AxisRange::DEFAULT)
            };
            let mut decoder = TouchDecoder::new(
                range(touch::ABS_MT_POSITION_X, touch::ABS_X),
                range(touch::ABS_MT_POSITION_Y, touch::ABS_Y),
            );
            while let Ok(batch) = source.next_batch() {
                for t in batch.iter().flat_map(|r| decoder.feed(r)) {
                    if t.phase == TouchPhase::Down && tx.send(t).is_err() {
                        return;
                    }
                }
            }
        });
        orx.recv_timeout(timeout)
            .unwrap_or_else(|_| Err("the device did not open in time".into()))
    };
    if let Err(e) = opened {
        return s.done(false, format!("cannot open {}: {e}", path.display()));
    }
    s.step(format!("opened {}", path.display()));
    prompt(&format!(
        "Tap the four corners of the screen within {} s: top left, top right, bottom right, bottom left.",
        timeout.as_secs()
    ));
    let names = |c: (bool, bool)| match c {
        (false, false) => "top left",
        (true, false) => "top right",
        (true, true) => "bottom right",
        (false, true) => "bottom left",
    };
    let mut found: Vec<(bool, bool)> = Vec::new();
    let end = Instant::now() + timeout;
    while found.len() < 4 {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(t) = rx.recv_timeout(left) else {
            break;
        };
        match corner(t.x, t.y) {
            Some(c) if !found.contains(&c) => {
                s.step(format!("tap at ({}, {}) ‱: {}", t.x, t.y, names(c)));
                found.push(c);
            }
            _ => s.step(format!("tap at ({}, {}) ‱", t.x, t.y)),
        }
    }
    if found.len() == 4 {
        s.done(true, "taps reported in all four corners")
    } else {
        let missing: Vec<&str> = [(false, false), (true, false), (true, true), (false, true)]
            .into_iter()
            .filter(|c| !found.contains(c))
            .map(names)
            .collect();
        s.done(false, format!("no tap in: {}", missing.join(", ")))
    }
}

/// Runs the checks against real devices.
pub fn run_devices(t: &Targets, prompt: &dyn Fn(&str)) -> Report {
    let mut checks = Vec::new();
    if let Some(p) = &t.printer {
        if !t.watch.is_zero() {
            prompt(&format!(
                "Watching the printer for {} s: open and close the cover, take the paper out and put it back.",
                t.watch.as_secs()
            ));
        }
        checks.push(check_printer(p, t.charset, t.watch, None));
    }
    if let Some(c) = &t.card {
        checks.push(check_card(c, t.timeout, prompt));
    }
    if let Some(path) = &t.touch {
        checks.push(check_touch(path, t.timeout, prompt));
    }
    Report::new("devices", checks)
}

/// Runs the checks against the simulators: a printer and a card reader on ptys and a touch
/// panel on a FIFO in `scratch`.
pub fn run_simulators(scratch: &std::path::Path) -> Report {
    let mut checks = Vec::new();
    checks.push(match PrinterSim::start(PrinterState::default()) {
        Ok(sim) => {
            let sim = std::sync::Arc::new(sim);
            let transport = Transport::Serial {
                path: sim.path().to_owned(),
                baud: 115_200,
            };
            let script_sim = std::sync::Arc::clone(&sim);
            let script = move || {
                let pause = || std::thread::sleep(Duration::from_millis(400));
                pause();
                script_sim.set_state(|s| s.paper = SimPaper::NearEnd);
                pause();
                script_sim.set_state(|s| s.paper = SimPaper::Out);
                pause();
                script_sim.set_state(|s| {
                    s.paper = SimPaper::Ok;
                    s.cover_open = true;
                });
                pause();
                script_sim.set_state(|s| s.cover_open = false);
                pause();
            };
            let mut c = check_printer(
                &transport,
                Charset::Pc852,
                Duration::ZERO,
                Some((
                    Box::new(script),
                    vec![
                        "ready",
                        "paper near end",
                        "offline, paper out",
                        "offline, cover open",
                        "ready",
                    ],
                )),
            );
            let decoded = sim
                .jobs()
                .first()
                .map(|j| j.receipt.to_text())
                .unwrap_or_default();
            if c.passed && !decoded.contains("Příliš žluťoučký kůň") {
                c.passed = false;
                c.summary = "the simulator did not decode the test receipt's Czech".into();
            }
            c
        }
        Err(e) => Steps::new("printer").done(false, format!("cannot start the simulator: {e}")),
    });
    checks.push(match CardReaderSim::start(SimFraming::StxEtx) {
        Ok(sim) => {
            let target = CardTarget {
                path: sim.path().to_owned(),
                kind: CardReaderKind::Serial,
                framing: Framing::StxEtx,
                baud: 9600,
            };
            let presenter = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                let _ = sim.send_raw(b"\xff\x00noise\x0204A1");
                let _ = sim.present("04A1B2C3D4E5F6");
                std::thread::sleep(Duration::from_millis(500));
            });
            let c = check_card(&target, Duration::from_secs(10), &|_| {});
            let _ = presenter.join();
            c
        }
        Err(e) => Steps::new("card_reader").done(false, format!("cannot start the simulator: {e}")),
    });
    checks.push(match InputFifo::create(&scratch.join("touch")) {
        Ok(mut fifo) => {
            let path = fifo.path().to_owned();
            let player = std::thread::spawn(move || {
                let _ = fifo.send(Recording::new().tap(2048, 2048, 50).corners());
                std::thread::sleep(Duration::from_millis(500));
            });
            let c = check_touch(&path, Duration::from_secs(10), &|_| {});
            let _ = player.join();
            c
        }
        Err(e) => Steps::new("touchscreen").done(false, format!("cannot create the FIFO: {e}")),
    });
    Report::new("simulators", checks)
}
