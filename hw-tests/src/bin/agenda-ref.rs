//! `agenda-ref`: the reference agenda system as a process, for the local demo.
//!
//! ```text
//! agenda-ref --listen 127.0.0.1:9400 [--token T] [--fleet URL --fleet-token T --progress-after S]
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use hw_tests::agenda::{AgendaRef, AutoProgress};

/// The reference agenda system: receives the fleet's submissions, and (with --fleet) moves
/// each request on to its next state after a while, as an office would.
#[derive(Debug, Parser)]
#[command(name = "agenda-ref", version)]
struct Cli {
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9400")]
    listen: SocketAddr,
    /// The token the fleet must present.
    #[arg(long, value_name = "T")]
    token: Option<String>,
    /// The fleet server to push state changes to.
    #[arg(long, value_name = "URL", requires = "fleet_token")]
    fleet: Option<String>,
    /// The fleet's inbound agenda token.
    #[arg(long, value_name = "T", requires = "fleet")]
    fleet_token: Option<String>,
    /// Seconds before a request moves on.
    #[arg(long, value_name = "S", default_value_t = 20)]
    progress_after: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let auto = match (cli.fleet, cli.fleet_token) {
        (Some(fleet_url), Some(token)) => Some(AutoProgress {
            fleet_url,
            token,
            after: Duration::from_secs(cli.progress_after),
        }),
        _ => None,
    };
    let agenda = AgendaRef::start(cli.listen, cli.token, auto).await?;
    println!("agenda-ref listening on {}", agenda.url());
    tokio::signal::ctrl_c().await?;
    println!(
        "agenda-ref: {} submissions received ({} posts)",
        agenda.received().len(),
        agenda.posts()
    );
    Ok(())
}
