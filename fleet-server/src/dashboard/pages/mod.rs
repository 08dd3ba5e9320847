//! The dashboard's pages and their live regions. A region is a function of the store's data
//! that returns an element with a fixed `id`; the page shows it, and [`super::live`] sends it
//! anew after a change. One file per page; what several pages share is here.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use protocol::UnixMillis;
use protocol::app::{DeviceKind, DeviceState};
use protocol::fleet::Heartbeat;
use serde::Deserialize;

use super::chart::{self, Chart, Kind};
use super::{
    Flash, Page, Shell, ago, csrf_field, esc, forbidden, groups_text, page, urlencode, when,
};
use crate::alerts::AlertKind;
use crate::http::AppError;
use crate::staff::{Role, Staff};
use crate::state::{AppState, blocking};
use crate::store::{Alert, KioskRecord};

mod alerts;
mod audit;
mod catalog;
mod kiosk;
mod overview;
mod requests;
mod sla;
mod users;

pub use alerts::*;
pub use audit::*;
pub use catalog::*;
pub use kiosk::*;
pub use overview::*;
pub use requests::*;
pub use sla::*;
pub use users::*;

/// How a kiosk is doing, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Working.
    Ok,
    /// Needs attention soon (paper near its end, clock skew…).
    Warn,
    /// Cannot serve citizens fully (paper out, device missing…).
    Bad,
    /// Silent, or never enrolled.
    Off,
}

impl Level {
    fn class(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Bad => "bad",
            Level::Off => "off",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Ok => "Working",
            Level::Warn => "Attention",
            Level::Bad => "Fault",
            Level::Off => "Offline",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        [Level::Ok, Level::Warn, Level::Bad, Level::Off]
            .into_iter()
            .find(|l| l.class() == s)
    }
}

fn alert_level(kind: AlertKind) -> Level {
    if kind.is_warning() {
        Level::Warn
    } else {
        Level::Bad
    }
}

/// `ok` / `err` and their `sig` beside other query fields.
#[derive(Debug, Default, Deserialize)]
pub struct FlashFields {
    ok: Option<String>,
    err: Option<String>,
    sig: Option<String>,
}

impl From<FlashFields> for Flash {
    fn from(f: FlashFields) -> Flash {
        Flash {
            ok: f.ok,
            err: f.err,
            sig: f.sig,
        }
    }
}

/// `view=…&k=v…` for `data-live`.
fn live_query(view: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut s = format!("view={view}");
    for (k, v) in params {
        if let Some(v) = v {
            let _ = write!(s, "&{k}={}", urlencode(v));
        }
    }
    s
}

async fn open_alert_count(state: &AppState) -> Result<usize, AppError> {
    Ok(blocking(state, |s| s.alerts(true, 100_000)).await?.len())
}

// ---- kiosk detail ----

fn parse_day(day: &str) -> Option<(i64, u32, u32)> {
    let mut it = day.split('-');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

// ---- alerts ----

/// A table of alerts; open ones get an acknowledge form for operators.
fn alert_table(alerts: &[Alert], now: UnixMillis, staff: &Staff, with_kiosk: bool) -> String {
    let mut s = String::from("<table><thead><tr>");
    if with_kiosk {
        s.push_str("<th>Kiosk</th>");
    }
    s.push_str("<th>Alert</th><th>Detail</th><th>Opened</th><th>State</th></tr></thead><tbody>");
    for a in alerts {
        let level = alert_level(a.kind);
        let state = match (a.resolved_at, a.acked_at) {
            (Some(r), _) => format!(
                "<span class=\"badge ok\">resolved</span> <span class=\"small muted\">{} after {}</span>",
                ago(now, r),
                duration(r - a.opened_at)
            ),
            (None, Some(_)) => format!(
                "<span class=\"badge warn\">acknowledged</span><div class=\"small\">{}: {}</div>",
                esc(a.acked_by.as_deref().unwrap_or("")),
                esc(a.ack_comment.as_deref().unwrap_or(""))
            ),
            (None, None) if staff.may(Role::Operator) => format!(
                "<form class=\"row\" method=\"post\" action=\"/dashboard/alerts/{id}/ack\">{csrf}\
                 <input name=\"comment\" required maxlength=\"2000\" placeholder=\"What is being done\" \
                 aria-label=\"Comment for alert {id}\">\
                 <button type=\"submit\">Acknowledge</button></form>",
                id = a.id,
                csrf = csrf_field(staff)
            ),
            (None, None) => "<span class=\"badge bad\">open</span>".into(),
        };
        let _ = write!(
            s,
            "<tr id=\"alert-{}\" data-kind=\"{}\">",
            a.id,
            a.kind.as_str()
        );
        if with_kiosk {
            let _ = write!(
                s,
                "<td><a href=\"/dashboard/kiosks/{k}\">{k}</a></td>",
                k = esc(&a.kiosk_id)
            );
        }
        let _ = write!(
            s,
            "<td><span class=\"badge {c}\">{k}</span></td><td>{d}</td>\
             <td class=\"small\">{w}<div class=\"muted\">{ago}</div></td><td>{state}</td></tr>",
            c = if a.resolved_at.is_some() {
                "off"
            } else {
                level.class()
            },
            k = esc(a.kind.label()),
            d = esc(&a.detail),
            w = when(a.opened_at),
            ago = ago(now, a.opened_at),
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// `3 min`, `2 h 5 min`.
fn duration(ms: i64) -> String {
    let m = (ms / 60_000).max(0);
    if m < 60 {
        format!("{m} min")
    } else {
        format!("{} h {} min", m / 60, m % 60)
    }
}
