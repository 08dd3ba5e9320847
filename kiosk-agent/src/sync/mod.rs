//! The sync loop: enrolment, outbox upload, heartbeats, catalog download.
//!
//! It runs forever beside the local API. Every step is safe to repeat: uploads carry the
//! submission id as idempotency key, enrolment presents the same credential on retry, the
//! catalog is fetched with its ETag. After a failure it backs off with jitter; a new submission
//! wakes it at once when it is idle. Personal data leaves the kiosk only in upload bodies and is
//! deleted locally once the fleet has acknowledged it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::fleet::{ConsoleEvent, EnrolRequest, Heartbeat, SubmissionBatch};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::commands::Executor;
use crate::config::Config;
use crate::devices::Devices;
use crate::fleet::{Credential, FleetClient, FleetError};
use crate::store::{Identity, Shared};
use crate::update::Updates;

/// Why a sync round stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The fleet call failed.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// No bootstrap token is configured and the kiosk is not enrolled.
    #[error("not enrolled and no fleet.bootstrap_token configured")]
    NoToken,
    /// The kiosk waits for its provisioning.
    #[error("not provisioned: type enrol on the serial console, or drop a provisioning file")]
    NotProvisioned,
    /// The token file could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// What the sync loop works with, handed over by [`crate::agent`].
#[derive(Debug, Clone)]
pub struct Parts {
    /// The configuration (`[fleet]`, the data directory, the bootstrap token).
    pub config: Arc<Config>,
    /// The store: identity, outbox, heartbeat buffer, catalog, command results.
    pub store: Shared,
    /// The fleet client.
    pub fleet: FleetClient,
    /// The devices, whose states go into heartbeats (a change sends one soon).
    pub devices: Arc<Devices>,
    /// The updater: its report goes up, the fleet's wish comes down.
    pub updates: Option<Arc<Updates>>,
    /// The fleet's commands run here.
    pub commands: Executor,
    /// Notified when there is something new to upload.
    pub wake: Arc<Notify>,
    /// How the fleet connection is doing (the console shows it, the updater's trial needs it).
    pub contact: Arc<Contact>,
    /// Serial console events for the next heartbeat.
    pub console: Arc<ConsoleEvents>,
}

/// How the fleet connection is doing: when a heartbeat was last answered, and the last error
/// since then.
#[derive(Debug, Default)]
pub struct Contact(Mutex<ContactNow>);

/// [`Contact`] at one moment.
#[derive(Debug, Clone, Default)]
pub struct ContactNow {
    /// When a heartbeat was last answered.
    pub last_ok_at: Option<i64>,
    /// The last error since then, if any.
    pub last_error: Option<String>,
}

impl Contact {
    /// As it is now.
    pub fn now(&self) -> ContactNow {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn reached(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = ContactNow {
            last_ok_at: Some(crate::store::now_ms()),
            last_error: None,
        };
    }

    fn failed(&self, why: String) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).last_error = Some(why);
    }
}

/// What the serial console did, for the fleet: the next heartbeat carries it (the oldest go
/// when a heartbeat is long in coming).
#[derive(Debug, Default)]
pub struct ConsoleEvents(Mutex<Vec<ConsoleEvent>>);

impl ConsoleEvents {
    /// Notes `what` (at most 100 characters).
    pub fn push(&self, what: impl Into<String>) {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if v.len() >= protocol::fleet::MAX_CONSOLE_EVENTS {
            v.remove(0);
        }
        v.push(ConsoleEvent {
            at: crate::store::now_ms(),
            what: what.into().chars().take(100).collect(),
        });
    }

