//! A fault-injecting TCP proxy for loopback tests.
//!
//! Each exchange (a new connection, or a new request on a kept-alive one) is given one fate,
//! drawn from the configured probabilities:
//! - **pass**: bytes flow both ways, optionally delayed;
//! - **refuse**: closed at once, before anything reaches the server;
//! - **reset early**: part of the request reaches the proxy, nothing the server, then a reset;
//! - **lose reply**: the whole request reaches the server, and once the server has started to
//!   answer (so it has committed), the client's connection is reset and the reply discarded:
//!   the case that makes naive retries duplicate data.
//!
//! The upstream can be changed or taken down at run time; counters say which faults happened.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fault probabilities (0.0-1.0) and delays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Close at once.
    pub refuse: f64,
    /// Reset after reading part of the request.
    pub reset_early: f64,
    /// Forward the request, then reset instead of forwarding the reply.
    pub lose_reply: f64,
    /// Delay each forwarded chunk by up to this much.
    pub max_delay: Duration,
}

/// What happened so far.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Refused at once.
    pub refused: AtomicU64,
    /// Reset early.
    pub reset_early: AtomicU64,
    /// Replies lost after the server answered.
    pub lost_replies: AtomicU64,
    /// Connections that could not reach the upstream.
    pub upstream_down: AtomicU64,
    /// Reply bytes forwarded to clients.
    pub reply_bytes: AtomicU64,
    /// Replies cut short by [`Proxy::cut_next_reply_after`].
    pub cut_replies: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    upstream: Mutex<SocketAddr>,
    faults: Mutex<Faults>,
    down: AtomicBool,
    counters: Counters,
    /// Cut the next connection whose replies pass this many bytes (once).
    cut: Mutex<Option<u64>>,
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

fn chance(p: f64) -> bool {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("OS random source");
    ((u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64) < p
}

fn random_delay(max: Duration) -> Duration {
    if max.is_zero() {
        return max;
    }
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("OS random source");
    max.mul_f64(f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX))
}

impl Proxy {
    /// Starts a proxy on an ephemeral loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr, faults: Faults) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            faults: Mutex::new(faults),
            down: AtomicBool::new(false),
            counters: Counters::default(),
            cut: Mutex::new(None),
        });
        let s = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _ = handle(s, client).await;
                });
            }
        });
        Ok(Proxy { addr, shared })
    }

    /// Arms a one-time cut: the first connection whose replies pass `bytes` gets exactly that
    /// many, then a reset (a download that breaks off part-way).
    pub fn cut_next_reply_after(&self, bytes: u64) {
        *self.shared.cut.lock().unwrap_or_else(|p| p.into_inner()) = Some(bytes);
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Points the proxy at another upstream (a restarted server).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self
            .shared
            .upstream
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = upstream;
    }

    /// Changes the faults.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Takes the network down (new connections refused, live ones reset at their next request)
    /// or brings it back.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }
}

fn reset(stream: TcpStream) {
    // SO_LINGER 0 makes close() send RST instead of FIN.
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn handle(s: Arc<Shared>, client: TcpStream) -> std::io::Result<()> {
    let c = &s.counters;
    c.connections.fetch_add(1, Ordering::Relaxed);
    let faults = *s.faults.lock().unwrap_or_else(|p| p.into_inner());
    if s.down.load(Ordering::SeqCst) || chance(faults.refuse) {
        c.refused.fetch_add(1, Ordering::Relaxed);
        reset(client);
        return Ok(());
    }
    if chance(faults.reset_early) {
        c.reset_early.fetch_add(1, Ordering::Relaxed);
        let mut client = client;
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(Duration::from_secs(2), client.read(&mut buf)).await;
        reset(client);
        return Ok(());
    }
    let upstream_addr = *s.upstream.lock().unwrap_or_else(|p| p.into_inner());
    let upstream = match TcpStream::connect(upstream_addr).await {
        Ok(u) => u,
        Err(_) => {
            c.upstream_down.fetch_add(1, Ordering::Relaxed);
            reset(client);
            return Ok(());
        }
    };
    let mut lose_reply = chance(faults.lose_reply);
    let (mut client, mut upstream) = (client, upstream);
    let delay = faults.max_delay;
    let lost = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let mut cbuf = vec![0u8; 16 * 1024];
        let mut ubuf = vec![0u8; 16 * 1024];
        let mut client_done = false;
        let mut answered = false;
        let mut sent: u64 = 0;
        loop {
            tokio::select! {
                r = cr.read(&mut cbuf), if !client_done => {
                    match r {
                        Ok(0) | Err(_) => {
                            client_done = true;
                            let _ = uw.shutdown().await;
                        }
                        Ok(n) => {
                            if s.down.load(Ordering::SeqCst) {
                                // The network went down under a kept-alive connection.
                                c.refused.fetch_add(1, Ordering::Relaxed);
                                break Fate::Reset;
                            }
                            if answered {
                                // A new request on a kept-alive connection: a new fate.
                                answered = false;
                                let faults = *s.faults.lock().unwrap_or_else(|p| p.into_inner());
                                if chance(faults.refuse + faults.reset_early) {
                                    c.reset_early.fetch_add(1, Ordering::Relaxed);
                                    break Fate::Reset;
                                }
                                lose_reply = chance(faults.lose_reply);
                            }
                            tokio::time::sleep(random_delay(delay)).await;
                            if uw.write_all(&cbuf[..n]).await.is_err() {
                                break Fate::Close;
                            }
                        }
                    }
                }
                r = ur.read(&mut ubuf) => {
                    let n = match r {
                        Ok(0) | Err(_) => break Fate::Close,
                        Ok(n) => n,
                    };
                    if lose_reply {
                        // The server has started to answer, so it has committed.
                        c.lost_replies.fetch_add(1, Ordering::Relaxed);
                        break Fate::Reset;
                    }
                    answered = true;
                    tokio::time::sleep(random_delay(delay)).await;
                    let mut n = n;
                    let cut = {
                        let mut armed = s.cut.lock().unwrap_or_else(|p| p.into_inner());
                        match *armed {
                            Some(limit) if sent + n as u64 >= limit => {
                                *armed = None;
                                n = (limit - sent.min(limit)) as usize;
                                true
                            }
                            _ => false,
                        }
                    };
                    if cw.write_all(&ubuf[..n]).await.is_err() {
                        break Fate::Close;
                    }
                    sent += n as u64;
                    c.reply_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if cut {
                        c.cut_replies.fetch_add(1, Ordering::Relaxed);
                        let _ = cw.flush().await;
                        break Fate::Reset;
                    }
                }
            }
        }
    };
    match lost {
        Fate::Reset => reset(client),
        Fate::Close => {
            let _ = client.shutdown().await;
        }
    }
    Ok(())
}

/// How a proxied connection ends.
enum Fate {
    /// Normally.
    Close,
    /// With a reset, the client's request unanswered.
    Reset,
}
