//! `kiosk-agent [--config PATH]`: the kiosk's daemon. See the crate docs.

use std::path::PathBuf;
use std::process::ExitCode;

use kiosk_agent::config::{Config, DEFAULT_PATH};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiosk-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = PathBuf::from(DEFAULT_PATH);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => {
                path = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--config needs a path"))?
                    .into();
            }
            "--version" | "-V" => {
                println!("kiosk-agent {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--help" | "-h" => {
                println!("usage: kiosk-agent [--config PATH]   (default {DEFAULT_PATH})");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; try --help"),
        }
    }
    let config = Config::from_file(&path)?;
    kiosk_agent::logging::init(&config.log.filter);
    match kiosk_agent::run::run(config)? {
        kiosk_agent::run::Ended::Stopped => Ok(()),
        kiosk_agent::run::Ended::Restart => {
            // Provisioned: the same program again, with the same arguments and process id (so
            // systemd's watchdog and notifications follow), reading its new configuration.
            use std::os::unix::process::CommandExt;
            let exe = std::env::current_exe()?;
            let err = std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .exec();
            Err(anyhow::anyhow!("cannot restart the agent: {err}"))
        }
    }
}
