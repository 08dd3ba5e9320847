//! A reference SMS gateway: what a city's SMS provider does at the other end of the fleet's
//! notice connector, as the fleet's default `[notices.sms]` body describes it.
//!
//! `POST /messages` with JSON `{"to": "+420…", "text": "…", "reference": "…"}`, an
//! `Authorization: Bearer` token when one is set, and an optional `Idempotency-Key` header. A
//! message is *delivered* (to the phone) once per idempotency key, however often it is posted:
//! [`SmsGatewayRef::messages`]; every post is recorded too ([`SmsGatewayRef::posts`]). Faults
//! are scripted for the next posts ([`SmsGatewayRef::script`]): an error, "throttled", a slow
//! answer, or accepting a message and then never answering (the case that must not lead to a
//! second text message).

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// What the gateway does with one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers 500 without delivering.
    Fail,
    /// Answers 429 `Retry-After: 1` without delivering.
    Throttle,
    /// Delivers, then answers only after this long (past the fleet's time-out).
    AcceptThenStall(Duration),
    /// Answers 400 (a number it refuses) without delivering.
    Refuse,
}

/// One post as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// The number.
    pub to: String,
    /// The text.
    pub text: String,
    /// The fleet's reference.
    pub reference: String,
    /// The `Idempotency-Key` header.
    pub key: Option<String>,
    /// The status answered (or about to be).
    pub status: u16,
}

/// A message that reached the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The number.
    pub to: String,
    /// The text.
    pub text: String,
}

#[derive(Debug, Default)]
struct Inner {
    token: Option<String>,
    script: Mutex<VecDeque<Fault>>,
    posts: Mutex<Vec<Post>>,
    messages: Mutex<Vec<Message>>,
    keys: Mutex<HashSet<String>>,
}

/// A running reference SMS gateway.
#[derive(Debug, Clone)]
pub struct SmsGatewayRef {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

#[derive(serde::Deserialize)]
struct Body {
    to: String,
    text: String,
    #[serde(default)]
    reference: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(t) = &inner.token {
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {t}"));
        if !ok {
            return (StatusCode::UNAUTHORIZED, "{\"error\":\"unauthorized\"}").into_response();
        }
    }
    let Ok(b) = serde_json::from_slice::<Body>(&body) else {
        return (StatusCode::BAD_REQUEST, "{\"error\":\"malformed\"}").into_response();
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fault = lock(&inner.script).pop_front();
    let status = match fault {
        Some(Fault::Fail) => 500,
        Some(Fault::Throttle) => 429,
        Some(Fault::Refuse) => 400,
        Some(Fault::AcceptThenStall(_)) | None => 200,
    };
    lock(&inner.posts).push(Post {
        to: b.to.clone(),
        text: b.text.clone(),
        reference: b.reference.clone(),
        key: key.clone(),
        status,
    });
    if status == 200 {
        // Once per key: a repeat of a message already sent is answered, not sent again.
        let new = key
            .as_ref()
            .is_none_or(|k| lock(&inner.keys).insert(k.clone()));
        if new {
            lock(&inner.messages).push(Message {
                to: b.to,
                text: b.text,
            });
        }
    }
    match fault {
        Some(Fault::AcceptThenStall(d)) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "{\"status\":\"accepted\"}").into_response()
        }
        Some(Fault::Throttle) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            "{\"error\":\"throttled\"}",
        )
            .into_response(),
        Some(Fault::Fail) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{\"error\":\"internal\"}",
        )
            .into_response(),
        Some(Fault::Refuse) => {
            (StatusCode::BAD_REQUEST, "{\"error\":\"invalid number\"}").into_response()
        }
        None => (StatusCode::OK, "{\"status\":\"accepted\"}").into_response(),
    }
}

impl SmsGatewayRef {
    /// Starts on `listen` (port 0 for an ephemeral port); `token`, when set, is the bearer
    /// token the fleet must present.
    pub async fn start(
        listen: SocketAddr,
        token: Option<String>,
    ) -> std::io::Result<SmsGatewayRef> {
        let inner = Arc::new(Inner {
            token,
            ..Default::default()
        });
        let app = Router::new()
            .route("/messages", post(receive))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SmsGatewayRef { addr, inner })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL the fleet posts to.
    pub fn url(&self) -> String {
        format!("http://{}/messages", self.addr)
    }

    /// Makes the next posts behave as `faults`, in order.
    pub fn script(&self, faults: &[Fault]) {
        lock(&self.inner.script).extend(faults.iter().copied());
    }

    /// Every post so far.
    pub fn posts(&self) -> Vec<Post> {
        lock(&self.inner.posts).clone()
    }

    /// The messages that reached phones, in order.
    pub fn messages(&self) -> Vec<Message> {
        lock(&self.inner.messages).clone()
    }
}
