//! The catalog: services, notices, which groups offer what.

use super::*;

pub(super) fn notice_state(
    n: &protocol::fleet::Notice,
    now: UnixMillis,
) -> (&'static str, &'static str) {
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
