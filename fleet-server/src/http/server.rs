//! Serving the router over HTTP/1.1, plain or TLS, with the limits a slow or hostile client
//! meets (the time-outs nginx and hyper use):
//!
//! - at most `limits.max_connections` connections at once: the next waits in the kernel's
//!   accept queue until one closes;
//! - a TLS handshake must finish, and a request head arrive whole, within
//!   `limits.header_timeout_s` of the connection opening or of its previous answer (so an idle
//!   keep-alive connection goes too); a half-sent request line holds nothing for longer;
//! - a request body must make progress (`limits.body_read_timeout_s` between reads) and arrive
//!   within `limits.body_deadline_s` ([`body_deadline`]);
//! - on SIGTERM the listener closes, connections finish the request in hand (at most 10 s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// How long in-flight requests get after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// The connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// A request head (and a TLS handshake) must arrive within this.
    pub header_timeout: Duration,
}

impl ConnLimits {
    /// From `[limits]`.
    pub fn from_config(l: &crate::config::LimitsSection) -> ConnLimits {
        ConnLimits {
            max_connections: l.max_connections,
            header_timeout: Duration::from_secs(l.header_timeout_s),
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        // A free slot first, then a connection: what is over the cap waits in the backlog.
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            connection(tcp, remote, tls, router, limits, watcher).await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => {
            tracing::warn!("connections still open after {} s; stopping anyway", DRAIN.as_secs());
        }
    }
}

async fn connection(
    tcp: TcpStream,
    remote: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    limits: ConnLimits,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            // The router is always ready; each request gets its own clone, as axum's own server does.
            tower_service::Service::call(&mut router.clone(), req)
        });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    match tls {
        None => {
            let conn = http.serve_connection(TokioIo::new(tcp), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%remote, error = %e, "connection ended");
            }
        }
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
            let conn = http.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%remote, error = %e, "connection ended");
            }
        }
    }
}

/// Why a request body stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyTimeout {
    /// Nothing arrived for too long.
    #[error("the request body stalled for {0} s")]
    Stalled(u64),
    /// It took too long as a whole.
    #[error("the request body took over {0} s")]
    TooSlow(u64),
}

/// A middleware giving every request body a deadline: at most `read` between two reads and
/// `total` for the whole (the body then fails, and its reader answers 408 or 400).
pub async fn body_deadline(
    axum::extract::State((read, total)): axum::extract::State<(Duration, Duration)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use futures_util::StreamExt;
    let (parts, body) = req.into_parts();
    let deadline = tokio::time::Instant::now() + total;
    let stream = body.into_data_stream();
    let limited = futures_util::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        let step = tokio::time::Instant::now() + read;
        match tokio::time::timeout_at(step.min(deadline), stream.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), None)),
            Ok(None) => None,
            Err(_) if tokio::time::Instant::now() >= deadline => Some((
                Err(axum::BoxError::from(BodyTimeout::TooSlow(total.as_secs()))),
                None,
            )),
            Err(_) => Some((
                Err(axum::BoxError::from(BodyTimeout::Stalled(read.as_secs()))),
                None,
            )),
        }
    });
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from_stream(limited),
    ))
    .await
}
