//! Shared set-up for the agent's integration tests: a real store in a temporary directory, an
//! enrolled identity, the demo catalog, and the local API served on a temporary socket.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiosk_agent::agent::Agent;
use kiosk_agent::config::Config;
use kiosk_agent::fleet::FleetClient;
use kiosk_agent::store::{Identity, Store};

#[derive(Debug)]
pub struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(label: &str) -> TestDir {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let p = std::env::temp_dir().join(format!(
            "okenko-agent-{label}-{}",
            protocol::tracking::crockford(&b)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TestDir(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn demo_catalog() -> protocol::fleet::Catalog {
    let mut c: protocol::fleet::Catalog =
        serde_json::from_str(include_str!("../../../fleet-server/data/demo-catalog.json")).unwrap();
    c.version = 1;
    c
}

/// An enrolled store with the demo catalog.
pub fn ready_store(db: &Path) -> Store {
    let mut s = Store::open(db).unwrap();
    s.code_key(|| 42).unwrap();
    s.set_identity(&Identity {
        kiosk_id: "test-01".into(),
        kiosk_number: 7,
        name: "Test".into(),
        group: "default".into(),
        credential: "secret".into(),
    })
    .unwrap();
    s.save_catalog(&demo_catalog(), Some("\"1\"")).unwrap();
    s
}

/// The local API served exactly as the agent serves it (its runtime on its own thread, the
/// connection threads); stops on drop.
#[derive(Debug)]
pub struct Served {
    server: Option<kiosk_agent::local_api::Server>,
    agent: Option<Arc<Agent>>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    runtime: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        if let Some(a) = self.agent.take() {
            a.devices.stop();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.runtime.take() {
            let _ = t.join();
        }
    }
}

/// Serves the local API on `dir/agent.sock`; the fleet is unreachable.
pub fn serve(dir: &Path) -> (Arc<Agent>, PathBuf, Served) {
    serve_with(dir, "")
}

/// As [`serve`], with `extra` TOML sections appended to the configuration.
pub fn serve_with(dir: &Path, extra: &str) -> (Arc<Agent>, PathBuf, Served) {
    serve_inner(dir, extra, false)
}

/// As [`serve_with`], with the devices watched as the agent watches them (the monitor polling
/// every 200 ms, the input threads running).
pub fn serve_watched(dir: &Path, extra: &str) -> (Arc<Agent>, PathBuf, Served) {
    serve_inner(dir, extra, true)
}

fn serve_inner(dir: &Path, extra: &str, watched: bool) -> (Arc<Agent>, PathBuf, Served) {
    let socket = dir.join("agent.sock");
    let config = Config::from_toml(&format!(
        "[agent]\nsocket = \"{}\"\ndata_dir = \"{}\"\nmax_frame_bytes = 65536\ndevice_poll_ms = 200\n[fleet]\nurl = \"http://127.0.0.1:9\"\nstatus_timeout_s = 1\n{extra}",
        socket.display(),
        dir.display()
    ))
    .unwrap();
    let store = ready_store(&config.db_path());
    let fleet = FleetClient::new(&config.fleet).unwrap();
    let agent = Arc::new(Agent::new(config, store, fleet).unwrap());
    if watched {
        kiosk_agent::devices::Devices::start(&agent.devices).unwrap();
    }
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let runtime = std::thread::spawn(move || {
        let rt = kiosk_agent::run::runtime().unwrap();
        handle_tx.send(rt.handle().clone()).unwrap();
        rt.block_on(async move {
            let _ = rx.changed().await;
        });
    });
    let handle = handle_rx.recv().unwrap();
    let listener = kiosk_agent::local_api::bind(&socket).unwrap();
    let server =
        kiosk_agent::local_api::Server::spawn(Arc::clone(&agent), handle, listener).unwrap();
    let served = Served {
        server: Some(server),
        agent: Some(Arc::clone(&agent)),
        stop: Some(tx),
        runtime: Some(runtime),
    };
    (agent, socket, served)
}

/// A valid submission of the demo `podnet` service; `i` makes its values distinct.
pub fn sample_submission(i: usize) -> protocol::app::SubmitRequest {
    let mut values = protocol::validate::FormValues::new();
    values.insert(
        "text".into(),
        protocol::validate::FieldValue::Text(format!(
            "Podnět číslo {i}: rozbitá lavička v parku u radnice, prosím o opravu."
        )),
    );
    protocol::app::SubmitRequest {
        submission_id: uuid::Uuid::new_v4(),
        service_id: "podnet".into(),
        form_version: 1,
        language: protocol::Lang::Cs,
        values,
        identity: None,
        notify: None,
    }
}
