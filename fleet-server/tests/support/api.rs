//! What the API tests share: a fleet's state on a real SQLite file, requests through the
//! router (`oneshot`), an enrolled kiosk, submissions, the demo catalog.

#![allow(dead_code, unused_imports)] // each test file uses its part

pub use std::sync::Arc;

pub use axum::body::Body;
pub use axum::http::{Request, StatusCode, header};
pub use fleet_server::routes::app;
pub use fleet_server::state::AppState;
pub use fleet_server::store::Store;
pub use fleet_server::store::sqlite::SqliteStore;
pub use http_body_util::BodyExt;
pub use protocol::fleet::{
    BatchAck, EnrolResponse, ItemOutcome, SubmissionBatch, SubmissionUpload,
};
pub use protocol::tracking::TrackingCode;
pub use tower::ServiceExt;

pub const ADMIN: &str = "admin-token-for-tests-0123";
pub const METRICS: &str = "metrics-token-for-tests-0123";

pub struct Env {
    pub state: AppState,
    pub _dir: TempDir,
}

impl Env {
    /// The server's database file.
    pub fn state_db(&self) -> std::path::PathBuf {
        self._dir.0.join("fleet.sqlite")
    }
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn env() -> Env {
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

pub async fn call(
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

pub async fn enrolled(env: &Env, kiosk: &str) -> (String, u32) {
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

pub fn upload(number: u32, seq: u32, id: uuid::Uuid) -> SubmissionUpload {
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
        notify: None,
    }
}

pub async fn send(env: &Env, cred: &str, items: Vec<SubmissionUpload>) -> Vec<ItemOutcome> {
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

pub const DEMO_CATALOG: &str = include_str!("../../data/demo-catalog.json");

pub async fn publish_demo(env: &Env) -> &'static str {
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

pub fn quiet_heartbeat(console: Vec<protocol::fleet::ConsoleEvent>) -> protocol::fleet::Heartbeat {
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
