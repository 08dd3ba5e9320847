//! `kiosk-sim`: N simulated kiosks against a fleet server (see `hw_tests::kiosksim`).
//!
//! ```text
//! kiosk-sim --fleet URL (--admin-token T | --admin-token-file F) [--count 23]
//!           [--prefix ostrava-sim] [--group default] [--interval 30]
//!           [--submissions-per-hour 2] [--faults SCRIPT] [--state FILE] [--run-for SECONDS]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use hw_tests::kiosksim::{SimConfig, parse_script, run};

/// Simulated kiosks against a fleet server: they enrol, send heartbeats and submissions, and
/// fail as the fault script says.
#[derive(Debug, Parser)]
#[command(name = "kiosk-sim", version)]
struct Cli {
    /// The fleet server.
    #[arg(long, value_name = "URL")]
    fleet: String,
    /// The admin token (to issue the kiosks' bootstrap tokens).
    #[arg(
        long,
        value_name = "T",
        conflicts_with = "admin_token_file",
        required_unless_present = "admin_token_file"
    )]
    admin_token: Option<String>,
    /// A file holding the admin token.
    #[arg(long, value_name = "F")]
    admin_token_file: Option<PathBuf>,
    /// How many kiosks, 1 to 100000.
    #[arg(long, value_name = "N", default_value_t = 23, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    count: u64,
    /// Their ids' prefix.
    #[arg(long, value_name = "P", default_value = "ostrava-sim")]
    prefix: String,
    /// Their group.
    #[arg(long, value_name = "G", default_value = "default")]
    group: String,
    /// Seconds between heartbeats.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,
    /// Submissions per kiosk and hour.
    #[arg(long, value_name = "X", default_value_t = 2.0)]
    submissions_per_hour: f64,
    /// Faults: KIND@START[+DURATION]:KIOSK, comma-separated.
    #[arg(long, value_name = "SCRIPT")]
    faults: Option<String>,
    /// Keeps the kiosks' credentials here between runs.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Stops after this many seconds.
    #[arg(long, value_name = "S")]
    run_for: Option<u64>,
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let result = config(Cli::parse()).and_then(|c| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(run(c))
    });
    protocol::cli::finish("kiosk-sim", result)
}

/// The simulation's configuration from the command line.
fn config(cli: Cli) -> anyhow::Result<SimConfig> {
    let admin_token = match (cli.admin_token, cli.admin_token_file) {
        (Some(t), _) => t,
        (None, Some(f)) => std::fs::read_to_string(&f)
            .with_context(|| format!("cannot read {}", f.display()))?
            .trim()
            .to_owned(),
        (None, None) => bail!("an admin token is needed"),
    };
    if admin_token.is_empty() {
        bail!("the admin token is empty");
    }
    Ok(SimConfig {
        fleet_url: cli.fleet,
        admin_token,
        count: usize::try_from(cli.count).context("--count")?,
        prefix: cli.prefix,
        group: cli.group,
        interval_s: cli.interval,
        submissions_per_hour: cli.submissions_per_hour,
        faults: match cli.faults {
            Some(script) => parse_script(&script).map_err(anyhow::Error::msg)?,
            None => Vec::new(),
        },
        state_file: cli.state,
        run_for_s: cli.run_for,
    })
}
