//! The one place the agent builds its HTTP client and talks to the fleet.
//!
//! TLS is rustls with the ring provider only. With `fleet.ca_file` set, only those CAs are
//! trusted (the fleet's certificate is pinned to its CA); otherwise the system's trust store.
//! Replies are read with a size limit and decoded with clear errors; nothing the fleet sends can
//! panic the agent. This module must never log a submission's values or the credential.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol::fleet::{
    self, BatchAck, Catalog, EnrolRequest, EnrolResponse, ErrorBody, Heartbeat, HeartbeatReply,
    StatusRecord, SubmissionBatch,
};
use protocol::tracking::TrackingCode;
use reqwest::{StatusCode, Url, header};
use serde::de::DeserializeOwned;

use crate::config::FleetSection;

/// Largest reply body accepted from the fleet.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// Why a fleet call failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The TLS or client set-up failed (bad CA file).
    #[error("cannot set up the fleet client: {0}")]
    Setup(String),
    /// No answer: connection refused, reset, time-out. Worth retrying.
    #[error("fleet unreachable: {0}")]
    Transport(String),
    /// The fleet refused the credential or token.
    #[error("fleet refused our credentials: {0}")]
    Unauthorized(String),
    /// The fleet answered with an error status.
    #[error("fleet answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The fleet's message.
        message: String,
    },
    /// The answer could not be read.
    #[error("fleet sent an unreadable reply: {0}")]
    Decode(String),
}

impl FleetError {
    /// Whether retrying the same call later can succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            FleetError::Transport(_) | FleetError::Decode(_) => true,
            FleetError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FleetError::Setup(_) | FleetError::Unauthorized(_) => false,
        }
    }
}

/// The kiosk's credential as sent in `Authorization`.
#[derive(Clone)]
pub struct Credential(String);

impl Credential {
    /// From the enrolled identity.
    pub fn new(kiosk_id: &str, secret: &str) -> Credential {
        Credential(format!("Bearer {kiosk_id}:{secret}"))
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(..)")
    }
}

/// A client of the fleet's kiosk API.
#[derive(Debug, Clone)]
pub struct FleetClient {
    http: reqwest::Client,
    base: Url,
}

