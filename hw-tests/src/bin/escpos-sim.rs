//! `escpos-sim`: the ESC/POS printer simulator on the command line.
//!
//! ```text
//! escpos-sim decode [FILE] [--png OUT] [--paper-width 80|58]
//!                              ESC/POS bytes (stdin when FILE is absent or "-") to the receipt
//!                              as text: one line per printed line, [QR] <payload>, [CUT], …;
//!                              skipped commands are reported on stderr. --png also draws the
//!                              paper as an image (80 mm paper unless told 58)
//! escpos-sim serve [--baud N] [--paper ok|near-end|out] [--cover-open] [--off]
//!                              open a pty, print its path, act as the printer: answer status
//!                              requests and print each job as text when it is cut
//! ```

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// The ESC/POS printer simulator: decodes receipts, or acts as a printer on a pty.
#[derive(Debug, Parser)]
#[command(name = "escpos-sim", version)]
enum Cli {
    /// ESC/POS bytes (stdin when FILE is absent or "-") to the receipt as text: one line per
    /// printed line, [QR] <payload>, [CUT], …; skipped commands are reported on stderr.
    Decode {
        /// The bytes.
        file: Option<PathBuf>,
        /// Also draws the paper as a PNG image.
        #[arg(long, value_name = "OUT")]
        png: Option<PathBuf>,
        /// The paper's width, mm.
        #[arg(long, value_name = "MM", default_value = "80", value_parser = ["80", "58"])]
        paper_width: String,
    },
    /// The sample receipt (the one the docs show), encoded by the agent's own encoder for a
    /// PC852 printer, as decode would show it.
    Sample {
        /// Also draws the paper as a PNG image.
        #[arg(long, value_name = "OUT")]
        png: Option<PathBuf>,
    },
    /// Opens a pty, prints its path, and acts as the printer: answers status requests and
    /// prints each job as text when it is cut.
    Serve {
        /// Emulates a line this slow (bits per second).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        baud: Option<u32>,
        /// The paper.
        #[arg(long, default_value = "ok", value_parser = ["ok", "near-end", "out"])]
        paper: String,
        /// The cover is open.
        #[arg(long)]
        cover_open: bool,
        /// The printer is off: it answers nothing.
        #[arg(long)]
        off: bool,
    },
}

fn main() -> ExitCode {
    protocol::cli::finish("escpos-sim", run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli {
        Cli::Decode {
            file,
            png,
            paper_width,
        } => {
            let paper = if paper_width == "58" {
                hw_tests::escpos::render::WIDTH_58MM
            } else {
                hw_tests::escpos::render::WIDTH_80MM
            };
            let bytes = match file.filter(|f| f.as_os_str() != "-") {
                None => {
                    let mut b = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut b)
                        .context("cannot read stdin")?;
                    b
                }
                Some(path) => std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            };
            show(&bytes, png, paper)
        }
        Cli::Sample { png } => {
            let bytes = kiosk_agent::devices::printer::receipt::encode(
                &hw_tests::harness::sample_receipt(),
                kiosk_agent::devices::printer::Charset::Pc852,
            )
            .context("cannot encode the sample receipt")?;
            show(&bytes, png, hw_tests::escpos::render::WIDTH_80MM)
        }
        Cli::Serve {
            baud,
            paper,
            cover_open,
            off,
        } => serve(baud, &paper, cover_open, off),
    }
}

/// Decodes `bytes`, prints the receipt as text (warnings on stderr) and draws it to `png`.
fn show(bytes: &[u8], png: Option<PathBuf>, paper: u32) -> anyhow::Result<()> {
    let receipt = hw_tests::escpos::decode(bytes);
    for w in &receipt.warnings {
        eprintln!("warning: {w}");
    }
    std::io::stdout()
        .lock()
        .write_all(receipt.to_text().as_bytes())?;
    if let Some(out) = png {
        let image =
            hw_tests::escpos::render::to_png(&receipt, paper).context("cannot encode the image")?;
        std::fs::write(&out, image).with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

fn serve(baud: Option<u32>, paper: &str, cover_open: bool, off: bool) -> anyhow::Result<()> {
    use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};
    let mut state = PrinterState {
        cover_open,
        off,
        ..Default::default()
    };
    state.paper = match paper {
        "near-end" => Paper::NearEnd,
        "out" => Paper::Out,
        _ => Paper::Ok,
    };
    if let Some(baud) = baud {
        state.byte_delay = std::time::Duration::from_secs_f64(10.0 / f64::from(baud));
    }
    let sim = PrinterSim::start(state)?;
    println!("{}", sim.path().display());
    std::io::stdout().flush()?;
    let mut seen = 0;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let jobs = sim.jobs();
        for job in &jobs[seen..] {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "--- job {}{} ---",
                seen + 1,
                if job.paper_ran_out {
                    " (paper ran out)"
                } else {
                    ""
                }
            )?;
            out.write_all(job.receipt.to_text().as_bytes())?;
            out.flush()?;
            seen += 1;
        }
    }
}
