//! The staff dashboard: server-rendered pages that update live over server-sent events.
//!
//! - `/login`, `/logout`: sign-in with a staff account ([`crate::staff`]); five wrong passwords
//!   from one address lock the name for that address (a hundred from all addresses lock it
//!   everywhere), and each address gets `limits.logins_per_minute` attempts. The sign-in form
//!   is protected from login CSRF (OWASP): a double-submit token in a `__Host-` cookie and the
//!   form, and a cross-site `Origin` or `Sec-Fetch-Site` is refused.
//! - `/dashboard`: the fleet at a glance, a tile per kiosk (state, version, last seen, open
//!   alerts); `?wall=1` is the same for a wall screen, without navigation.
//! - `/dashboard/kiosks/{id}`: devices, system, health history charts, submission counts,
//!   remote commands and their results.
//! - `/dashboard/alerts`, `/dashboard/sla`, `/dashboard/catalog` (services per group, notices),
//!   `/dashboard/users`, `/dashboard/audit`, `/dashboard/account`.
//! - `/dashboard/releases`: rollouts and their progress, starting and steering them, the fleet
//!   by release, the releases uploaded (`releases.rs`).
//!
//! Each page names its live view in `<body data-live>`; `live.js` opens
//! `/dashboard/events?view=…` and swaps in the regions the server sends after a change
//! ([`crate::state::Change`]), at most once a second, and every 15 s so that ages stay true.
//!
//! Each page is one file in `pages/` with its GET, the POSTs of its forms and its live
//! regions (the releases page is `releases.rs`). Changes are HTML forms posted with the session's
//! CSRF token (checked for every change by the session middleware in [`crate::http`]), answered with a redirect (post/redirect/get) that carries a message and
//! its MAC under the session's CSRF token (`?ok=…&sig=…`): a page shows only a message the
//! server wrote for this session, never text a link from elsewhere puts in the address. The
//! sign-in page shows only messages from a fixed table of codes (`?msg=signed_out`).
//! Pages allow no inline script or style (Content-Security-Policy), and every value from the
//! store is escaped.

mod chart;
pub(crate) mod live;
pub(crate) mod pages;
pub(crate) mod releases;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use protocol::UnixMillis;
use serde::Deserialize;

use crate::http::html::esc;
use crate::http::{AppError, ClientIp};
use crate::staff::{self, Role, Staff};
use crate::state::{AppState, blocking};

/// `POST /login`: open to anyone, so throttled per address before its small body is read.
pub fn sign_in_route(state: &AppState) -> axum::routing::MethodRouter<AppState> {
    post(login)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::http::PUBLIC_MAX_BODY,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            throttle_login,
        ))
}

/// `GET /`: the dashboard.
pub async fn to_dashboard() -> Redirect {
    Redirect::to("/dashboard")
}

/// A signed-in member of staff on a page; anyone else is sent to the sign-in page.
#[derive(Debug)]
pub struct Page(pub Staff);

