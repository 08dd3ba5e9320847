//! The dashboard's pages and their live regions. A region is a function of the store's data
//! that returns an element with a fixed `id`; the page shows it, and [`super::live`] sends it
//! anew after a change.

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

/// The fleet as the overview needs it.
pub struct Fleet {
    now: UnixMillis,
    offline_after_ms: i64,
    kiosks: Vec<(KioskRecord, Option<Heartbeat>)>,
    open: Vec<Alert>,
}

impl Fleet {
    /// The fleet now.
    pub async fn load(state: &AppState) -> Result<Fleet, AppError> {
        let (kiosks, open) =
            blocking(state, |s| Ok((s.kiosk_health()?, s.alerts(true, 100_000)?))).await?;
        Ok(Fleet {
            now: crate::now_ms(),
            offline_after_ms: state.offline_after_ms,
            kiosks,
            open,
        })
    }

    fn alerts_of(&self) -> HashMap<&str, Vec<&Alert>> {
        let mut m: HashMap<&str, Vec<&Alert>> = HashMap::new();
        for a in &self.open {
            m.entry(a.kiosk_id.as_str()).or_default().push(a);
        }
        m
    }
}

/// How a kiosk is doing at `now`: offline when silent for `offline_after_ms` or never
/// enrolled, else its worst open alert.
fn level(k: &KioskRecord, open: &[&Alert], now: UnixMillis, offline_after_ms: i64) -> Level {
    let silent = k.last_seen.is_none_or(|t| now - t > offline_after_ms);
    if silent || k.enrolled_at.is_none() {
        return Level::Off;
    }
    open.iter()
        .map(|a| alert_level(a.kind))
        .max()
        .unwrap_or(Level::Ok)
}

/// The overview's filters (also the live view's).
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    state: Option<String>,
    group: Option<String>,
    wall: Option<u8>,
    #[serde(flatten)]
    flash: FlashFields,
}

impl OverviewQuery {
    /// Only the filters.
    pub fn filters(state: Option<String>, group: Option<String>) -> OverviewQuery {
        OverviewQuery {
            state,
            group,
            ..OverviewQuery::default()
        }
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

/// The summary and tile regions.
pub fn overview_regions(f: &Fleet, q: &OverviewQuery) -> Vec<(&'static str, String)> {
    let by_kiosk = f.alerts_of();
    let mut rows: Vec<(Level, &KioskRecord, Option<&Heartbeat>, Vec<&Alert>)> = f
        .kiosks
        .iter()
        .map(|(k, hb)| {
            let a = by_kiosk
                .get(k.kiosk_id.as_str())
                .cloned()
                .unwrap_or_default();
            (level(k, &a, f.now, f.offline_after_ms), k, hb.as_ref(), a)
        })
        .collect();
    let mut counts = [0usize; 4];
    for r in &rows {
        counts[r.0 as usize] += 1;
    }
    let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, k, _, _) in &rows {
        *versions
            .entry(k.agent_version.as_deref().unwrap_or("—"))
            .or_default() += 1;
    }
    let mut summary = String::from("<div id=\"summary\" class=\"summary\">");
    let _ = write!(
        summary,
        "<div class=\"stat\"><b>{}</b><span>kiosks</span></div>",
        rows.len()
    );
    for l in [Level::Ok, Level::Warn, Level::Bad, Level::Off] {
        let _ = write!(
            summary,
            "<div class=\"stat {c}\"><b>{n}</b><span>{label}</span></div>",
            c = l.class(),
            n = counts[l as usize],
            label = l.label()
        );
    }
    let _ = write!(
        summary,
        "<div class=\"stat\"><b>{}</b><span>open alerts</span></div>\
         <div class=\"stat\" title=\"{}\"><b>{}</b><span>agent versions</span></div></div>",
        f.open.len(),
        esc(&versions
            .iter()
            .map(|(v, n)| format!("{v}: {n} kiosks"))
            .collect::<Vec<_>>()
            .join(", ")),
        versions.len(),
    );
    let want = q.state.as_deref().and_then(Level::parse);
    rows.retain(|(l, k, _, _)| {
        want.is_none_or(|w| w == *l) && q.group.as_deref().is_none_or(|g| g == k.group)
    });
    // Worst first, then by id.
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.kiosk_id.cmp(&b.1.kiosk_id)));
    let mut tiles = String::from("<div id=\"tiles\" class=\"tiles\">");
    if rows.is_empty() {
        tiles.push_str("<p class=\"muted\">No kiosk matches.</p>");
    }
    for (level, k, hb, alerts) in rows {
        let seen = k.last_seen.map_or("never seen".to_owned(), |t| {
            format!("seen {}", ago(f.now, t))
        });
        let mut list = String::new();
        for a in alerts.iter().take(4) {
            let _ = write!(
                list,
                "<li class=\"{}\">{}{}</li>",
                alert_level(a.kind).class(),
                esc(a.kind.label()),
                if a.acked_at.is_some() {
                    " · acknowledged"
                } else {
                    ""
                }
            );
        }
        if alerts.len() > 4 {
            let _ = write!(list, "<li>and {} more</li>", alerts.len() - 4);
        }
        let outbox = hb.map_or(0, |h| h.outbox_len);
        let _ = write!(
            tiles,
            "<a class=\"tile {c}\" id=\"tile-{id}\" href=\"/dashboard/kiosks/{id}\" \
             data-state=\"{c}\"><div class=\"id\">{id}<span class=\"badge {c}\">{label}</span></div>\
             <div class=\"name\">{name}</div><div class=\"meta\">{ver} · {group}</div>\
             <div class=\"meta\">{seen}{outbox}</div><ul>{list}</ul></a>",
            c = level.class(),
            label = level.label(),
            id = esc(&k.kiosk_id),
            name = esc(&k.name),
            ver = esc(&release_text(k, hb)),
            group = esc(&k.group),
            outbox = if outbox > 0 {
                format!(" · {outbox} queued")
            } else {
                String::new()
            },
        );
    }
    tiles.push_str("</div>");
    vec![("summary", summary), ("tiles", tiles)]
}

