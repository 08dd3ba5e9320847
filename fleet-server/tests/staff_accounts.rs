//! Staff accounts through the router (`oneshot`, a real SQLite file): sign-in sets a secure
//! session cookie; a viewer can change nothing (every change route refused, the store
//! unchanged); a change without the session's CSRF token is refused; a locked account stays
//! locked even with the right password and across a restart; sessions end at sign-out and when
//! an admin changes the account; the dashboard's pages escape what the store holds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fleet_server::routes::app;
use fleet_server::staff::{self, Role};
use fleet_server::state::AppState;
use fleet_server::store::Store;
use fleet_server::store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

struct Env {
    state: AppState,
    config: fleet_server::config::Config,
    dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn env() -> Env {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "okenko-staff-{}",
        protocol::tracking::crockford(&b)
    ));
    let config = fleet_server::config::Config::from_toml(&format!(
        "[server]\ndata_dir = \"{}\"\n[limits]\nlogins_per_minute = 1000\n",
        dir.display()
    ))
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.db_path()).unwrap());
    let now = fleet_server::now_ms();
    for (name, role) in [
        ("vera", Role::Viewer),
        ("olga", Role::Operator),
        ("ruda", Role::ReleaseManager),
        ("adam", Role::Admin),
    ] {
        staff::create_user(store.as_ref(), name, role, PASSWORD, now).unwrap();
    }
    let state = fleet_server::run::state(&config, store).unwrap();
    Env { state, config, dir }
}

/// Restarts the server state on the same database.
fn restart(env: &mut Env) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&env.config.db_path()).unwrap());
    env.state = fleet_server::run::state(&env.config, store).unwrap();
}

struct Reply {
    status: StatusCode,
    location: String,
    set_cookie: String,
    csp: String,
    body: String,
}

async fn send(
    env: &Env,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    form: Option<String>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, format!("{}={c}", staff::COOKIE));
    }
    let body = match form {
        Some(f) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(f)
        }
        None => Body::empty(),
    };
    raw(env, req.body(body).unwrap()).await
}

async fn login(env: &Env, user: &str, password: &str) -> Reply {
    send(
        env,
        "POST",
        "/login",
        None,
        Some(format!(
            "username={user}&password={}",
            password.replace(' ', "+")
        )),
    )
    .await
}

/// Signs in; the session token and its CSRF token.
async fn session(env: &Env, user: &str) -> (String, String) {
    let r = login(env, user, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let token = r
        .set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap();
    let page = send(env, "GET", "/dashboard/account", Some(&token), None).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    (token, csrf)
}

/// Every change the dashboard offers, with a plausible form.
fn changes(csrf: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "/dashboard/kiosks/k-1/commands",
            format!("csrf={csrf}&action=print_test_receipt"),
        ),
        (
            "/dashboard/alerts/1/ack",
            format!("csrf={csrf}&comment=on+it"),
        ),
        (
            "/dashboard/notices",
            format!("csrf={csrf}&title_cs=Voda&body_cs=x"),
        ),
        ("/dashboard/notices/n-1/withdraw", format!("csrf={csrf}")),
        (
            "/dashboard/services/podnet/groups",
            format!("csrf={csrf}&groups=a"),
        ),
        ("/dashboard/catalog", format!("csrf={csrf}&catalog=%7B%7D")),
        (
            "/dashboard/users",
            format!(
                "csrf={csrf}&username=eve&role=admin&password={}",
                PASSWORD.replace(' ', "+")
            ),
        ),
        (
            "/dashboard/users/olga",
            format!("csrf={csrf}&op=role&role=admin"),
        ),
        (
            "/dashboard/rollouts",
            format!("csrf={csrf}&version=2.0.0&percent=100&max_failure_percent=20"),
        ),
        ("/dashboard/rollouts/1/pause", format!("csrf={csrf}")),
        (
            "/dashboard/rollouts/1/expand",
            format!("csrf={csrf}&percent=100"),
        ),
    ]
}

