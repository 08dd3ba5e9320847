//! The sync loop: enrolment, outbox upload, heartbeats, catalog download.
//!
//! It runs forever beside the local API. Every step is safe to repeat: uploads carry the
//! submission id as idempotency key, enrolment presents the same credential on retry, the
//! catalog is fetched with its ETag. After a failure it backs off with jitter; a new submission
//! wakes it at once when it is idle. Personal data leaves the kiosk only in upload bodies and is
//! deleted locally once the fleet has acknowledged it.

pub mod http;

use std::sync::Arc;
use std::time::Duration;

use protocol::fleet::{EnrolRequest, Heartbeat, SubmissionBatch};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::agent::Agent;
use crate::backoff::Backoff;
use crate::store::Identity;
use http::{Credential, FleetError};

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

/// Timers and adaptive limits of the loop.
#[derive(Debug)]
struct Schedule {
    next_heartbeat: Instant,
    next_catalog: Instant,
    batch_limit: usize,
    catalog_version: u64,
}

/// Runs the sync loop until `shutdown` turns true.
pub async fn run(agent: Arc<Agent>, mut shutdown: watch::Receiver<bool>) {
    let (initial, max) = agent.config.backoff();
    let mut backoff = Backoff::new(initial, max);
    let now = Instant::now();
    let catalog_version = agent
        .with_store(|s| Ok(s.catalog()?.map(|c| c.0.version).unwrap_or(0)))
        .await
        .unwrap_or(0);
    let mut sched = Schedule {
        next_heartbeat: now,
        next_catalog: now,
        batch_limit: agent.config.fleet.batch_size,
        catalog_version,
    };
    loop {
        let wait = match round(&agent, &mut sched).await {
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
            _ = agent.wake.notified(), if wait.is_none() => {}
            _ = agent.devices.changes.notify.notified(), if wait.is_none() => {
                // A device changed: tell the fleet within 2 s (a flapping device therefore
                // costs at most a heartbeat every 2 s).
                sched.next_heartbeat =
                    sched.next_heartbeat.min(Instant::now() + Duration::from_secs(2));
            }
            _ = update_changed(&agent), if wait.is_none() => {
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

async fn update_changed(agent: &Agent) {
    match &agent.updates {
        Some(u) => u.changed.notified().await,
        None => std::future::pending().await,
    }
}

/// One round: enrol if needed, drain the outbox, heartbeat and catalog when due.
async fn round(agent: &Arc<Agent>, sched: &mut Schedule) -> Result<(), SyncError> {
    if !crate::provision::is_provisioned(&agent.config) {
        return Err(SyncError::NotProvisioned);
    }
    let identity = ensure_enrolled(agent).await?;
    let cred = Credential::new(&identity.kiosk_id, &identity.credential);
    drain_outbox(agent, &cred, sched).await?;
    let now = Instant::now();
    if now >= sched.next_heartbeat {
        sched.next_heartbeat = now + Duration::from_secs(agent.config.fleet.heartbeat_interval_s);
        heartbeat(agent, &cred, sched).await?;
    }
    if Instant::now() >= sched.next_catalog {
        fetch_catalog(agent, &cred, sched).await?;
        sched.next_catalog =
            Instant::now() + Duration::from_secs(agent.config.fleet.catalog_interval_s);
    }
    Ok(())
}

async fn ensure_enrolled(agent: &Agent) -> Result<Identity, SyncError> {
    if let Some(id) = agent.with_store(|s| s.identity()).await? {
        return Ok(id);
    }
    let token = agent.config.bootstrap_token()?.ok_or(SyncError::NoToken)?;
    let credential = agent
        .with_store(|s| s.pending_credential(|| crate::random::secret(32)))
        .await?;
    let req = EnrolRequest {
        bootstrap_token: token,
        credential: credential.clone(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let resp = agent.fleet.enrol(&req).await?;
    let id = Identity {
        kiosk_id: resp.kiosk_id,
        kiosk_number: resp.kiosk_number,
        name: resp.name,
        group: resp.group,
        credential,
    };
    let stored = id.clone();
    agent.with_store(move |s| s.set_identity(&stored)).await?;
    tracing::info!(kiosk = %id.kiosk_id, number = id.kiosk_number, group = %id.group, "enrolled with the fleet");
    Ok(id)
}

async fn drain_outbox(
    agent: &Agent,
    cred: &Credential,
    sched: &mut Schedule,
) -> Result<(), SyncError> {
    loop {
        let limit = sched.batch_limit;
        let items = agent.with_store(move |s| s.queued_batch(limit)).await?;
        if items.is_empty() {
            return Ok(());
        }
        let ids: Vec<uuid::Uuid> = items.iter().map(|i| i.id).collect();
        let batch = SubmissionBatch { items };
        match agent.fleet.upload(cred, &batch).await {
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
                let acked = agent.with_store(move |s| s.apply_acks(&ack.items)).await?;
                tracing::info!(
                    uploaded = ids.len(),
                    acked,
                    rejected = rejected.len(),
                    "outbox batch delivered"
                );
                sched.batch_limit = (sched.batch_limit * 2).min(agent.config.fleet.batch_size);
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
                agent
                    .with_store(move |s| s.note_upload_failure(&ids, &msg))
                    .await?;
                return Err(e.into());
            }
        }
    }
}

async fn heartbeat(
    agent: &Arc<Agent>,
    cred: &Credential,
    sched: &mut Schedule,
) -> Result<(), SyncError> {
    let stats = agent.with_store(|s| s.outbox_stats()).await?;
    let now = crate::store::now_ms();
    let devices = agent.devices.statuses();
    let last_interaction_at = devices
        .iter()
        .filter(|d| d.device != protocol::app::DeviceKind::Printer)
        .filter_map(|d| d.last_event_at)
        .max();
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
            &agent.config.agent.data_dir,
        )),
        last_interaction_at,
        sent_at: None,
        console: agent.take_console_events(),
        update: agent.updates.as_ref().and_then(|u| u.report()),
    };
    let reply = match agent.fleet.heartbeat(cred, &hb).await {
        Ok(r) => {
            *agent.contact.lock().unwrap_or_else(|p| p.into_inner()) = crate::agent::Contact {
                last_ok_at: Some(crate::store::now_ms()),
                last_error: None,
            };
            r
        }
        Err(e) => {
            agent
                .contact
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .last_error = Some(e.to_string());
            // Kept for later only when later can help: a heartbeat the fleet refused for good
            // (its clock far off, say) would be refused again.
            if refused_for_good(&e) {
                tracing::warn!(error = %e, "the fleet refused a heartbeat");
            } else {
                agent.with_store(move |s| s.buffer_heartbeat(&hb)).await?;
            }
            return Err(e.into());
        }
    };
    if let Some(u) = &agent.updates {
        u.desire(reply.release);
    }
    if reply.catalog_version != sched.catalog_version {
        sched.next_catalog = Instant::now();
    }
    for command in reply.commands {
        run_command(agent, cred, command).await?;
    }
    // Replay what was buffered while offline, oldest first, with the original timestamps.
    loop {
        let buffered = agent.with_store(|s| s.buffered_heartbeats(50)).await?;
        if buffered.is_empty() {
            return Ok(());
        }
        for (id, hb) in buffered {
            // Older than the fleet accepts, or refused for good: dropped, not retried for ever
            // (it would hold every buffered heartbeat behind it).
            let too_old =
                crate::store::now_ms() - hb.sampled_at > protocol::fleet::MAX_SAMPLE_AGE_MS;
            if !too_old {
                match agent.fleet.heartbeat(cred, &hb).await {
                    Ok(_) => {}
                    Err(e) if refused_for_good(&e) => {
                        tracing::warn!(error = %e, "the fleet refused a buffered heartbeat; dropped");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            agent.with_store(move |s| s.drop_heartbeat(id)).await?;
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
    agent: &Arc<Agent>,
    cred: &Credential,
    command: protocol::fleet::Command,
) -> Result<(), SyncError> {
    let id = command.id;
    let result = match agent.with_store(move |s| s.command_done(id)).await? {
        Some(done) => done,
        None => {
            tracing::info!(
                id,
                command = command.action.name(),
                "running a fleet command"
            );
            let (a, action) = (Arc::clone(agent), command.action.clone());
            let result = tokio::task::spawn_blocking(move || crate::commands::execute(&a, &action))
                .await
                .unwrap_or_else(|e| protocol::fleet::CommandResult {
                    ok: false,
                    output: format!("the command failed: {e}"),
                });
            let stored = result.clone();
            agent
                .with_store(move |s| s.record_command(id, &stored))
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
    match agent.fleet.command_result(cred, id, &result).await {
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
            if let Err(e) = agent.fleet.command_result(cred, id, &refused).await {
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
        let a = Arc::clone(agent);
        let _ = tokio::task::spawn_blocking(move || crate::commands::reboot_now(&a)).await;
    }
    Ok(())
}

async fn fetch_catalog(
    agent: &Agent,
    cred: &Credential,
    sched: &mut Schedule,
) -> Result<(), SyncError> {
    let etag = agent
        .with_store(|s| Ok(s.catalog()?.and_then(|c| c.1)))
        .await?;
    match agent.fleet.catalog(cred, etag.as_deref()).await? {
        None => agent.with_store(|s| s.touch_catalog()).await?,
        Some((catalog, etag)) => {
            let version = catalog.version;
            let services = catalog.services.len();
            agent
                .with_store(move |s| s.save_catalog(&catalog, etag.as_deref()))
                .await?;
            sched.catalog_version = version;
            tracing::info!(version, services, "catalog updated");
        }
    }
    Ok(())
}
