//! `touch-sim`: a touchscreen without `/dev/uinput`, for the local system.
//!
//! ```text
//! touch-sim serve FIFO [--every-ms N]   create FIFO, and tap at a random spot every N ms
//!                                       (default 4000) once the agent opens it; when the agent
//!                                       goes away, wait for it again
//! touch-sim corners FIFO                the technician's four-corner test, once
//! ```

use std::process::ExitCode;
use std::time::Duration;

use hw_tests::touchsim::{AXIS_MAX, InputFifo, Recording};

fn random_point() -> (i32, i32) {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    let pick = |hi: u8, lo: u8| i32::from(u16::from_le_bytes([hi, lo])) % (AXIS_MAX + 1);
    (pick(b[0], b[1]), pick(b[2], b[3]))
}

fn run(args: &[String]) -> Result<(), String> {
    let path = args.get(1).ok_or("a FIFO path is required")?;
    let mut fifo =
        InputFifo::create(std::path::Path::new(path)).map_err(|e| format!("{path}: {e}"))?;
    match args.first().map(String::as_str) {
        Some("corners") => fifo
            .send(Recording::new().corners())
            .map_err(|e| e.to_string()),
        Some("serve") => {
            let every = match args.iter().position(|a| a == "--every-ms") {
                Some(i) => args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .ok_or("--every-ms needs a number")?,
                None => 4_000,
            };
            println!("{path}");
            loop {
                let (x, y) = random_point();
                if let Err(e) = fifo.send(Recording::new().tap(x, y, 90)) {
                    eprintln!("touch-sim: the agent went away ({e}); waiting for it");
                    fifo.unplug();
                }
                std::thread::sleep(Duration::from_millis(every));
            }
        }
        _ => Err("usage: touch-sim serve FIFO [--every-ms N] | touch-sim corners FIFO".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("touch-sim: {e}");
            ExitCode::from(2)
        }
    }
}