fn load_roots(path: &Path) -> Result<rustls::RootCertStore, FleetError> {
    let setup = |m: String| FleetError::Setup(format!("CA file {}: {m}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| setup(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut BufReader::new(file)) {
        roots
            .add(cert.map_err(|e| setup(e.to_string()))?)
            .map_err(|e| setup(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(setup("holds no certificate".into()));
    }
    Ok(roots)
}

impl FleetClient {
    /// Builds the client for `cfg`.
    pub fn new(cfg: &FleetSection) -> Result<FleetClient, FleetError> {
        let base = Url::parse(cfg.url.trim_end_matches('/'))
            .map_err(|e| FleetError::Setup(format!("fleet.url: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // reqwest's own rustls set-up (used without a CA file) needs a process-wide provider;
        // a second install attempt fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.request_timeout_s))
            .connect_timeout(Duration::from_secs(cfg.request_timeout_s.min(10)))
            .user_agent(concat!("okenko-kiosk-agent/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2);
        if let Some(ca) = &cfg.ca_file {
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| FleetError::Setup(e.to_string()))?
                .with_root_certificates(load_roots(ca)?)
                .with_no_client_auth();
            builder = builder.tls_backend_preconfigured(tls);
        } else {
            builder = builder.tls_backend_rustls();
        }
        let http = builder
            .build()
            .map_err(|e| FleetError::Setup(error_chain(&e)))?;
        Ok(FleetClient { http, base })
    }

    /// The client of a kiosk that is not provisioned yet: it names no fleet
    /// (`https://unprovisioned.invalid`, a name that never resolves) and the sync loop does not
    /// use it until the agent has restarted provisioned.
    pub fn unprovisioned() -> Result<FleetClient, FleetError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FleetError::Setup(e.to_string()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .build()
            .map_err(|e| FleetError::Setup(error_chain(&e)))?;
        let base = Url::parse("https://unprovisioned.invalid")
            .map_err(|e| FleetError::Setup(e.to_string()))?;
        Ok(FleetClient { http, base })
    }

    fn url(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        u.set_path(&format!(
            "{}{}{}",
            self.base.path().trim_end_matches('/'),
            fleet::PREFIX,
            path
        ));
        u
    }

    /// Downloads `path` (under the kiosk API) into `file`, resuming after what `file` holds
    /// already with a `Range` request; `size` is the whole length. `progress` hears the bytes
    /// held after each chunk. The file is synced to disk at the end.
    pub async fn download(
        &self,
        cred: &Credential,
        path: &str,
        file: &std::path::Path,
        size: u64,
        mut progress: impl FnMut(u64),
    ) -> Result<(), FleetError> {
        use tokio::io::AsyncWriteExt;
        let io = |e: std::io::Error| FleetError::Setup(format!("{}: {e}", file.display()));
        let mut have = tokio::fs::metadata(file).await.map_or(0, |m| m.len());
        if have > size {
            tokio::fs::remove_file(file).await.map_err(io)?;
            have = 0;
        }
        if have == size {
            return Ok(());
        }
        let mut req = self
            .http
            .get(self.url(path))
            .header(header::AUTHORIZATION, &cred.0)
            // No overall time limit: a big bundle on a slow line takes what it takes; a stall
            // is caught by the read time-out below.
            .timeout(Duration::from_secs(24 * 3600));
        if have > 0 {
            req = req.header(header::RANGE, format!("bytes={have}-"));
        }
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let mut out = match status.as_u16() {
            206 => tokio::fs::OpenOptions::new()
                .append(true)
                .open(file)
                .await
                .map_err(io)?,
            200 => {
                // The whole bundle (the server ignored the range, or there was none).
                have = 0;
                tokio::fs::File::create(file).await.map_err(io)?
            }
            401 | 403 => {
                return Err(FleetError::Unauthorized(format!(
                    "download refused ({status})"
                )));
            }
            code => {
                let body = read_limited(resp).await.unwrap_or_default();
                return Err(FleetError::Status {
                    status: code,
                    message: String::from_utf8_lossy(&body).chars().take(300).collect(),
                });
            }
        };
        loop {
            let chunk = tokio::time::timeout(Duration::from_secs(60), resp.chunk())
                .await
                .map_err(|_| FleetError::Transport("the download stalled for 60 s".into()))?
                .map_err(transport)?;
            let Some(chunk) = chunk else { break };
            if have + chunk.len() as u64 > size {
                return Err(FleetError::Decode(format!(
                    "the fleet sent more than the {size} bytes of the manifest"
                )));
            }
            out.write_all(&chunk).await.map_err(io)?;
            have += chunk.len() as u64;
            progress(have);
        }
        out.sync_all().await.map_err(io)?;
        if have < size {
            return Err(FleetError::Transport(format!(
                "the download ended after {have} of {size} bytes"
            )));
        }
        Ok(())
    }

    /// `GET /healthz` on the fleet server: connection, TLS handshake and an answer; how long
    /// it took.
    pub async fn probe(&self) -> Result<Duration, FleetError> {
        let start = std::time::Instant::now();
        let mut u = self.base.clone();
        u.set_path(&format!(
            "{}/healthz",
            self.base.path().trim_end_matches('/')
        ));
        let resp = self.http.get(u).send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(FleetError::Status {
                status: resp.status().as_u16(),
                message: "health check failed".into(),
            });
        }
        Ok(start.elapsed())
    }

    /// The fleet server's address, as configured.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Exchanges the bootstrap token for the kiosk's identity.
    pub async fn enrol(&self, req: &EnrolRequest) -> Result<EnrolResponse, FleetError> {
        let resp = self
            .http
            .post(self.url("/enrol"))
            .json(req)
            .send()
            .await
            .map_err(transport)?;
        decode(resp).await
    }

    /// Uploads a batch; the answer has one ack per item.
    pub async fn upload(
        &self,
        cred: &Credential,
        batch: &SubmissionBatch,
    ) -> Result<BatchAck, FleetError> {
        let resp = self
            .http
            .post(self.url("/submissions"))
            .header(header::AUTHORIZATION, &cred.0)
            .json(batch)
            .send()
            .await
            .map_err(transport)?;
        let ack: BatchAck = decode(resp).await?;
        if ack.items.len() != batch.items.len()
            || ack
                .items
                .iter()
                .zip(&batch.items)
                .any(|(a, i)| a.id != i.id)
        {
            return Err(FleetError::Decode(
                "the acks do not match the uploaded items".into(),
            ));
        }
        Ok(ack)
    }

    /// Fetches the catalog unless it still has `etag`; `None` means unchanged.
    pub async fn catalog(
        &self,
        cred: &Credential,
        etag: Option<&str>,
    ) -> Result<Option<(Catalog, Option<String>)>, FleetError> {
        let mut req = self
            .http
            .get(self.url("/catalog"))
            .header(header::AUTHORIZATION, &cred.0);
        if let Some(e) = etag {
            req = req.header(header::IF_NONE_MATCH, e);
        }
        let resp = req.send().await.map_err(transport)?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let catalog: Catalog = decode(resp).await?;
        for s in &catalog.services {
            s.check()
                .map_err(|e| FleetError::Decode(format!("service {:?}: {e}", s.id)))?;
        }
        Ok(Some((catalog, etag)))
    }

    /// A request's state; `None` when the fleet does not know the code.
    pub async fn status(
        &self,
        cred: &Credential,
        code: &TrackingCode,
        timeout: Duration,
    ) -> Result<Option<StatusRecord>, FleetError> {
        let resp = self
            .http
            .get(self.url(&format!("/status/{}", code.as_str())))
            .header(header::AUTHORIZATION, &cred.0)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        decode(resp).await.map(Some)
    }

    /// "My requests": the requests submitted with the card `identity` (a keyed hash).
    pub async fn requests_by_identity(
        &self,
        cred: &Credential,
        identity: &str,
        timeout: Duration,
    ) -> Result<Vec<StatusRecord>, FleetError> {
        let resp = self
            .http
            .post(self.url("/requests/by-identity"))
            .header(header::AUTHORIZATION, &cred.0)
            .json(&protocol::fleet::IdentityQuery {
                identity: identity.to_owned(),
            })
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        decode::<protocol::fleet::IdentityRequests>(resp)
            .await
            .map(|r| r.requests)
    }

    /// Sends a command's result.
    pub async fn command_result(
        &self,
        cred: &Credential,
        id: i64,
        result: &protocol::fleet::CommandResult,
    ) -> Result<(), FleetError> {
        let resp = self
            .http
            .post(self.url(&format!("/commands/{id}/result")))
            .header(header::AUTHORIZATION, &cred.0)
            .json(result)
            .send()
            .await
            .map_err(transport)?;
        if resp.status().is_success() {
            Ok(())
        } else {
            decode::<serde_json::Value>(resp).await.map(drop)
        }
    }

    /// Sends a heartbeat.
    pub async fn heartbeat(
        &self,
        cred: &Credential,
        hb: &Heartbeat,
    ) -> Result<HeartbeatReply, FleetError> {
        let sent = Heartbeat {
            sent_at: Some(crate::store::now_ms()),
            ..hb.clone()
        };
        let resp = self
            .http
            .post(self.url("/heartbeat"))
            .header(header::AUTHORIZATION, &cred.0)
            .json(&sent)
            .send()
            .await
            .map_err(transport)?;
        decode(resp).await
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let m = inner.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = inner.source();
    }
    s
}

fn transport(e: reqwest::Error) -> FleetError {
    FleetError::Transport(error_chain(&e))
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, FleetError> {
    if resp
        .content_length()
        .is_some_and(|n| n as usize > MAX_REPLY_BYTES)
    {
        return Err(FleetError::Decode(format!(
            "reply over {MAX_REPLY_BYTES} bytes"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(FleetError::Decode(format!(
                "reply over {MAX_REPLY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, FleetError> {
    let status = resp.status();
    let body = read_limited(resp).await?;
    if status.is_success() {
        return protocol::json::decode(&body, MAX_REPLY_BYTES)
            .map_err(|e| FleetError::Decode(e.to_string()));
    }
    let message = serde_json::from_slice::<ErrorBody>(&body)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(FleetError::Unauthorized(message));
    }
    Err(FleetError::Status {
        status: status.as_u16(),
        message,
    })
}
