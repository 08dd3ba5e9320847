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

use hw_tests::selftest::{self, CardTarget, Targets};
use kiosk_agent::config::{CardReaderKind, Config};
use kiosk_agent::devices::card::Framing;
use kiosk_agent::devices::printer::{Charset, Transport};

const USAGE: &str = "usage: kiosk-hwtest [--json] [--config FILE] [--printer PATH|HOST:PORT] \
[--printer-usb] [--charset pc852|ascii] [--card-reader PATH] [--card-kind serial|keyboard] \
[--framing stx_etx|line] [--baud N] [--touch PATH|auto] [--timeout SECONDS] [--watch-printer SECONDS]";

struct Args {
    json: bool,
    config: Option<PathBuf>,
    targets: Targets,
    card_kind: CardReaderKind,
    framing: Framing,
    baud: u32,
    usb: bool,
    any_device: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        json: false,
        config: None,
        targets: Targets {
            timeout: Duration::from_secs(30),
            ..Targets::default()
        },
        card_kind: CardReaderKind::Serial,
        framing: Framing::StxEtx,
        baud: 9600,
        usb: false,
        any_device: false,
    };
    let mut card_path = None;
    let mut printer = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let secs = |v: String, name: &str| {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{name}: not a number of seconds: {v}"))
        };
        match arg.as_str() {
            "--json" => a.json = true,
            "--config" => a.config = Some(value("--config")?.into()),
            "--printer" => printer = Some(value("--printer")?),
            "--printer-usb" => a.usb = true,
            "--charset" => {
                a.targets.charset = match value("--charset")?.as_str() {
                    "pc852" => Charset::Pc852,
                    "ascii" => Charset::Ascii,
                    other => return Err(format!("--charset: pc852 or ascii, not {other}")),
                }
            }
            "--card-reader" => card_path = Some(PathBuf::from(value("--card-reader")?)),
            "--card-kind" => {
                a.card_kind = match value("--card-kind")?.as_str() {
                    "serial" => CardReaderKind::Serial,
                    "keyboard" => CardReaderKind::Keyboard,
                    other => return Err(format!("--card-kind: serial or keyboard, not {other}")),
                }
            }
            "--framing" => {
                a.framing = match value("--framing")?.as_str() {
                    "stx_etx" => Framing::StxEtx,
                    "line" => Framing::Line,
                    other => return Err(format!("--framing: stx_etx or line, not {other}")),
                }
            }
            "--baud" => {
                let v = value("--baud")?;
                a.baud = v
                    .parse()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or(format!("--baud: not a baud rate: {v}"))?;
            }
            "--touch" => {
                let v = value("--touch")?;
                a.targets.touch = Some(if v == "auto" {
                    kiosk_agent::devices::input::find_touchscreens(std::path::Path::new(
                        "/sys/class/input",
                    ))
                    .into_iter()
                    .next()
                    .ok_or("--touch auto: no input device with touch capabilities")?
                } else {
                    v.into()
                });
            }
            "--timeout" => a.targets.timeout = secs(value("--timeout")?, "--timeout")?,
            "--watch-printer" => {
                a.targets.watch = secs(value("--watch-printer")?, "--watch-printer")?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if let Some(p) = printer {
        a.targets.printer = Some(if a.usb {
            Transport::UsbLp { path: p.into() }
        } else if p.contains(':') && !p.starts_with('/') {
            Transport::Tcp { addr: p }
        } else {
            Transport::detect(p.into(), 115_200)
        });
    }
    if let Some(path) = card_path {
        a.targets.card = Some(CardTarget {
            path,
            kind: a.card_kind,
            framing: a.framing,
            baud: a.baud,
        });
    }
    a.any_device =
        a.targets.printer.is_some() || a.targets.card.is_some() || a.targets.touch.is_some();
    Ok(a)
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
    let mut args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("kiosk-hwtest: {e}");
            }
            eprintln!("{USAGE}");
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