/// What a tile says of a kiosk's software: its release (and an update under way or failed),
/// or its agent's version where it reports no release.
fn release_text(k: &KioskRecord, hb: Option<&Heartbeat>) -> String {
    match hb.and_then(|h| h.update.as_ref()) {
        Some(u) if u.state.in_progress() => format!(
            "{} → {} {}{}",
            u.running,
            u.target.as_deref().unwrap_or("?"),
            u.state.as_str(),
            u.progress.map(|p| format!(" {p} %")).unwrap_or_default()
        ),
        Some(u) if u.state.is_failure() => format!(
            "{} ({} {})",
            u.running,
            u.target.as_deref().unwrap_or("update"),
            u.state.as_str().replace('_', " ")
        ),
        Some(u) => u.running.clone(),
        None => k
            .agent_version
            .clone()
            .unwrap_or_else(|| "no version yet".into()),
    }
}

/// `GET /dashboard`
pub async fn overview(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, AppError> {
    let fleet = Fleet::load(&state).await?;
    let mut groups: Vec<&str> = fleet.kiosks.iter().map(|(k, _)| k.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    // Only the states there are filter by a state; anything else in the address is ignored.
    let q = OverviewQuery {
        state: q.state.filter(|s| {
            [Level::Bad, Level::Warn, Level::Off, Level::Ok]
                .iter()
                .any(|l| l.class() == s)
        }),
        ..q
    };
    let link = |state: Option<&str>, group: Option<&str>| {
        let mut p = vec![];
        if let Some(s) = state {
            p.push(format!("state={}", urlencode(s)));
        }
        if let Some(g) = group {
            p.push(format!("group={}", urlencode(g)));
        }
        if q.wall == Some(1) {
            p.push("wall=1".into());
        }
        if p.is_empty() {
            "/dashboard".to_owned()
        } else {
            esc(&format!("/dashboard?{}", p.join("&")))
        }
    };
    let mut filters = String::from("<div class=\"filters\" aria-label=\"Filter\">");
    let on = |b: bool| if b { " class=\"on\"" } else { "" };
    let _ = write!(
        filters,
        "<a{} href=\"{}\">All</a>",
        on(q.state.is_none()),
        link(None, q.group.as_deref())
    );
    for l in [Level::Bad, Level::Warn, Level::Off, Level::Ok] {
        let _ = write!(
            filters,
            "<a{} href=\"{}\">{}</a>",
            on(q.state.as_deref() == Some(l.class())),
            link(Some(l.class()), q.group.as_deref()),
            l.label()
        );
    }
    if groups.len() > 1 {
        filters.push_str("<span class=\"muted small\">Group:</span>");
        let _ = write!(
            filters,
            "<a{} href=\"{}\">any</a>",
            on(q.group.is_none()),
            link(q.state.as_deref(), None)
        );
        for g in &groups {
            let _ = write!(
                filters,
                "<a{} href=\"{}\">{}</a>",
                on(q.group.as_deref() == Some(g)),
                link(q.state.as_deref(), Some(g)),
                esc(g)
            );
        }
    }
    if q.wall != Some(1) {
        let _ = write!(
            filters,
            "<a href=\"/dashboard?wall=1\" title=\"For a wall screen: no navigation, bigger tiles\">Wall screen</a>"
        );
    }
    filters.push_str("</div>");
    let regions = overview_regions(&fleet, &q);
    let body = format!("{}{filters}{}", regions[0].1, regions[1].1);
    let live = live_query(
        "overview",
        &[("state", q.state.as_deref()), ("group", q.group.as_deref())],
    );
    let open = fleet.open.len();
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard",
            title: "Fleet",
            live: Some(&live),
            open_alerts: open,
            wall: q.wall == Some(1),
        },
        &q.flash.into(),
        &body,
    ))
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

/// The kiosk page's query.
#[derive(Debug, Default, Deserialize)]
pub struct KioskQuery {
    days: Option<u32>,
    #[serde(flatten)]
    flash: FlashFields,
}

/// What the kiosk page shows.
pub struct KioskData {
    now: UnixMillis,
    offline_after_ms: i64,
    record: KioskRecord,
    hb: Option<Heartbeat>,
    alerts: Vec<Alert>,
    commands: Vec<crate::store::CommandRecord>,
    /// The serial console's code now and its seconds left, when an operator asked for it.
    console_code: Option<(String, i64)>,
    /// The viewer's CSRF token when they may cancel commands (operators).
    cancel_csrf: Option<String>,
}

impl KioskData {
    /// The kiosk's data, `NotFound` for an unknown id.
    pub async fn load(state: &AppState, id: &str, staff: &Staff) -> Result<KioskData, AppError> {
        KioskData::load_with_code(state, id, staff, false).await
    }

    /// [`KioskData::load`], with the console code when `code` is asked and `staff` may see it.
    async fn load_with_code(
        state: &AppState,
        id: &str,
        staff: &Staff,
        code: bool,
    ) -> Result<KioskData, AppError> {
        let id2 = id.to_owned();
        let may_code = code && staff.may(Role::Operator);
        let (record, hb, alerts, commands, hash) = blocking(state, move |s| {
            let (record, hb) = s
                .kiosk_health_of(&id2)?
                .ok_or_else(|| crate::store::StoreError::NotFound(format!("kiosk {id2:?}")))?;
            let alerts = s.kiosk_alerts(&id2, 20)?;
            let hash = if may_code {
                s.credential_hash(&id2)?
            } else {
                None
            };
            Ok((record, hb, alerts, s.commands(&id2, 20)?, hash))
        })
        .await?;
        let now = crate::now_ms();
        Ok(KioskData {
            now,
            offline_after_ms: state.offline_after_ms,
            record,
            hb,
            alerts,
            commands,
            console_code: hash
                .map(|h| protocol::totp::code(&protocol::totp::secret(&h), now / 1000)),
            cancel_csrf: staff
                .may(Role::Operator)
                .then(|| staff.csrf.clone())
                .filter(|c| !c.is_empty()),
        })
    }
}

fn device_name(d: DeviceKind) -> &'static str {
    match d {
        DeviceKind::Printer => "Receipt printer",
        DeviceKind::CardReader => "Card reader",
        DeviceKind::Touchscreen => "Touchscreen",
    }
}

fn device_state(s: DeviceState) -> (&'static str, &'static str) {
    match s {
        DeviceState::Ok => ("ok", "OK"),
        DeviceState::Warning => ("warn", "Warning"),
        DeviceState::Fault => ("bad", "Fault"),
        DeviceState::Missing => ("bad", "Missing"),
        DeviceState::NotConfigured => ("off", "Not configured"),
    }
}

