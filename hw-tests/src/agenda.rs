//! A reference agenda system: what an office's case-management system does at the other end of
//! the fleet's connector.
//!
//! `POST /submissions` receives a delivery (JSON [`AgendaDelivery`], `Idempotency-Key` header)
//! and keeps it once however often it is delivered. [`push`] reports a state
//! change back to the fleet's `/api/agenda/v1/status`. Optional automatic progress moves every
//! received request to `in_progress` after a delay, which makes a local demo come alive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use protocol::Text;
use protocol::fleet::{AgendaDelivery, AgendaStatusUpdate, RequestState};
use protocol::tracking::TrackingCode;
use uuid::Uuid;

/// Automatic progress: push `in_progress` this long after a delivery arrives.
#[derive(Debug, Clone)]
pub struct AutoProgress {
    /// The fleet's base URL.
    pub fleet_url: String,
    /// The fleet's inbound agenda token.
    pub token: String,
    /// Delay after a delivery.
    pub after: Duration,
}

/// A struggling agenda system, by the count of posts: every `slow_every`-th post is answered
/// after `slow`, every `fail_every`-th with 500, and every `hang_every`-th never (the
/// connection stays silent, as a dropped one does, until the client gives up).
#[derive(Debug, Clone, Copy, Default)]
pub struct AgendaFaults {
    /// Period of slow answers (0: none).
    pub slow_every: u64,
    /// How slow.
    pub slow: Duration,
    /// Period of 500 answers (0: none).
    pub fail_every: u64,
    /// Period of answers that never come (0: none).
    pub hang_every: u64,
}

#[derive(Debug, Default)]
struct Inner {
    received: Mutex<BTreeMap<Uuid, AgendaDelivery>>,
    posts: AtomicU64,
    token: Option<String>,
    auto: Option<AutoProgress>,
    faults: Mutex<AgendaFaults>,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
}

/// A running reference agenda system.
#[derive(Debug, Clone)]
pub struct AgendaRef {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let n = inner.posts.fetch_add(1, Ordering::Relaxed) + 1;
    let now = inner.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    inner.most_in_flight.fetch_max(now, Ordering::Relaxed);
    let status = answer(&inner, n, headers, body).await;
    inner.in_flight.fetch_sub(1, Ordering::Relaxed);
    status
}

async fn answer(
    inner: &Arc<Inner>,
    n: u64,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let faults = *inner.faults.lock().unwrap_or_else(|p| p.into_inner());
    let every = |period: u64| period > 0 && n.is_multiple_of(period);
    if every(faults.hang_every) {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if every(faults.fail_every) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if every(faults.slow_every) {
        tokio::time::sleep(faults.slow).await;
    }
    if let Some(t) = &inner.token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {t}"));
        if !ok {
            return StatusCode::UNAUTHORIZED;
        }
    }
    let Ok(d) = serde_json::from_slice::<AgendaDelivery>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    if key != Some(d.id.to_string().as_str()) {
        return StatusCode::BAD_REQUEST;
    }
    let code = d.tracking_code.clone();
    let new = inner
        .received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(d.id, d)
        .is_none();
    if new && let Some(auto) = inner.auto.clone() {
        tokio::spawn(async move {
            tokio::time::sleep(auto.after).await;
            let note = Text::new(
                "Žádost vyřizuje odbor dopravy.",
                "The transport department is handling the request.",
                "Заяву опрацьовує відділ транспорту.",
            );
            if let Err(e) = push(
                &auto.fleet_url,
                &auto.token,
                &code,
                RequestState::InProgress,
                Some(note),
            )
            .await
            {
                tracing::warn!(error = %e, "automatic progress failed");
            }
        });
    }
    StatusCode::OK
}

/// Reports a state change to the fleet.
pub async fn push(
    fleet_url: &str,
    token: &str,
    code: &TrackingCode,
    state: RequestState,
    note: Option<Text>,
) -> anyhow::Result<()> {
    let body = AgendaStatusUpdate {
        tracking_code: code.clone(),
        state,
        note,
    };
    let resp = crate::harness::http_client()
        .post(format!(
            "{}/api/agenda/v1/status",
            fleet_url.trim_end_matches('/')
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    if !resp.status().is_success() {
        anyhow::bail!(
            "fleet answered {}: {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

impl AgendaRef {
    /// Starts on `listen` (use port 0 for an ephemeral port). `token` is the bearer token the
    /// fleet must present.
    pub async fn start(
        listen: SocketAddr,
        token: Option<String>,
        auto: Option<AutoProgress>,
    ) -> std::io::Result<AgendaRef> {
        let inner = Arc::new(Inner {
            token,
            auto,
            ..Default::default()
        });
        let app = Router::new()
            .route("/submissions", post(receive))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(AgendaRef { addr, inner })
    }

    /// The URL the fleet's connector posts to.
    pub fn url(&self) -> String {
        format!("http://{}/submissions", self.addr)
    }

    /// Every distinct submission received.
    pub fn received(&self) -> Vec<AgendaDelivery> {
        self.inner
            .received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Makes it struggle (or recover, with the default).
    pub fn set_faults(&self, faults: AgendaFaults) {
        *self.inner.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// The most deliveries it was answering at once.
    pub fn most_in_flight(&self) -> u64 {
        self.inner.most_in_flight.load(Ordering::Relaxed)
    }

    /// Deliveries attempted, duplicates included.
    pub fn posts(&self) -> u64 {
        self.inner.posts.load(Ordering::Relaxed)
    }
}
