//! The agent's shared state: configuration, the store, the fleet client, and the signal that
//! wakes the sync loop when a new submission is stored.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::sync::http::FleetClient;

/// Everything the local API and the sync loop share.
#[derive(Debug)]
pub struct Agent {
    /// The configuration.
    pub config: Config,
    store: Arc<Mutex<Store>>,
    /// The fleet client.
    pub fleet: FleetClient,
    /// Notified when there is something new to upload.
    pub wake: Notify,
    /// Notified when the agent must start again (it was just provisioned).
    pub restart: Notify,
    /// The kiosk's devices.
    pub devices: Arc<crate::devices::Devices>,
    /// The cards read, behind the tokens the UI holds.
    pub cards: crate::card_tokens::CardTokens,
    /// The last heartbeat the fleet answered, and the last failure since.
    pub contact: Mutex<Contact>,
    /// Serial console events for the next heartbeat.
    console_events: Mutex<Vec<protocol::fleet::ConsoleEvent>>,
    /// Updates, when `[update]` is configured.
    pub updates: Option<crate::update::Updates>,
}

/// How the fleet connection is doing, for the technician.
#[derive(Debug, Clone, Default)]
pub struct Contact {
    /// When a heartbeat was last answered.
    pub last_ok_at: Option<i64>,
    /// The last error since then, if any.
    pub last_error: Option<String>,
}

impl Agent {
    /// Assembles the agent from its parts.
    pub fn new(
        config: Config,
        store: Store,
        fleet: FleetClient,
    ) -> Result<Agent, crate::config::ConfigError> {
        let updates = match &config.update {
            Some(u) => Some(
                crate::update::Updates::new(u, &config.agent.data_dir, &config.commands.reboot)
                    .map_err(|e| crate::config::ConfigError::Invalid {
                        key: "update",
                        problem: e.to_string(),
                    })?,
            ),
            None => None,
        };
        Ok(Agent {
            updates,
            devices: Arc::new(crate::devices::Devices::new(&config)?),
            config,
            store: Arc::new(Mutex::new(store)),
            fleet,
            wake: Notify::new(),
            restart: Notify::new(),
            contact: Mutex::new(Contact::default()),
            cards: crate::card_tokens::CardTokens::default(),
            console_events: Mutex::new(Vec::new()),
        })
    }

    /// Notes a console event for the fleet (the oldest go when a heartbeat is long in coming).
    pub fn console_event(&self, what: impl Into<String>) {
        let mut v = self
            .console_events
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if v.len() >= protocol::fleet::MAX_CONSOLE_EVENTS {
            v.remove(0);
        }
        v.push(protocol::fleet::ConsoleEvent {
            at: crate::store::now_ms(),
            what: what.into().chars().take(100).collect(),
        });
    }

    /// The console events not yet sent (a heartbeat that fails is buffered with them).
    pub fn take_console_events(&self) -> Vec<protocol::fleet::ConsoleEvent> {
        std::mem::take(
            &mut *self
                .console_events
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Runs `f` on the store in this thread, which may block (SQLite commits fsync): for the
    /// local API's connection threads, never for async tasks.
    pub fn store_now<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Runs `f` on the store on the blocking pool: SQLite commits fsync and must not stall the
    /// async reactor.
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.store);
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