/// The kiosk's state, devices and system.
pub fn kiosk_state_region(d: &KioskData) -> String {
    let k = &d.record;
    let open: Vec<&Alert> = d
        .alerts
        .iter()
        .filter(|a| a.resolved_at.is_none())
        .collect();
    let level = level(k, &open, d.now, d.offline_after_ms);
    let mut s = format!(
        "<div id=\"kiosk-state\" data-state=\"{c}\"><div class=\"grid2\"><section class=\"card\">\
         <h2>State <span class=\"badge {c}\">{label}</span></h2><dl class=\"kv\">\
         <dt>Name</dt><dd>{name}</dd><dt>Group</dt><dd>{group}</dd>\
         <dt>Kiosk number</dt><dd>{number}</dd><dt>Last heartbeat</dt><dd>{seen}</dd>\
         <dt>Agent version</dt><dd>{ver}</dd><dt>Enrolled</dt><dd>{enrolled}</dd>",
        c = level.class(),
        label = level.label(),
        name = esc(&k.name),
        group = esc(&k.group),
        number = k.number,
        seen = k.last_seen.map_or("never".into(), |t| format!(
            "{} ({})",
            when(t),
            ago(d.now, t)
        )),
        ver = esc(k.agent_version.as_deref().unwrap_or("—")),
        enrolled = k.enrolled_at.map_or("not yet".into(), when),
    );
    if let Some(u) = d.hb.as_ref().and_then(|h| h.update.as_ref()) {
        let _ = write!(
            s,
            "<dt>Release</dt><dd>{} (slot {})</dd><dt>Update</dt><dd>{}{}{} since {}{}</dd>",
            esc(&u.running),
            esc(&u.slot),
            esc(&u.state.as_str().replace('_', " ")),
            u.target
                .as_deref()
                .map(|t| format!(" {}", esc(t)))
                .unwrap_or_default(),
            u.progress.map(|p| format!(", {p} %")).unwrap_or_default(),
            when(u.since),
            u.reason
                .as_deref()
                .map(|r| format!("<div class=\"small muted\">{}</div>", esc(r)))
                .unwrap_or_default(),
        );
    }
    if let Some(hb) = &d.hb {
        let _ = write!(
            s,
            "<dt>Catalog version</dt><dd>{}</dd><dt>Outbox</dt><dd>{} waiting{}</dd>\
             <dt>Last citizen</dt><dd>{}</dd>",
            hb.catalog_version,
            hb.outbox_len,
            hb.outbox_oldest_age_s
                .map_or(String::new(), |a| format!(", oldest {} min", a / 60)),
            hb.last_interaction_at.map_or("—".into(), |t| ago(d.now, t)),
        );
    }
    if let Some(skew) = k.clock_skew_ms {
        let _ = write!(
            s,
            "<dt>Clock</dt><dd>{}</dd>",
            if skew.abs() < 2000 {
                "in sync".to_owned()
            } else {
                format!("{:+.1} s off", -skew as f64 / 1000.0)
            }
        );
    }
    s.push_str("</dl></section><section class=\"card\"><h2>Devices</h2>");
    match &d.hb {
        None => s.push_str("<p class=\"muted\">No heartbeat yet.</p>"),
        Some(hb) => {
            s.push_str(
                "<table><thead><tr><th>Device</th><th>State</th><th>Detail</th><th>Since</th></tr></thead><tbody>",
            );
            for dev in &hb.devices {
                let (c, l) = device_state(dev.state);
                let _ = write!(
                    s,
                    "<tr data-device=\"{dn:?}\"><td>{n}</td><td><span class=\"badge {c}\">{l}</span></td>\
                     <td>{detail}</td><td class=\"small muted\">{since}</td></tr>",
                    dn = dev.device,
                    n = device_name(dev.device),
                    detail = esc(dev.detail.as_deref().unwrap_or("")),
                    since = if dev.since > 0 && dev.state != DeviceState::NotConfigured {
                        ago(d.now, dev.since)
                    } else {
                        "—".into()
                    },
                );
            }
            s.push_str("</tbody></table>");
            if let Some(sys) = &hb.system {
                s.push_str("<h2 class=\"small\">System</h2><dl class=\"kv small\">");
                if let Some(t) = sys.temperature_c {
                    let _ = write!(s, "<dt>Temperature</dt><dd>{t:.1} °C</dd>");
                }
                if let (Some(t), Some(f)) = (sys.disk_total_kb, sys.disk_free_kb)
                    && t > 0
                {
                    let _ = write!(
                        s,
                        "<dt>Data partition</dt><dd>{:.0} % used of {:.1} GB</dd>",
                        (1.0 - f.min(t) as f64 / t as f64) * 100.0,
                        t as f64 / 1_048_576.0
                    );
                }
                if let (Some(t), Some(a)) = (sys.mem_total_kb, sys.mem_available_kb) {
                    let _ = write!(
                        s,
                        "<dt>Memory</dt><dd>{} MB free of {} MB</dd>",
                        a / 1024,
                        t / 1024
                    );
                }
                if let Some(u) = sys.uptime_s {
                    let _ = write!(
                        s,
                        "<dt>Up</dt><dd>{}</dd>",
                        protocol::time::days_hours_minutes(u)
                    );
                }
                if let Some(l) = sys.load1 {
                    let _ = write!(s, "<dt>Load</dt><dd>{l:.2}</dd>");
                }
                if !sys.links_up.is_empty() {
                    let _ = write!(
                        s,
                        "<dt>Network</dt><dd>{}</dd>",
                        esc(&sys.links_up.join(", "))
                    );
                }
                s.push_str("</dl>");
            }
        }
    }
    s.push_str("</section></div></div>");
    s
}

/// The kiosk's recent alerts.
pub fn kiosk_alerts_region(d: &KioskData, staff: &Staff) -> String {
    let mut s = String::from("<section id=\"kiosk-alerts\" class=\"card\"><h2>Alerts</h2>");
    if d.alerts.is_empty() {
        s.push_str("<p class=\"muted\">None so far.</p>");
    } else {
        s.push_str(&alert_table(&d.alerts, d.now, staff, false));
    }
    s.push_str("</section>");
    s
}