#[tokio::test]
async fn sign_in_sets_a_secure_session_and_wrong_passwords_do_not() {
    let env = env();
    let r = send(&env, "GET", "/dashboard", None, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location, "/login?next=/dashboard");
    let r = login(&env, "olga", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location, "/dashboard");
    for attr in [
        "__Host-okenko_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(r.set_cookie.contains(attr), "{attr} in {}", r.set_cookie);
    }
    let r = login(&env, "olga", "wrong password here").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.set_cookie.contains(staff::COOKIE), "{}", r.set_cookie);
    assert!(r.body.contains("wrong user name or password"));
    // An unknown name gets the very same answer.
    let r = login(&env, "nobody", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("wrong user name or password"));
    // The page after sign-in is only ever on the dashboard.
    let r = send(
        &env,
        "POST",
        "/login",
        None,
        Some(format!(
            "username=olga&password={}&next=https://evil.example/",
            PASSWORD.replace(' ', "+")
        )),
    )
    .await;
    assert_eq!(r.location, "/dashboard");
    let log = env.state.store.audit_log(10).unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "user.login" && e.actor == "olga")
    );
}

#[tokio::test]
async fn a_viewer_sees_everything_and_can_change_nothing() {
    let env = env();
    let (token, csrf) = session(&env, "vera").await;
    for page in [
        "/dashboard",
        "/dashboard/alerts",
        "/dashboard/sla",
        "/dashboard/catalog",
        "/dashboard/audit",
        "/dashboard/account",
        "/dashboard/releases",
    ] {
        let r = send(&env, "GET", page, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(r.body.contains("vera"), "{page}");
        assert!(
            r.csp.contains("script-src 'self'") && r.csp.contains("frame-ancestors 'none'"),
            "{page}: Content-Security-Policy {:?}",
            r.csp
        );
        assert!(!r.body.contains("<script>"), "{page} has inline script");
    }
    assert_eq!(
        send(&env, "GET", "/dashboard/users", Some(&token), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let audit_before = env.state.store.audit_log(1000).unwrap().len();
    let catalog_before = env.state.store.catalog().unwrap();
    for (path, form) in changes(&csrf) {
        let r = send(&env, "POST", path, Some(&token), Some(form)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
    }
    // The admin API too, with the session.
    let r = send(
        &env,
        "POST",
        "/api/admin/v1/bootstrap-tokens",
        Some(&token),
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert!(
        r.status == StatusCode::FORBIDDEN || r.status == StatusCode::BAD_REQUEST,
        "{}",
        r.body
    );
    assert_eq!(env.state.store.audit_log(1000).unwrap().len(), audit_before);
    assert_eq!(env.state.store.catalog().unwrap(), catalog_before);
    assert_eq!(
        env.state.store.user("olga").unwrap().unwrap().role,
        "operator"
    );
    assert!(env.state.store.user("eve").unwrap().is_none());
    assert!(env.state.store.rollouts().unwrap().is_empty());
}

#[tokio::test]
async fn changes_without_the_csrf_token_are_refused() {
    let env = env();
    let (token, csrf) = session(&env, "adam").await;
    for (path, form) in changes(&csrf) {
        let without = form
            .split('&')
            .filter(|kv| !kv.starts_with("csrf="))
            .collect::<Vec<_>>()
            .join("&");
        let r = send(&env, "POST", path, Some(&token), Some(without)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("CSRF"), "{path}: {}", r.body);
        let wrong = form.replace(&csrf, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let r = send(&env, "POST", path, Some(&token), Some(wrong)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Signing out needs it too (no one can sign a member of staff out from another site).
    let r = send(&env, "POST", "/logout", Some(&token), Some(String::new())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(env.state.store.user("eve").unwrap().is_none());
    assert_eq!(
        env.state.store.user("olga").unwrap().unwrap().role,
        "operator"
    );
    // With the token the same change is made, and logged with the person's name.
    let r = send(
        &env,
        "POST",
        "/dashboard/users/olga",
        Some(&token),
        Some(format!("csrf={csrf}&op=role&role=release_manager")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.location.contains("ok="), "{}", r.location);
    assert_eq!(
        env.state.store.user("olga").unwrap().unwrap().role,
        "release_manager"
    );
    let log = env.state.store.audit_log(1).unwrap();
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str()),
        ("adam", "user.role")
    );
}

#[tokio::test]
async fn a_locked_account_stays_locked() {
    let mut env = env();
    for _ in 0..staff::MAX_FAILURES {
        let r = login(&env, "olga", "not the password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = login(&env, "olga", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "locked: the right password is refused"
    );
    assert!(r.body.contains("locked"), "{}", r.body);
    assert!(!r.set_cookie.contains(staff::COOKIE));
    restart(&mut env);
    let r = login(&env, "olga", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "still locked after a restart"
    );
    assert!(r.body.contains("locked"));
    // An admin unlocks it.
    let (token, csrf) = session(&env, "adam").await;
    let r = send(
        &env,
        "POST",
        "/dashboard/users/olga",
        Some(&token),
        Some(format!("csrf={csrf}&op=unlock")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        login(&env, "olga", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn sign_in_attempts_per_address_are_limited() {
    let mut env = env();
    env.config.limits.logins_per_minute = 3;
    restart(&mut env);
    for _ in 0..3 {
        assert_eq!(
            login(&env, "nobody", "x").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&env, "olga", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn sessions_end_at_sign_out_and_when_the_account_changes() {
    let env = env();
    let (token, csrf) = session(&env, "olga").await;
    let r = send(
        &env,
        "POST",
        "/logout",
        Some(&token),
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.set_cookie.contains("Max-Age=0"));
    let r = send(&env, "GET", "/dashboard", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "signed out");

    let (olga, _) = session(&env, "olga").await;
    let (admin, csrf) = session(&env, "adam").await;
    let r = send(
        &env,
        "POST",
        "/dashboard/users/olga",
        Some(&admin),
        Some(format!("csrf={csrf}&op=disable")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&env, "GET", "/dashboard", Some(&olga), None)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        login(&env, "olga", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // An admin cannot lock themselves out.
    let r = send(
        &env,
        "POST",
        "/dashboard/users/adam",
        Some(&admin),
        Some(format!("csrf={csrf}&op=disable")),
    )
    .await;
    assert!(r.location.contains("err="), "{}", r.location);
    assert!(!env.state.store.user("adam").unwrap().unwrap().disabled);
}

#[tokio::test]
async fn pages_escape_what_the_store_holds() {
    let env = env();
    let evil = "<script>alert(1)</script>";
    let s = env.state.store.as_ref();
    s.create_bootstrap_token("h", "k-1", evil, "default", fleet_server::now_ms() + 60_000)
        .unwrap();
    s.audit(&fleet_server::store::AuditEntry {
        at: fleet_server::now_ms(),
        actor: evil.into(),
        action: "x".into(),
        target: evil.into(),
        detail: evil.into(),
    })
    .unwrap();
    let (token, _) = session(&env, "vera").await;
    for page in ["/dashboard", "/dashboard/audit"] {
        let r = send(&env, "GET", page, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(!r.body.contains(evil), "{page} shows raw markup");
        assert!(r.body.contains("&lt;script&gt;"), "{page}");
    }
}

/// A request with any headers and body; the reply.
async fn raw(env: &Env, req: Request<Body>) -> Reply {
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app(env.state.clone()).oneshot(req),
    )
    .await
    .expect("answered without waiting for the body")
    .unwrap();
    let h = |n| {
        resp.headers()
            .get_all(n)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (location, set_cookie) = (h(header::LOCATION), h(header::SET_COOKIE));
    let csp = h(header::CONTENT_SECURITY_POLICY);
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        location,
        set_cookie,
        csp,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Every dashboard page, swept with a hostile value in every query field any page reads: none
/// of the value's `<`, `"` or `>` reaches the HTML raw.
#[tokio::test]
async fn hostile_query_values_never_reach_a_page_raw() {
    let env = env();
    env.state
        .store
        .create_bootstrap_token(
            "h",
            "k-1",
            "Kiosk",
            "default",
            fleet_server::now_ms() + 60_000,
        )
        .unwrap();
    let (token, _) = session(&env, "adam").await;
    let hostile = "Q\"W<E>R'T";
    let enc = "Q%22W%3CE%3ER%27T";
    let pages = [
        "/dashboard",
        "/dashboard/kiosks/k-1",
        "/dashboard/alerts",
        "/dashboard/sla",
        "/dashboard/catalog",
        "/dashboard/users",
        "/dashboard/audit",
        "/dashboard/account",
        "/dashboard/releases",
        "/login",
    ];
    let fields = [
        "state", "group", "wall", "days", "month", "ok", "err", "sig", "next", "msg", "view", "id",
    ];
    for page in pages {
        for field in fields {
            for value in [enc.to_owned(), format!("/dashboard?state={enc}")] {
                let uri = format!("{page}?{field}={value}");
                let r = send(&env, "GET", &uri, Some(&token), None).await;
                assert!(
                    r.status.is_success()
                        || r.status.is_redirection()
                        || r.status.is_client_error(),
                    "{uri}: {}",
                    r.status
                );
                for raw in ["Q\"W", "W<E", "E>R", "R'T"] {
                    assert!(!r.body.contains(raw), "{uri} shows {raw:?} raw");
                    assert!(!r.location.contains(raw), "{uri} redirects with {raw:?}");
                }
            }
        }
    }
    // The way in the review found: a sign-in link whose `next` carries the markup.
    let sign_in_to = |next: String| {
        let env = &env;
        async move {
            let form = format!(
                "username=adam&password={}&next={}",
                PASSWORD.replace(' ', "+"),
                next.replace('%', "%25")
            );
            send(env, "POST", "/login", None, Some(form)).await
        }
    };
    let r = sign_in_to(format!("/dashboard?state={enc}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let after = send(&env, "GET", &r.location, Some(&token), None).await;
    assert!(!after.body.contains(hostile) && !after.body.contains("W<E"));
    // `next` is checked after decoding: an encoded `//` does not leave the dashboard.
    for next in [
        "/dashboard%2F%2Fevil.example",
        "/dashboard/%5C%5Cevil",
        "%2F%2Fevil.example",
    ] {
        let r = sign_in_to(next.to_owned()).await;
        assert_eq!(r.location, "/dashboard", "{next}");
    }
}

/// A message in the address is shown only if the server wrote it for this session; the sign-in
/// page shows only its own coded messages.
#[tokio::test]
async fn pages_show_only_messages_the_server_wrote() {
    let env = env();
    let (token, csrf) = session(&env, "adam").await;
    let forged = "Your+account+is+compromised%3B+call+555+0100";
    for uri in [
        format!("/dashboard?err={forged}"),
        format!("/dashboard/audit?ok={forged}&sig=00112233445566778899aabbccddeeff"),
    ] {
        let r = send(&env, "GET", &uri, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(!r.body.contains("call 555"), "{uri}");
    }
    for uri in [
        format!("/login?err={forged}"),
        format!("/login?ok={forged}"),
    ] {
        let r = send(&env, "GET", &uri, None, None).await;
        assert!(!r.body.contains("call 555"), "{uri}");
    }
    let r = send(&env, "GET", "/login?msg=signed_out", None, None).await;
    assert!(r.body.contains("Signed out."));
    // A real change's message is shown, to its session only.
    let r = send(
        &env,
        "POST",
        "/dashboard/users/olga",
        Some(&token),
        Some(format!("csrf={csrf}&op=role&role=release_manager")),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let shown = send(&env, "GET", &r.location, Some(&token), None).await;
    assert!(shown.body.contains("olga: role"), "{}", shown.body);
    let (other, _) = session(&env, "vera").await;
    let elsewhere = send(&env, "GET", &r.location, Some(&other), None).await;
    assert!(!elsewhere.body.contains("olga: role"));
}

/// Login CSRF: another site cannot sign a browser in (to an account of the attacker's).
#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let env = env();
    let form = format!("username=olga&password={}", PASSWORD.replace(' ', "+"));
    let post = |headers: &[(&str, &str)], body: String| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "fleet.example");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(Body::from(body)).unwrap()
    };
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        // A browser's post without the sign-in page's token.
        vec![
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://fleet.example"),
        ],
    ] {
        let r = raw(&env, post(&headers, form.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(!r.set_cookie.contains(staff::COOKIE), "{headers:?}");
    }
    // The sign-in page sets the token in a cookie and in its form: then it works.
    let page = send(&env, "GET", "/login", None, None).await;
    let token = page
        .body
        .split("name=\"login_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(
        page.set_cookie
            .contains(&format!("__Host-okenko_login={token}"))
    );
    assert!(page.set_cookie.contains("SameSite=Strict"));
    let cookie = format!("__Host-okenko_login={token}");
    let r = raw(
        &env,
        post(
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://fleet.example"),
                ("cookie", &cookie),
            ],
            format!("{form}&login_csrf={token}"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.set_cookie.contains(staff::COOKIE));
    // A token of another page is not enough.
    let r = raw(
        &env,
        post(
            &[("sec-fetch-site", "same-origin"), ("cookie", &cookie)],
            format!("{form}&login_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// The sign-in and enrolment routes take their rate limit before reading a body, and read
/// only small bodies.
#[tokio::test]
async fn public_routes_limit_before_reading_and_read_small_bodies() {
    let mut env = env();
    env.config.limits.logins_per_minute = 1;
    env.config.limits.public_per_minute = 1;
    restart(&mut env);
    for (path, kind) in [
        ("/login", "application/x-www-form-urlencoded"),
        ("/api/kiosk/v1/enrol", "application/json"),
    ] {
        let big = "a".repeat(64 * 1024);
        let body = if path == "/login" {
            format!("username={big}")
        } else {
            format!(r#"{{"bootstrap_token":"{big}"}}"#)
        };
        let r = raw(
            &env,
            Request::builder()
                .method("POST")
                .uri(path)
                .header(header::CONTENT_TYPE, kind)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.body
        );
        // The address's one attempt is spent: the next is refused without its body being read
        // (it never comes).
        let never = Body::from_stream(futures_util::stream::pending::<
            Result<axum::body::Bytes, std::io::Error>,
        >());
        let r = raw(
            &env,
            Request::builder()
                .method("POST")
                .uri(path)
                .header(header::CONTENT_TYPE, kind)
                .header(header::CONTENT_LENGTH, "1000000")
                .body(never)
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
}

/// The live event stream checks its session before every event and ends when it expires.
#[tokio::test]
async fn the_live_stream_ends_when_the_session_does() {
    let env = env();
    let (token, _) = session(&env, "vera").await;
    let req = Request::builder()
        .uri("/dashboard/events?view=audit")
        .header(header::COOKIE, format!("{}={token}", staff::COOKIE))
        .body(Body::empty())
        .unwrap();
    let resp = app(env.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    // The session idles out (as if 31 minutes had passed without a request).
    let db = rusqlite::Connection::open(env.config.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    db.execute(
        "UPDATE staff_sessions SET last_seen = last_seen - ?1",
        [staff::IDLE_MS + 60_000],
    )
    .unwrap();
    env.state.changed(fleet_server::state::Change::Audit);
    let mut events = 0;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Some(frame) = body.frame().await {
            if frame.is_ok_and(|f| f.data_ref().is_some_and(|d| d.starts_with(b"event"))) {
                events += 1;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ended with the session");
    assert_eq!(events, 0, "nothing was sent after the session ended");
}

#[tokio::test]
async fn viewing_a_console_code_is_audited() {
    let env = env();
    let s = env.state.store.as_ref();
    let boot = fleet_server::auth::hash_secret("boot-token-0123456789");
    s.create_bootstrap_token(
        &boot,
        "k-1",
        "Kiosk",
        "default",
        fleet_server::now_ms() + 60_000,
    )
    .unwrap();
    s.enrol(
        &boot,
        &fleet_server::auth::hash_secret("kiosk-credential-0123456789-0123456789"),
        "t",
        fleet_server::now_ms(),
    )
    .unwrap();
    let (olga, csrf) = session(&env, "olga").await;
    let page = send(&env, "GET", "/dashboard/kiosks/k-1", Some(&olga), None).await;
    assert!(
        !page.body.contains("id=\"console-code\""),
        "not shown unasked"
    );
    assert!(page.body.contains("/dashboard/kiosks/k-1/console-code"));
    let r = send(
        &env,
        "POST",
        "/dashboard/kiosks/k-1/console-code",
        Some(&olga),
        Some(format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"console-code\""));
    let log = env.state.store.audit_log(10).unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "kiosk.console_code" && e.actor == "olga" && e.target == "k-1"),
        "{log:?}"
    );
    // A viewer may not, and nothing is logged for the try.
    let (vera, vcsrf) = session(&env, "vera").await;
    let r = send(
        &env,
        "POST",
        "/dashboard/kiosks/k-1/console-code",
        Some(&vera),
        Some(format!("csrf={vcsrf}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.body.contains("id=\"console-code\""));
}
