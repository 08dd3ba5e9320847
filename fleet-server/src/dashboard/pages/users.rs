//! Staff accounts, and one's own account.

use super::*;
use axum::Form;
use axum::response::{IntoResponse, Redirect};

use super::super::{Fields, back, field, outcome};
use crate::http::ClientIp;
use crate::ops::audit::audit;
use crate::staff;
use crate::store::UserChange;

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

/// `POST /dashboard/users`
pub async fn create_user(
    State(state): State<AppState>,
    Page(staff): Page,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::Admin) {
        return forbidden(&staff, Role::Admin);
    }
    let to = "/dashboard/users";
    let Some(role) = Role::parse(field(&f, "role")) else {
        return back(&staff, to, Err("Choose a role.".into()));
    };
    let name = field(&f, "username").to_ascii_lowercase();
    let password = f
        .iter()
        .find(|(k, _)| k == "password")
        .map_or(String::new(), |(_, v)| v.clone());
    let n = name.clone();
    let r = blocking(&state, move |s| {
        Ok(staff::create_user(s, &n, role, &password, crate::now_ms()))
    })
    .await;
    let r = match r {
        Ok(Ok(_)) => {
            audit(
                &state,
                &staff.name,
                "user.create",
                &name,
                format!("role {role}"),
            )
            .await;
            Ok(format!("Account {name} created ({}).", role.label()))
        }
        Ok(Err(e)) => Err(AppError::BadRequest(e.to_string())),
        Err(e) => Err(e),
    };
    outcome(&staff, to, r)
}

/// `POST /dashboard/users/{name}`: `op` = role, disable, enable, unlock or password.
pub async fn update_user(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(name): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::Admin) {
        return forbidden(&staff, Role::Admin);
    }
    let to = "/dashboard/users";
    let op = field(&f, "op").to_owned();
    if name == staff.name && matches!(op.as_str(), "role" | "disable") {
        return back(
            &staff,
            to,
            Err("You cannot change your own role or disable yourself; another admin can.".into()),
        );
    }
    let role = Role::parse(field(&f, "role"));
    let password = f
        .iter()
        .find(|(k, _)| k == "password")
        .map_or(String::new(), |(_, v)| v.clone());
    let n = name.clone();
    let op2 = op.clone();
    let r = blocking(&state, move |s| {
        let (change, detail) = match op2.as_str() {
            "role" => match role {
                Some(r) => (UserChange::Role(r.as_str().to_owned()), format!("role {r}")),
                None => return Ok(Err("Choose a role.".into())),
            },
            "disable" => (UserChange::Disabled(true), "disabled".to_owned()),
            "enable" => (UserChange::Disabled(false), "enabled".to_owned()),
            "unlock" => (UserChange::Unlock, "unlocked".to_owned()),
            "password" => match staff::check_password(&password)
                .and_then(|()| staff::hash_password(&password))
            {
                Ok(h) => (UserChange::Password(h), "password set".to_owned()),
                Err(e) => return Ok(Err(e.to_string())),
            },
            other => return Ok(Err(format!("Unknown change {other:?}."))),
        };
        match s.change_user(&n, &change) {
            Ok(()) => Ok(Ok(detail)),
            Err(crate::store::StoreError::NotFound(_)) => {
                Ok(Err(format!("There is no account {n:?}.")))
            }
            Err(e) => Err(e),
        }
    })
    .await;
    let r = match r {
        Ok(Ok(detail)) => {
            audit(
                &state,
                &staff.name,
                &format!("user.{op}"),
                &name,
                detail.clone(),
            )
            .await;
            Ok(format!("{name}: {detail}."))
        }
        Ok(Err(msg)) => Err(AppError::BadRequest(msg)),
        Err(e) => Err(e),
    };
    outcome(&staff, to, r)
}

/// `POST /dashboard/account`: a user changes their own password.
pub async fn change_password(
    State(state): State<AppState>,
    Page(staff): Page,
    ClientIp(ip): ClientIp,
    Form(f): Form<Fields>,
) -> Response {
    let to = "/dashboard/account";
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    let (current, new, repeat) = (get("current"), get("password"), get("repeat"));
    if new != repeat {
        return back(&staff, to, Err("The two new passwords differ.".into()));
    }
    let name = staff.name.clone();
    let source = ip.to_string();
    let r = blocking(&state, move |s| {
        // The current password is checked as a sign-in is, and counted with them: a session
        // left open on a desk cannot be used to guess it.
        let old = match staff::check_current_password(s, &name, &current, &source, crate::now_ms())
        {
            Ok(old) => old,
            Err(staff::LoginError::Wrong) => {
                return Ok(Err("The current password is wrong.".to_owned()));
            }
            Err(e) => return Ok(Err(format!("{e}."))),
        };
        match staff::check_password(&new).and_then(|()| staff::hash_password(&new)) {
            Ok(new) => {
                s.change_user(&name, &UserChange::PasswordFrom { old, new })?;
                Ok(Ok(()))
            }
            Err(e) => Ok(Err(e.to_string())),
        }
    })
    .await;
    match r {
        Ok(Ok(())) => {
            audit(
                &state,
                &staff.name,
                "user.password",
                &staff.name,
                "own password changed".into(),
            )
            .await;
            Redirect::to("/login?msg=password_changed").into_response()
        }
        Ok(Err(msg)) => back(&staff, to, Err(msg)),
        Err(e) => outcome(&staff, to, Err(e)),
    }
}
