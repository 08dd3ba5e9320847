//! What the app's end-to-end tests share: a fleet server with the demo catalog and an agent
//! enrolled with it, each a real process on 127.0.0.1 with its own SQLite files.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::time::Duration;

use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog};
use kiosk_app::config::AppConfig;

/// A card the simulated reader presents (a payment card's track data: never shown, never kept).
pub const CARD: &str = "%B4111111111111111^NOVAKOVA/JANA^2512101000000000000?";

/// A fleet and one enrolled agent. Fields drop in order: the processes stop before their
/// directory goes.
pub struct Kiosk {
    /// The agent.
    pub agent: Agent,
    /// The fleet server.
    pub fleet: Fleet,
    /// Where the agent's socket, config and card key are.
    pub agent_dir: PathBuf,
    _tmp: TempDir,
}

impl Kiosk {
    /// Starts both; `extra` gets the agent's directory and returns config lines for the agent.
    pub fn start(label: &str, extra: impl FnOnce(&Path) -> String) -> Kiosk {
        let tmp = TempDir::new(label);
        let fleet = Fleet::start(&tmp.path().join("fleet"), "");
        fleet.publish(&demo_catalog());
        let agent_dir = tmp.path().join("agent");
        std::fs::create_dir_all(&agent_dir).unwrap();
        let extra = extra(&agent_dir);
        let agent = Agent::start(&agent_dir, &fleet.url(), &fleet.token(label), &extra);
        assert!(agent.wait_ready(Duration::from_secs(30)));
        Kiosk {
            agent,
            fleet,
            agent_dir,
            _tmp: tmp,
        }
    }

    /// The app's configuration for this agent.
    pub fn app_config(&self) -> AppConfig {
        AppConfig {
            socket: self.agent_dir.join("agent.sock"),
            ..AppConfig::default()
        }
    }
}

/// Config lines for a card reader at `path`, with a card key written into `dir`.
pub fn card_reader(dir: &Path, path: &Path) -> String {
    let key = dir.join("card-key");
    std::fs::write(&key, "deployment-secret-key-0123456789\n").unwrap();
    format!(
        "[card_reader]\npath = \"{}\"\nkey_file = \"{}\"\n",
        path.display(),
        key.display()
    )
}
