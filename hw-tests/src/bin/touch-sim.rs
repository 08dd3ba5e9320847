//! `touch-sim`: a touchscreen without `/dev/uinput`, for the local system.
//!
//! ```text
//! touch-sim serve FIFO [--every-ms N]   create FIFO, and tap at a random spot every N ms
//!                                       (default 4000) once the agent opens it; when the agent
//!                                       goes away, wait for it again
//! touch-sim corners FIFO                the technician's four-corner test, once
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use std::time::Duration;

use hw_tests::touchsim::{AXIS_MAX, InputFifo, Recording};

fn random_point() -> (i32, i32) {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    let pick = |hi: u8, lo: u8| i32::from(u16::from_le_bytes([hi, lo])) % (AXIS_MAX + 1);
    (pick(b[0], b[1]), pick(b[2], b[3]))
}

/// A touchscreen without /dev/uinput: evdev records through a FIFO the agent reads.
#[derive(Debug, Parser)]
#[command(name = "touch-sim", version)]
enum Cli {
    /// Creates FIFO and taps at a random spot every N ms once the agent opens it; when the
    /// agent goes away, waits for it again.
    Serve {
        /// The FIFO.
        fifo: PathBuf,
        /// Milliseconds between taps.
        #[arg(long, value_name = "N", default_value_t = 4_000)]
        every_ms: u64,
    },
    /// The technician's four-corner test, once.
    Corners {
        /// The FIFO.
        fifo: PathBuf,
    },
}

fn run(cli: Cli) -> Result<(), String> {
    let (Cli::Serve { fifo: path, .. } | Cli::Corners { fifo: path }) = &cli;
    let path = path.clone();
    let mut fifo = InputFifo::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    match cli {
        Cli::Corners { .. } => fifo
            .send(Recording::new().corners())
            .map_err(|e| e.to_string()),
        Cli::Serve { every_ms, .. } => {
            println!("{}", path.display());
            loop {
                let (x, y) = random_point();
                if let Err(e) = fifo.send(Recording::new().tap(x, y, 90)) {
                    eprintln!("touch-sim: the agent went away ({e}); waiting for it");
                    fifo.unplug();
                }
                std::thread::sleep(Duration::from_millis(every_ms));
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("touch-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
