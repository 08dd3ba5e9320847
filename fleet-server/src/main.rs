//! `fleet-server`: serve, or administer the store from the command line.
//!
//! ```text
//! fleet-server [--config PATH] serve
//! fleet-server [--config PATH] token KIOSK_ID --name NAME [--group GROUP] [--ttl-hours H]
//! fleet-server [--config PATH] publish CATALOG.json
//! fleet-server [--config PATH] user add NAME --role ROLE      (password on stdin)
//! fleet-server [--config PATH] user password NAME             (password on stdin)
//! fleet-server [--config PATH] user unlock NAME
//! fleet-server [--config PATH] user list
//! fleet-server [--config PATH] console-code KIOSK_ID           (the serial console's code now)
//! ```
//!
//! `user add NAME --role admin` makes the first admin, who makes everyone else on the
//! dashboard. The password is read from the first line of standard input (so it is in
//! neither the shell's history nor the process list).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use fleet_server::config::{Config, DEFAULT_PATH};
use fleet_server::ops::{
    catalog::check_catalog,
    tokens::{TokenRequest, issue_token},
};

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
            "usage: fleet-server [--config PATH] serve | token KIOSK_ID --name NAME [--group G] [--ttl-hours H] | publish FILE | user add NAME --role viewer|operator|release_manager|admin | user password NAME | user unlock NAME | user list | console-code KIOSK_ID"
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
        "user" => user(&config, &args[1..]),
        "console-code" => {
            let kiosk = args.get(1).context("console-code needs a kiosk id")?;
            let store = fleet_server::run::open_store(&config)?;
            let hash = store
                .credential_hash(kiosk)?
                .with_context(|| format!("no enrolled kiosk {kiosk:?}"))?;
            let now = fleet_server::now_ms() / 1000;
            let (code, left) = protocol::totp::code(&protocol::totp::secret(&hash), now);
            store.audit(&fleet_server::store::AuditEntry {
                at: fleet_server::now_ms(),
                actor: "cli".into(),
                action: "kiosk.console_code".into(),
                target: kiosk.clone(),
                detail: "console code viewed".into(),
            })?;
            println!("{code}\t{left} s left");
            Ok(())
        }
        other => bail!("unknown command {other:?}; try --help"),
    }
}

/// `user add|password|unlock|list`.
fn user(config: &Config, args: &[String]) -> anyhow::Result<()> {
    use fleet_server::staff::{self, Role};
    let store = fleet_server::run::open_store(config)?;
    let now = fleet_server::now_ms();
    let sub = args.first().map(String::as_str).unwrap_or("");
    if sub == "list" {
        for u in store.users()? {
            let state = if u.disabled {
                "disabled"
            } else if u.locked_until.is_some_and(|t| t > now) {
                "locked"
            } else {
                "active"
            };
            println!("{}\t{}\t{state}", u.username, u.role);
        }
        return Ok(());
    }
    let name = args
        .get(1)
        .context("give the user name")?
        .to_ascii_lowercase();
    let read_password = || -> anyhow::Result<String> {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    };
    let audit = |action: &str, detail: String| {
        store.audit(&fleet_server::store::AuditEntry {
            at: now,
            actor: "cli".into(),
            action: action.into(),
            target: name.clone(),
            detail,
        })
    };
    match sub {
        "add" => {
            let role = args
                .iter()
                .position(|a| a == "--role")
                .and_then(|i| args.get(i + 1))
                .context("user add needs --role viewer|operator|release_manager|admin")?;
            let role = Role::parse(role).with_context(|| format!("unknown role {role:?}"))?;
            let password = read_password()?;
            staff::create_user(store.as_ref(), &name, role, &password, now)?;
            audit("user.create", format!("role {role}"))?;
            println!("created {name} ({})", role.label());
        }
        "password" => {
            let password = read_password()?;
            staff::check_password(&password)?;
            let hash = staff::hash_password(&password)?;
            store
                .change_user(&name, &fleet_server::store::UserChange::Password(hash))
                .with_context(|| format!("no user {name:?}"))?;
            audit("user.password", "password set".into())?;
            println!("password of {name} set; their sessions ended");
        }
        "unlock" => {
            store
                .change_user(&name, &fleet_server::store::UserChange::Unlock)
                .with_context(|| format!("no user {name:?}"))?;
            audit("user.unlock", "unlocked".into())?;
            println!("{name} unlocked");
        }
        other => bail!("unknown user command {other:?}; try --help"),
    }
    Ok(())
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
