//! From configuration to a serving process: open the store, start the connector, serve HTTP or
//! HTTPS until SIGTERM/SIGINT, then finish in-flight requests.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, watch};

use crate::alerts::Alerting;
use crate::config::Config;
use crate::ratelimit::RateLimiter;
use crate::routes::app;
use crate::state::{AppState, SlaSettings};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

/// Builds the shared state from `config` and an opened store (one instance alone).
pub fn state(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<AppState> {
    state_for(config, store, None)
}

/// Builds the shared state of an instance: with `bus` when it shares a PostgreSQL database with
/// others.
pub fn state_for(
    config: &Config,
    store: Arc<dyn Store>,
    bus: Option<Arc<crate::bus::Bus>>,
) -> anyhow::Result<AppState> {
    let heartbeats_writer = crate::heartbeat_writer::HeartbeatWriter::start(Arc::clone(&store))?;
    let rollouts = rollouts(config, store.as_ref())?;
    let key_file = config
        .notices
        .key_file
        .clone()
        .unwrap_or_else(|| config.server.data_dir.join("contact.key"));
    let contacts = crate::notices::ContactKey::load_or_create(&key_file)
        .map_err(|e| anyhow::anyhow!("notices.key_file: {e}"))?;
    Ok(AppState(Arc::new(crate::state::Shared {
        contacts: Arc::new(contacts),
        notices_wake: Arc::new(Notify::new()),
        tell_receipt: config.notices.tell_receipt,
        heartbeats_writer,
        rollouts: Arc::new(rollouts),
        releases_dir: config.server.data_dir.join("releases"),
        uploading: Arc::default(),
        instance: instance_name().into(),
        bus,
        kiosk_auth: Arc::default(),
        store,
        admin_token_hash: config.admin_token()?.map(|t| crate::auth::hash_secret(&t)),
        metrics_token_hash: config
            .metrics_token()?
            .map(|t| crate::auth::hash_secret(&t)),
        agenda_token_hash: config
            .connector
            .inbound_token
            .as_deref()
            .map(crate::auth::hash_secret),
        limiter: Arc::new(RateLimiter::new(config.limits.public_per_minute)),
        connector_wake: Arc::new(Notify::new()),
        max_body: config.limits.max_body_bytes,
        body_timeouts: (
            Duration::from_secs(config.limits.body_read_timeout_s),
            Duration::from_secs(config.limits.body_deadline_s),
        ),
        heartbeats: Arc::default(),
        changes: tokio::sync::broadcast::channel(1024).0,
        login_limiter: Arc::new(RateLimiter::new(config.limits.logins_per_minute)),
        kiosk_lookups: Arc::new(RateLimiter::new(config.limits.kiosk_lookups_per_minute)),
        console_audit: Arc::new(RateLimiter::new(config.limits.console_events_per_minute)),
        sla: Arc::new(SlaSettings {
            target: config.sla.target_percent / 100.0,
            city: config.sla.city.clone(),
            hours: crate::hours::OpeningHours::parse(&config.alerts.opening_hours)
                .map_err(|e| anyhow::anyhow!("alerts.opening_hours: {e}"))?,
        }),
        offline_after_ms: config.alerts.offline_after_s as i64 * 1000,
        clock_skew_allowance_ms: config.alerts.clock_skew_max_s as i64 * 1000,
        alerts_wake: Arc::new(Notify::new()),
        alerts_touched: Arc::default(),
        alerts: Alerting {
            rules: Arc::new(
                crate::alerts::Rules::from_config(&config.alerts)
                    .map_err(|e| anyhow::anyhow!("alerts: {e}"))?,
            ),
            watch: Arc::default(),
        },
    })))
}

/// Loads releases and rollouts, with the keyring, endorsements and window of `[releases]`.
fn rollouts(config: &Config, store: &dyn Store) -> anyhow::Result<crate::rollout::Rollouts> {
    let r = &config.releases;
    let keyring = match &r.keyring {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("releases.keyring: cannot read {}", path.display()))?;
            Some(
                protocol::release::Keyring::parse(&text)
                    .with_context(|| format!("releases.keyring: {}", path.display()))?,
            )
        }
        None => None,
    };
    let endorsements = match &r.endorsements {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("releases.endorsements: cannot read {}", path.display())
            })?;
            serde_json::from_str(&text)
                .with_context(|| format!("releases.endorsements: {}", path.display()))?
        }
        None => Vec::new(),
    };
    let hours = |text: &str, key: &str| {
        crate::hours::OpeningHours::parse(text).map_err(|e| anyhow::anyhow!("{key}: {e}"))
    };
    let window = crate::rollout::Window::from_config(
        &hours(&r.window, "releases.window")?,
        &hours(&config.alerts.opening_hours, "alerts.opening_hours")?,
    );
    let revocations: Vec<protocol::release::KeyRevocation> = match &r.revocations {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("releases.revocations: cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("releases.revocations: {}", path.display()))?
        }
        None => Vec::new(),
    };
    let mut keyring = keyring;
    if let Some(ring) = &mut keyring {
        for rev in &revocations {
            ring.revoke(rev).with_context(|| {
                format!("releases.revocations: the revocation of {}", rev.key_id)
            })?;
        }
    }
    let mut rollouts = crate::rollout::Rollouts::load(
        store,
        keyring,
        endorsements,
        window,
        r.max_failure_percent,
    )?;
    rollouts.revocations = revocations;
    Ok(rollouts)
}

