//! `escpos-sim`: the ESC/POS printer simulator on the command line.
//!
//! ```text
//! escpos-sim decode [FILE]     ESC/POS bytes (stdin when FILE is absent or "-") to the receipt
//!                              as text: one line per printed line, [QR] <payload>, [CUT], …;
//!                              skipped commands are reported on stderr
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("escpos-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("decode") => {
            let bytes = match args.get(1).map(String::as_str) {
                None | Some("-") => {
                    let mut b = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut b)
                        .context("cannot read stdin")?;
                    b
                }
                Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}"))?,
            };
            let receipt = hw_tests::escpos::decode(&bytes);
            for w in &receipt.warnings {
                eprintln!("warning: {w}");
            }
            std::io::stdout()
                .lock()
                .write_all(receipt.to_text().as_bytes())?;
            Ok(())
        }
        Some("-h" | "--help") | None => {
            println!(
                "usage: escpos-sim decode [FILE]   (ESC/POS bytes from FILE or stdin, as text)"
            );
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}; try --help"),
    }
}
