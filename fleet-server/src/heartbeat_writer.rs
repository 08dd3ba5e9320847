//! The heartbeat writer, with group commit (not to be confused with [`crate::store::Submissions::ingest`], which stores submission batches). Handlers hand each heartbeat to one writer task and wait
//! for it to be on disk; the writer takes everything that queued up meanwhile and commits it in
//! one transaction, then passes the batch to a syncer task that flushes the store
//! ([`crate::store::Upkeep::sync`]) and answers. While one batch is being flushed the next is written, and one
//! flush carries every batch committed before it. When idle, a heartbeat is written at once. A
//! heartbeat is answered only after it is on disk.
//!
//! Beside it, what every heartbeat reply needs is kept in memory: the catalog's version
//! (refreshed every few seconds, so a catalog published from the command line is noticed) and
//! which kiosks have commands waiting (the database is asked only for those).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use protocol::UnixMillis;
use protocol::fleet::Heartbeat;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Store, StoreError};

/// Most heartbeats in one transaction.
const MAX_BATCH: usize = 1000;

type Item = (
    String,
    Heartbeat,
    UnixMillis,
    oneshot::Sender<Result<(), String>>,
);

/// The heartbeat writer and the caches beside it.
#[derive(Debug)]
pub struct HeartbeatWriter {
    queue: mpsc::Sender<Item>,
    catalog_version: Arc<AtomicU64>,
    pending: RwLock<HashSet<String>>,
}

impl HeartbeatWriter {
    /// Starts the writer and the catalog-version refresher on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Result<Arc<HeartbeatWriter>, StoreError> {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let catalog_version = Arc::new(AtomicU64::new(store.catalog_version()?));
        let pending = RwLock::new(store.kiosks_with_pending_commands()?.into_iter().collect());
        tokio::spawn(writer(Arc::clone(&store), rx));
        let (s, v) = (Arc::clone(&store), Arc::clone(&catalog_version));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let s2 = Arc::clone(&s);
                if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || s2.catalog_version()).await {
                    v.store(n, Ordering::Relaxed);
                }
            }
        });
        Ok(Arc::new(HeartbeatWriter {
            queue: tx,
            catalog_version,
            pending,
        }))
    }

    /// Stores a heartbeat; returns once it is committed.
    pub async fn record(
        &self,
        kiosk: String,
        hb: Heartbeat,
        now: UnixMillis,
    ) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send((kiosk, hb, now, done))
            .await
            .map_err(|_| "the heartbeat writer stopped".to_owned())?;
        wait.await
            .map_err(|_| "the heartbeat writer stopped".to_owned())?
    }

    /// The newest catalog's version.
    pub fn catalog_version(&self) -> u64 {
        self.catalog_version.load(Ordering::Relaxed)
    }

    /// A catalog was published through the API.
    pub fn set_catalog_version(&self, v: u64) {
        self.catalog_version.fetch_max(v, Ordering::Relaxed);
    }

    /// Whether `kiosk` may have commands waiting.
    pub fn has_pending(&self, kiosk: &str) -> bool {
        self.pending
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(kiosk)
    }

    /// A command was queued for `kiosk`, or it has none left.
    pub fn set_pending(&self, kiosk: &str, pending: bool) {
        let mut set = self.pending.write().unwrap_or_else(|p| p.into_inner());
        if pending {
            set.insert(kiosk.to_owned());
        } else {
            set.remove(kiosk);
        }
    }
}

type Waiter = oneshot::Sender<Result<(), String>>;

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Item>) {
    let (to_sync, synced) = mpsc::unbounded_channel::<Vec<Waiter>>();
    tokio::spawn(syncer(Arc::clone(&store), synced));
    while let Some(first) = rx.recv().await {
        let mut items = vec![first];
        while items.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(i) => items.push(i),
                Err(_) => break,
            }
        }
        let (batch, waiters): (Vec<_>, Vec<_>) = items
            .into_iter()
            .map(|(k, hb, now, done)| ((k, hb, now), done))
            .unzip();
        let s = Arc::clone(&store);
        let result = tokio::task::spawn_blocking(move || s.record_heartbeats(&batch))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match result {
            Ok(()) => {
                if let Err(unsent) = to_sync.send(waiters) {
                    for w in unsent.0 {
                        let _ = w.send(Err("the heartbeat syncer stopped".into()));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "heartbeats not stored");
                for w in waiters {
                    let _ = w.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Flushes what the writer committed, then answers: every batch that arrived meanwhile shares
/// one flush.
async fn syncer(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Vec<Waiter>>) {
    while let Some(first) = rx.recv().await {
        let mut waiters = first;
        while let Ok(more) = rx.try_recv() {
            waiters.extend(more);
        }
        let s = Arc::clone(&store);
        let result = tokio::task::spawn_blocking(move || s.sync())
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        if let Err(e) = &result {
            tracing::error!(error = %e, "heartbeats not flushed to disk");
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}