impl axum::extract::FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &AppState,
    ) -> Result<Self, Response> {
        match parts.extensions.get::<Staff>() {
            Some(s) => Ok(Page(s.clone())),
            None => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .filter(|p| p.starts_with("/dashboard") && !p.starts_with("/dashboard/events"))
                    .unwrap_or("/dashboard");
                let to = format!("/login?next={}", urlencode(next));
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

/// The message a redirect after a change carries: `?ok=…` or `?err=…`, with `sig`, its MAC
/// under the session's CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    ok: Option<String>,
    err: Option<String>,
    sig: Option<String>,
}

impl Flash {
    /// The message as HTML, if the server wrote it for the session `staff` (else nothing).
    fn html(&self, staff: &Staff) -> String {
        let (class, text) = match (&self.ok, &self.err) {
            (_, Some(e)) => ("err", e),
            (Some(m), None) => ("ok", m),
            _ => return String::new(),
        };
        let genuine = self
            .sig
            .as_deref()
            .is_some_and(|sig| crate::auth::constant_time_eq(sig, &flash_mac(staff, class, text)));
        if !genuine {
            return String::new();
        }
        flash_div(class, text)
    }
}

/// The MAC of a message of kind `ok`/`err` for `staff`'s session.
fn flash_mac(staff: &Staff, kind: &str, text: &str) -> String {
    crate::auth::mac(&staff.csrf, &format!("flash\0{kind}\0{text}"))
}

/// A redirect to `to` with a message for `staff`'s session.
fn back(staff: &Staff, to: &str, result: Result<String, String>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let (k, v) = match &result {
        Ok(m) => ("ok", m.as_str()),
        Err(e) => ("err", e.as_str()),
    };
    Redirect::to(&format!(
        "{to}{sep}{k}={}&sig={}",
        urlencode(v),
        flash_mac(staff, k, v)
    ))
    .into_response()
}

/// The sign-in page's messages, by code: nothing else can appear there.
const LOGIN_MESSAGES: &[(&str, &str, &str)] = &[
    ("signed_out", "ok", "Signed out."),
    (
        "password_changed",
        "ok",
        "Password changed; sign in with the new one.",
    ),
    ("expired", "err", "Your session ended; sign in again."),
];

/// A message box of kind `ok` or `err`.
fn flash_div(kind: &str, text: &str) -> String {
    let role = if kind == "err" { "alert" } else { "status" };
    format!(
        "<div class=\"flash {kind}\" role=\"{role}\">{}</div>",
        esc(text)
    )
}

/// Percent-encodes a query value.
fn urlencode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The pages in the navigation: path, label, the role that sees the link.
const NAV: &[(&str, &str, Role)] = &[
    ("/dashboard", "Fleet", Role::Viewer),
    ("/dashboard/alerts", "Alerts", Role::Viewer),
    ("/dashboard/sla", "Availability", Role::Viewer),
    ("/dashboard/catalog", "Catalog & notices", Role::Viewer),
    ("/dashboard/releases", "Releases", Role::Viewer),
    ("/dashboard/requests", "Requests", Role::CallCentre),
    ("/dashboard/users", "Users", Role::Admin),
    ("/dashboard/audit", "Audit log", Role::Viewer),
];

/// What a page puts in the shell.
struct Shell<'a> {
    staff: &'a Staff,
    /// The navigation entry it belongs to.
    nav: &'a str,
    title: &'a str,
    /// The live view (`data-live`), if the page updates itself.
    live: Option<&'a str>,
    /// Open alerts, for the navigation's counter.
    open_alerts: usize,
    wall: bool,
}

/// A whole page: navigation, header, flash, body.
fn page(shell: Shell<'_>, flash: &Flash, body: &str) -> Response {
    let mut nav = String::new();
    for (path, label, role) in NAV {
        if !shell.staff.may(*role) {
            continue;
        }
        let count = if *path == "/dashboard/alerts" && shell.open_alerts > 0 {
            format!("<span class=\"count\">{}</span>", shell.open_alerts)
        } else {
            String::new()
        };
        nav.push_str(&format!(
            "<a class=\"item{}\" href=\"{path}\">{label}{count}</a>",
            if *path == shell.nav { " on" } else { "" }
        ));
    }
    let live = shell
        .live
        .map_or(String::new(), |v| format!(" data-live=\"{}\"", esc(v)));
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Okénko fleet</title>\
         <link rel=\"stylesheet\" href=\"/dashboard/assets/dashboard.css\"></head>\
         <body{wall}{live}><div class=\"app\"><nav class=\"side\" aria-label=\"Main\">\
         <a class=\"brand\" href=\"/dashboard\">Okénko<small>fleet dashboard</small></a>{nav}</nav>\
         <main><header class=\"top\"><h1>{title}</h1><div class=\"who\">\
         {live_dot}<a href=\"/dashboard/account\">{name}</a><span class=\"badge off\">{role}</span>\
         <form class=\"inline\" method=\"post\" action=\"/logout\">{csrf}\
         <button class=\"button\" type=\"submit\">Sign out</button></form></div></header>\
         {flash}{body}</main></div>\
         <script src=\"/dashboard/assets/live.js\"></script></body></html>",
        title = esc(shell.title),
        wall = if shell.wall { " class=\"wall\"" } else { "" },
        live_dot = if shell.live.is_some() {
            "<span id=\"live\" class=\"live\">connecting</span>"
        } else {
            ""
        },
        name = esc(&shell.staff.name),
        role = shell.staff.role.label(),
        csrf = csrf_field(shell.staff),
        flash = flash.html(shell.staff),
    );
    html_response(StatusCode::OK, html)
}

