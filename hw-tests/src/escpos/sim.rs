//! The ESC/POS printer as a device on a real pseudo-terminal: a driver opens the pty's path as
//! it would open `/dev/kiosk/printer`, and the simulator decodes what it receives, answers
//! status requests from a configurable state, and records each job (ended by a cut).
//!
//! Fault hooks: paper near end or out, cover open, printer off (no answers at all), slow
//! printing, and paper running out after N bytes of the next job.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::decode::{Decoder, Event};
use super::model::Receipt;

/// Paper supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    /// Plenty.
    #[default]
    Ok,
    /// The near-end sensor sees the roll's end coming.
    NearEnd,
    /// No paper.
    Out,
}

/// What the simulated printer is like now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrinterState {
    /// Switched off or unplugged from power: it answers nothing.
    pub off: bool,
    /// Cover open.
    pub cover_open: bool,
    /// Paper.
    pub paper: Paper,
    /// A recoverable error (e.g. cutter jam).
    pub error: bool,
    /// Paper runs out after this many bytes of the next job.
    pub paper_out_after: Option<usize>,
    /// Time to print each byte (a slow printer).
    pub byte_delay: Duration,
}

impl PrinterState {
    fn can_print(&self) -> bool {
        !self.off && !self.cover_open && self.paper != Paper::Out && !self.error
    }

    /// The answer to `DLE EOT n` (Epson TM status bytes: bits 1 and 4 always set).
    pub fn dle_eot(&self, n: u8) -> u8 {
        let mut b = 0x12;
        match n {
            1 if !self.can_print() => b |= 0x08, // offline
            2 => {
                if self.cover_open {
                    b |= 0x04;
                }
                if self.paper == Paper::Out {
                    b |= 0x20;
                }
                if self.error {
                    b |= 0x40;
                }
            }
            3 if self.error => b |= 0x08, // auto-cutter error
            4 => {
                if self.paper != Paper::Ok {
                    b |= 0x0C;
                }
                if self.paper == Paper::Out {
                    b |= 0x60;
                }
            }
            _ => {}
        }
        b
    }

    /// The answer to `GS r 1` (paper sensor, given in stream order).
    pub fn gs_r(&self) -> u8 {
        let mut b = 0;
        if self.paper != Paper::Ok {
            b |= 0x03;
        }
        if self.paper == Paper::Out {
            b |= 0x0C;
        }
        b
    }
}

/// One job as it came out of the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedJob {
    /// What the paper shows (cut short when the paper ran out).
    pub receipt: Receipt,
    /// The paper ran out during the job.
    pub paper_ran_out: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: PrinterState,
    jobs: Vec<PrintedJob>,
    received: usize,
}

/// A running simulated printer.
#[derive(Debug)]
pub struct PrinterSim {
    path: PathBuf,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrinterSim {
    /// Opens a pty and starts serving on it.
    pub fn start(state: PrinterState) -> std::io::Result<PrinterSim> {
        let (mut master, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let path = PathBuf::from(
            slave
                .name()
                .ok_or_else(|| std::io::Error::other("pty without a name"))?,
        );
        master
            .set_timeout(Duration::from_millis(50))
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Mutex::new(Shared {
            state,
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (Arc::clone(&shared), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("printer-sim".into())
            .spawn(move || serve(master, slave, &sh, &st))?;
        Ok(PrinterSim {
            path,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The device path a driver opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the printer's state (paper out, cover open, off, …).
    pub fn set_state(&self, f: impl FnOnce(&mut PrinterState)) {
        f(&mut self.lock().state);
    }

    /// The state now.
    pub fn state(&self) -> PrinterState {
        self.lock().state.clone()
    }

    /// Jobs printed so far.
    pub fn jobs(&self) -> Vec<PrintedJob> {
        self.lock().jobs.clone()
    }

    /// Bytes received so far.
    pub fn bytes_received(&self) -> usize {
        self.lock().received
    }

    /// Waits until `n` jobs were printed; `false` on time-out.
    pub fn wait_for_jobs(&self, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.lock().jobs.len() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for PrinterSim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut master: TTYPort, _slave: TTYPort, shared: &Mutex<Shared>, stop: &AtomicBool) {
    // `_slave` stays open so the pty keeps working between a driver's closes and reopens.
    let mut decoder = Decoder::new();
    let mut job_bytes = 0usize;
    let mut ran_out_at: Option<usize> = None;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let n = match master.read(&mut buf) {
            Ok(0) => continue,
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                continue;
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let state = shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .state
            .clone();
        if state.off {
            continue; // a printer without power hears nothing
        }
        if !state.byte_delay.is_zero() {
            std::thread::sleep(state.byte_delay * n as u32);
        }
        for &byte in &buf[..n] {
            job_bytes += 1;
            {
                let mut sh = shared.lock().unwrap_or_else(|p| p.into_inner());
                sh.received += 1;
                if let Some(limit) = sh.state.paper_out_after
                    && job_bytes > limit
                    && ran_out_at.is_none()
                {
                    sh.state.paper = Paper::Out;
                    sh.state.paper_out_after = None;
                    ran_out_at = Some(decoder.receipt().blocks.len());
                }
            }
            for event in decoder.feed(&[byte]) {
                let state = shared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .state
                    .clone();
                let reply = match event {
                    Event::StatusRequest(n) => Some(state.dle_eot(n)),
                    Event::TransmitStatus(_) => Some(state.gs_r()),
                    Event::Cut => {
                        let mut receipt = decoder.take_receipt();
                        if let Some(at) = ran_out_at {
                            receipt.blocks.truncate(at);
                        }
                        let job = PrintedJob {
                            receipt,
                            paper_ran_out: ran_out_at.is_some(),
                        };
                        shared
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .jobs
                            .push(job);
                        job_bytes = 0;
                        ran_out_at = None;
                        None
                    }
                };
                if let Some(b) = reply {
                    let _ = master.write_all(&[b]);
                    let _ = master.flush();
                }
            }
        }
    }
}
