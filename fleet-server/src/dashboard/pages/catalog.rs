//! The catalog: services, notices, which groups offer what.

use super::*;
use axum::Form;
use protocol::Text;
use protocol::fleet::Notice;

use super::super::{Fields, back, field, outcome};
use crate::ops::catalog::publish_catalog;

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

/// Changes the current catalog with `edit` and publishes it.
async fn edit_catalog(
    state: &AppState,
    staff: &Staff,
    detail: String,
    edit: impl FnOnce(&mut protocol::fleet::Catalog) -> Result<(), String>,
) -> Result<u64, AppError> {
    let mut catalog = blocking(state, |s| s.catalog()).await?.unwrap_or_default();
    edit(&mut catalog).map_err(AppError::BadRequest)?;
    publish_catalog(state, &staff.name, catalog, detail).await
}

/// Czech local `YYYY-MM-DDTHH:MM` (a `datetime-local` field) to a timestamp.
pub fn parse_local(v: &str) -> Result<Option<UnixMillis>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || format!("{v:?} is not a date and time");
    let (date, time) = v.split_once('T').ok_or_else(bad)?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(day)), None) = (d.next(), d.next(), d.next(), d.next())
    else {
        return Err(bad());
    };
    let mut t = time.split(':').map(|p| p.parse::<i64>());
    let (Some(Ok(h)), Some(Ok(min))) = (t.next(), t.next()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&min)
    {
        return Err(bad());
    }
    let local = protocol::time::days_from_civil(y, m as u32, day as u32) * 86_400_000
        + (h * 60 + min) * 60_000;
    // The offset at the local time read as UTC is right except within an hour of a change.
    let utc = local - protocol::time::czech_offset_minutes(local) * 60_000;
    Ok(Some(
        local - protocol::time::czech_offset_minutes(utc) * 60_000,
    ))
}

fn optional(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

/// `POST /dashboard/notices`
pub async fn publish_notice(
    State(state): State<AppState>,
    Page(staff): Page,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::ReleaseManager) {
        return forbidden(&staff, Role::ReleaseManager);
    }
    let to = "/dashboard/catalog";
    let (from, until) = match (
        parse_local(field(&f, "from")),
        parse_local(field(&f, "until")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return back(&staff, to, Err(e)),
    };
    if let (Some(a), Some(b)) = (from, until)
        && b <= a
    {
        return back(&staff, to, Err("A notice must end after it starts.".into()));
    }
    let title = field(&f, "title_cs");
    if title.is_empty()
        || title.chars().count() > 200
        || field(&f, "body_cs").chars().count() > 2000
    {
        return back(
            &staff,
            to,
            Err(
                "A notice needs a Czech title (up to 200 characters) and a text of up to 2000."
                    .into(),
            ),
        );
    }
    let groups: Vec<String> = f
        .iter()
        .filter(|(k, v)| k == "group" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    let id = format!("n-{}", crate::auth::fresh_secret(5).to_ascii_lowercase());
    let notice = Notice {
        id: id.clone(),
        title: Text {
            cs: title.to_owned(),
            en: optional(field(&f, "title_en")),
            uk: None,
        },
        body: Text {
            cs: field(&f, "body_cs").to_owned(),
            en: optional(field(&f, "body_en")),
            uk: None,
        },
        valid_from: from,
        valid_until: until,
        groups: groups.clone(),
    };
    let detail = format!(
        "notice {id} \"{title}\" to {}",
        groups_text(&groups, "all kiosks")
    );
    let r = edit_catalog(&state, &staff, detail, move |c| {
        c.notices.push(notice);
        Ok(())
    })
    .await
    .map(|v| {
        format!(
            "Notice published (catalog version {v}); kiosks show it after their next heartbeat."
        )
    });
    outcome(&staff, to, r)
}

/// `POST /dashboard/notices/{id}/withdraw`
pub async fn withdraw_notice(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(id): Path<String>,
) -> Response {
    if !staff.may(Role::ReleaseManager) {
        return forbidden(&staff, Role::ReleaseManager);
    }
    let nid = id.clone();
    let r = edit_catalog(&state, &staff, format!("notice {id} withdrawn"), move |c| {
        let before = c.notices.len();
        c.notices.retain(|n| n.id != nid);
        if c.notices.len() == before {
            Err(format!("There is no notice {nid:?}."))
        } else {
            Ok(())
        }
    })
    .await
    .map(|v| format!("Notice withdrawn (catalog version {v})."));
    outcome(&staff, "/dashboard/catalog", r)
}

/// `POST /dashboard/services/{id}/groups`
pub async fn service_groups(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::ReleaseManager) {
        return forbidden(&staff, Role::ReleaseManager);
    }
    let groups: Vec<String> = field(&f, "groups")
        .split([',', ' '])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = groups.iter().find(|g| !protocol::form::is_valid_id(g)) {
        return back(
            &staff,
            "/dashboard/catalog",
            Err(format!("{bad:?} is not a group name (a-z, 0-9, '-', '_').")),
        );
    }
    let sid = id.clone();
    let detail = format!(
        "service {id} offered in {}",
        groups_text(&groups, "all groups")
    );
    let r = edit_catalog(&state, &staff, detail, move |c| {
        let s = c
            .services
            .iter_mut()
            .find(|s| s.id == sid)
            .ok_or_else(|| format!("There is no service {sid:?}."))?;
        s.groups = groups;
        Ok(())
    })
    .await
    .map(|v| format!("Groups saved (catalog version {v})."));
    outcome(&staff, "/dashboard/catalog", r)
}

/// `POST /dashboard/catalog`
pub async fn upload_catalog(
    State(state): State<AppState>,
    Page(staff): Page,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::ReleaseManager) {
        return forbidden(&staff, Role::ReleaseManager);
    }
    let to = "/dashboard/catalog";
    let catalog: protocol::fleet::Catalog =
        match protocol::json::decode(field(&f, "catalog").as_bytes(), state.max_body) {
            Ok(c) => c,
            Err(e) => return back(&staff, to, Err(format!("The catalog is not valid: {e}"))),
        };
    let r = publish_catalog(
        &state,
        &staff.name,
        catalog,
        "uploaded on the dashboard".into(),
    )
    .await
    .map(|v| format!("Catalog version {v} published."));
    outcome(&staff, to, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_czech() {
        // Winter: UTC+1.
        let t = parse_local("2026-01-15T10:30").unwrap().unwrap();
        assert_eq!(protocol::time::format_czech(t), "15. 1. 2026 10:30");
        // Summer: UTC+2.
        let t = parse_local("2026-07-01T08:00").unwrap().unwrap();
        assert_eq!(protocol::time::format_czech(t), "1. 7. 2026 8:00");
        assert_eq!(parse_local("").unwrap(), None);
        for bad in [
            "2026-13-01T10:00",
            "yesterday",
            "2026-01-01T25:00",
            "2026-01-01",
        ] {
            assert!(parse_local(bad).is_err(), "{bad}");
        }
    }
}
