//! The alerts, open and past, with acknowledgement.

use super::*;
use axum::Form;

use super::super::{Fields, field, outcome};
use crate::ops::alerts::ack as ack_alert;

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

/// `POST /dashboard/alerts/{id}/ack`
pub async fn ack(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::Operator) {
        return forbidden(&staff, Role::Operator);
    }
    // Back to the page the form was on (the alerts page or a kiosk's).
    let to = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("/dashboard")
                .map(|i| r[i..].split('?').next().unwrap_or(""))
        })
        .filter(|p| super::super::safe_next(Some(p)) == *p)
        .unwrap_or("/dashboard/alerts")
        .to_owned();
    let r = ack_alert(&state, &staff.name, id, field(&f, "comment"))
        .await
        .map(|()| format!("Alert {id} acknowledged."));
    outcome(&staff, &to, r)
}
