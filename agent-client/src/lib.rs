//! The thin client of the agent's local socket.
//!
//! `kiosk-app` and `kioskctl` use it to speak [`protocol::app`] over a Unix socket. It is
//! blocking and std-only on purpose: the app calls it from its own worker thread, never from the
//! UI event loop, and it holds no state but the connection. It never opens a network socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::app::{self, ApiError, Request, RequestBody, Response, ResponseBody};
use protocol::frame;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached or broke.
    #[error("agent socket {path}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The agent sent something that is not a reply.
    #[error("agent sent a malformed reply: {0}")]
    Protocol(String),
    /// The agent answered with an error.
    #[error("agent refused: {0}")]
    Agent(ApiError),
}

/// A connection to the agent.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    stream: UnixStream,
    reader: std::io::BufReader<UnixStream>,
    next_id: u64,
    max_frame: u32,
}

impl Client {
    /// Connects to the agent's socket; every call times out after `timeout`.
    pub fn connect(path: impl AsRef<Path>, timeout: Duration) -> Result<Client, ClientError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| ClientError::Io {
            path: path.clone(),
            source,
        };
        let stream = UnixStream::connect(&path).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        // Buffered reads: a whole reply usually arrives in one read.
        let reader = std::io::BufReader::with_capacity(64 * 1024, stream.try_clone().map_err(io)?);
        Ok(Client {
            path,
            stream,
            reader,
            next_id: 1,
            max_frame: frame::DEFAULT_MAX_FRAME,
        })
    }

    /// Sends one request and waits for its reply. An error reply becomes
    /// [`ClientError::Agent`].
    pub fn call(&mut self, body: RequestBody) -> Result<ResponseBody, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let req = Request {
            v: app::VERSION,
            id,
            body,
        };
        let payload = serde_json::to_vec(&req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.send_raw(&frame::encode(&payload))?;
        let reply = self.read_reply()?;
        if reply.id != id && reply.id != 0 {
            return Err(ClientError::Protocol(format!(
                "reply to {} for request {id}",
                reply.id
            )));
        }
        match reply.body {
            ResponseBody::Error(e) => Err(ClientError::Agent(e)),
            body => Ok(body),
        }
    }

    /// Writes raw bytes to the socket (for tests of malformed frames).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let path = self.path.clone();
        self.stream
            .write_all(bytes)
            .map_err(|source| ClientError::Io { path, source })
    }

    /// Reads one reply frame.
    pub fn read_reply(&mut self) -> Result<Response, ClientError> {
        let io = |source| ClientError::Io {
            path: self.path.clone(),
            source,
        };
        let mut header = [0u8; frame::HEADER_LEN];
        self.reader.read_exact(&mut header).map_err(io)?;
        let len = frame::payload_len(header, self.max_frame)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut payload = vec![0u8; len];
        self.reader.read_exact(&mut payload).map_err(io)?;
        protocol::json::decode_versioned(&payload, len, app::VERSION)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }
}