/// The kiosk's commands and their results.
pub fn kiosk_commands_region(d: &KioskData) -> String {
    let mut s = String::from(
        "<div id=\"kiosk-commands\"><table><thead><tr><th>#</th><th>Command</th><th>By</th>\
         <th>Asked</th><th>State</th><th>Result</th></tr></thead><tbody>",
    );
    if d.commands.is_empty() {
        s.push_str("<tr><td colspan=\"6\" class=\"muted\">No commands yet.</td></tr>");
    }
    for c in &d.commands {
        let (class, state) = match (c.ok, c.delivered_at) {
            (Some(true), _) => ("ok", "done"),
            (Some(false), _) => ("bad", "failed"),
            (None, Some(_)) => ("warn", "delivered"),
            (None, None) => ("off", "queued"),
        };
        let output = c.output.as_deref().unwrap_or("");
        let result = if output.is_empty() {
            String::new()
        } else if output.lines().count() <= 2 && output.len() < 160 {
            esc(output)
        } else {
            format!(
                "<details><summary>{} lines</summary><pre>{}</pre></details>",
                output.lines().count(),
                esc(output)
            )
        };
        // A command the kiosk has not answered can be cancelled by an operator.
        let cancel = match (&d.cancel_csrf, c.finished_at) {
            (Some(csrf), None) => format!(
                "<form class=\"inline\" method=\"post\" action=\"/dashboard/kiosks/{k}/commands/{id}/cancel\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button class=\"button\" type=\"submit\">\
                 Cancel</button></form>",
                k = urlencode(&c.kiosk_id),
                id = c.id,
                csrf = esc(csrf),
            ),
            _ => String::new(),
        };
        let _ = write!(
            s,
            "<tr id=\"command-{id}\" data-state=\"{state}\"><td>{id}</td><td>{name}</td><td>{by}</td>\
             <td class=\"small\">{asked}</td><td><span class=\"badge {class}\">{state}</span>{cancel}</td>\
             <td class=\"result\">{result}</td></tr>",
            id = c.id,
            name = command_label(&c.action),
            by = esc(&c.issued_by),
            asked = ago(d.now, c.issued_at),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

fn command_label(a: &protocol::fleet::CommandAction) -> String {
    use protocol::fleet::CommandAction as C;
    match a {
        C::PrintTestReceipt => "Print test receipt".into(),
        C::RestartApp => "Restart app".into(),
        C::Reboot => "Reboot".into(),
        C::UploadLogs { lines } => format!("Upload last {lines} log lines"),
        C::SelfTest => "Hardware self-test".into(),
    }
}

/// The console code card: the code when it was asked for, else (for operators) the button
/// that asks for it. Outside the live regions, so that it is shown once and not re-sent.
fn console_code_card(d: &KioskData, staff: &Staff) -> String {
    if let Some((code, left)) = &d.console_code {
        return format!(
            "<section class=\"card\"><h2>Console code</h2><p><b class=\"code\" id=\"console-code\">{} {}</b> \
             <span class=\"small muted\">for the serial console, {left} s more; works once and \
             offline. This look was recorded in the audit log.</span></p></section>",
            esc(code.get(..3).unwrap_or_default()),
            esc(code.get(3..).unwrap_or_default())
        );
    }
    if !staff.may(Role::Operator) {
        return String::new();
    }
    format!(
        "<section class=\"card\"><h2>Console code</h2><form class=\"inline\" method=\"post\" \
         action=\"/dashboard/kiosks/{}/console-code\">{}<button class=\"button\" type=\"submit\">\
         Show the console code</button></form> <span class=\"small muted\">for a technician at \
         the kiosk's serial console; each look is recorded in the audit log</span></section>",
        urlencode(&d.record.kiosk_id),
        csrf_field(staff)
    )
}

/// `GET /dashboard/kiosks/{id}`
pub async fn kiosk(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(id): Path<String>,
    Query(q): Query<KioskQuery>,
) -> Result<Response, AppError> {
    kiosk_page(&state, &staff, &id, q, false).await
}

/// `POST /dashboard/kiosks/{id}/console-code`: the kiosk page with its console code, for
/// operators; every look goes into the audit log (who, which kiosk, when).
pub async fn console_code(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    if !staff.may(Role::Operator) {
        return Ok(super::forbidden(&staff, Role::Operator));
    }
    let page = kiosk_page(&state, &staff, &id, KioskQuery::default(), true).await?;
    crate::ops::audit::audit(
        &state,
        &staff.name,
        "kiosk.console_code",
        &id,
        "console code viewed".into(),
    )
    .await;
    Ok(page)
}

async fn kiosk_page(
    state: &AppState,
    staff: &Staff,
    id: &str,
    q: KioskQuery,
    show_code: bool,
) -> Result<Response, AppError> {
    let (state, staff, id) = (state.clone(), staff.clone(), id.to_owned());
    let d = KioskData::load_with_code(&state, &id, &staff, show_code).await?;
    let days = q.days.unwrap_or(1).clamp(1, 400);
    let now = d.now;
    let since = now - i64::from(days) * 86_400_000;
    let (kid, kid2) = (id.clone(), id.clone());
    let history = blocking(&state, move |s| s.health_history(&kid, since)).await?;
    let subs = blocking(&state, move |s| {
        s.submission_days(&kid2, now - 14 * 86_400_000)
    })
    .await?;
    let step = if days > 90 { 86_400_000 } else { 3_600_000 };
    let series = |f: &dyn Fn(&crate::store::HealthPoint) -> Option<f64>| -> Vec<(UnixMillis, f64)> {
        history
            .iter()
            .filter_map(|p| f(p).map(|v| (p.hour, v)))
            .collect()
    };
    let rules = &state.alerts.rules;
    let charts = [
        Chart {
            title: "Temperature, hourly maximum",
            unit: "°C",
            points: &series(&|p| p.temperature_max),
            from: since,
            to: now,
            min_top: 50.0,
            limit: Some(f64::from(rules.temperature_max_c)),
            kind: Kind::Line,
            bar_ms: step,
        },
        Chart {
            title: "Data partition used",
            unit: "%",
            points: &series(&|p| p.disk_used_max.map(|v| v * 100.0)),
            from: since,
            to: now,
            min_top: 100.0,
            limit: Some(rules.disk_used_max * 100.0),
            kind: Kind::Line,
            bar_ms: step,
        },
        Chart {
            title: "Outbox, longest queue",
            unit: "",
            points: &series(&|p| Some(p.outbox_max as f64)),
            from: since,
            to: now,
            min_top: 5.0,
            limit: None,
            kind: Kind::Line,
            bar_ms: step,
        },
        Chart {
            title: "Heartbeats received",
            unit: "",
            points: &series(&|p| Some(p.samples as f64)),
            from: since,
            to: now,
            min_top: 1.0,
            limit: None,
            kind: Kind::Bars,
            bar_ms: step,
        },
    ];
    let mut body = kiosk_state_region(&d);
    body.push_str(&console_code_card(&d, &staff));
    body.push_str("<section class=\"card\"><h2>Health history</h2><div class=\"filters\">");
    for (n, label) in [
        (1, "24 hours"),
        (7, "7 days"),
        (30, "30 days"),
        (365, "1 year"),
    ] {
        let _ = write!(
            body,
            "<a{} href=\"/dashboard/kiosks/{}?days={n}\">{label}</a>",
            if n == days { " class=\"on\"" } else { "" },
            urlencode(&id)
        );
    }
    body.push_str("</div><div class=\"charts\">");
    for c in &charts {
        let _ = write!(
            body,
            "<figure><figcaption class=\"small muted\">{}</figcaption>{}</figure>",
            esc(c.title),
            chart::svg(c)
        );
    }
    body.push_str("</div></section>");
    let sub_points: Vec<(UnixMillis, f64)> = subs
        .iter()
        .filter_map(|(day, n)| {
            let (y, m, dd) = parse_day(day)?;
            Some((
                protocol::time::days_from_civil(y, m, dd) * 86_400_000,
                *n as f64,
            ))
        })
        .collect();
    let total: u64 = subs.iter().map(|(_, n)| n).sum();
    let _ = write!(
        body,
        "<div class=\"grid2\"><section class=\"card\"><h2>Submissions, last 14 days: {total}</h2>\
         <p class=\"small muted\">Counts only: the fleet shows staff no citizen's data.</p>{}</section>",
        chart::svg(&Chart {
            title: "Submissions per day",
            unit: "",
            points: &sub_points,
            from: (now / 86_400_000 - 13) * 86_400_000,
            to: (now / 86_400_000 + 1) * 86_400_000,
            min_top: 5.0,
            limit: None,
            kind: Kind::Bars,
            bar_ms: 86_400_000,
        })
    );
    body.push_str("<section class=\"card\"><h2>Remote commands</h2>");
    if staff.may(Role::Operator) {
        let csrf = csrf_field(&staff);
        let action = format!("/dashboard/kiosks/{}/commands", urlencode(&id));
        body.push_str("<div class=\"row\">");
        for (value, label, confirm) in [
            ("print_test_receipt", "Print test receipt", None),
            ("self_test", "Run self-test", None),
            (
                "restart_app",
                "Restart app",
                Some("Restart the kiosk's app? A citizen using it loses what they typed."),
            ),
            (
                "reboot",
                "Reboot",
                Some("Reboot the kiosk? It is out of service for about a minute."),
            ),
        ] {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"{action}\"{confirm}>{csrf}\
                 <input type=\"hidden\" name=\"action\" value=\"{value}\">\
                 <button type=\"submit\"{class}>{label}</button></form>",
                confirm =
                    confirm.map_or(String::new(), |c| format!(" data-confirm=\"{}\"", esc(c))),
                class = if value == "reboot" {
                    " class=\"danger\""
                } else {
                    ""
                },
            );
        }
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{action}\" class=\"row\">{csrf}\
             <input type=\"hidden\" name=\"action\" value=\"upload_logs\">\
             <input type=\"number\" name=\"lines\" value=\"200\" min=\"1\" max=\"{max}\" aria-label=\"Log lines\">\
             <button type=\"submit\">Upload log lines</button></form></div>",
            max = protocol::fleet::MAX_LOG_LINES
        );
    } else {
        body.push_str("<p class=\"small muted\">Operators can send commands to the kiosk.</p>");
    }
    body.push_str(&kiosk_commands_region(&d));
    body.push_str("</section></div>");
    body.push_str(&kiosk_alerts_region(&d, &staff));
    let open = open_alert_count(&state).await?;
    let title = format!("Kiosk {}", d.record.kiosk_id);
    let live = live_query("kiosk", &[("id", Some(&id))]);
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard",
            title: &title,
            live: Some(&live),
            open_alerts: open,
            wall: false,
        },
        &q.flash.into(),
        &body,
    ))
}

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

