//! `kioskctl`: a command-line client of the agent's local socket, the same API the UI uses.
//!
//! ```text
//! kioskctl [--socket PATH] info | catalog | devices | notices
//! kioskctl [--socket PATH] submit SERVICE [--lang cs|en|uk] FIELD=VALUE...
//! kioskctl [--socket PATH] status CODE
//! kioskctl [--socket PATH] print CODE      (the receipt of a submission just made)
//! ```
//! Values are typed from the form definition: numbers for number fields, `yes`/`no` for
//! checkboxes, comma-separated option values for multi-choice.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use agent_client::Client;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use protocol::Lang;
use protocol::app::{RequestBody, ResponseBody, SubmitRequest};
use protocol::form::FieldKind;
use protocol::validate::{FieldValue, FormValues};

const DEFAULT_SOCKET: &str = "/run/okenko/agent.sock";

/// `println!` that returns an error instead of panicking when stdout is closed (`| head`).
macro_rules! say {
    ($($t:tt)*) => {
        writeln!(std::io::stdout().lock(), $($t)*)?
    };
}

/// A command-line client of the agent's local socket, the same API the kiosk app uses.
#[derive(Debug, Parser)]
#[command(name = "kioskctl", version)]
struct Cli {
    /// The agent's socket.
    #[arg(long, value_name = "PATH", env = "OKENKO_SOCKET", default_value = DEFAULT_SOCKET)]
    socket: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The kiosk: its id, name, language, catalog version (JSON).
    Info,
    /// The services and their forms' fields (* marks a required one).
    Catalog,
    /// The devices and their states (JSON).
    Devices,
    /// The notices shown on the home screen (JSON).
    Notices,
    /// Submits a form, as a citizen would; prints the tracking code.
    Submit {
        /// The service.
        service: String,
        /// The citizen's language.
        #[arg(long, value_name = "cs|en|uk", default_value = "cs")]
        lang: String,
        /// The answers, typed from the form: numbers for number fields, yes/no for
        /// checkboxes, comma-separated values for multi-choice.
        #[arg(value_name = "FIELD=VALUE")]
        values: Vec<String>,
    },
    /// Where a request stands (JSON).
    Status {
        /// Its tracking code.
        code: String,
    },
    /// Prints the receipt of a submission just made (JSON).
    Print {
        /// Its tracking code.
        code: String,
    },
}

fn main() -> ExitCode {
    protocol::cli::finish("kioskctl", run(Cli::parse()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut client = Client::connect(&cli.socket, Duration::from_secs(30))?;
    let simple = match cli.command {
        Command::Info => Some(RequestBody::KioskInfo),
        Command::Devices => Some(RequestBody::Devices),
        Command::Notices => Some(RequestBody::Notices),
        Command::Status { code } => Some(RequestBody::Status {
            tracking_code: code,
        }),
        Command::Print { code } => Some(RequestBody::PrintReceipt {
            tracking_code: code,
        }),
        Command::Catalog => {
            let ResponseBody::Catalog(c) = client.call(RequestBody::Catalog)? else {
                bail!("unexpected reply");
            };
            say!(
                "catalog version {} ({} services)",
                c.version,
                c.services.len()
            );
            for s in &c.services {
                say!("  {:<24} v{}  {}", s.id, s.version, s.name.get(Lang::Cs));
                for f in s.form.fields() {
                    let req = if f.required { "*" } else { " " };
                    say!("      {req}{:<20} {}", f.id, kind_name(&f.kind));
                }
            }
            None
        }
        Command::Submit {
            service,
            lang,
            values,
        } => {
            submit(&mut client, &service, &lang, &values)?;
            None
        }
    };
    if let Some(body) = simple {
        say!("{}", serde_json::to_string_pretty(&client.call(body)?)?);
    }
    Ok(())
}

fn kind_name(k: &FieldKind) -> &'static str {
    match k {
        FieldKind::Text { .. } => "text",
        FieldKind::Multiline { .. } => "multiline",
        FieldKind::Number { .. } => "number",
        FieldKind::Date { .. } => "date (YYYY-MM-DD)",
        FieldKind::Choice { .. } => "choice",
        FieldKind::MultiChoice { .. } => "multi-choice (a,b,c)",
        FieldKind::Checkbox => "checkbox (yes/no)",
        FieldKind::Email => "e-mail",
        FieldKind::Phone => "phone",
    }
}

fn submit(
    client: &mut Client,
    service_id: &str,
    lang: &str,
    args: &[String],
) -> anyhow::Result<()> {
    let ResponseBody::Catalog(catalog) = client.call(RequestBody::Catalog)? else {
        bail!("unexpected reply");
    };
    let service = catalog
        .services
        .iter()
        .find(|s| s.id == service_id)
        .with_context(|| format!("service {service_id:?} is not in this kiosk's catalog"))?;
    let language: Lang = serde_json::from_value(serde_json::Value::String(lang.to_owned()))
        .with_context(|| format!("unknown language {lang:?}: cs, en or uk"))?;
    let mut values = FormValues::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .with_context(|| format!("{a:?} is not FIELD=VALUE"))?;
        let field = service
            .form
            .field(k)
            .with_context(|| format!("the form has no field {k:?}"))?;
        let value = match &field.kind {
            FieldKind::Number { .. } => FieldValue::Number(
                v.parse()
                    .with_context(|| format!("{k}: {v:?} is not a number"))?,
            ),
            FieldKind::Checkbox => FieldValue::Bool(matches!(v, "yes" | "true" | "1" | "ano")),
            FieldKind::MultiChoice { .. } => FieldValue::List(
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => FieldValue::Text(v.to_owned()),
        };
        values.insert(k.to_owned(), value);
    }
    let req = SubmitRequest {
        submission_id: uuid::Uuid::new_v4(),
        service_id: service.id.clone(),
        form_version: service.version,
        language,
        values,
        identity: None,
        notify: None,
    };
    match client.call(RequestBody::Submit(req)) {
        Ok(ResponseBody::Submitted(ack)) => {
            say!("{}", ack.tracking_code);
            Ok(())
        }
        Ok(other) => bail!("unexpected reply {other:?}"),
        Err(agent_client::ClientError::Agent(e)) if !e.field_errors.is_empty() => {
            for fe in &e.field_errors {
                let hint = service.form.field(&fe.field).and_then(|f| match &f.kind {
                    FieldKind::Text { pattern_hint, .. } => pattern_hint.as_ref(),
                    _ => None,
                });
                eprintln!("  {}: {}", fe.field, fe.message(language, hint));
            }
            bail!("{}", e.message)
        }
        Err(e) => Err(e.into()),
    }
}
