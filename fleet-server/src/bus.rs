//! What one instance changed that the others must know, over PostgreSQL's LISTEN/NOTIFY
//! (channel `okenko`), when several instances share one database.
//!
//! - **The dashboard's live pages.** [`crate::state::AppState::changed`] tells this instance's
//!   open pages and queues the change here; [`publish`] sends what queued up, deduplicated, at
//!   most every [`PUBLISH_EVERY`] (a heartbeat changes a kiosk; thousands a second become a few
//!   notifications). Every other instance passes them to its own open pages.
//! - **The rollout book.** Each instance keeps releases, rollouts and kiosks' updates in memory
//!   ([`crate::rollout::Rollouts`]). The store announces every one it saves, in the saving
//!   transaction, with the record itself (`crate::store::postgres`); the others take it into
//!   their books. After the listening connection was lost (the database restarted), notices
//!   may have been missed: the book is read again whole.
//!
//! A notification is `INSTANCE \t KIND \t DATA`; an instance ignores its own.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use tokio::sync::{Notify, broadcast, watch};

use crate::changes::Change;
use crate::rollout::Rollouts;
use crate::store::postgres::PgStore;

/// The channel.
pub const CHANNEL: &str = "okenko";

/// The longest a change waits before it is sent to the other instances.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// A notification's payload is at most this long (PostgreSQL's limit is 8000 bytes).
pub const MAX_PAYLOAD: usize = 7_900;

/// Changes waiting to be sent.
#[derive(Debug)]
pub struct Bus {
    pg: Arc<PgStore>,
    pending: Mutex<HashSet<Change>>,
    wake: Notify,
}

impl Bus {
    /// A bus over `pg`'s database.
    pub fn new(pg: Arc<PgStore>) -> Bus {
        Bus {
            pg,
            pending: Mutex::new(HashSet::new()),
            wake: Notify::new(),
        }
    }

    /// Queues a change for the other instances.
    pub fn publish(&self, change: Change) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() < 100_000 {
            p.insert(change);
        }
        self.wake.notify_one();
    }
}

/// A change as it travels.
fn encode(c: &Change) -> String {
    match c {
        Change::Kiosk(id) => format!("k:{id}"),
        Change::Alerts => "alerts".into(),
        Change::Audit => "audit".into(),
    }
}

fn decode(s: &str) -> Option<Change> {
    match s {
        "alerts" => Some(Change::Alerts),
        "audit" => Some(Change::Audit),
        _ => s.strip_prefix("k:").map(|id| Change::Kiosk(id.into())),
    }
}

/// The payloads for `changes`: newline-separated, each within [`MAX_PAYLOAD`].
fn payloads(instance: &str, changes: &HashSet<Change>) -> Vec<String> {
    let head = format!("{instance}\tchanges\t");
    let mut out = Vec::new();
    let mut cur = head.clone();
    for c in changes {
        let e = encode(c);
        if e.len() + head.len() + 1 > MAX_PAYLOAD {
            continue;
        }
        if cur.len() + e.len() + 1 > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut cur, head.clone()));
        }
        if cur.len() > head.len() {
            cur.push('\n');
        }
        cur.push_str(&e);
    }
    if cur.len() > head.len() {
        out.push(cur);
    }
    out
}

/// Sends what queued up, until `stop`.
pub async fn publish(bus: Arc<Bus>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = bus.wake.notified() => {}
            _ = stop.changed() => return,
        }
        tokio::time::sleep(PUBLISH_EVERY).await;
        let changes = std::mem::take(&mut *bus.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if changes.is_empty() {
            continue;
        }
        let pg = Arc::clone(&bus.pg);
        let sent = tokio::task::spawn_blocking(move || {
            for p in payloads(pg.instance(), &changes) {
                pg.notify(CHANNEL, &p)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await;
        match sent {
            Ok(Ok(())) => {}
            // The other instances' pages miss this change; their next one shows it.
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot tell the other instances"),
            Err(e) => tracing::error!(error = %e, "telling the other instances panicked"),
        }
    }
}

/// What the listener acts on.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The database.
    pub pg: Arc<PgStore>,
    /// This instance's open pages.
    pub changes: broadcast::Sender<Change>,
    /// This instance's rollout book.
    pub rollouts: Arc<Rollouts>,
}

impl Listener {
    /// Acts on one notification from another instance.
    fn take(&self, payload: &str) {
        let mut parts = payload.splitn(3, '\t');
        let (Some(from), Some(kind), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            tracing::warn!("a notification that is not ours on the bus; ignored");
            return;
        };
        if from == self.pg.instance() {
            return;
        }
        match kind {
            "changes" => {
                if self.changes.receiver_count() > 0 {
                    for c in data.lines().filter_map(decode) {
                        let _ = self.changes.send(c);
                    }
                }
            }
            "release" | "rollout" | "kiosk_update" | "reload" => {
                if let Err(e) = self.rollouts.take(kind, data, self.pg.as_ref()) {
                    tracing::warn!(error = %e, kind, "cannot take another instance's change");
                }
            }
            other => tracing::warn!(kind = other, "an unknown notification; ignored"),
        }
    }

    /// Listens on a connection of its own until `stop` turns true: on a thread (the client is
    /// blocking). A lost connection is made again (each second); the book is then read anew.
    pub fn run(self, stop: Arc<AtomicBool>) {
        let mut first = true;
        while !stop.load(Ordering::Relaxed) {
            match self.pg.listen(CHANNEL) {
                Ok(mut conn) => {
                    if !first {
                        tracing::info!("listening to the other instances again");
                        if let Err(e) = self.rollouts.reload(self.pg.as_ref()) {
                            tracing::warn!(error = %e, "cannot read the rollout book anew");
                        }
                    }
                    first = false;
                    let client = conn.client();
                    while !stop.load(Ordering::Relaxed) {
                        // A fresh time-out each wait: the client's iterator keeps its first
                        // deadline, and once it has passed, returns at once (a spinning thread).
                        let next = client
                            .notifications()
                            .timeout_iter(Duration::from_millis(500))
                            .next();
                        match next {
                            Ok(Some(n)) => self.take(n.payload()),
                            // Nothing within the time-out, or the server went away.
                            Ok(None) if client.is_closed() => {
                                tracing::warn!("lost the connection to the other instances");
                                break;
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "lost the connection to the other instances");
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen to the other instances");
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Stops the listener thread when dropped.
#[derive(Debug)]
pub struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_travel_in_payloads_within_the_limit() {
        let many: HashSet<Change> = (0..2_000)
            .map(|i| Change::Kiosk(format!("kiosk-{i:05}").into()))
            .chain([Change::Alerts, Change::Audit])
            .collect();
        let ps = payloads("inst-1", &many);
        assert!(ps.len() > 1);
        let mut back = HashSet::new();
        for p in &ps {
            assert!(p.len() <= MAX_PAYLOAD, "{} bytes", p.len());
            let mut parts = p.splitn(3, '\t');
            assert_eq!(parts.next(), Some("inst-1"));
            assert_eq!(parts.next(), Some("changes"));
            back.extend(parts.next().unwrap_or("").lines().filter_map(decode));
        }
        assert_eq!(back, many);
    }
}
