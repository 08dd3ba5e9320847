//! Starting and stopping the agent: open the store, bind the socket, run the local API and the
//! sync loop until SIGTERM or SIGINT.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::agent::Agent;
use crate::config::Config;
use crate::fleet::FleetClient;
use crate::store::Store;

/// How a run of the agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM or SIGINT.
    Stopped,
    /// The kiosk was provisioned: start again to use it.
    Restart,
}

/// Runs the agent with `config` until it is told to stop.
pub fn run(config: Config) -> anyhow::Result<Ended> {
    runtime()
        .context("cannot start the async runtime")?
        .block_on(serve(config))
}

/// The agent's runtime: one thread is plenty for a kiosk; SQLite work goes to the blocking pool.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
}

async fn serve(mut config: Config) -> anyhow::Result<Ended> {
    // Held until the agent returns: a second agent on this data directory refuses to start.
    let _lock = lock_data_dir(&config.agent.data_dir)?;
    if let Err(e) = crate::provision::import_drop_file(&config) {
        tracing::error!(error = %e, "the installer's provisioning file was refused");
    }
    config
        .apply_provisioned()
        .context("the kiosk's provisioning in its data directory is unusable")?;
    let db = config.db_path();
    let mut store = Store::open(&db)?;
    store.code_key(crate::tracking::fresh_key)?;
    let fleet = if crate::provision::is_provisioned(&config) {
        FleetClient::new(&config.fleet)?
    } else {
        tracing::warn!(
            "this kiosk is not provisioned: it waits for `enrol` on the serial console or an installer's file"
        );
        FleetClient::unprovisioned()?
    };
    let listener = crate::local_api::bind(&config.agent.socket)?;
    let socket = config.agent.socket.clone();
    let agent = Arc::new(Agent::new(config, store, fleet)?);
    tracing::info!(socket = %socket.display(), db = %db.display(), version = env!("CARGO_PKG_VERSION"), "kiosk-agent started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let api = crate::local_api::Server::spawn(
        Arc::clone(&agent),
        tokio::runtime::Handle::current(),
        listener,
    )
    .context("cannot start the local API")?;
    crate::devices::Devices::start(&agent.devices).context("cannot start the device threads")?;
    if let Some(speech) = &agent.speech {
        speech.start().context("cannot watch the headset jack")?;
    }
    let console_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    crate::console::start(
        &agent,
        tokio::runtime::Handle::current(),
        Arc::clone(&console_stop),
    )
    .context("cannot start the serial console")?;
    let sync = tokio::spawn(crate::sync::run(agent.sync_parts(), stop_rx.clone()));
    let updates = agent
        .update_parts()
        .map(|parts| tokio::spawn(crate::update::run(parts, stop_rx)));
    let notifier = crate::notify::Notifier::from_env();
    let watchdog = notifier
        .as_ref()
        .and_then(|_| crate::notify::watchdog_interval());
    if let Some(n) = &notifier {
        n.send("READY=1");
    }
    let ended = tokio::select! {
        r = wait_for_signal() => { r?; Ended::Stopped }
        () = agent.restart.notified() => Ended::Restart,
        () = keep_watchdog(&agent, notifier.as_ref(), watchdog) => Ended::Stopped,
    };
    if let Some(n) = &notifier {
        n.send("STOPPING=1");
    }
    tracing::info!(?ended, "stopping");
    let _ = stop_tx.send(true);
    console_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    agent.devices.stop();
    if let Some(speech) = &agent.speech {
        speech.shut_down();
    }
    // The local API's threads block; stop them off the runtime.
    let _ = tokio::task::spawn_blocking(move || api.stop()).await;
    let _ = sync.await;
    if let Some(u) = updates {
        let _ = u.await;
    }
    // The supervised app stops with the agent (it may take a few seconds).
    let a = Arc::clone(&agent);
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(up) = &a.updates {
            up.stop();
        }
    })
    .await;
    let _ = std::fs::remove_file(&socket);
    Ok(ended)
}

/// Pings systemd's watchdog while the runtime and the database answer; never returns.
async fn keep_watchdog(
    agent: &Agent,
    notifier: Option<&crate::notify::Notifier>,
    every: Option<std::time::Duration>,
) {
    let (Some(n), Some(every)) = (notifier, every) else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match agent.store.run(|s| s.outbox_stats()).await {
            Ok(_) => n.send("WATCHDOG=1"),
            Err(e) => {
                tracing::error!(error = %e, "the database does not answer; not feeding the watchdog")
            }
        }
    }
}

/// Takes the data directory's lock file (`agent.lock`, an exclusive `flock` the kernel drops
/// when the process ends, however it ends) and writes this process's id into it. Two agents on
/// one data directory would sync the same outbox and fight over the socket.
pub fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join("agent.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "unknown" } else { holder };
            anyhow::bail!(
                "another kiosk-agent (pid {holder}) is already running on the data directory {}; \
                 stop it first",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
