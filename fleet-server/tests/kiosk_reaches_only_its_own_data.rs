//! Through the router (`oneshot`, a real SQLite file): enrolment is one-time and idempotent, a
//! kiosk's credential reaches only its own data, ingest is idempotent per id, malformed bodies get
//! clear JSON errors and change nothing, and the OpenAPI document covers every route.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fleet_server::routes::app;
use fleet_server::state::AppState;
use fleet_server::store::Store;
use fleet_server::store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use protocol::fleet::{BatchAck, EnrolResponse, ItemOutcome, SubmissionBatch, SubmissionUpload};
use protocol::tracking::TrackingCode;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-for-tests-0123";
const METRICS: &str = "metrics-token-for-tests-0123";

struct Env {
    state: AppState,
    _dir: TempDir,
}

impl Env {
    /// The server's database file.
    fn state_db(&self) -> std::path::PathBuf {
        self._dir.0.join("fleet.sqlite")
    }
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn env() -> Env {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "okenko-fleet-{}",
        protocol::tracking::crockford(&b)
    ));
    let config = fleet_server::config::Config::from_toml(&format!(
        "[server]\ndata_dir = \"{}\"\nadmin_token = \"{ADMIN}\"\nmetrics_token = \"{METRICS}\"\n[connector]\ninbound_token = \"agenda-token-0123456789\"\n",
        dir.display()
    ))
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.db_path()).unwrap());
    let state = fleet_server::run::state(&config, store).unwrap();
    Env {
        state,
        _dir: TempDir(dir),
    }
}

