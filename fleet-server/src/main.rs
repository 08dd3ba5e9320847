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
//! fleet-server [--config PATH] migrate                         (brings the database's schema up)
//! fleet-server copy --from sqlite://PATH --to postgres://…      (a city's data into PostgreSQL)
//! ```
//!
//! `user add NAME --role admin` makes the first admin, who makes everyone else on the
//! dashboard. The password is read from the first line of standard input (so it is in
//! neither the shell's history nor the process list).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fleet_server::config::{Config, DEFAULT_PATH};
use fleet_server::ops::{
    catalog::check_catalog,
    tokens::{TokenRequest, issue_token},
};

/// Serves the fleet (kiosk API, admin API, dashboard), or administers its store.
#[derive(Debug, Parser)]
#[command(name = "fleet-server", version)]
struct Cli {
    /// The configuration file.
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_PATH, global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves HTTP(S) until SIGTERM or SIGINT (the default).
    Serve,
    /// Issues a kiosk's bootstrap token (printed once; the store keeps its hash).
    Token {
        /// The kiosk's fleet id, e.g. ostrava-01.
        kiosk_id: String,
        /// Its name for people (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// Its group.
        #[arg(long, default_value = "default")]
        group: String,
        /// How long the token works.
        #[arg(long, value_name = "H", default_value_t = 72)]
        ttl_hours: u32,
    },
    /// Checks and publishes a catalog of services (JSON).
    Publish {
        /// The catalog.
        file: PathBuf,
    },
    /// Staff accounts; passwords are read from the first line of standard input.
    #[command(subcommand)]
    User(UserCommand),
    /// The serial console's one-time code of a kiosk, now.
    ConsoleCode {
        /// The kiosk's fleet id.
        kiosk_id: String,
    },
    /// Applies the migrations the configured database lacks (`serve` does too), and prints its
    /// schema version.
    Migrate,
    /// Copies a SQLite fleet database into an empty PostgreSQL one (stop the server first),
    /// and counts every table on both sides.
    Copy {
        /// The source, `sqlite:///path/to/fleet.sqlite`.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The target, `postgres://user:password@host/database` (migrated first).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Creates an account (the first admin is made so).
    Add {
        /// The user name.
        name: String,
        /// viewer, operator, release_manager or admin.
        #[arg(long)]
        role: String,
    },
    /// Sets an account's password; its sessions end.
    Password {
        /// The user name.
        name: String,
    },
    /// Lifts a lock after wrong passwords.
    Unlock {
        /// The user name.
        name: String,
    },
    /// Lists the accounts.
    List,
}

fn main() -> ExitCode {
    protocol::cli::finish("fleet-server", run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Copy { from, to }) = &cli.command {
        return copy(from, to);
    }
    let config = Config::from_file(&cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            init_logging(&config.log.filter);
            fleet_server::run::run(config)
        }
        Command::Token {
            kiosk_id,
            name,
            group,
            ttl_hours,
        } => {
            let req = TokenRequest {
                name: name.unwrap_or_else(|| kiosk_id.clone()),
                group,
                ttl_hours,
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
        Command::Publish { file } => {
            let shown = file.display();
            let text = std::fs::read(&file).with_context(|| format!("cannot read {shown}"))?;
            let catalog: protocol::fleet::Catalog =
                protocol::json::decode(&text, 64 << 20).with_context(|| shown.to_string())?;
            check_catalog(&catalog).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
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
        Command::User(cmd) => user(&config, cmd),
        Command::Migrate => {
            let location = config.store_location()?;
            fleet_server::run::open_store(&config)?;
            println!("{}: schema up to date", location.display());
            Ok(())
        }
        Command::Copy { .. } => Ok(()),
        Command::ConsoleCode { kiosk_id: kiosk } => {
            let store = fleet_server::run::open_store(&config)?;
            let hash = store
                .credential_hash(&kiosk)?
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
    }
}

/// `copy --from sqlite://… --to postgres://…`.
fn copy(from: &str, to: &str) -> anyhow::Result<()> {
    use fleet_server::store::config::{Location, StoreSection};
    let Location::Sqlite(source) =
        Location::parse(from).map_err(|e| anyhow::anyhow!("--from {e}"))?
    else {
        anyhow::bail!("--from must be a sqlite:// database");
    };
    if !source.is_file() {
        anyhow::bail!("--from: no database at {}", source.display());
    }
    let target = Location::parse(to).map_err(|e| anyhow::anyhow!("--to {e}"))?;
    let Location::Postgres(url) = &target else {
        anyhow::bail!("--to must be a postgres:// database");
    };
    let pg =
        fleet_server::store::postgres::PgStore::open(url, StoreSection::default().pg_settings())
            .with_context(|| format!("cannot open {}", target.display()))?;
    let counts = fleet_server::store::copy::sqlite_to_postgres(&source, &pg, &mut |table, n| {
        eprintln!("copied {table}: {n} rows");
    })?;
    println!("{:<18} {:>10} {:>10}", "table", "source", "target");
    for c in &counts {
        println!("{:<18} {:>10} {:>10}", c.table, c.source, c.target);
    }
    let rows: u64 = counts.iter().map(|c| c.target).sum();
    println!(
        "verified: {} tables, {rows} rows, the same on both sides",
        counts.len()
    );
    Ok(())
}

/// `user add|password|unlock|list`.
fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    use fleet_server::staff::{self, Role};
    let store = fleet_server::run::open_store(config)?;
    let now = fleet_server::now_ms();
    let name = match &cmd {
        UserCommand::List => {
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
        UserCommand::Add { name, .. }
        | UserCommand::Password { name }
        | UserCommand::Unlock { name } => name.to_ascii_lowercase(),
    };
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
    match cmd {
        UserCommand::Add { role, .. } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}: viewer, operator, release_manager or admin")
            })?;
            let password = read_password()?;
            staff::create_user(store.as_ref(), &name, role, &password, now)?;
            audit("user.create", format!("role {role}"))?;
            println!("created {name} ({})", role.label());
        }
        UserCommand::Password { .. } => {
            let password = read_password()?;
            staff::check_password(&password)?;
            let hash = staff::hash_password(&password)?;
            store
                .change_user(&name, &fleet_server::store::UserChange::Password(hash))
                .with_context(|| format!("no user {name:?}"))?;
            audit("user.password", "password set".into())?;
            println!("password of {name} set; their sessions ended");
        }
        UserCommand::Unlock { .. } => {
            store
                .change_user(&name, &fleet_server::store::UserChange::Unlock)
                .with_context(|| format!("no user {name:?}"))?;
            audit("user.unlock", "unlocked".into())?;
            println!("{name} unlocked");
        }
        UserCommand::List => {}
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