/// An HTML answer with the dashboard's security headers.
fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The hidden field every form carries.
fn csrf_field(staff: &Staff) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&staff.csrf)
    )
}

/// A page refused for a role below the one it needs.
fn forbidden(staff: &Staff, role: Role) -> Response {
    html_response(
        StatusCode::FORBIDDEN,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed</title>\
             <link rel=\"stylesheet\" href=\"/dashboard/assets/dashboard.css\"></head><body>\
             <div class=\"card login\"><h2>Not allowed</h2><p>This needs the {} role; you are {}.</p>\
             <p><a href=\"/dashboard\">Back to the fleet</a></p></div></body></html>",
            role.label(),
            staff.role.label()
        ),
    )
}

/// A notice's or service's groups for people: `all`'s words when there are none.
fn groups_text(groups: &[String], all: &str) -> String {
    if groups.is_empty() {
        all.to_owned()
    } else {
        groups.join(", ")
    }
}

/// `just now`, `45 s ago`, `12 min ago`, `3 h ago`, `2 d ago`.
fn ago(now: UnixMillis, t: UnixMillis) -> String {
    let s = (now - t).max(0) / 1000;
    match s {
        0..5 => "just now".into(),
        5..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..172_800 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// Czech local time.
fn when(t: UnixMillis) -> String {
    protocol::time::format_czech(t)
}

pub async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/dashboard.css"),
    )
}

pub async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/live.js"),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    msg: Option<String>,
}

/// Where to go after signing in: a dashboard path only (no open redirect, nothing that could
/// break out of an attribute). Checked on the decoded value, so `%2F%2F` is `//`.
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| {
        let decoded = percent_decode(n);
        [n, decoded.as_str()].iter().all(|v| {
            v.starts_with("/dashboard")
                && !v.contains("//")
                && !v.contains(['\\', '"', '\'', '<', '>', '`'])
                && !v.chars().any(char::is_control)
        })
    })
    .unwrap_or("/dashboard")
}

/// Decodes `%XX` escapes (and `+` as a space); a malformed escape stays as it is.
fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The sign-in form's double-submit cookie (login CSRF).
const LOGIN_COOKIE: &str = "__Host-okenko_login";

pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    let flash = q
        .msg
        .as_deref()
        .and_then(|code| LOGIN_MESSAGES.iter().find(|(c, _, _)| *c == code))
        .map_or(String::new(), |(_, kind, text)| flash_div(kind, text));
    login_html(safe_next(q.next.as_deref()), &flash, StatusCode::OK)
}

fn login_html(next: &str, flash: &str, status: StatusCode) -> Response {
    let token = crate::auth::fresh_secret(20);
    let mut r = html_response(
        status,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Sign in · Okénko fleet</title>\
             <link rel=\"stylesheet\" href=\"/dashboard/assets/dashboard.css\"></head><body>\
             <div class=\"login\"><div class=\"brand\">Okénko</div>\
             <p class=\"muted\">Fleet dashboard for the city's kiosks</p>{flash}\
             <form class=\"card\" method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <input type=\"hidden\" name=\"login_csrf\" value=\"{token}\">\
             <label for=\"username\">User name</label>\
             <input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button class=\"primary\" type=\"submit\">Sign in</button></form></div></body></html>",
            next = esc(next),
        ),
    );
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
    login_csrf: Option<String>,
}

