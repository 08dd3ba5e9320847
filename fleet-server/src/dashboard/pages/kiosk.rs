//! One kiosk: its devices, health history, alerts, commands and console code.

use super::*;
use axum::Form;
use protocol::fleet::CommandAction;

use super::super::{Fields, back, field, outcome};
use crate::ops::commands::queue;

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
    pub(super) async fn load_with_code(
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

pub(super) fn device_name(d: DeviceKind) -> &'static str {
    match d {
        DeviceKind::Printer => "Receipt printer",
        DeviceKind::CardReader => "Card reader",
        DeviceKind::Touchscreen => "Touchscreen",
    }
}

pub(super) fn device_state(s: DeviceState) -> (&'static str, &'static str) {
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

pub(super) fn command_label(a: &protocol::fleet::CommandAction) -> String {
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
pub(super) fn console_code_card(d: &KioskData, staff: &Staff) -> String {
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

pub(super) async fn kiosk_page(
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

/// `POST /dashboard/kiosks/{id}/commands`
pub async fn command(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::Operator) {
        return forbidden(&staff, Role::Operator);
    }
    let to = format!("/dashboard/kiosks/{}", urlencode(&id));
    let action = match field(&f, "action") {
        "print_test_receipt" => CommandAction::PrintTestReceipt,
        "self_test" => CommandAction::SelfTest,
        "restart_app" => CommandAction::RestartApp,
        "reboot" => CommandAction::Reboot,
        "upload_logs" => match field(&f, "lines").parse() {
            Ok(lines) => CommandAction::UploadLogs { lines },
            Err(_) => return back(&staff, &to, Err("Give the number of log lines.".into())),
        },
        other => return back(&staff, &to, Err(format!("Unknown command {other:?}."))),
    };
    let r = queue(&state, &staff.name, &id, action)
        .await
        .map(|n| format!("Command {n} queued; the kiosk gets it with its next heartbeat."));
    outcome(&staff, &to, r)
}

/// `POST /dashboard/kiosks/{id}/commands/{command}/cancel`
pub async fn cancel_command(
    State(state): State<AppState>,
    Page(staff): Page,
    Path((id, command)): Path<(String, i64)>,
) -> Response {
    if !staff.may(Role::Operator) {
        return forbidden(&staff, Role::Operator);
    }
    let to = format!("/dashboard/kiosks/{}", urlencode(&id));
    let r = crate::ops::commands::cancel(&state, &staff.name, &id, command)
        .await
        .map(|()| format!("Command {command} cancelled."));
    outcome(&staff, &to, r)
}
