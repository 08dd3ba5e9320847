//! `fleet-server`: serve, or administer the store from the command line.
//!
//! ```text
//! fleet-server [--config PATH] serve
//! fleet-server [--config PATH] token KIOSK_ID --name NAME [--group GROUP] [--ttl-hours H]
//! fleet-server [--config PATH] publish CATALOG.json
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use fleet_server::api::admin::{TokenRequest, check_catalog, issue_token};
use fleet_server::config::{Config, DEFAULT_PATH};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = PathBuf::from(DEFAULT_PATH);
    if let Some(i) = args.iter().position(|a| a == "--config" || a == "-c") {
        if i + 1 >= args.len() {
            bail!("--config needs a path");
        }
        path = args.remove(i + 1).into();
        args.remove(i);
    }
    let cmd = args.first().map(String::as_str).unwrap_or("serve");
    if matches!(cmd, "--help" | "-h" | "help") {
        println!(
            "usage: fleet-server [--config PATH] serve | token KIOSK_ID --name NAME [--group G] [--ttl-hours H] | publish FILE"
        );
        return Ok(());
    }
    let config = Config::from_file(&path)?;
    match cmd {
        "serve" => {
            init_logging(&config.log.filter);
            fleet_server::run::run(config)
        }
        "token" => {
            let kiosk_id = args.get(1).context("token needs a kiosk id")?.clone();
            let opt = |name: &str| {
                args.iter()
                    .position(|a| a == name)
                    .and_then(|i| args.get(i + 1))
                    .cloned()
            };
            let req = TokenRequest {
                name: opt("--name").unwrap_or_else(|| kiosk_id.clone()),
                group: opt("--group").unwrap_or_else(|| "default".into()),
                ttl_hours: opt("--ttl-hours")
                    .map(|h| h.parse())
                    .transpose()
                    .context("--ttl-hours")?
                    .unwrap_or(72),
                kiosk_id,
            };
            let store = fleet_server::run::open_store(&config)?;
            let t = issue_token(store.as_ref(), &req).map_err(|e| anyhow::anyhow!("{e}"))?;
            store.audit(&fleet_server::store::AuditEntry {
                at: fleet_server::now_ms(),
                actor: "cli".into(),
                action: "token.issue".into(),
                target: t.kiosk_id.clone(),
                detail: String::new(),
            })?;
            println!("{}", t.token);
            Ok(())
        }
        "publish" => {
            let file = args.get(1).context("publish needs a catalog file")?;
            let text = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
            let catalog: protocol::fleet::Catalog =
                protocol::json::decode(&text, 64 << 20).with_context(|| file.clone())?;
            check_catalog(&catalog).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            let store = fleet_server::run::open_store(&config)?;
            let v = store.publish_catalog(&catalog, fleet_server::now_ms())?;
            store.audit(&fleet_server::store::AuditEntry {
                at: fleet_server::now_ms(),
                actor: "cli".into(),
                action: "catalog.publish".into(),
                target: v.to_string(),
                detail: String::new(),
            })?;
            println!("published catalog version {v}");
            Ok(())
        }
        other => bail!("unknown command {other:?}; try --help"),
    }
}

fn init_logging(filter: &str) {
    let f = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(f)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}