/// An opened store, and the PostgreSQL store behind it when it is one (for the bus).
#[derive(Debug)]
pub struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The same, when it is PostgreSQL.
    pub pg: Option<Arc<crate::store::postgres::PgStore>>,
}

/// Opens the configured store (migrating it).
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_location(&config.store_location()?, &config.store)?.store)
}

/// Opens the store at `location` (migrating it), PostgreSQL with `settings`.
pub fn open_location(
    location: &crate::store::config::Location,
    settings: &crate::store::config::StoreSection,
) -> anyhow::Result<Opened> {
    use crate::store::config::Location;
    Ok(match location {
        Location::Sqlite(db) => Opened {
            store: Arc::new(
                SqliteStore::open(db).with_context(|| format!("cannot open {}", db.display()))?,
            ),
            pg: None,
        },
        Location::Postgres(url) => {
            let pg = Arc::new(
                crate::store::postgres::PgStore::open(url, settings.pg_settings())
                    .with_context(|| format!("cannot open {}", location.display()))?,
            );
            Opened {
                store: Arc::clone(&pg) as Arc<dyn Store>,
                pg: Some(pg),
            }
        }
    })
}

/// This instance's name: host, process and a random part (a restarted process is another).
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Serves until a signal.
pub fn run(config: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let location = config.store_location()?;
    // PostgreSQL's client blocks: it is used off the async threads, as every store call is.
    let (store, pg, bus, state) = {
        let (config, location) = (config.clone(), location.clone());
        tokio::task::spawn_blocking(move || {
            let Opened { store, pg } = open_location(&location, &config.store)?;
            let bus = pg.clone().map(|pg| Arc::new(crate::bus::Bus::new(pg)));
            let state = state_for(&config, Arc::clone(&store), bus.clone())?;
            Ok::<_, anyhow::Error>((store, pg, bus, state))
        })
        .await
        .context("opening the store panicked")??
    };
    tracing::info!(store = %location.display(), "store open");
    let state_store = Arc::clone(&store);
    let (stop_tx, stop_rx) = watch::channel(false);
    let listening = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _stop_listening = crate::bus::StopOnDrop(Arc::clone(&listening));
    if let (Some(pg), Some(bus)) = (pg, bus) {
        tokio::spawn(crate::bus::publish(bus, stop_rx.clone()));
        let listener = crate::bus::Listener {
            pg,
            changes: state.changes.clone(),
            rollouts: Arc::clone(&state.rollouts),
        };
        let stop = Arc::clone(&listening);
        std::thread::Builder::new()
            .name("bus-listener".into())
            .spawn(move || listener.run(stop))
            .context("cannot start the bus listener")?;
    }
    let connector = tokio::spawn(crate::connector::run(
        store,
        config.connector.clone(),
        Arc::clone(&state.connector_wake),
        stop_rx.clone(),
    ));
    let alerts = tokio::spawn(crate::alerts::run(
        state.clone(),
        config.alerts.clone(),
        stop_rx.clone(),
    ));
    let courier = crate::notices::Courier::new(
        Arc::clone(&state.store),
        Arc::clone(&state.contacts),
        crate::notices::Settings::from_config(&config).map_err(anyhow::Error::msg)?,
        crate::notices::Clock::from_env(),
    );
    let courier = tokio::spawn(courier.run(Arc::clone(&state.notices_wake), stop_rx.clone()));
    let maintenance = tokio::spawn(maintain(
        Arc::clone(&state.store),
        Arc::clone(&state.instance),
        config.clone(),
        stop_rx.clone(),
    ));
    let limits = crate::http::server::ConnLimits::from_config(&config.limits);
    let instance = Arc::clone(&state.instance);
    let router = app(state);
    let (serve_stop_tx, serve_stop) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing in-flight requests");
        let _ = serve_stop_tx.send(true);
    });
    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = tls_config(cert, key)?;
            tracing::info!(%bound, "fleet-server listening (https)");
            println!("listening on https://{bound}");
            Some(tls)
        }
        _ => {
            tracing::info!(%bound, "fleet-server listening (plain http, loopback only)");
            println!("listening on http://{bound}");
            None
        }
    };
    crate::http::server::serve(listener, tls, router, limits, serve_stop).await;
    let _ = stop_tx.send(true);
    let _ = connector.await;
    let _ = courier.await;
    let _ = alerts.await;
    let _ = maintenance.await;
    let s = Arc::clone(&state_store);
    let me = Arc::clone(&instance);
    match tokio::task::spawn_blocking(move || {
        // The jobs this instance ran go to another at once.
        for job in JOBS {
            s.release_lease(job, &me)?;
        }
        s.write_behind()
    })
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the kiosks' newest state not written"),
        Err(e) => tracing::error!(error = %e, "writing the kiosks' newest state panicked"),
    }
    Ok(())
}

