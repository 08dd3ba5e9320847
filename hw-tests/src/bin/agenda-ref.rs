//! `agenda-ref`: the reference agenda system as a process, for the local demo.
//!
//! ```text
//! agenda-ref --listen 127.0.0.1:9400 [--token T] [--fleet URL --fleet-token T --progress-after S]
//! ```

use std::time::Duration;

use anyhow::Context;
use hw_tests::agenda::{AgendaRef, AutoProgress};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let opt = |n: &str| {
        args.iter()
            .position(|a| a == n)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let listen = opt("--listen")
        .unwrap_or_else(|| "127.0.0.1:9400".into())
        .parse()
        .context("--listen")?;
    let auto = match (opt("--fleet"), opt("--fleet-token")) {
        (Some(fleet_url), Some(token)) => Some(AutoProgress {
            fleet_url,
            token,
            after: Duration::from_secs(
                opt("--progress-after")
                    .map(|s| s.parse())
                    .transpose()?
                    .unwrap_or(20),
            ),
        }),
        _ => None,
    };
    let agenda = AgendaRef::start(listen, opt("--token"), auto).await?;
    println!("agenda-ref listening on {}", agenda.url());
    tokio::signal::ctrl_c().await?;
    println!(
        "agenda-ref: {} submissions received ({} posts)",
        agenda.received().len(),
        agenda.posts()
    );
    Ok(())
}
