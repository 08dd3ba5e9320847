//! The dashboard's changes: each checks the role, does the change through the same functions
//! as the admin API (so the audit log and the kiosks see it alike), and redirects back with a
//! message. Forms are read as name/value pairs, so repeated fields (ticked groups) and missing
//! ones get clear messages rather than a rejection page.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use protocol::fleet::{CommandAction, Notice};
use protocol::{Text, UnixMillis};

use super::{Page, back, forbidden, groups_text, urlencode};
use crate::http::{AppError, ClientIp};
use crate::ops::alerts::ack as ack_alert;
use crate::ops::audit::audit;
use crate::ops::catalog::publish_catalog;
use crate::ops::commands::queue;
use crate::staff::{self, Role, Staff};
use crate::state::{AppState, blocking};
use crate::store::UserChange;

/// A posted form, as name/value pairs.
pub(super) type Fields = Vec<(String, String)>;

/// A form field, trimmed; empty when missing.
pub(super) fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
        .trim()
}

/// A change refused with its message, or done with one.
pub(super) fn outcome(staff: &Staff, to: &str, r: Result<String, AppError>) -> Response {
    back(
        staff,
        to,
        r.map_err(|e| match e {
            AppError::Internal(_) => "The change could not be saved; see the server log.".into(),
            other => other.to_string(),
        }),
    )
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
        .filter(|p| super::safe_next(Some(p)) == *p)
        .unwrap_or("/dashboard/alerts")
        .to_owned();
    let r = ack_alert(&state, &staff.name, id, field(&f, "comment"))
        .await
        .map(|()| format!("Alert {id} acknowledged."));
    outcome(&staff, &to, r)
}

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
