//! `GET /metrics`: the fleet in Prometheus text format (version 0.0.4), every name prefixed
//! `okenko_`. Per kiosk, from its newest heartbeat: up, last seen, version, each device's state
//! (printer, card reader, touchscreen), the printer's paper and cover, temperature, disk use,
//! outbox length and age, the release it runs and its update state. Fleet-wide: heartbeats
//! received by this process, submissions held, open alerts by kind.
//! Needs the metrics-only token (`server.metrics_token`, read-only, for Prometheus'
//! `authorization` setting), or what the admin API takes (the admin token, a session).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::response::IntoResponse;
use protocol::UnixMillis;
use protocol::app::{DeviceKind, DeviceState, printer_detail};
use protocol::fleet::Heartbeat;

use crate::http::AppError;
use crate::staff::Staff;
use crate::state::{AppState, blocking};
use crate::store::KioskRecord;

/// Who may read the metrics: the bearer of the metrics token, or staff.
#[derive(Debug)]
pub struct MetricsReader;

impl FromRequestParts<AppState> for MetricsReader {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        if let (Some(token), Some(expected)) = (
            crate::auth::bearer(parts.headers.get(header::AUTHORIZATION)),
            &state.metrics_token_hash,
        ) && crate::auth::constant_time_eq(&crate::auth::hash_secret(token), expected)
        {
            return Ok(MetricsReader);
        }
        Staff::from_request_parts(parts, state)
            .await
            .map(|_| MetricsReader)
    }
}