    /// The events not yet sent (a heartbeat that fails is buffered with them).
    pub fn take(&self) -> Vec<ConsoleEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Timers and adaptive limits of the loop.
#[derive(Debug)]
struct Schedule {
    next_heartbeat: Instant,
    next_catalog: Instant,
    batch_limit: usize,
    catalog_version: u64,
}

/// Runs the sync loop until `shutdown` turns true.
pub async fn run(parts: Parts, mut shutdown: watch::Receiver<bool>) {
    let (initial, max) = parts.config.backoff();
    let mut backoff = Backoff::new(initial, max);
    let now = Instant::now();
    let catalog_version = parts
        .store
        .run(|s| Ok(s.catalog()?.map(|c| c.0.version).unwrap_or(0)))
        .await
        .unwrap_or(0);
    let mut sched = Schedule {
        next_heartbeat: now,
        next_catalog: now,
        batch_limit: parts.config.fleet.batch_size,
        catalog_version,
    };
    loop {
        let wait = match round(&parts, &mut sched).await {
            Ok(()) => {
                if backoff.failures() > 0 {
                    tracing::info!("fleet sync recovered");
                }
                backoff.reset();
                None
            }
            Err(e) => {
                let d = backoff.fail();
                let level_warn = backoff.failures() <= 3 || backoff.failures().is_multiple_of(20);
                if level_warn {
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "fleet sync failed");
                } else {
                    tracing::debug!(error = %e, retry_in_ms = d.as_millis() as u64, "fleet sync failed");
                }
                Some(d)
            }
        };
        let sleep = match wait {
            Some(d) => tokio::time::sleep(d),
            None => tokio::time::sleep_until(sched.next_heartbeat.min(sched.next_catalog)),
        };
        tokio::select! {
            _ = sleep => {}
            _ = parts.wake.notified(), if wait.is_none() => {}
            _ = parts.devices.changes.notify.notified(), if wait.is_none() => {
                // A device changed: tell the fleet within 2 s (a flapping device therefore
                // costs at most a heartbeat every 2 s).
                sched.next_heartbeat =
                    sched.next_heartbeat.min(Instant::now() + Duration::from_secs(2));
            }
            _ = update_changed(&parts), if wait.is_none() => {
                // The update moved on: the fleet hears of it within a second.
                sched.next_heartbeat =
                    sched.next_heartbeat.min(Instant::now() + Duration::from_secs(1));
            }
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

async fn update_changed(parts: &Parts) {
    match &parts.updates {
        Some(u) => u.changed.notified().await,
        None => std::future::pending().await,
    }
}

/// One round: enrol if needed, drain the outbox, heartbeat and catalog when due.
async fn round(parts: &Parts, sched: &mut Schedule) -> Result<(), SyncError> {
    if !crate::provision::is_provisioned(&parts.config) {
        return Err(SyncError::NotProvisioned);
    }
    let identity = ensure_enrolled(parts).await?;
    let cred = Credential::new(&identity.kiosk_id, &identity.credential);
    drain_outbox(parts, &cred, sched).await?;
    let now = Instant::now();
    if now >= sched.next_heartbeat {
        sched.next_heartbeat = now + Duration::from_secs(parts.config.fleet.heartbeat_interval_s);
        heartbeat(parts, &cred, sched).await?;
    }
    if Instant::now() >= sched.next_catalog {
        fetch_catalog(parts, &cred, sched).await?;
        sched.next_catalog =
            Instant::now() + Duration::from_secs(parts.config.fleet.catalog_interval_s);
    }
    Ok(())
}

async fn ensure_enrolled(parts: &Parts) -> Result<Identity, SyncError> {
    if let Some(id) = parts.store.run(|s| s.identity()).await? {
        return Ok(id);
    }
    let token = parts.config.bootstrap_token()?.ok_or(SyncError::NoToken)?;
    let credential = parts
        .store
        .run(|s| s.pending_credential(|| crate::random::secret(32)))
        .await?;
    let req = EnrolRequest {
        bootstrap_token: token,
        credential: credential.clone(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let resp = parts.fleet.enrol(&req).await?;
    let id = Identity {
        kiosk_id: resp.kiosk_id,
        kiosk_number: resp.kiosk_number,
        name: resp.name,
        group: resp.group,
        credential,
    };
    let stored = id.clone();
    parts.store.run(move |s| s.set_identity(&stored)).await?;
    tracing::info!(kiosk = %id.kiosk_id, number = id.kiosk_number, group = %id.group, "enrolled with the fleet");
    Ok(id)
}

async fn drain_outbox(
    parts: &Parts,
    cred: &Credential,
    sched: &mut Schedule,
) -> Result<(), SyncError> {
    loop {
        let limit = sched.batch_limit;
        let items = parts.store.run(move |s| s.queued_batch(limit)).await?;
        if items.is_empty() {
            return Ok(());
        }
        let ids: Vec<uuid::Uuid> = items.iter().map(|i| i.id).collect();
        let batch = SubmissionBatch { items };
        match parts.fleet.upload(cred, &batch).await {
            Ok(ack) => {
                let rejected: Vec<_> = ack
                    .items
                    .iter()
                    .filter_map(|a| match &a.outcome {
                        protocol::fleet::ItemOutcome::Rejected { reason } => {
                            Some((a.id, reason.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                for (id, reason) in &rejected {
                    tracing::error!(submission = %id, %reason, "fleet rejected a submission; kept for a technician");
                }
                let acked = parts.store.run(move |s| s.apply_acks(&ack.items)).await?;
                tracing::info!(
                    uploaded = ids.len(),
                    acked,
                    rejected = rejected.len(),
                    "outbox batch delivered"
                );
                sched.batch_limit = (sched.batch_limit * 2).min(parts.config.fleet.batch_size);
            }
            Err(FleetError::Status { status: 413, .. }) if sched.batch_limit > 1 => {
                sched.batch_limit = (sched.batch_limit / 2).max(1);
                tracing::warn!(
                    batch_limit = sched.batch_limit,
                    "fleet refused the batch size; halving"
                );
            }
            Err(e) => {
                let msg = e.to_string();
                parts
                    .store
                    .run(move |s| s.note_upload_failure(&ids, &msg))
                    .await?;
                return Err(e.into());
            }
        }
    }
}

async fn heartbeat(
    parts: &Parts,
    cred: &Credential,
    sched: &mut Schedule,
) -> Result<(), SyncError> {
    let stats = parts.store.run(|s| s.outbox_stats()).await?;
    let now = crate::store::now_ms();
    let devices = parts.devices.statuses();
    let last_interaction_at = crate::devices::last_use_at(&devices);
    let hb = Heartbeat {
        sampled_at: now,
        agent_version: env!("CARGO_PKG_VERSION").into(),
        outbox_len: stats.queued,
        outbox_oldest_age_s: stats
            .oldest_queued_at
            .map(|t| ((now - t).max(0) / 1000) as u64),
        devices,
        catalog_version: sched.catalog_version,
        system: Some(crate::devices::system::read_health_with_disk(
            std::path::Path::new("/"),
            &parts.config.agent.data_dir,
        )),
        last_interaction_at,
        sent_at: None,
        console: parts.console.take(),
        update: parts.updates.as_ref().and_then(|u| u.report()),
    };
    let reply = match parts.fleet.heartbeat(cred, &hb).await {
        Ok(r) => {
            parts.contact.reached();
            r
        }
        Err(e) => {
            parts.contact.failed(e.to_string());
            // Kept for later only when later can help: a heartbeat the fleet refused for good
            // (its clock far off, say) would be refused again.
            if refused_for_good(&e) {
                tracing::warn!(error = %e, "the fleet refused a heartbeat");
            } else {
                parts.store.run(move |s| s.buffer_heartbeat(&hb)).await?;
            }
            return Err(e.into());
        }
    };
    if let Some(u) = &parts.updates {
        u.desire(reply.release);
    }
    if reply.catalog_version != sched.catalog_version {
        sched.next_catalog = Instant::now();
    }
    for command in reply.commands {
        run_command(parts, cred, command).await?;
    }
    // Replay what was buffered while offline, oldest first, with the original timestamps.
    loop {
        let buffered = parts.store.run(|s| s.buffered_heartbeats(50)).await?;
        if buffered.is_empty() {
            return Ok(());
        }
        for (id, hb) in buffered {
            // Older than the fleet accepts, or refused for good: dropped, not retried for ever
            // (it would hold every buffered heartbeat behind it).
            let too_old =
                crate::store::now_ms() - hb.sampled_at > protocol::fleet::MAX_SAMPLE_AGE_MS;
            if !too_old {
                match parts.fleet.heartbeat(cred, &hb).await {
                    Ok(_) => {}
                    Err(e) if refused_for_good(&e) => {
                        tracing::warn!(error = %e, "the fleet refused a buffered heartbeat; dropped");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            parts.store.run(move |s| s.drop_heartbeat(id)).await?;
        }
    }
}

/// Whether the fleet refused a call in a way a retry cannot mend (not the network, not the
/// server's trouble, not our credentials).
fn refused_for_good(e: &FleetError) -> bool {
    !e.is_transient() && !matches!(e, FleetError::Unauthorized(_) | FleetError::Setup(_))
}

/// Runs a command once (a repeat gets the stored result) and reports the result.
async fn run_command(
    parts: &Parts,
    cred: &Credential,
    command: protocol::fleet::Command,
) -> Result<(), SyncError> {
    let id = command.id;
    let result = match parts.store.run(move |s| s.command_done(id)).await? {
        Some(done) => done,
        None => {
            tracing::info!(
                id,
                command = command.action.name(),
                "running a fleet command"
            );
            let (ex, action) = (parts.commands.clone(), command.action.clone());
            let result = tokio::task::spawn_blocking(move || ex.execute(&action))
                .await
                .unwrap_or_else(|e| protocol::fleet::CommandResult {
                    ok: false,
                    output: format!("the command failed: {e}"),
                });
            let stored = result.clone();
            parts
                .store
                .run(move |s| s.record_command(id, &stored))
                .await?;
            tracing::info!(id, ok = result.ok, "fleet command done");
            result
        }
    };
    // Whatever a command printed, the fleet gets at most what it keeps.
    let result = protocol::fleet::CommandResult {
        output: protocol::fleet::fit_output(&[result.output]),
        ..result
    };
    match parts.fleet.command_result(cred, id, &result).await {
        Ok(()) => {}
        // A result the fleet refuses for good must not block the round (and every command,
        // catalog and heartbeat after it): the refusal is reported as the command's failure.
        Err(e) if refused_for_good(&e) => {
            tracing::warn!(id, error = %e, "the fleet refused a command's result; reporting it failed");
            let refused = protocol::fleet::CommandResult {
                ok: false,
                output: format!(
                    "the kiosk's result was refused by the fleet: {}",
                    e.to_string().chars().take(500).collect::<String>()
                ),
            };
            if let Err(e) = parts.fleet.command_result(cred, id, &refused).await {
                if !refused_for_good(&e) {
                    return Err(e.into());
                }
                tracing::error!(id, error = %e, "the fleet refused the failure report too; going on");
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if command.action == protocol::fleet::CommandAction::Reboot && result.ok {
        let ex = parts.commands.clone();
        let _ = tokio::task::spawn_blocking(move || ex.reboot_now()).await;
    }
    Ok(())
}

async fn fetch_catalog(
    parts: &Parts,
    cred: &Credential,
    sched: &mut Schedule,
) -> Result<(), SyncError> {
    let etag = parts
        .store
        .run(|s| Ok(s.catalog()?.and_then(|c| c.1)))
        .await?;
    match parts.fleet.catalog(cred, etag.as_deref()).await? {
        None => parts.store.run(|s| s.touch_catalog()).await?,
        Some((catalog, etag)) => {
            let version = catalog.version;
            let services = catalog.services.len();
            parts
                .store
                .run(move |s| s.save_catalog(&catalog, etag.as_deref()))
                .await?;
            sched.catalog_version = version;
            tracing::info!(version, services, "catalog updated");
        }
    }
    Ok(())
}
