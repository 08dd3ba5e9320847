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

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`kioskctl … | head`): nothing left to say.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kioskctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut socket = std::env::var("OKENKO_SOCKET").unwrap_or_else(|_| DEFAULT_SOCKET.into());
    if let Some(i) = args.iter().position(|a| a == "--socket") {
        if i + 1 >= args.len() {
            bail!("--socket needs a path");
        }
        socket = args.remove(i + 1);
        args.remove(i);
    }
    let Some(cmd) = args.first().cloned() else {
        bail!("usage: kioskctl [--socket PATH] info|catalog|devices|notices|submit|status|print");
    };
    let mut client = Client::connect(&socket, Duration::from_secs(30))?;
    match cmd.as_str() {
        "info" | "devices" | "notices" => {
            let body = match cmd.as_str() {
                "info" => RequestBody::KioskInfo,
                "devices" => RequestBody::Devices,
                _ => RequestBody::Notices,
            };
            say!("{}", serde_json::to_string_pretty(&client.call(body)?)?);
        }
        "catalog" => {
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
        }
        "submit" => submit(&mut client, &args[1..])?,
        "status" | "print" => {
            let tracking_code = args
                .get(1)
                .with_context(|| format!("{cmd} needs a tracking code"))?
                .clone();
            let body = if cmd == "status" {
                RequestBody::Status { tracking_code }
            } else {
                RequestBody::PrintReceipt { tracking_code }
            };
            say!("{}", serde_json::to_string_pretty(&client.call(body)?)?);
        }
        other => bail!("unknown command {other:?}"),
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

fn submit(client: &mut Client, args: &[String]) -> anyhow::Result<()> {
    let service_id = args.first().context("submit needs a service id")?;
    let ResponseBody::Catalog(catalog) = client.call(RequestBody::Catalog)? else {
        bail!("unexpected reply");
    };
    let service = catalog
        .services
        .iter()
        .find(|s| &s.id == service_id)
        .with_context(|| format!("service {service_id:?} is not in this kiosk's catalog"))?;
    let mut language = Lang::Cs;
    let mut values = FormValues::new();
    let mut rest = args[1..].iter();
    while let Some(a) = rest.next() {
        if a == "--lang" {
            let l = rest.next().context("--lang needs cs, en or uk")?;
            language = serde_json::from_value(serde_json::Value::String(l.clone()))
                .with_context(|| format!("unknown language {l:?}"))?;
            continue;
        }
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