pub async fn metrics(
    State(state): State<AppState>,
    _: MetricsReader,
) -> Result<impl IntoResponse, AppError> {
    let (kiosks, submissions, alerts) = blocking(&state, |s| {
        Ok((
            s.kiosk_health()?,
            s.submission_count()?,
            s.alerts(true, 1_000_000)?,
        ))
    })
    .await?;
    let mut open: std::collections::BTreeMap<String, u64> = Default::default();
    for a in alerts {
        *open.entry(a.kind.as_str().to_owned()).or_default() += 1;
    }
    let heartbeats = state.heartbeats.load(Ordering::Relaxed);
    let mut body = render(
        &kiosks,
        heartbeats,
        submissions,
        crate::now_ms(),
        state.offline_after_ms,
    );
    let _ = writeln!(
        body,
        "# HELP okenko_alerts_open Open alerts by kind.\n# TYPE okenko_alerts_open gauge"
    );
    for (kind, n) in open {
        let _ = writeln!(body, "okenko_alerts_open{{kind=\"{}\"}} {n}", label(&kind));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

/// A label value with `\`, `"` and newlines escaped as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn device_name(d: DeviceKind) -> &'static str {
    match d {
        DeviceKind::Printer => "printer",
        DeviceKind::CardReader => "card_reader",
        DeviceKind::Touchscreen => "touchscreen",
    }
}

const STATES: [(DeviceState, &str); 5] = [
    (DeviceState::Ok, "ok"),
    (DeviceState::Warning, "warning"),
    (DeviceState::Fault, "fault"),
    (DeviceState::Missing, "missing"),
    (DeviceState::NotConfigured, "not_configured"),
];

/// The printer of a heartbeat, when it answers (paper and cover are known only then).
fn answering_printer(hb: Option<&Heartbeat>) -> Option<&protocol::app::DeviceStatus> {
    hb?.devices.iter().find(|d| {
        d.device == DeviceKind::Printer
            && !matches!(d.state, DeviceState::Missing | DeviceState::NotConfigured)
    })
}

/// The whole exposition.
pub fn render(
    kiosks: &[(KioskRecord, Option<Heartbeat>)],
    heartbeats: u64,
    submissions: u64,
    now: UnixMillis,
    offline_after_ms: i64,
) -> String {
    let mut out = String::new();
    // One metric family: its help and type lines, then its samples.
    let mut family =
        |name: &str,
         kind: &str,
         help: &str,
         sample: &dyn Fn(&KioskRecord, Option<&Heartbeat>, &mut String)| {
            let _ = writeln!(
                out,
                "# HELP okenko_{name} {help}\n# TYPE okenko_{name} {kind}"
            );
            for (k, hb) in kiosks {
                sample(k, hb.as_ref(), &mut out);
            }
        };
    let put = |f: &mut String, name: &str, labels: &str, value: f64| {
        let _ = writeln!(f, "okenko_{name}{{{labels}}} {value}");
    };
    let kiosk = |k: &KioskRecord| format!("kiosk=\"{}\"", label(&k.kiosk_id));

    family(
        "kiosk_up",
        "gauge",
        "1 when the kiosk's last heartbeat is newer than the offline threshold (3 min).",
        &|k, _, f| {
            let up = k.last_seen.is_some_and(|t| now - t <= offline_after_ms);
            put(f, "kiosk_up", &kiosk(k), if up { 1.0 } else { 0.0 });
        },
    );
    family(
        "kiosk_last_seen_timestamp_seconds",
        "gauge",
        "When the kiosk's newest heartbeat was sampled (Unix time).",
        &|k, _, f| {
            if let Some(t) = k.last_seen {
                put(
                    f,
                    "kiosk_last_seen_timestamp_seconds",
                    &kiosk(k),
                    t as f64 / 1000.0,
                );
            }
        },
    );
    family(
        "kiosk_info",
        "gauge",
        "The kiosk's name, group and agent version (always 1).",
        &|k, _, f| {
            let labels = format!(
                "{},name=\"{}\",group=\"{}\",version=\"{}\"",
                kiosk(k),
                label(&k.name),
                label(&k.group),
                label(k.agent_version.as_deref().unwrap_or(""))
            );
            put(f, "kiosk_info", &labels, 1.0);
        },
    );
    family(
        "device_state",
        "gauge",
        "1 for each device's current state (ok, warning, fault, missing, not_configured).",
        &|k, hb, f| {
            for d in hb.map(|h| h.devices.as_slice()).unwrap_or_default() {
                for (state, name) in STATES {
                    let labels = format!(
                        "{},device=\"{}\",state=\"{name}\"",
                        kiosk(k),
                        device_name(d.device)
                    );
                    put(
                        f,
                        "device_state",
                        &labels,
                        f64::from(u8::from(d.state == state)),
                    );
                }
            }
        },
    );
    family(
        "device_present",
        "gauge",
        "1 when the device answers (ok, warning or fault), 0 when missing.",
        &|k, hb, f| {
            for d in hb.map(|h| h.devices.as_slice()).unwrap_or_default() {
                if d.state == DeviceState::NotConfigured {
                    continue;
                }
                let present = d.state != DeviceState::Missing;
                let labels = format!("{},device=\"{}\"", kiosk(k), device_name(d.device));
                put(f, "device_present", &labels, f64::from(u8::from(present)));
            }
        },
    );
    family(
        "printer_paper",
        "gauge",
        "1 for the printer's paper state (ok, near_end, out).",
        &|k, hb, f| {
            let Some(p) = answering_printer(hb) else {
                return;
            };
            let paper = printer_detail::paper(p.detail.as_deref().unwrap_or(""));
            for s in ["ok", "near_end", "out"] {
                let labels = format!("{},state=\"{s}\"", kiosk(k));
                put(f, "printer_paper", &labels, f64::from(u8::from(s == paper)));
            }
        },
    );
    family(
        "printer_cover_open",
        "gauge",
        "1 when the printer's cover is open.",
        &|k, hb, f| {
            let Some(p) = answering_printer(hb) else {
                return;
            };
            let open = printer_detail::cover_open(p.detail.as_deref().unwrap_or(""));
            put(
                f,
                "printer_cover_open",
                &kiosk(k),
                f64::from(u8::from(open)),
            );
        },
    );
    family(
        "kiosk_temperature_celsius",
        "gauge",
        "The kiosk computer's hottest sensor.",
        &|k, hb, f| {
            if let Some(t) = hb.and_then(|h| h.system.as_ref()?.temperature_c) {
                put(f, "kiosk_temperature_celsius", &kiosk(k), f64::from(t));
            }
        },
    );
    family(
        "kiosk_disk_used_ratio",
        "gauge",
        "Share of the data partition in use (0 to 1).",
        &|k, hb, f| {
            let s = hb.and_then(|h| h.system.as_ref());
            if let Some((total, free)) = s.and_then(|s| Some((s.disk_total_kb?, s.disk_free_kb?)))
                && total > 0
            {
                let used = 1.0 - free.min(total) as f64 / total as f64;
                put(f, "kiosk_disk_used_ratio", &kiosk(k), used);
            }
        },
    );
    family(
        "kiosk_outbox_length",
        "gauge",
        "Submissions waiting on the kiosk for upload.",
        &|k, hb, f| {
            if let Some(h) = hb {
                put(f, "kiosk_outbox_length", &kiosk(k), h.outbox_len as f64);
            }
        },
    );
    family(
        "kiosk_outbox_oldest_age_seconds",
        "gauge",
        "Age of the oldest submission waiting on the kiosk (0 when none waits).",
        &|k, hb, f| {
            if let Some(h) = hb {
                let age = h.outbox_oldest_age_s.unwrap_or(0);
                put(f, "kiosk_outbox_oldest_age_seconds", &kiosk(k), age as f64);
            }
        },
    );
    family(
        "kiosk_release_info",
        "gauge",
        "The release the kiosk runs and its boot slot (always 1).",
        &|k, hb, f| {
            if let Some(u) = hb.and_then(|h| h.update.as_ref()) {
                let labels = format!(
                    "{},release=\"{}\",slot=\"{}\"",
                    kiosk(k),
                    label(&u.running),
                    label(&u.slot)
                );
                put(f, "kiosk_release_info", &labels, 1.0);
            }
        },
    );
    family(
        "kiosk_update_state",
        "gauge",
        "1 for the kiosk's update state (idle, downloading, verifying, waiting, installing, \
         rebooting, trial, succeeded, failed, rolled_back).",
        &|k, hb, f| {
            if let Some(u) = hb.and_then(|h| h.update.as_ref()) {
                for s in protocol::fleet::UpdateState::ALL {
                    let labels = format!("{},state=\"{}\"", kiosk(k), s.as_str());
                    put(
                        f,
                        "kiosk_update_state",
                        &labels,
                        f64::from(u8::from(u.state == s)),
                    );
                }
            }
        },
    );
    let _ = writeln!(
        out,
        "# HELP okenko_kiosks Kiosks known to the fleet.\n# TYPE okenko_kiosks gauge\nokenko_kiosks {}",
        kiosks.len()
    );
    let _ = writeln!(
        out,
        "# HELP okenko_heartbeats_total Heartbeats received since this server started.\n\
         # TYPE okenko_heartbeats_total counter\nokenko_heartbeats_total {heartbeats}"
    );
    let _ = writeln!(
        out,
        "# HELP okenko_submissions_total Submissions the fleet holds.\n\
         # TYPE okenko_submissions_total counter\nokenko_submissions_total {submissions}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric the Grafana dashboard queries is one this server exports.
    #[test]
    fn the_grafana_dashboard_asks_only_for_metrics_that_exist() {
        let text = render(&[], 0, 0, 0, 180_000);
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../grafana/okenko-fleet.json"))
                .expect("the dashboard is JSON");
        let mut exprs = Vec::new();
        for panel in dashboard["panels"].as_array().expect("panels") {
            for t in panel["targets"].as_array().expect("targets") {
                exprs.push(t["expr"].as_str().expect("expr").to_owned());
            }
        }
        assert!(exprs.len() >= 10);
        for expr in &exprs {
            let mut rest = expr.as_str();
            while let Some(i) = rest.find("okenko_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    text.contains(&format!("# TYPE {name} ")),
                    "{expr}: {name} is not exported"
                );
                rest = &rest[i + name.len()..];
            }
        }
    }
}