/// Once an hour (and at start): hourly health older than 90 days becomes daily; availability
/// older than `uptime_days` goes; delivered submissions lose their values after
/// `connector.keep_delivered_s`, requests their card's hash after `identity_days`, and
/// citizens' notice addresses go when their request closed or after `notices.retention_days`.
async fn maintain(
    store: Arc<dyn Store>,
    instance: Arc<str>,
    config: Config,
    mut stop: watch::Receiver<bool>,
) {
    let (history, connector) = (&config.history, &config.connector);
    let contacts_ms = i64::from(config.notices.retention_days) * 86_400_000;
    loop {
        // Once an hour on one instance of all: whoever takes the lease after it lapsed runs
        // the round (each attempt signs anew, so holding it is no reason to run again).
        let s = Arc::clone(&store);
        let attempt = format!("{instance}@{}", crate::now_ms());
        let mine = tokio::task::spawn_blocking(move || {
            s.hold_lease(
                UPKEEP,
                &attempt,
                crate::now_ms(),
                UPKEEP_EVERY.as_millis() as i64,
            )
        })
        .await;
        match mine {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tokio::select! {
                    _ = tokio::time::sleep(UPKEEP_CHECK) => continue,
                    _ = stop.changed() => return,
                }
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot take the upkeep lease");
                tokio::select! {
                    _ = tokio::time::sleep(UPKEEP_CHECK) => continue,
                    _ = stop.changed() => return,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "taking the upkeep lease panicked");
                continue;
            }
        }
        let s = Arc::clone(&store);
        let now = crate::now_ms();
        let keep_ms = connector.keep_delivered_s as i64 * 1000;
        let id_ms = i64::from(connector.identity_days) * 86_400_000;
        let purged = tokio::task::spawn_blocking(move || {
            let purged = (
                s.purge_delivered(now - keep_ms)?,
                s.forget_identities(now - id_ms)? + s.forget_contacts(now - contacts_ms)?,
            );
            // What was overwritten stays in no log frame either.
            s.scrub_log()?;
            Ok::<_, crate::store::StoreError>(purged)
        })
        .await;
        match purged {
            Ok(Ok((values, ids))) if values + ids > 0 => {
                tracing::info!(values, ids, "personal data past its retention removed");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "purging personal data failed"),
            Err(e) => tracing::error!(error = %e, "purging personal data panicked"),
        }
        let s = Arc::clone(&store);
        let now = crate::now_ms();
        let (day, _) = crate::sla::day_minute(now - i64::from(history.uptime_days) * 86_400_000);
        match tokio::task::spawn_blocking(move || s.prune_history(now, &day)).await {
            Ok(Ok((hours, days))) if hours + days > 0 => {
                tracing::info!(hours, days, "history downsampled and pruned");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "pruning history failed"),
            Err(e) => tracing::error!(error = %e, "pruning history panicked"),
        }
        tokio::select! {
            _ = tokio::time::sleep(UPKEEP_CHECK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The lease of the hourly upkeep (history downsampling, purges).
const UPKEEP: &str = "upkeep";
/// How often the upkeep runs (on one instance).
const UPKEEP_EVERY: Duration = Duration::from_secs(3600);
/// How often an instance looks whether the upkeep is due.
const UPKEEP_CHECK: Duration = Duration::from_secs(60);

/// The leases an instance gives up when it stops (the upkeep's is a schedule, kept).
const JOBS: &[&str] = &[crate::alerts::LEASE];

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("malformed certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot watch signals; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
