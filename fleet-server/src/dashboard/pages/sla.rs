//! The monthly availability report.

use super::*;

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
