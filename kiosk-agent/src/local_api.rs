//! The local API: the Unix socket `kiosk-app` talks to.
//!
//! Frames are a 4-byte big-endian length and that many bytes of JSON ([`protocol::frame`]).
//! A frame that is not a valid request gets an error reply and the connection stays usable; a
//! frame over the size limit gets an error reply and the connection is closed (it cannot be
//! resynchronised). One connection's garbage never touches another connection or stored data.
//! The socket is created with mode 0660 so that only the agent's group (the app) can connect.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use protocol::app::{self, ApiError, ErrorCode, Request, Response, ResponseBody};
use protocol::frame::{self, FrameError};
use protocol::json::DecodeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};

use crate::agent::Agent;

/// A client has this long to send the rest of a frame it started.
const FRAME_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {path}")]
pub struct BindError {
    path: std::path::PathBuf,
    #[source]
    source: std::io::Error,
}

/// Binds the socket at `path` (replacing a stale one) with mode 0660.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let err = |source| BindError {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
    Ok(listener)
}

/// Serves connections until `shutdown` turns true.
pub async fn serve(agent: Arc<Agent>, listener: UnixListener, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(agent.config.agent.max_clients));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!("too many local clients; refusing a connection");
            let mut stream = stream;
            let reply = error_reply(0, ApiError::new(ErrorCode::Internal, "too many clients"));
            let _ = stream.write_all(&reply).await;
            continue;
        };
        let agent = Arc::clone(&agent);
        tokio::spawn(async move {
            connection(&agent, stream).await;
            drop(permit);
        });
    }
}

fn encode(resp: &Response) -> Vec<u8> {
    // Serialising our own types cannot fail; an empty frame would be a bug the client reports.
    frame::encode(&serde_json::to_vec(resp).unwrap_or_default())
}

fn error_reply(id: u64, e: ApiError) -> Vec<u8> {
    encode(&Response {
        v: app::VERSION,
        id,
        body: ResponseBody::Error(e),
    })
}

/// The id of a request that failed to decode, when it can be read at all.
fn salvage_id(payload: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("id")?.as_u64())
        .unwrap_or(0)
}

async fn connection(agent: &Agent, mut stream: UnixStream) {
    let max = agent.config.agent.max_frame_bytes;
    loop {
        let mut header = [0u8; frame::HEADER_LEN];
        if stream.read_exact(&mut header).await.is_err() {
            return; // client closed
        }
        let len = match frame::payload_len(header, max) {
            Ok(len) => len,
            Err(e) => {
                tracing::warn!(error = %e, "refusing a local frame; closing the connection");
                let code = match e {
                    FrameError::TooLarge { .. } => ErrorCode::TooLarge,
                    FrameError::Empty => ErrorCode::BadRequest,
                };
                let _ = stream
                    .write_all(&error_reply(0, ApiError::new(code, e.to_string())))
                    .await;
                return;
            }
        };
        let mut payload = vec![0u8; len];
        match tokio::time::timeout(FRAME_BODY_TIMEOUT, stream.read_exact(&mut payload)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::warn!("local client stalled in the middle of a frame; closing");
                return;
            }
        }
        let reply = match protocol::json::decode_versioned::<Request>(&payload, len, app::VERSION) {
            Ok(req) => {
                let body = crate::handlers::handle(agent, req.body).await;
                encode(&Response {
                    v: app::VERSION,
                    id: req.id,
                    body,
                })
            }
            Err(e) => {
                let code = match e {
                    DecodeError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
                    DecodeError::TooLarge { .. } => ErrorCode::TooLarge,
                    DecodeError::Malformed(_) => ErrorCode::BadRequest,
                };
                tracing::warn!(error = %e, "malformed local request");
                error_reply(salvage_id(&payload), ApiError::new(code, e.to_string()))
            }
        };
        if stream.write_all(&reply).await.is_err() {
            return;
        }
    }
}
