//! Time from "print" to the last byte acknowledged at 115200 baud in the printer simulator,
//! beside the time the bytes need on the wire (10 bits per byte ÷ baud): the ratio is the figure.
//!
//! The simulator paces its reading at the baud rate (a pty has none of its own). A print is the
//! whole proven job: status before (DLE EOT 1, 2, 4), the receipt, GS r 1 answered in order, and
//! status after; the wire time counts every byte of that, both ways.
//!
//! `cargo bench -p kiosk-agent --bench printer [-- JOBS]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed set-up should fail loudly

use std::time::{Duration, Instant};

use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use kiosk_agent::devices::printer::{Charset, EscPosPrinter, Transport, receipt};

const BAUD: u32 = 115_200;

fn main() {
    let jobs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let byte_time = Duration::from_secs_f64(10.0 / f64::from(BAUD));
    let sim = PrinterSim::start(PrinterState {
        byte_delay: byte_time,
        ..Default::default()
    })
    .unwrap();
    let transport = Transport::Serial {
        path: sim.path().to_owned(),
        baud: BAUD,
    };
    let mut printer =
        EscPosPrinter::open(&transport, Duration::from_secs(1), Duration::from_secs(10)).unwrap();
    let content = hw_tests::harness::sample_receipt();
    let job = receipt::encode(&content, Charset::Pc852).unwrap();
    // Out: 3 status requests before and after (3 bytes each), the job, GS r 1. In: 7 replies.
    let wire_bytes = job.len() + 2 * 9 + 3 + 7;
    let wire = byte_time * wire_bytes as u32;
    printer.print(&job).unwrap(); // warm-up
    let mut times = Vec::new();
    for _ in 0..jobs {
        let start = Instant::now();
        printer.print(&job).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "receipt of {} bytes at {BAUD} baud, {jobs} jobs, each proven (status, GS r, status):",
        job.len()
    );
    println!(
        "  wire time (10 bits/byte, {wire_bytes} bytes both ways) : {:>8.1} ms",
        wire.as_secs_f64() * 1e3
    );
    println!(
        "  print to last byte acknowledged, median       : {:>8.1} ms",
        median.as_secs_f64() * 1e3
    );
    println!(
        "  fastest / slowest                              : {:>8.1} / {:.1} ms",
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    println!(
        "  ratio                                          : {:>8.2}  (goal <= 1.2)",
        median.as_secs_f64() / wire.as_secs_f64()
    );
}