/// The alert page's regions.
pub async fn alerts_regions(
    state: &AppState,
    staff: &Staff,
) -> Result<Vec<(&'static str, String)>, AppError> {
    let all = blocking(state, |s| s.alerts(false, 300)).await?;
    let now = crate::now_ms();
    let (open, closed): (Vec<Alert>, Vec<Alert>) =
        all.into_iter().partition(|a| a.resolved_at.is_none());
    let mut o = format!(
        "<section id=\"alerts-open\" class=\"card\"><h2>Open ({})</h2>",
        open.len()
    );
    if open.is_empty() {
        o.push_str("<p class=\"muted\">No open alerts: every kiosk is well.</p>");
    } else {
        o.push_str(&alert_table(&open, now, staff, true));
    }
    o.push_str("</section>");
    let mut c =
        String::from("<section id=\"alerts-recent\" class=\"card\"><h2>Recently resolved</h2>");
    if closed.is_empty() {
        c.push_str("<p class=\"muted\">None.</p>");
    } else {
        c.push_str(&alert_table(&closed, now, staff, true));
    }
    c.push_str("</section>");
    Ok(vec![("alerts-open", o), ("alerts-recent", c)])
}

/// `GET /dashboard/alerts`
pub async fn alerts(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(flash): Query<FlashFields>,
) -> Result<Response, AppError> {
    let regions = alerts_regions(&state, &staff).await?;
    let open = open_alert_count(&state).await?;
    let rules = &state.alerts.rules;
    let body = format!(
        "<p class=\"small muted\">A condition opens an alert after it has lasted {} s; the alert \
         resolves by itself when the condition clears. Notifications go to the configured webhook \
         and e-mail.</p>{}{}",
        rules.hold_ms / 1000,
        regions[0].1,
        regions[1].1
    );
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/alerts",
            title: "Alerts",
            live: Some("view=alerts"),
            open_alerts: open,
            wall: false,
        },
        &flash.into(),
        &body,
    ))
}

