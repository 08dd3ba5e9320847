//! `kiosk-agent [--config PATH]`: the kiosk's daemon. See the crate docs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kiosk_agent::config::{Config, DEFAULT_PATH};

/// The kiosk's daemon: devices, the offline queue, the fleet, the serial console, and the
/// local socket the kiosk app talks to.
#[derive(Debug, Parser)]
#[command(name = "kiosk-agent", version)]
struct Cli {
    /// The configuration file.
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_PATH)]
    config: PathBuf,
}

fn main() -> ExitCode {
    protocol::cli::finish("kiosk-agent", run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_file(&cli.config)?;
    kiosk_agent::logging::init(&config.log.filter);
    match kiosk_agent::run::run(config)? {
        kiosk_agent::run::Ended::Stopped => Ok(()),
        kiosk_agent::run::Ended::Restart => {
            // Provisioned: the same program again, with the same arguments and process id (so
            // systemd's watchdog and notifications follow), reading its new configuration.
            let err = kiosk_agent::programs::exec_self();
            Err(anyhow::anyhow!("cannot restart the agent: {err}"))
        }
    }
}
