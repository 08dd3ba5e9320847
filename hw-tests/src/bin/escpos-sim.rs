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
            let mut file = None;
            let mut png = None;
            let mut paper = hw_tests::escpos::render::WIDTH_80MM;
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--png" => png = Some(it.next().context("--png needs a file name")?),
                    "--paper-width" => {
                        paper = match it.next().map(String::as_str) {
                            Some("80") => hw_tests::escpos::render::WIDTH_80MM,
                            Some("58") => hw_tests::escpos::render::WIDTH_58MM,
                            other => bail!("--paper-width: 80 or 58, not {other:?}"),
                        }
                    }
                    f if file.is_none() => file = Some(f.to_owned()),
                    other => bail!("unexpected argument {other:?}"),
                }
            }
            let bytes = match file.as_deref() {
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
            if let Some(out) = png {
                let image = hw_tests::escpos::render::to_png(&receipt, paper)
                    .context("cannot encode the image")?;
                std::fs::write(out, image).with_context(|| format!("cannot write {out}"))?;
            }
            Ok(())
        }
        Some("serve") => serve(&args[1..]),
        Some("-h" | "--help") | None => {
            println!(
                "usage: escpos-sim decode [FILE] [--png OUT] [--paper-width 80|58]   (ESC/POS bytes from FILE or stdin, as text and optionally as an image)"
            );
            println!(
                "       escpos-sim serve [--baud N] [--paper ok|near-end|out] [--cover-open] [--off]"
            );
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}; try --help"),
    }
}

fn serve(args: &[String]) -> anyhow::Result<()> {
    use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let mut state = PrinterState {
        cover_open: args.iter().any(|a| a == "--cover-open"),
        off: args.iter().any(|a| a == "--off"),
        ..Default::default()
    };
    state.paper = match opt("--paper").map(String::as_str) {
        None | Some("ok") => Paper::Ok,
        Some("near-end") => Paper::NearEnd,
        Some("out") => Paper::Out,
        Some(other) => bail!("--paper takes ok, near-end or out, not {other:?}"),
    };
    if let Some(baud) = opt("--baud") {
        let baud: u32 = baud.parse().context("--baud")?;
        if baud == 0 {
            bail!("--baud must be greater than 0");
        }
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