/// Whether a sign-in post may come from where it says it does (login CSRF, OWASP's
/// cheat-sheet): a browser's cross-site `Sec-Fetch-Site` or foreign `Origin` is refused, and a
/// browser's post (one that sends either header) must carry the token its sign-in page set in
/// both the cookie and the form. A client that is not a browser (`fleetctl`) sends neither
/// header and cannot be made to post by another site.
fn login_origin_ok(
    headers: &axum::http::HeaderMap,
    form_token: Option<&str>,
) -> Result<(), &'static str> {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site = get("sec-fetch-site");
    if fetch_site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err("cross-site Sec-Fetch-Site");
    }
    let origin = get("origin");
    // The pages' `Referrer-Policy: no-referrer` makes browsers send `Origin: null` even from
    // the same origin: then Sec-Fetch-Site and the token decide.
    if let Some(origin) = origin.filter(|o| *o != "null") {
        let host = get("host").unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
        if host.is_empty() || origin_host != host {
            return Err("foreign Origin");
        }
    }
    if fetch_site.is_none() && origin.is_none() {
        return Ok(());
    }
    let cookie = get("cookie").and_then(|c| {
        c.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == LOGIN_COOKIE)
            .map(|(_, v)| v)
    });
    match (cookie, form_token) {
        (Some(c), Some(f)) if !c.is_empty() && crate::auth::constant_time_eq(c, f) => Ok(()),
        (None, _) => Err("no sign-in cookie"),
        _ => Err("the form's token is not the cookie's"),
    }
}

/// Each address's sign-in attempts per minute (`limits.logins_per_minute`), counted before the
/// body is read.
async fn throttle_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !state.login_limiter.allow(ip) {
        tracing::warn!(%ip, "sign-in attempts over the limit");
        return login_html(
            "/dashboard",
            &flash_div(
                "err",
                "Too many sign-in attempts from this address; wait a minute.",
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    next.run(req).await
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    let refuse = |msg: &str, status| login_html(&next, &flash_div("err", msg), status);
    if let Err(why) = login_origin_ok(&headers, form.login_csrf.as_deref()) {
        tracing::warn!(%ip, why, "sign-in refused: not posted from this server's sign-in page");
        return Ok(refuse(
            "The sign-in form expired or came from another site; sign in again.",
            StatusCode::FORBIDDEN,
        ));
    }
    let username = form.username.trim().to_ascii_lowercase();
    let (name, password) = (username.clone(), form.password);
    let source = ip.to_string();
    let result = blocking(&state, move |s| {
        Ok(staff::login(s, &name, &password, &source, crate::now_ms()))
    })
    .await?;
    match result {
        Ok(new) => {
            tracing::info!(user = %username, "signed in");
            crate::ops::audit::audit(&state, &username, "user.login", &username, String::new())
                .await;
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&staff::session_cookie(&new.token)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            Ok(r)
        }
        Err(e) => {
            tracing::warn!(user = %username, %ip, reason = %e, "sign-in refused");
            if matches!(e, staff::LoginError::Locked { .. }) {
                crate::ops::audit::audit(
                    &state,
                    &username,
                    "user.locked",
                    &username,
                    format!("{e} (from {ip})"),
                )
                .await;
            }
            Ok(refuse(&e.to_string(), StatusCode::UNAUTHORIZED))
        }
    }
}

pub async fn logout(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = staff::cookie_token(headers.get(header::COOKIE)) {
        let hash = crate::auth::hash_secret(token);
        if let Err(e) = blocking(&state, move |s| s.delete_session(&hash)).await {
            tracing::error!(error = %e, "session not deleted at sign-out");
        }
    }
    let mut r = Redirect::to("/login?msg=signed_out").into_response();
    if let Ok(v) = HeaderValue::from_str(&staff::clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// A posted form, as name/value pairs.
pub(crate) type Fields = Vec<(String, String)>;

/// A form field, trimmed; empty when missing.
pub(crate) fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
        .trim()
}

/// A change refused with its message, or done with one.
pub(crate) fn outcome(staff: &Staff, to: &str, r: Result<String, AppError>) -> Response {
    back(
        staff,
        to,
        r.map_err(|e| match e {
            AppError::Internal(_) => "The change could not be saved; see the server log.".into(),
            other => other.to_string(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(safe_next(Some("/dashboard/alerts")), "/dashboard/alerts");
        for evil in [
            "https://evil.example",
            "//evil.example",
            "/dashboard//evil",
            "/\\evil",
        ] {
            assert_eq!(safe_next(Some(evil)), "/dashboard", "{evil}");
        }
        assert_eq!(urlencode("a b&c/é"), "a%20b%26c/%C3%A9");
        assert_eq!(ago(10_000, 0), "10 s ago");
        assert_eq!(ago(7_200_000, 0), "2 h ago");
    }
}