// ---- availability ----

/// The SLA page's query.
#[derive(Debug, Default, Deserialize)]
pub struct SlaQuery {
    month: Option<String>,
    #[serde(flatten)]
    flash: FlashFields,
}

/// `GET /dashboard/sla`
pub async fn sla(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(q): Query<SlaQuery>,
) -> Result<Response, AppError> {
    let r = crate::ops::sla::sla_of(&state, q.month.as_deref()).await?;
    let month = crate::sla::parse_month(&r.month).unwrap_or((2000, 1));
    let (city, hours) = (&state.sla.city, &state.sla.hours);
    let prev = if month.1 == 1 {
        (month.0 - 1, 12)
    } else {
        (month.0, month.1 - 1)
    };
    let next = if month.1 == 12 {
        (month.0 + 1, 1)
    } else {
        (month.0, month.1 + 1)
    };
    let missed = r.kiosks.iter().filter(|k| !k.meets_target).count();
    let mut body = format!(
        "<div class=\"filters\"><a href=\"/dashboard/sla?month={p}\">← {p}</a>\
         <form class=\"row\" method=\"get\" action=\"/dashboard/sla\"><input type=\"month\" name=\"month\" \
         value=\"{m}\" aria-label=\"Month\"><button type=\"submit\">Show</button></form>\
         <a href=\"/dashboard/sla?month={n}\">{n} →</a>\
         <a href=\"/api/admin/v1/sla?month={m}&amp;format=csv\">Download CSV</a>\
         <a href=\"/api/admin/v1/sla?month={m}&amp;format=html\">Printable report</a></div>\
         <div class=\"summary\"><div class=\"stat {fc}\"><b>{fleet:.2} %</b><span>fleet availability</span></div>\
         <div class=\"stat\"><b>{target:.1} %</b><span>target ({city})</span></div>\
         <div class=\"stat {mc}\"><b>{missed}</b><span>kiosks below target</span></div>\
         <div class=\"stat\"><b>{inc}</b><span>incidents</span></div></div>\
         <section class=\"card\"><p class=\"small muted\">Counted: opening hours{hours} since each \
         kiosk enrolled, from its heartbeats; an incident is 3 or more unavailable minutes; MTTR is \
         the mean incident length.</p><table><thead><tr><th>Kiosk</th><th>Name</th>\
         <th class=\"n\">Availability</th><th class=\"n\">Down (min)</th><th class=\"n\">Incidents</th>\
         <th class=\"n\">MTTR</th><th>Longest</th></tr></thead><tbody>",
        p = format!("{:04}-{:02}", prev.0, prev.1),
        n = format!("{:04}-{:02}", next.0, next.1),
        m = esc(&r.month),
        fleet = r.fleet_availability * 100.0,
        fc = if r.fleet_availability >= r.target {
            "ok"
        } else {
            "bad"
        },
        target = r.target * 100.0,
        city = esc(city),
        mc = if missed > 0 { "bad" } else { "ok" },
        inc = r.kiosks.iter().map(|k| k.incidents.len()).sum::<usize>(),
        hours = if hours.always_open() {
            " (all day: none configured)"
        } else {
            ""
        },
    );
    for k in &r.kiosks {
        let longest = k
            .incidents
            .iter()
            .max_by_key(|i| i.minutes)
            .map_or("—".into(), |i| {
                format!("{} {} ({} min)", i.day, i.from, i.minutes)
            });
        let _ = write!(
            body,
            "<tr><td><a href=\"/dashboard/kiosks/{id}\">{id}</a></td><td>{name}</td>\
             <td class=\"n\"><span class=\"badge {c}\">{a:.3} %</span></td><td class=\"n\">{down}</td>\
             <td class=\"n\">{n}</td><td class=\"n\">{mttr}</td><td class=\"small\">{longest}</td></tr>",
            id = esc(&k.kiosk_id),
            name = esc(&k.name),
            c = if k.meets_target { "ok" } else { "bad" },
            a = k.availability * 100.0,
            down = k.open_minutes - k.up_minutes,
            n = k.incidents.len(),
            mttr = k.mttr_minutes.map_or("—".into(), |m| format!("{m:.1} min")),
            longest = esc(&longest),
        );
    }
    body.push_str("</tbody></table></section>");
    let open = open_alert_count(&state).await?;
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/sla",
            title: "Availability",
            live: None,
            open_alerts: open,
            wall: false,
        },
        &q.flash.into(),
        &body,
    ))
}

// ---- catalog & notices ----

fn notice_state(n: &protocol::fleet::Notice, now: UnixMillis) -> (&'static str, &'static str) {
    if n.is_current(now) {
        ("ok", "shown")
    } else if n.valid_from.is_some_and(|f| f > now) {
        ("warn", "scheduled")
    } else {
        ("off", "ended")
    }
}

