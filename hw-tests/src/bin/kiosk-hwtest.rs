//! `kiosk-hwtest`: the hardware self-test, as a technician or CI runs it.
//!
//! ```text
//! kiosk-hwtest [--json]                       against the simulators (the default)
//! kiosk-hwtest --config /etc/okenko/agent.toml [--json] [--timeout S] [--watch-printer S]
//!              the devices the agent is configured with (stop the agent first)
//! kiosk-hwtest [--printer PATH|HOST:PORT] [--printer-usb] [--charset pc852|ascii]
//!              [--card-reader PATH] [--card-kind serial|keyboard] [--framing stx_etx|line]
//!              [--baud N] [--touch PATH|auto] [--timeout S] [--watch-printer S] [--json]
//! ```
//!
//! Prints the report as text (or JSON with `--json`); exits 0 when every check passed, 1 when
//! one failed, 2 on a usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use hw_tests::selftest::{self, CardTarget, Targets};
use kiosk_agent::config::{CardReaderKind, Config};
use kiosk_agent::devices::card::Framing;
use kiosk_agent::devices::printer::{Charset, Transport};

/// The hardware self-test: prints the report as text (or JSON); exits 0 when every check
/// passed, 1 when one failed, 2 on a usage error. Without devices named (here or by --config),
/// it runs against the simulators.
#[derive(Debug, Parser)]
#[command(name = "kiosk-hwtest", version)]
struct Cli {
    /// The report as JSON.
    #[arg(long)]
    json: bool,
    /// The devices an agent's configuration names (stop the agent first).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The receipt printer: a serial or USB device, or HOST:PORT.
    #[arg(long, value_name = "PATH|HOST:PORT")]
    printer: Option<String>,
    /// The printer is a USB printer-class device (/dev/usb/lp0).
    #[arg(long)]
    printer_usb: bool,
    /// The printer's character set.
    #[arg(long, value_parser = ["pc852", "ascii"])]
    charset: Option<String>,
    /// The card reader's device.
    #[arg(long, value_name = "PATH")]
    card_reader: Option<PathBuf>,
    /// How the card reader talks.
    #[arg(long, default_value = "serial", value_parser = ["serial", "keyboard"])]
    card_kind: String,
    /// How a serial card reader frames a card.
    #[arg(long, default_value = "stx_etx", value_parser = ["stx_etx", "line"])]
    framing: String,
    /// The card reader's baud rate.
    #[arg(long, value_name = "N", default_value_t = 9600, value_parser = clap::value_parser!(u32).range(1..))]
    baud: u32,
    /// The touchscreen's event device, or `auto` for the first with touch capabilities.
    #[arg(long, value_name = "PATH|auto")]
    touch: Option<String>,
    /// How long each check waits for the technician, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Watches the printer's state changes this long, seconds.
    #[arg(long, value_name = "SECONDS")]
    watch_printer: Option<u64>,
}

struct Args {
    json: bool,
    config: Option<PathBuf>,
    targets: Targets,
    any_device: bool,
}

/// What the command line asks for.
fn args(cli: Cli) -> Result<Args, String> {
    let mut targets = Targets {
        timeout: Duration::from_secs(cli.timeout),
        ..Targets::default()
    };
    if let Some(w) = cli.watch_printer {
        targets.watch = Duration::from_secs(w);
    }
    if let Some(c) = cli.charset {
        targets.charset = if c == "ascii" {
            Charset::Ascii
        } else {
            Charset::Pc852
        };
    }
    if let Some(v) = cli.touch {
        targets.touch = Some(if v == "auto" {
            kiosk_agent::devices::input::find_touchscreens(std::path::Path::new("/sys/class/input"))
                .into_iter()
                .next()
                .ok_or("--touch auto: no input device with touch capabilities")?
        } else {
            v.into()
        });
    }
    if let Some(p) = cli.printer {
        targets.printer = Some(if cli.printer_usb {
            Transport::UsbLp { path: p.into() }
        } else if p.contains(':') && !p.starts_with('/') {
            Transport::Tcp { addr: p }
        } else {
            Transport::detect(p.into(), 115_200)
        });
    }
    if let Some(path) = cli.card_reader {
        targets.card = Some(CardTarget {
            path,
            kind: if cli.card_kind == "keyboard" {
                CardReaderKind::Keyboard
            } else {
                CardReaderKind::Serial
            },
            framing: if cli.framing == "line" {
                Framing::Line
            } else {
                Framing::StxEtx
            },
            baud: cli.baud,
        });
    }
    let any_device = targets.printer.is_some() || targets.card.is_some() || targets.touch.is_some();
    Ok(Args {
        json: cli.json,
        config: cli.config,
        targets,
        any_device,
    })
}

/// The devices an agent configuration names.
fn from_config(path: &std::path::Path, t: &mut Targets) -> Result<(), String> {
    let c = Config::from_file(path).map_err(|e| e.to_string())?;
    t.printer = c.printer_transport();
    if let Some(p) = &c.printer {
        t.charset = p.charset;
    }
    t.card = c.card_reader.as_ref().map(|r| CardTarget {
        path: r.path.clone(),
        kind: r.kind,
        framing: r.framing,
        baud: r.baud,
    });
    if let Some(ts) = &c.touchscreen {
        t.touch = Some(if ts.path == "auto" {
            kiosk_agent::devices::input::find_touchscreens(std::path::Path::new("/sys/class/input"))
                .into_iter()
                .next()
                .ok_or("touchscreen.path = auto: no input device with touch capabilities")?
        } else {
            ts.path.clone().into()
        });
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = match args(Cli::parse()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kiosk-hwtest: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = args.config.clone() {
        if let Err(e) = from_config(&path, &mut args.targets) {
            eprintln!("kiosk-hwtest: {}: {e}", path.display());
            return ExitCode::from(2);
        }
        args.any_device = true;
    }
    let json = args.json;
    let prompt = |text: &str| {
        if !json {
            println!(">>> {text}");
        } else {
            eprintln!(">>> {text}");
        }
    };
    let report = if args.any_device {
        selftest::run_devices(&args.targets, &prompt)
    } else {
        let scratch = std::env::temp_dir().join(format!("kiosk-hwtest-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&scratch) {
            eprintln!("kiosk-hwtest: cannot create {}: {e}", scratch.display());
            return ExitCode::from(2);
        }
        let r = selftest::run_simulators(&scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        r
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("kiosk-hwtest: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
