//! The audit log.

use super::*;

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