/// `GET /dashboard/catalog`
pub async fn catalog(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(flash): Query<FlashFields>,
) -> Result<Response, AppError> {
    let (catalog, kiosks) = blocking(&state, |s| {
        Ok((s.catalog()?.unwrap_or_default(), s.kiosks()?))
    })
    .await?;
    let now = crate::now_ms();
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for k in &kiosks {
        *groups.entry(k.group.as_str()).or_default() += 1;
    }
    let may = staff.may(Role::ReleaseManager);
    let csrf = csrf_field(&staff);
    let mut body = format!(
        "<p class=\"small muted\">Catalog version {} published {}. Kiosks fetch a new version with \
         their next heartbeat. Groups: {}.</p>",
        catalog.version,
        if catalog.published_at > 0 {
            when(catalog.published_at)
        } else {
            "never".into()
        },
        esc(&groups
            .iter()
            .map(|(g, n)| format!("{g} ({n} kiosks)"))
            .collect::<Vec<_>>()
            .join(", "))
    );
    // Notices.
    body.push_str(
        "<section class=\"card\" id=\"notices\"><h2>Notices on the kiosks' home screen</h2><table><thead><tr>\
         <th>Notice</th><th>Groups</th><th>From</th><th>Until</th><th>State</th><th></th></tr></thead><tbody>",
    );
    if catalog.notices.is_empty() {
        body.push_str("<tr><td colspan=\"6\" class=\"muted\">No notices.</td></tr>");
    }
    for n in &catalog.notices {
        let (c, st) = notice_state(n, now);
        let withdraw = if may {
            format!(
                "<form method=\"post\" action=\"/dashboard/notices/{id}/withdraw\" \
                 data-confirm=\"Withdraw this notice from every kiosk?\">{csrf}\
                 <button class=\"danger\" type=\"submit\">Withdraw</button></form>",
                id = urlencode(&n.id)
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr id=\"notice-{id}\"><td><b>{title}</b><div class=\"small\">{text}</div></td><td>{groups}</td>\
             <td class=\"small\">{from}</td><td class=\"small\">{until}</td>\
             <td><span class=\"badge {c}\">{st}</span></td><td>{withdraw}</td></tr>",
            id = esc(&n.id),
            title = esc(&n.title.cs),
            text = esc(&n.body.cs),
            groups = esc(&groups_text(&n.groups, "all kiosks")),
            from = n.valid_from.map_or("—".into(), when),
            until = n.valid_until.map_or("—".into(), when),
        );
    }
    body.push_str("</tbody></table>");
    if may {
        let mut boxes = String::new();
        for g in groups.keys() {
            let _ = write!(
                boxes,
                "<label><input type=\"checkbox\" name=\"group\" value=\"{g}\"> {g}</label>",
                g = esc(g)
            );
        }
        let _ = write!(
            body,
            "<h2>Publish a notice</h2><form class=\"stack\" method=\"post\" action=\"/dashboard/notices\">{csrf}\
             <div class=\"grid2\"><div><label for=\"title_cs\">Title (Czech)</label>\
             <input id=\"title_cs\" name=\"title_cs\" required maxlength=\"200\">\
             <label for=\"body_cs\">Text (Czech)</label><textarea id=\"body_cs\" name=\"body_cs\" rows=\"3\" maxlength=\"2000\"></textarea></div>\
             <div><label for=\"title_en\">Title (English, optional)</label>\
             <input id=\"title_en\" name=\"title_en\" maxlength=\"200\">\
             <label for=\"body_en\">Text (English, optional)</label><textarea id=\"body_en\" name=\"body_en\" rows=\"3\" maxlength=\"2000\"></textarea></div></div>\
             <label>Shown in groups (none ticked: every kiosk)</label><div class=\"checks\">{boxes}</div>\
             <div class=\"row\"><div><label for=\"from\">From (Czech time, optional)</label>\
             <input id=\"from\" type=\"datetime-local\" name=\"from\"></div>\
             <div><label for=\"until\">Until (optional)</label><input id=\"until\" type=\"datetime-local\" name=\"until\"></div>\
             <button class=\"primary\" type=\"submit\">Publish notice</button></div></form>"
        );
    }
    body.push_str("</section>");
    // Services.
    body.push_str(
        "<section class=\"card\" id=\"services\"><h2>Services</h2><table><thead><tr><th>Service</th>\
         <th>Category</th><th class=\"n\">Form version</th><th>Card</th><th>Offered in groups</th></tr></thead><tbody>",
    );
    for svc in &catalog.services {
        let groups_cell = if may {
            format!(
                "<form class=\"row\" method=\"post\" action=\"/dashboard/services/{id}/groups\">{csrf}\
                 <input name=\"groups\" value=\"{g}\" placeholder=\"all kiosks\" aria-label=\"Groups for {name}\">\
                 <button type=\"submit\">Save</button></form>",
                id = urlencode(&svc.id),
                g = esc(&svc.groups.join(", ")),
                name = esc(&svc.name.cs),
            )
        } else {
            esc(&groups_text(&svc.groups, "all kiosks"))
        };
        let _ = write!(
            body,
            "<tr><td><b>{name}</b><div class=\"small muted\">{id}</div></td><td>{cat}</td>\
             <td class=\"n\">{v}</td><td>{card}</td><td>{groups_cell}</td></tr>",
            name = esc(&svc.name.cs),
            id = esc(&svc.id),
            cat = esc(&svc.category),
            v = svc.version,
            card = if svc.requires_identity {
                "needed"
            } else {
                "—"
            },
        );
    }
    body.push_str("</tbody></table></section>");
    if may {
        let _ = write!(
            body,
            "<section class=\"card\"><h2>Publish a whole catalog</h2><p class=\"small muted\">A catalog \
             file (JSON: categories, services with their forms, notices). It is checked completely \
             before anything changes; its version number is given by the server.</p>\
             <form method=\"post\" action=\"/dashboard/catalog\">{csrf}\
             <textarea name=\"catalog\" rows=\"6\" required aria-label=\"Catalog JSON\"></textarea>\
             <button class=\"primary\" type=\"submit\">Check and publish</button></form></section>"
        );
    }
    let open = open_alert_count(&state).await?;
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/catalog",
            title: "Catalog & notices",
            live: None,
            open_alerts: open,
            wall: false,
        },
        &flash.into(),
        &body,
    ))
}

// ---- users ----

