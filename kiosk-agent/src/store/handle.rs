//! [`Shared`]: the one store of the agent, shared by the local API's threads and the async tasks.

use std::sync::{Arc, Mutex};

use super::{Store, StoreError};

/// A handle on the agent's store; clones share it. Each subsystem gets one from
/// [`crate::agent`] instead of the whole agent.
#[derive(Debug, Clone)]
pub struct Shared(Arc<Mutex<Store>>);

impl Shared {
    /// Shares `store`.
    pub fn new(store: Store) -> Shared {
        Shared(Arc::new(Mutex::new(store)))
    }

    /// Runs `f` on the store in this thread, which may block (SQLite commits fsync): for the
    /// local API's connection threads and the device threads, never for async tasks.
    pub fn now<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Runs `f` on the store on the blocking pool: SQLite commits fsync and must not stall the
    /// async reactor.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.0);
        match tokio::task::spawn_blocking(move || {
            let mut guard = store
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}
