//! The one place the agent is wired: [`Agent::new`] builds the store handle, the fleet client,
//! the devices, the updater and the power actions, and hands each subsystem only the parts it
//! needs ([`crate::sync::Parts`], [`crate::update::Parts`], [`crate::commands::Executor`]);
//! none of them imports this module. The local API ([`crate::handlers`]) and the serial
//! console ([`crate::console`]) are the agent's two faces and hold the whole [`Agent`].

use std::sync::Arc;

use tokio::sync::Notify;

use crate::card_tokens::CardTokens;
use crate::commands::Executor;
use crate::config::Config;
use crate::devices::Devices;
use crate::fleet::FleetClient;
use crate::power::Power;
use crate::store::{Shared, Store};
use crate::sync::{ConsoleEvents, Contact};
use crate::update::Updates;

/// Everything the local API, the console and the background tasks share.
#[derive(Debug)]
pub struct Agent {
    /// The configuration.
    pub config: Arc<Config>,
    /// The store.
    pub store: Shared,
    /// The fleet client.
    pub fleet: FleetClient,
    /// Notified when there is something new to upload.
    pub wake: Arc<Notify>,
    /// Notified when the agent must start again (it was just provisioned).
    pub restart: Notify,
    /// The kiosk's devices.
    pub devices: Arc<Devices>,
    /// The cards read, behind the tokens the UI holds.
    pub cards: CardTokens,
    /// How the fleet connection is doing.
    pub contact: Arc<Contact>,
    /// Serial console events for the next heartbeat.
    pub console: Arc<ConsoleEvents>,
    /// Updates, when `[update]` is configured.
    pub updates: Option<Arc<Updates>>,
    /// Reboot and restart.
    pub power: Power,
    /// Audio mode's speech, when `[speech]` is configured.
    pub speech: Option<Arc<crate::speech::Speech>>,
}

impl Agent {
    /// Assembles the agent from its parts.
    pub fn new(
        config: Config,
        store: Store,
        fleet: FleetClient,
    ) -> Result<Agent, crate::config::ConfigError> {
        let power = Power::new(&config.commands);
        let updates = match &config.update {
            Some(u) => Some(Arc::new(
                Updates::new(u, &config.agent.data_dir, power.clone()).map_err(|e| {
                    crate::config::ConfigError::Invalid {
                        key: "update",
                        problem: e.to_string(),
                    }
                })?,
            )),
            None => None,
        };
        Ok(Agent {
            updates,
            devices: Arc::new(Devices::new(&config.devices()?)),
            speech: config
                .speech
                .clone()
                .map(|s| Arc::new(crate::speech::Speech::new(s))),
            config: Arc::new(config),
            store: Shared::new(store),
            fleet,
            wake: Arc::new(Notify::new()),
            restart: Notify::new(),
            contact: Arc::default(),
            cards: CardTokens::default(),
            console: Arc::default(),
            power,
        })
    }

    /// What the fleet's commands act on.
    pub fn commands(&self) -> Executor {
        Executor {
            devices: Arc::clone(&self.devices),
            store: self.store.clone(),
            updates: self.updates.clone(),
            power: self.power.clone(),
            receipt_header: self.config.receipt.header.clone(),
            data_dir: self.config.agent.data_dir.clone(),
            disk_used_max_percent: self.config.agent.disk_used_max_percent,
        }
    }

    /// What the sync loop works with.
    pub fn sync_parts(&self) -> crate::sync::Parts {
        crate::sync::Parts {
            config: Arc::clone(&self.config),
            store: self.store.clone(),
            fleet: self.fleet.clone(),
            devices: Arc::clone(&self.devices),
            updates: self.updates.clone(),
            commands: self.commands(),
            wake: Arc::clone(&self.wake),
            contact: Arc::clone(&self.contact),
            console: Arc::clone(&self.console),
        }
    }

    /// What the updater works with, when updates are configured.
    pub fn update_parts(&self) -> Option<crate::update::Parts> {
        Some(crate::update::Parts {
            updates: Arc::clone(self.updates.as_ref()?),
            store: self.store.clone(),
            fleet: self.fleet.clone(),
            around: Arc::new(Around {
                devices: Arc::clone(&self.devices),
                contact: Arc::clone(&self.contact),
            }),
        })
    }
}

/// The updater's view of the kiosk: the devices and the fleet contact.
#[derive(Debug)]
struct Around {
    devices: Arc<Devices>,
    contact: Arc<Contact>,
}

impl crate::update::Surroundings for Around {
    fn last_use_at(&self) -> Option<i64> {
        self.devices.last_use_at()
    }

    fn missing_devices(&self) -> Vec<String> {
        self.devices
            .statuses()
            .iter()
            .filter(|d| d.state == protocol::app::DeviceState::Missing)
            .map(|d| format!("{:?}", d.device))
            .collect()
    }

    fn fleet_reached_at(&self) -> Option<i64> {
        self.contact.now().last_ok_at
    }
}
