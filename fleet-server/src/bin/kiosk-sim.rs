//! `kiosk-sim`: N simulated kiosks against a fleet server (see `fleet_server::sim`).
//!
//! ```text
//! kiosk-sim --fleet URL (--admin-token T | --admin-token-file F) [--count 23]
//!           [--prefix ostrava-sim] [--group default] [--interval 30]
//!           [--submissions-per-hour 2] [--faults SCRIPT] [--state FILE] [--run-for SECONDS]
//! ```

use std::process::ExitCode;

use anyhow::{Context, bail};
use fleet_server::sim::{SimConfig, parse_script, run};

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match config().and_then(|c| match c {
        // --help
        None => Ok(()),
        Some(c) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(run(c)),
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiosk-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration from the arguments; `None` after printing the usage.
fn config() -> anyhow::Result<Option<SimConfig>> {
    let mut c = SimConfig {
        fleet_url: String::new(),
        admin_token: String::new(),
        count: 23,
        prefix: "ostrava-sim".into(),
        group: "default".into(),
        interval_s: 30,
        submissions_per_hour: 2.0,
        faults: Vec::new(),
        state_file: None,
        run_for_s: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--help" || a == "-h" {
            println!(
                "usage: kiosk-sim --fleet URL (--admin-token T | --admin-token-file F) [--count N] \
                 [--prefix P] [--group G] [--interval S] [--submissions-per-hour X] \
                 [--faults KIND@START[+DURATION]:KIOSK,...] [--state FILE] [--run-for S]"
            );
            return Ok(None);
        }
        let v = args.next().with_context(|| format!("{a} needs a value"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .with_context(|| format!("{a}: {v:?} is not a number"))
        };
        match a.as_str() {
            "--fleet" => c.fleet_url = v,
            "--admin-token" => c.admin_token = v,
            "--admin-token-file" => {
                c.admin_token = std::fs::read_to_string(&v)
                    .with_context(|| format!("cannot read {v}"))?
                    .trim()
                    .to_owned()
            }
            "--count" => c.count = num(&v)? as usize,
            "--prefix" => c.prefix = v,
            "--group" => c.group = v,
            "--interval" => c.interval_s = num(&v)?.max(1),
            "--submissions-per-hour" => {
                c.submissions_per_hour = v
                    .parse()
                    .with_context(|| format!("{a}: {v:?} is not a number"))?
            }
            "--faults" => c.faults = parse_script(&v).map_err(anyhow::Error::msg)?,
            "--state" => c.state_file = Some(v.into()),
            "--run-for" => c.run_for_s = Some(num(&v)?),
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if c.fleet_url.is_empty() || c.admin_token.is_empty() {
        bail!("--fleet and an admin token are required (see --help)");
    }
    if c.count == 0 || c.count > 100_000 {
        bail!("--count must be 1 to 100000");
    }
    Ok(Some(c))
}
