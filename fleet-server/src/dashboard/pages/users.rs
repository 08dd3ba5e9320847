//! Staff accounts, and one's own account.

use super::*;

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