async fn call(
    env: &Env,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b)
        }
        None => Body::empty(),
    };
    let resp = app(env.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

async fn enrolled(env: &Env, kiosk: &str) -> (String, u32) {
    let (s, t) = call(
        env,
        "POST",
        "/api/admin/v1/bootstrap-tokens",
        Some(ADMIN),
        Some(format!(r#"{{"kiosk_id":"{kiosk}","name":"K"}}"#)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let token = t["token"].as_str().unwrap().to_owned();
    let secret = format!("{kiosk}-secret-0123456789-0123456789-0123456789");
    let body =
        format!(r#"{{"bootstrap_token":"{token}","credential":"{secret}","agent_version":"t"}}"#);
    let (s, r) = call(env, "POST", "/api/kiosk/v1/enrol", None, Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let r: EnrolResponse = serde_json::from_value(r).unwrap();
    // A retried enrolment with the same token and credential gets the same answer.
    let (s, again) = call(env, "POST", "/api/kiosk/v1/enrol", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["kiosk_number"], r.kiosk_number);
    // The same token with another credential is refused.
    let other = format!(
        r#"{{"bootstrap_token":"{token}","credential":"another-secret-0123456789-0123456789-0123456789","agent_version":"t"}}"#
    );
    assert_eq!(
        call(env, "POST", "/api/kiosk/v1/enrol", None, Some(other))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    (format!("{kiosk}:{secret}"), r.kiosk_number)
}

fn upload(number: u32, seq: u32, id: uuid::Uuid) -> SubmissionUpload {
    let mut values = protocol::validate::FormValues::new();
    values.insert(
        "text".into(),
        protocol::validate::FieldValue::Text("Dost dlouhý podnět".into()),
    );
    SubmissionUpload {
        id,
        tracking_code: TrackingCode::from_parts(number, seq).unwrap(),
        service_id: "podnet".into(),
        form_version: 1,
        language: protocol::Lang::Cs,
        values,
        identity: None,
        created_at: 1,
    }
}

async fn send(env: &Env, cred: &str, items: Vec<SubmissionUpload>) -> Vec<ItemOutcome> {
    let (s, ack) = call(
        env,
        "POST",
        "/api/kiosk/v1/submissions",
        Some(cred),
        Some(serde_json::to_string(&SubmissionBatch { items }).unwrap()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ack}");
    serde_json::from_value::<BatchAck>(ack)
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.outcome)
        .collect()
}

const DEMO_CATALOG: &str = include_str!("../data/demo-catalog.json");

async fn publish_demo(env: &Env) -> &'static str {
    let (s, e) = call(
        env,
        "PUT",
        "/api/admin/v1/catalog",
        Some(ADMIN),
        Some(DEMO_CATALOG.into()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    DEMO_CATALOG
}

#[tokio::test]
async fn ingest_is_idempotent_and_scoped_to_the_kiosk() {
    let env = env();
    publish_demo(&env).await;
    let (a, na) = enrolled(&env, "kiosk-a").await;
    let (b, nb) = enrolled(&env, "kiosk-b").await;
    assert_ne!(na, nb);

    let id = uuid::Uuid::new_v4();
    let first = send(&env, &a, vec![upload(na, 1, id)]).await;
    assert!(matches!(first[0], ItemOutcome::Accepted { .. }));
    let again = send(&env, &a, vec![upload(na, 1, id)]).await;
    assert!(
        matches!(again[0], ItemOutcome::Duplicate { .. }),
        "a replay returns the original ack"
    );
    // Kiosk B cannot claim A's id, nor upload a code carrying A's number.
    assert!(matches!(
        &send(&env, &b, vec![upload(nb, 1, id)]).await[0],
        ItemOutcome::Rejected { .. }
    ));
    assert!(matches!(
        &send(&env, &b, vec![upload(na, 2, uuid::Uuid::new_v4())]).await[0],
        ItemOutcome::Rejected { .. }
    ));
    // Values that do not validate against the published form are refused for good.
    let mut bad = upload(na, 3, uuid::Uuid::new_v4());
    bad.values.clear();
    assert!(
        matches!(&send(&env, &a, vec![bad]).await[0], ItemOutcome::Rejected { reason } if reason.contains("text"))
    );
    assert_eq!(env.state.store.submissions(10).unwrap().len(), 1);

    // Credentials: missing, wrong, another kiosk's secret.
    let code = TrackingCode::from_parts(na, 1).unwrap();
    let uri = format!("/api/kiosk/v1/status/{}", code.as_str());
    assert_eq!(
        call(&env, "GET", &uri, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&env, "GET", &uri, Some("kiosk-a:wrong"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let b_secret = b.split_once(':').unwrap().1;
    assert_eq!(
        call(
            &env,
            "GET",
            &uri,
            Some(&format!("kiosk-a:{b_secret}")),
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, st) = call(&env, "GET", &uri, Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["state"], "submitted");
    // The admin API refuses kiosk credentials.
    assert_eq!(
        call(&env, "GET", "/api/admin/v1/submissions", Some(&a), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, list) = call(&env, "GET", "/api/admin/v1/submissions", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !list.to_string().contains("Dost dlouhý"),
        "admin lists carry no form values"
    );
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors_and_change_nothing() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-m").await;
    for body in [
        "not json".to_owned(),
        "{}".to_owned(),
        r#"{"items":[{"id":"x"}]}"#.to_owned(),
        format!(r#"{{"items":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)),
        format!(r#"{{"items":[],"junk":"{}"}}"#, "x".repeat(1000)),
    ] {
        let (s, e) = call(
            &env,
            "POST",
            "/api/kiosk/v1/submissions",
            Some(&a),
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(e["error"], "bad_request");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    let (s, _) = call(
        &env,
        "PUT",
        "/api/admin/v1/catalog",
        Some(ADMIN),
        Some(r#"{"version":0,"published_at":0,"categories":[],"services":[{"id":"Bad"}]}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = call(
        &env,
        "POST",
        "/api/agenda/v1/status",
        Some("agenda-token-0123456789"),
        Some(r#"{"tracking_code":"001CX86BY","state":"resolved"}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = call(
        &env,
        "POST",
        "/api/agenda/v1/status",
        Some("wrong-agenda-token"),
        Some("{}".into()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = call(
        &env,
        "GET",
        "/api/kiosk/v1/status/not-a-code",
        Some(&a),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(env.state.store.submissions(10).unwrap().is_empty());
    assert!(env.state.store.catalog().unwrap().is_none());
}

#[tokio::test]
async fn catalog_etag_and_published_versions_are_immutable() {
    let env = env();
    let catalog = publish_demo(&env).await;
    let (a, _) = enrolled(&env, "kiosk-e").await;
    let resp = app(env.state.clone())
        .oneshot(
            Request::get("/api/kiosk/v1/catalog")
                .header(header::AUTHORIZATION, format!("Bearer {a}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let etag = resp.headers().get(header::ETAG).unwrap().clone();
    let resp = app(env.state.clone())
        .oneshot(
            Request::get("/api/kiosk/v1/catalog")
                .header(header::AUTHORIZATION, format!("Bearer {a}"))
                .header(header::IF_NONE_MATCH, etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let changed = catalog.replacen("\"min_len\": 10", "\"min_len\": 11", 1);
    let (s, e) = call(
        &env,
        "PUT",
        "/api/admin/v1/catalog",
        Some(ADMIN),
        Some(changed),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}

#[tokio::test]
async fn openapi_documents_every_route_and_no_other() {
    let env = env();
    let (s, doc) = call(&env, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let mut served = std::collections::BTreeSet::new();
    for r in fleet_server::routes::ROUTES.iter().filter(|r| r.api) {
        for m in r.methods {
            served.insert((r.path.to_owned(), m.to_string()));
        }
    }
    let mut documented = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        for m in ops.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&m.as_str()) {
                documented.insert((path.clone(), m.clone()));
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served, not in the document: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in the document, not served: {unserved:?}"
    );
    assert_eq!(
        call(&env, "GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    let (s, e) = call(&env, "GET", "/nope", None, None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

/// The table's methods are the router's: each listed method reaches a handler (whatever it
/// then answers), and a method the table does not list is refused with 405.
#[tokio::test]
async fn the_route_table_lists_exactly_the_methods_served() {
    let env = env();
    for r in fleet_server::routes::ROUTES {
        let uri: String = r
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let uri = if uri.is_empty() { "/".to_owned() } else { uri };
        for m in ["get", "put", "post", "delete", "patch"] {
            let resp = app(env.state.clone())
                .oneshot(
                    Request::builder()
                        .method(m.to_uppercase().as_str())
                        .uri(&uri)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let refused = resp.status() == StatusCode::METHOD_NOT_ALLOWED;
            assert_eq!(
                refused,
                !r.methods.contains(&m),
                "{m} {} answered {}",
                r.path,
                resp.status()
            );
        }
    }
}

#[tokio::test]
async fn the_public_page_is_rate_limited_and_shows_no_personal_data() {
    let env = env();
    publish_demo(&env).await;
    let (a, number) = enrolled(&env, "kiosk-p").await;
    let mut item = upload(number, 9, uuid::Uuid::new_v4());
    item.values.insert(
        "email".into(),
        protocol::validate::FieldValue::Text("tajna.adresa@example.cz".into()),
    );
    let code = item.tracking_code.clone();
    assert!(matches!(
        send(&env, &a, vec![item]).await[0],
        ItemOutcome::Accepted { .. }
    ));

    let get = |uri: String| {
        let env_state = env.state.clone();
        async move {
            let resp = app(env_state)
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (s, page) = get(format!("/s/{}?lang=en", code)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Sent") && page.contains("Suggestion or complaint"),
        "{page}"
    );
    assert!(
        !page.contains("tajna.adresa") && !page.contains("Dost dlouhý"),
        "no personal data"
    );
    let (s, page) = get("/s/0000-0000-1".into()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        page.contains("neplatný") || page.contains("není platný"),
        "{page}"
    );
    // The default limit is 30 a minute per address, shared by enrolment and the status page:
    // three enrolment calls and two pages were used above.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(get(format!("/s/{}", code)).await.0);
    }
    assert!(
        statuses[..25].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses[25..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn requests_by_card_need_a_kiosk_credential_and_a_keyed_hash() {
    let env = env();
    publish_demo(&env).await;
    let (a, na) = enrolled(&env, "kiosk-card-a").await;
    let (b, _) = enrolled(&env, "kiosk-card-b").await;
    let card = "0f".repeat(32);
    let mut item = upload(na, 7, uuid::Uuid::new_v4());
    item.identity = Some(card.clone());
    let code = item.tracking_code.clone();
    assert!(matches!(
        send(&env, &a, vec![item, upload(na, 8, uuid::Uuid::new_v4())]).await[..],
        [ItemOutcome::Accepted { .. }, ItemOutcome::Accepted { .. }]
    ));
    let ask = |auth: Option<String>, body: String| {
        let env = &env;
        async move {
            call(
                env,
                "POST",
                "/api/kiosk/v1/requests/by-identity",
                auth.as_deref(),
                Some(body),
            )
            .await
        }
    };
    let body = format!(r#"{{"identity":"{card}"}}"#);
    // Another kiosk where the citizen presents the same card sees it; no personal data comes back.
    let (s, r) = ask(Some(b.clone()), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let list = r["requests"].as_array().unwrap();
    assert_eq!(list.len(), 1, "only the request made with the card: {r}");
    assert_eq!(list[0]["tracking_code"], code.as_str());
    assert!(!r.to_string().contains("Dost dlouhý"), "{r}");
    // Without a kiosk credential, with a wrong one, or with something that is not a hash: refused.
    assert_eq!(ask(None, body.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ask(
            Some("kiosk-card-b:wrong-secret-0123456789".into()),
            body.clone()
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask(Some(ADMIN.into()), body).await.0,
        StatusCode::UNAUTHORIZED
    );
    for bad in [
        r#"{"identity":"4111111111111111"}"#,
        r#"{"identity":42}"#,
        r#"{"identity":"0f","extra":1}"#,
        "{",
    ] {
        let (s, e) = ask(Some(b.clone()), bad.into()).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {s}"
        );
        assert!(
            e["error"].is_string() || e["message"].is_string(),
            "{bad}: {e}"
        );
    }
}

#[tokio::test]
async fn metrics_show_each_kiosks_newest_heartbeat_to_the_admin_only() {
    use protocol::app::{DeviceKind, DeviceState, DeviceStatus};
    let env = env();
    let (a, _) = enrolled(&env, "ostrava-01").await;
    let (b, _) = enrolled(&env, "ostrava-02").await;
    let now = fleet_server::now_ms();
    let device = |device, state, detail: Option<&str>| DeviceStatus {
        device,
        state,
        detail: detail.map(str::to_owned),
        since: now,
        last_event_at: None,
        events_per_minute: None,
    };
    let heartbeat = |sampled_at, devices, outbox_len| protocol::fleet::Heartbeat {
        sampled_at,
        outbox_len,
        outbox_oldest_age_s: Some(42),
        devices,
        system: Some(protocol::fleet::SystemHealth {
            temperature_c: Some(48.5),
            disk_total_kb: Some(1000),
            disk_free_kb: Some(250),
            ..Default::default()
        }),
        ..quiet_heartbeat(Vec::new())
    };
    let send = |cred: String, hb: protocol::fleet::Heartbeat| {
        let env = &env;
        async move {
            let body = serde_json::to_string(&hb).unwrap();
            let (s, r) = call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&cred),
                Some(body),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{r}");
        }
    };
    let paper_out = vec![
        device(DeviceKind::Printer, DeviceState::Fault, Some("paper out")),
        device(
            DeviceKind::CardReader,
            DeviceState::Missing,
            Some("not found"),
        ),
        device(DeviceKind::Touchscreen, DeviceState::Ok, None),
    ];
    send(a.clone(), heartbeat(now, paper_out, 3)).await;
    // A buffered heartbeat replayed later with an older time does not replace the newest.
    let old = vec![device(DeviceKind::Printer, DeviceState::Ok, None)];
    send(a.clone(), heartbeat(now - 60_000, old, 0)).await;

    let get = |auth: Option<String>| {
        let env = &env;
        async move {
            let mut req = Request::builder().method("GET").uri("/metrics");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
            }
            let resp = app(env.state.clone())
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let ctype = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned());
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, ctype, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(get(None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some(b)).await.0,
        StatusCode::UNAUTHORIZED,
        "not with a kiosk's credential"
    );
    assert_eq!(
        get(Some("wrong-token-0123456789".into())).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The metrics-only token reads the metrics, and opens nothing else.
    let (s, _, by_token) = get(Some(METRICS.into())).await;
    assert_eq!(s, StatusCode::OK);
    assert!(by_token.contains("okenko_kiosk_up"), "{by_token}");
    for uri in ["/api/admin/v1/submissions", "/api/admin/v1/kiosks"] {
        assert_eq!(
            call(&env, "GET", uri, Some(METRICS), None).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let (s, ctype, text) = get(Some(ADMIN.into())).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.unwrap().starts_with("text/plain; version=0.0.4"));
    let value = |sample: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {sample} in\n{text}"))
    };
    assert_eq!(value(r#"okenko_kiosk_up{kiosk="ostrava-01"}"#), 1.0);
    assert_eq!(
        value(r#"okenko_kiosk_up{kiosk="ostrava-02"}"#),
        0.0,
        "never sent one"
    );
    assert_eq!(
        value(r#"okenko_device_state{kiosk="ostrava-01",device="printer",state="fault"}"#),
        1.0,
        "the newest heartbeat wins over the replayed one"
    );
    assert_eq!(
        value(r#"okenko_device_state{kiosk="ostrava-01",device="printer",state="ok"}"#),
        0.0
    );
    assert_eq!(
        value(r#"okenko_printer_paper{kiosk="ostrava-01",state="out"}"#),
        1.0
    );
    assert_eq!(
        value(r#"okenko_printer_cover_open{kiosk="ostrava-01"}"#),
        0.0
    );
    assert_eq!(
        value(r#"okenko_device_present{kiosk="ostrava-01",device="card_reader"}"#),
        0.0
    );
    assert_eq!(
        value(r#"okenko_device_present{kiosk="ostrava-01",device="touchscreen"}"#),
        1.0
    );
    assert_eq!(
        value(r#"okenko_kiosk_temperature_celsius{kiosk="ostrava-01"}"#),
        48.5
    );
    assert_eq!(
        value(r#"okenko_kiosk_disk_used_ratio{kiosk="ostrava-01"}"#),
        0.75
    );
    assert_eq!(
        value(r#"okenko_kiosk_outbox_length{kiosk="ostrava-01"}"#),
        3.0
    );
    assert_eq!(
        value(r#"okenko_kiosk_outbox_oldest_age_seconds{kiosk="ostrava-01"}"#),
        42.0
    );
    assert_eq!(value("okenko_heartbeats_total"), 2.0);
    assert_eq!(value("okenko_kiosks"), 2.0);
    // Every sample belongs to a family that has its HELP and TYPE.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has no TYPE"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }
}

#[tokio::test]
async fn a_command_reaches_only_its_kiosk_and_takes_one_result() {
    let env = env();
    publish_demo(&env).await;
    let (a, _) = enrolled(&env, "kiosk-cmd-a").await;
    let (b, _) = enrolled(&env, "kiosk-cmd-b").await;
    let (s, r) = call(
        &env,
        "POST",
        "/api/admin/v1/kiosks/kiosk-cmd-a/commands",
        Some(ADMIN),
        Some(r#"{"action":{"kind":"self_test"},"by":"novak"}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["id"].as_i64().unwrap();
    let hb = serde_json::to_string(&quiet_heartbeat(Vec::new())).unwrap();
    let beat = |cred: String| {
        let (env, hb) = (&env, hb.clone());
        async move {
            let (s, r) = call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&cred),
                Some(hb),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{r}");
            r["commands"].as_array().cloned().unwrap_or_default()
        }
    };
    assert!(
        beat(b.clone()).await.is_empty(),
        "another kiosk never sees it"
    );
    let got = beat(a.clone()).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["id"], id);
    assert_eq!(got[0]["action"]["kind"], "self_test");
    assert_eq!(
        beat(a.clone()).await.len(),
        1,
        "delivered again until its result arrives"
    );

    let result = |cred: String, body: &'static str| {
        let env = &env;
        async move {
            call(
                env,
                "POST",
                &format!("/api/kiosk/v1/commands/{id}/result"),
                Some(&cred),
                Some(body.into()),
            )
            .await
            .0
        }
    };
    assert_eq!(
        result(b.clone(), r#"{"ok":true,"output":"forged"}"#).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        result(a.clone(), r#"{"ok":"yes"}"#).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        result(a.clone(), r#"{"ok":true,"output":"PASS all"}"#).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        result(a.clone(), r#"{"ok":false,"output":"late repeat"}"#).await,
        StatusCode::NO_CONTENT,
        "a repeat is accepted and ignored"
    );
    assert!(
        beat(a.clone()).await.is_empty(),
        "finished: not delivered again"
    );
    let (_, list) = call(
        &env,
        "GET",
        "/api/admin/v1/kiosks/kiosk-cmd-a/commands",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(list[0]["output"], "PASS all");
    assert_eq!(list[0]["ok"], true);

    // Every change is in the audit log, newest first, with who made it.
    let (s, log) = call(&env, "GET", "/api/admin/v1/audit", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let entries: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        entries,
        [
            t("novak", "command.queue", "kiosk-cmd-a"),
            t("admin-token", "token.issue", "kiosk-cmd-b"),
            t("admin-token", "token.issue", "kiosk-cmd-a"),
            t("admin-token", "catalog.publish", "1"),
        ]
    );
    assert!(log[0]["detail"].as_str().unwrap().starts_with("self_test"));
    assert_eq!(
        call(&env, "GET", "/api/admin/v1/audit", Some(&a), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn availability_report_and_history_downsampling() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-sla").await;
    let now = fleet_server::now_ms();
    // Enrolled three weeks ago (its history may go back that far).
    rusqlite::Connection::open(env.state_db())
        .unwrap()
        .execute(
            "UPDATE kiosks SET enrolled_at = ?1 WHERE kiosk_id = 'kiosk-sla'",
            [now - 21 * 86_400_000],
        )
        .unwrap();
    let hb = |sampled_at: i64, temp: f32| {
        serde_json::to_string(&protocol::fleet::Heartbeat {
            sampled_at,
            agent_version: "t".into(),
            outbox_len: 2,
            outbox_oldest_age_s: None,
            devices: Vec::new(),
            catalog_version: 1,
            system: Some(protocol::fleet::SystemHealth {
                temperature_c: Some(temp),
                ..Default::default()
            }),
            last_interaction_at: None,
            sent_at: None,
            console: Vec::new(),
            update: None,
        })
        .unwrap()
    };
    // Two minutes with heartbeats now; and a replayed hour of history six days ago.
    for (t, temp) in [(now - 60_000, 40.0), (now, 41.0)] {
        let (s, r) = call(
            &env,
            "POST",
            "/api/kiosk/v1/heartbeat",
            Some(&a),
            Some(hb(t, temp)),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    // Within one hour, whatever the time of day the test runs at.
    let old = (now - 6 * 86_400_000) / 3_600_000 * 3_600_000 + 60_000;
    for i in 0..4 {
        let (s, _) = call(
            &env,
            "POST",
            "/api/kiosk/v1/heartbeat",
            Some(&a),
            Some(hb(old + i * 30_000, 50.0 + i as f32)),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }

    let (s, r) = call(&env, "GET", "/api/admin/v1/sla", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let k = &r["kiosks"][0];
    assert_eq!(k["kiosk_id"], "kiosk-sla");
    // The minutes with heartbeats are marked.
    assert!(k["open_minutes"].as_u64().unwrap() >= k["up_minutes"].as_u64().unwrap());
    let (today, _) = fleet_server::sla::day_minute(now);
    let marked = env.state.store.uptime(&today, &today).unwrap();
    let bits = &marked[&("kiosk-sla".to_owned(), today.clone())];
    let set: u32 = bits.iter().map(|b| b.count_ones()).sum();
    assert!((1..=2).contains(&set), "{set} minutes marked");
    assert_eq!(r["target"], 0.99);
    for (q, ctype) in [("csv", "text/csv"), ("html", "text/html")] {
        let resp = app(env.state.clone())
            .oneshot(
                Request::builder()
                    .uri(format!("/api/admin/v1/sla?format={q}"))
                    .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let t = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(t.starts_with(ctype), "{t}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("kiosk-sla"));
    }
    for bad in [
        "/api/admin/v1/sla?month=2026-13",
        "/api/admin/v1/sla?format=pdf",
    ] {
        assert_eq!(
            call(&env, "GET", bad, Some(ADMIN), None).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        call(&env, "GET", "/api/admin/v1/sla", Some(&a), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "not for kiosks"
    );

    // Heartbeats were aggregated per hour as they came.
    let store = env.state.store.clone();
    store.prune_history(now, "2000-01-01").unwrap();
    let history = store
        .health_history("kiosk-sla", now - 30 * 86_400_000)
        .unwrap();
    let first = &history[0];
    assert_eq!(first.samples, 4);
    assert_eq!(first.temperature_max, Some(53.0));
    assert_eq!(first.outbox_max, 2);
    assert_eq!(history.iter().map(|h| h.samples).sum::<u64>(), 6);
    // Months on: hours older than 90 days become days; nothing is counted twice.
    store
        .prune_history(now + 100 * 86_400_000, "2000-01-01")
        .unwrap();
    let later = store
        .health_history("kiosk-sla", now - 30 * 86_400_000)
        .unwrap();
    assert_eq!(later.iter().map(|h| h.samples).sum::<u64>(), 6, "{later:?}");
    assert!(
        later.iter().all(|h| h.hour % 86_400_000 == 0),
        "daily points: {later:?}"
    );
    let (s, r) = call(
        &env,
        "GET",
        "/api/admin/v1/kiosks/kiosk-sla/health?days=30",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(r.as_array().unwrap().len() >= 2, "{r}");
}

fn quiet_heartbeat(console: Vec<protocol::fleet::ConsoleEvent>) -> protocol::fleet::Heartbeat {
    protocol::fleet::Heartbeat {
        sampled_at: fleet_server::now_ms(),
        agent_version: "0.1.0".into(),
        outbox_len: 0,
        outbox_oldest_age_s: None,
        devices: Vec::new(),
        catalog_version: 1,
        system: None,
        last_interaction_at: None,
        sent_at: None,
        console,
        update: None,
    }
}

#[tokio::test]
async fn a_kiosk_credential_cannot_enumerate_tracking_codes() {
    let env = env();
    let (a, na) = enrolled(&env, "kiosk-enum-a").await;
    let (b, _) = enrolled(&env, "kiosk-enum-b").await;
    let mut statuses = Vec::new();
    for seq in 1..=31 {
        let code = TrackingCode::from_parts(na, seq).unwrap();
        let uri = format!("/api/kiosk/v1/status/{}", code.as_str());
        statuses.push(call(&env, "GET", &uri, Some(&a), None).await.0);
    }
    assert!(
        statuses[..30].iter().all(|s| *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    assert_eq!(statuses[30], StatusCode::TOO_MANY_REQUESTS);
    // Look-ups by card share the kiosk's budget.
    let (s, e) = call(
        &env,
        "POST",
        "/api/kiosk/v1/requests/by-identity",
        Some(&a),
        Some(format!(r#"{{"identity":"{}"}}"#, "0f".repeat(32))),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert_eq!(e["error"], "rate_limited");
    // Another kiosk has its own budget.
    let code = TrackingCode::from_parts(na, 1).unwrap();
    let uri = format!("/api/kiosk/v1/status/{}", code.as_str());
    assert_eq!(
        call(&env, "GET", &uri, Some(&b), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_submission_against_an_unpublished_form_version_is_refused() {
    let env = env();
    publish_demo(&env).await;
    let (a, na) = enrolled(&env, "kiosk-unpublished").await;
    let mut item = upload(na, 1, uuid::Uuid::new_v4());
    item.form_version = 99;
    // Values that would never validate against any published form.
    item.values.clear();
    let out = send(&env, &a, vec![item]).await;
    assert!(
        matches!(&out[0], ItemOutcome::Rejected { reason } if reason.contains("never published")),
        "{out:?}"
    );
    let mut item = upload(na, 2, uuid::Uuid::new_v4());
    item.service_id = "made-up-service".into();
    assert!(matches!(
        &send(&env, &a, vec![item]).await[0],
        ItemOutcome::Rejected { .. }
    ));
    assert_eq!(env.state.store.submission_count().unwrap(), 0);
    // The published version is accepted.
    assert!(matches!(
        &send(&env, &a, vec![upload(na, 3, uuid::Uuid::new_v4())]).await[0],
        ItemOutcome::Accepted { .. }
    ));
}

#[tokio::test]
async fn console_audit_entries_are_bounded_and_marked_as_the_kiosks_word() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-console").await;
    let forged = |n: usize| {
        (0..n)
            .map(|i| protocol::fleet::ConsoleEvent {
                at: fleet_server::now_ms() + 86_400_000,
                what: format!("admin alice disabled the alarm {i}\r\nforged line"),
            })
            .collect::<Vec<_>>()
    };
    for _ in 0..4 {
        let body = serde_json::to_string(&quiet_heartbeat(forged(50))).unwrap();
        let (s, r) = call(
            &env,
            "POST",
            "/api/kiosk/v1/heartbeat",
            Some(&a),
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let log = env.state.store.audit_log(1000).unwrap();
    let console: Vec<_> = log
        .iter()
        .filter(|e| e.actor == "console@kiosk-console")
        .collect();
    // The minute's budget (60, plus a token refilled every second on a slow machine) and one
    // count per heartbeat over it, not 200.
    assert!((63..=68).contains(&console.len()), "{console:#?}");
    let now = fleet_server::now_ms();
    for e in &console {
        assert_eq!(e.action, "kiosk.console");
        assert!(e.detail.starts_with("reported by the kiosk: "), "{e:?}");
        assert!(
            !e.detail.contains('\n') && !e.detail.contains('\r'),
            "{e:?}"
        );
        assert!(e.at <= now, "not dated in the future: {e:?}");
    }
    assert!(
        console
            .iter()
            .any(|e| e.detail.contains("40 more console events")),
        "{console:#?}"
    );
}

/// Samples are filed on the server's clock: a kiosk whose clock is off is moved by the offset
/// it shows when sending; a sample ahead of the server beyond the skew allowance, from before
/// the kiosk enrolled or older than a kiosk keeps is refused; a buffered one is accepted and
/// its minute marked as learnt late.
#[tokio::test]
async fn heartbeat_samples_are_bounded_in_time_and_buffered_ones_marked() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-time").await;
    let now = fleet_server::now_ms();
    let beat = |sampled_at: i64, sent_at: Option<i64>| {
        let a = a.clone();
        let env = &env;
        async move {
            let hb = protocol::fleet::Heartbeat {
                sampled_at,
                sent_at,
                ..quiet_heartbeat(Vec::new())
            };
            call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&a),
                Some(serde_json::to_string(&hb).unwrap()),
            )
            .await
        }
    };
    // Ahead of the server by an hour: refused with the reason.
    let (s, e) = beat(now + 3_600_000, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().contains("ahead"), "{e}");
    // Before the kiosk enrolled.
    let (s, e) = beat(now - 3_600_000, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("enrolled"), "{e}");
    // A kiosk whose clock runs an hour ahead, sending now: filed at the server's time.
    let (s, e) = beat(now + 3_600_000, Some(now + 3_600_000)).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    // Nothing was written for the hour ahead.
    let (day, minute) = fleet_server::sla::day_minute(now + 3_600_000);
    let up = env.state.store.uptime(&day, &day).unwrap();
    let bits = up.get(&("kiosk-time".to_owned(), day.clone()));
    assert!(
        !bits.is_some_and(|b| fleet_server::sla::is_set(b, minute)),
        "no minute in the future"
    );

    // A kiosk enrolled a day ago replays what it buffered 20 minutes ago, and a week-old one.
    let db = rusqlite::Connection::open(env.state_db()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let (b, _) = enrolled(&env, "kiosk-late").await;
    db.execute(
        "UPDATE kiosks SET enrolled_at = ?1 WHERE kiosk_id = 'kiosk-late'",
        [now - 8 * 86_400_000],
    )
    .unwrap();
    let replay = |sampled_at: i64| {
        let b = b.clone();
        let env = &env;
        async move {
            let hb = protocol::fleet::Heartbeat {
                sampled_at,
                sent_at: Some(now),
                ..quiet_heartbeat(Vec::new())
            };
            call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&b),
                Some(serde_json::to_string(&hb).unwrap()),
            )
            .await
            .0
        }
    };
    assert_eq!(
        replay(now - 7 * 86_400_000 - 60_000).await,
        StatusCode::BAD_REQUEST,
        "older than a kiosk keeps"
    );
    let buffered_at = now - 20 * 60_000;
    assert_eq!(replay(buffered_at).await, StatusCode::OK);
    let (day, minute) = fleet_server::sla::day_minute(buffered_at);
    let mut marked = false;
    for _ in 0..100 {
        let late = env.state.store.late_uptime(&day, &day).unwrap();
        marked = late
            .get(&("kiosk-late".to_owned(), day.clone()))
            .is_some_and(|b| fleet_server::sla::is_set(b, minute));
        if marked {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(marked, "the buffered minute is marked as learnt late");
}

/// Every operation of the OpenAPI document, refused every way a client can get it wrong
/// (no credentials, a path or query that does not parse, a body that is not JSON or not the
/// schema): each refusal is the JSON error body, with a status the document lists for that
/// operation, and nothing answers 5xx.
#[tokio::test]
async fn every_refusal_is_json_and_in_the_document() {
    let env = env();
    publish_demo(&env).await;
    let (kiosk, _) = enrolled(&env, "kiosk-doc").await;
    let doc: serde_json::Value = serde_json::from_str(fleet_server::api::OPENAPI).unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let documented: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let auth = if path.starts_with("/api/kiosk/") {
                Some(kiosk.as_str())
            } else if path.starts_with("/api/agenda/") {
                Some("agenda-token-0123456789")
            } else if secured {
                Some(ADMIN)
            } else {
                None
            };
            // Path parameters that do not parse; query parameters of the wrong kind.
            let bad_path = path
                .replace("{code}", "%00%FF")
                .replace("{version}", "..%2F..")
                .replace("{action}", "explode")
                .replace("{command}", "-x")
                .replace(
                    "{id}",
                    if path.contains("/kiosks/{id}") {
                        "k%0A"
                    } else {
                        "not-a-number"
                    },
                );
            let query = if op["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x["in"] == "query"))
            {
                "?limit=-1&lang=xx"
            } else {
                ""
            };
            let has_body = op.get("requestBody").is_some();
            let mut tries: Vec<(&str, Option<&str>, String, Option<String>)> = vec![(
                "bad path and query",
                auth,
                format!("{bad_path}{query}"),
                None,
            )];
            if secured {
                tries.push(("no credentials", None, path.to_owned(), None));
            }
            if has_body {
                tries.push(("not JSON", auth, path.to_owned(), Some("{".into())));
                tries.push((
                    "not the schema",
                    auth,
                    path.to_owned(),
                    Some(r#"{"unexpected":[1,2,3]}"#.into()),
                ));
            }
            for (what, auth, uri, body) in tries {
                let uri = uri.replace(['{', '}'], "");
                let mut req = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri);
                if let Some(a) = auth {
                    req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
                }
                let body = match body {
                    Some(b) => {
                        req = req.header(header::CONTENT_TYPE, "application/json");
                        Body::from(b)
                    }
                    None => Body::empty(),
                };
                let resp = app(env.state.clone())
                    .oneshot(req.body(body).unwrap())
                    .await
                    .unwrap();
                let status = resp.status();
                let ctype = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(
                    !status.is_server_error(),
                    "{method} {uri} ({what}): {status}"
                );
                if status.is_success() || status.is_redirection() {
                    continue;
                }
                checked += 1;
                assert!(
                    documented.contains(&status.as_u16()),
                    "{method} {path} ({what}): {status} is not in the document ({documented:?}): {}",
                    String::from_utf8_lossy(&bytes)
                );
                if path.starts_with("/api/") || path == "/metrics" {
                    let e: serde_json::Value =
                        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            panic!(
                                "{method} {uri} ({what}): {status} {ctype} is not JSON: {}",
                                String::from_utf8_lossy(&bytes)
                            )
                        });
                    assert!(
                        e["error"].is_string() && e["message"].is_string(),
                        "{method} {uri} ({what}): {e}"
                    );
                }
            }
        }
    }
    assert!(checked > 60, "{checked} refusals checked");
}
