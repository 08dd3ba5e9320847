//! The local API: the Unix socket `kiosk-app` talks to.
//!
//! Frames are a 4-byte big-endian length and that many bytes of JSON ([`protocol::frame`]).
//! A frame that is not a valid request gets an error reply and the connection stays usable; a
//! frame over the size limit gets an error reply and the connection is closed (it cannot be
//! resynchronised). One connection's garbage never touches another connection or stored data.
//! The socket is created with mode 0660 so that only the agent's primary group (`okenko-ui`,
//! which the app's user is in; docs/hardware.md) can connect.
//!
//! Each connection is served by its own thread (at most `agent.max_clients`; a kiosk has one or
//! two local clients): it reads a request, validates and commits it, and writes the reply,
//! with no hand-off between threads on the way. That keeps a submit's latency close to the
//! fsync it must wait for, and keeps SQLite off the async runtime: a stalled disk blocks only
//! the connection that waits for it, never the sync loop.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use protocol::app::{self, ApiError, ErrorCode, Request, Response, ResponseBody};
use protocol::frame::{self, FrameError};
use protocol::json::DecodeError;
use tokio::runtime::Handle;

use crate::agent::Agent;

/// A client has this long to send the rest of a frame it started, and to take a reply.
const FRAME_IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {path}")]
pub struct BindError {
    path: PathBuf,
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
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(err)?;
    Ok(listener)
}

/// The running local API.
#[derive(Debug)]
pub struct Server {
    stop: Arc<AtomicBool>,
    path: PathBuf,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` on its own thread. `rt` runs the few requests that need the network.
    pub fn spawn(agent: Arc<Agent>, rt: Handle, listener: UnixListener) -> std::io::Result<Server> {
        let stop = Arc::new(AtomicBool::new(false));
        let path = agent.config.agent.socket.clone();
        let s = Arc::clone(&stop);
        let accept = std::thread::Builder::new()
            .name("local-api".into())
            .spawn(move || accept_loop(agent, rt, listener, s))?;
        Ok(Server {
            stop,
            path,
            accept: Some(accept),
        })
    }

    /// Stops accepting connections; connections in progress finish their request.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(agent: Arc<Agent>, rt: Handle, listener: UnixListener, stop: Arc<AtomicBool>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= agent.config.agent.max_clients {
            active.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!("too many local clients; refusing a connection");
            let reply = error_reply(0, ApiError::new(ErrorCode::Internal, "too many clients"));
            let _ = stream.write_all(&reply);
            continue;
        }
        let (agent, rt, active) = (Arc::clone(&agent), rt.clone(), Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("local-client".into())
            .spawn(move || {
                connection(&agent, &rt, stream);
                active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a thread for a local client");
        }
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

/// Reads exactly `buf.len()` bytes; `idle_ok` lets a time-out before the first byte pass (a
/// client may stay quiet between requests as long as it likes), while a frame started and not
/// finished within [`FRAME_IO_TIMEOUT`] ends the connection.
fn read_full(r: &mut impl Read, buf: &mut [u8], idle_ok: bool) -> std::io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e)
                if idle_ok
                    && got == 0
                    && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn connection(agent: &Agent, rt: &Handle, stream: UnixStream) {
    let timeouts = stream
        .set_write_timeout(Some(FRAME_IO_TIMEOUT))
        .and_then(|()| stream.set_read_timeout(Some(FRAME_IO_TIMEOUT)));
    let Ok(mut writer) = timeouts.and_then(|()| stream.try_clone()) else {
        return;
    };
    // Buffered: a whole frame usually arrives in one read.
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, stream);
    let max = agent.config.agent.max_frame_bytes;
    loop {
        let mut header = [0u8; frame::HEADER_LEN];
        if read_full(&mut reader, &mut header, true).is_err() {
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
                let _ = writer.write_all(&error_reply(0, ApiError::new(code, e.to_string())));
                return;
            }
        };
        let mut payload = vec![0u8; len];
        if let Err(e) = read_full(&mut reader, &mut payload, false) {
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                tracing::warn!("local client stalled in the middle of a frame; closing");
            }
            return;
        }
        let reply = match protocol::json::decode_versioned::<Request>(&payload, len, app::VERSION) {
            Ok(req) => {
                let body = crate::handlers::handle(agent, rt, req.body);
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
        if writer.write_all(&reply).is_err() {
            return;
        }
    }
}