/// `GET /dashboard/users`
pub async fn users(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(flash): Query<FlashFields>,
) -> Result<Response, AppError> {
    if !staff.may(Role::Admin) {
        return Ok(forbidden(&staff, Role::Admin));
    }
    let users = blocking(&state, |s| s.users()).await?;
    let now = crate::now_ms();
    let csrf = csrf_field(&staff);
    let mut body = String::from(
        "<section class=\"card\"><h2>Staff accounts</h2><table><thead><tr><th>User</th><th>Role</th>\
         <th>Last sign-in</th><th>State</th><th>Password</th></tr></thead><tbody>",
    );
    for u in &users {
        let mut roles = String::new();
        for r in Role::ALL {
            let _ = write!(
                roles,
                "<option value=\"{}\"{}>{}</option>",
                r.as_str(),
                if r.as_str() == u.role {
                    " selected"
                } else {
                    ""
                },
                r.label()
            );
        }
        let locked = u.locked_until.filter(|&t| t > now);
        let state_cell = if u.disabled {
            "<span class=\"badge off\">disabled</span>".to_owned()
        } else if let Some(t) = locked {
            format!("<span class=\"badge bad\">locked until {}</span>", when(t))
        } else {
            "<span class=\"badge ok\">active</span>".to_owned()
        };
        let action = format!("/dashboard/users/{}", urlencode(&u.username));
        let me = u.username == staff.name;
        let mut buttons = String::new();
        if locked.is_some() {
            let _ = write!(
                buttons,
                "<form class=\"inline\" method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"hidden\" name=\"op\" value=\"unlock\"><button type=\"submit\">Unlock</button></form> "
            );
        }
        if !me {
            let (op, label) = if u.disabled {
                ("enable", "Enable")
            } else {
                ("disable", "Disable")
            };
            let _ = write!(
                buttons,
                "<form class=\"inline\" method=\"post\" action=\"{action}\">{csrf}\
                 <input type=\"hidden\" name=\"op\" value=\"{op}\"><button type=\"submit\">{label}</button></form>"
            );
        }
        let _ = write!(
            body,
            "<tr id=\"user-{name}\"><td><b>{name}</b><div class=\"small muted\">since {created}</div></td>\
             <td><form class=\"row\" method=\"post\" action=\"{action}\">{csrf}\
             <input type=\"hidden\" name=\"op\" value=\"role\"><select name=\"role\" aria-label=\"Role of {name}\"{dis}>{roles}</select>\
             <button type=\"submit\"{dis}>Save</button></form></td><td class=\"small\">{last}</td>\
             <td>{state_cell} {buttons}</td><td><form class=\"row\" method=\"post\" action=\"{action}\">{csrf}\
             <input type=\"hidden\" name=\"op\" value=\"password\"><input type=\"password\" name=\"password\" \
             minlength=\"{min}\" autocomplete=\"new-password\" placeholder=\"new password\" aria-label=\"New password for {name}\">\
             <button type=\"submit\">Set</button></form></td></tr>",
            name = esc(&u.username),
            created = when(u.created_at),
            last = u.last_login.map_or("never".into(), |t| ago(now, t)),
            dis = if me { " disabled" } else { "" },
            min = crate::staff::MIN_PASSWORD,
        );
    }
    body.push_str("</tbody></table><p class=\"small muted\">A change of role or password, or disabling, signs the user out everywhere. Five wrong passwords lock an account for 15 minutes.</p></section>");
    let mut roles = String::new();
    for r in Role::ALL {
        let _ = write!(
            roles,
            "<option value=\"{}\">{}</option>",
            r.as_str(),
            r.label()
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h2>New account</h2><form class=\"row\" method=\"post\" action=\"/dashboard/users\">{csrf}\
         <div><label for=\"nu\">User name</label><input id=\"nu\" name=\"username\" required pattern=\"[a-z][a-z0-9._-]{{1,63}}\"></div>\
         <div><label for=\"nr\">Role</label><select id=\"nr\" name=\"role\">{roles}</select></div>\
         <div><label for=\"np\">Password (at least {min} characters)</label><input id=\"np\" type=\"password\" \
         name=\"password\" required minlength=\"{min}\" autocomplete=\"new-password\"></div>\
         <button class=\"primary\" type=\"submit\">Create</button></form>\
         <p class=\"small muted\">Viewer: sees everything. Operator: also acknowledges alerts and sends \
         commands. Release manager: also publishes the catalog, notices and releases. Admin: also \
         manages accounts and kiosk tokens.</p></section>",
        min = crate::staff::MIN_PASSWORD,
    );
    let open = open_alert_count(&state).await?;
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/users",
            title: "Users",
            live: None,
            open_alerts: open,
            wall: false,
        },
        &flash.into(),
        &body,
    ))
}

/// `GET /dashboard/account`
pub async fn account(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(flash): Query<FlashFields>,
) -> Result<Response, AppError> {
    let csrf = csrf_field(&staff);
    let body = format!(
        "<section class=\"card login\"><h2>{name}</h2><p class=\"muted\">Role: {role}</p>\
         <form method=\"post\" action=\"/dashboard/account\">{csrf}\
         <label for=\"cur\">Current password</label><input id=\"cur\" type=\"password\" name=\"current\" required autocomplete=\"current-password\">\
         <label for=\"new\">New password (at least {min} characters)</label><input id=\"new\" type=\"password\" name=\"password\" required minlength=\"{min}\" autocomplete=\"new-password\">\
         <label for=\"rep\">New password again</label><input id=\"rep\" type=\"password\" name=\"repeat\" required minlength=\"{min}\" autocomplete=\"new-password\">\
         <button class=\"primary\" type=\"submit\">Change password</button></form></section>",
        name = esc(&staff.name),
        role = staff.role.label(),
        min = crate::staff::MIN_PASSWORD,
    );
    let open = open_alert_count(&state).await?;
    Ok(page(
        Shell {
            staff: &staff,
            nav: "",
            title: "Your account",
            live: None,
            open_alerts: open,
            wall: false,
        },
        &flash.into(),
        &body,
    ))
}

// ---- audit ----

/// The audit log region.
pub async fn audit_region(state: &AppState) -> Result<String, AppError> {
    let entries = blocking(state, |s| s.audit_log(500)).await?;
    let now = crate::now_ms();
    let mut s = String::from(
        "<section id=\"audit-log\" class=\"card\"><table><thead><tr><th>When</th><th>Who</th>\
         <th>What</th><th>To what</th><th>Detail</th></tr></thead><tbody>",
    );
    if entries.is_empty() {
        s.push_str("<tr><td colspan=\"5\" class=\"muted\">Nothing yet.</td></tr>");
    }
    for e in entries {
        let _ = write!(
            s,
            "<tr><td class=\"small\">{w}<div class=\"muted\">{a}</div></td><td>{who}</td>\
             <td><code>{what}</code></td><td>{target}</td><td class=\"small\">{detail}</td></tr>",
            w = when(e.at),
            a = ago(now, e.at),
            who = esc(&e.actor),
            what = esc(&e.action),
            target = esc(&e.target),
            detail = esc(&e.detail),
        );
    }
    s.push_str("</tbody></table></section>");
    Ok(s)
}

/// `GET /dashboard/audit`
pub async fn audit(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(flash): Query<FlashFields>,
) -> Result<Response, AppError> {
    let body = format!(
        "<p class=\"small muted\">Every change staff make, from the dashboard, the admin API and \
         the command line; newest first (the last 500).</p>{}",
        audit_region(&state).await?
    );
    let open = open_alert_count(&state).await?;
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/audit",
            title: "Audit log",
            live: Some("view=audit"),
            open_alerts: open,
            wall: false,
        },
        &flash.into(),
        &body,
    ))
}
