//! What every request handler, background task and dashboard page shares: [`AppState`] (the
//! store, settings, limiters, the heartbeat writer, the rollout book), [`Change`] for the
//! dashboard's live pages, and [`blocking`] to run store calls off the async threads.

use std::sync::Arc;

pub use crate::changes::Change;
use crate::error::AppError;
use crate::ratelimit::RateLimiter;
use crate::store::{Store, StoreError};

/// What every handler shares: one allocation, so that a request clones a single `Arc`.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The contents of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Hash of the admin token, when the admin API is enabled.
    pub admin_token_hash: Option<String>,
    /// Hash of the metrics-only token (`GET /metrics`), when enabled.
    pub metrics_token_hash: Option<String>,
    /// Hash of the agenda system's inbound token, when enabled.
    pub agenda_token_hash: Option<String>,
    /// Limits abuse of the public endpoints.
    pub limiter: Arc<RateLimiter>,
    /// Wakes the connector when new submissions arrive.
    pub connector_wake: Arc<tokio::sync::Notify>,
    /// Largest request body.
    pub max_body: usize,
    /// A request body's longest pause between reads, and its whole time.
    pub body_timeouts: (std::time::Duration, std::time::Duration),
    /// Asks the alert sweeper to look soon (a heartbeat arrived).
    pub alerts_wake: Arc<tokio::sync::Notify>,
    /// Which kiosks it should look at then.
    pub alerts_touched: crate::alerts::Touched,
    /// The alert rules, and each kiosk's alert kinds at its last check.
    pub alerts: crate::alerts::Alerting,
    /// What SLA reports are measured against.
    pub sla: Arc<SlaSettings>,
    /// A kiosk silent for longer is down (`alerts.offline_after_s`).
    pub offline_after_ms: i64,
    /// How far ahead of the server a kiosk's sample may be (`alerts.clock_skew_max_s`).
    pub clock_skew_allowance_ms: i64,
    /// The heartbeat writer and what heartbeat replies need.
    pub heartbeats_writer: Arc<crate::heartbeat_writer::HeartbeatWriter>,
    /// Recently authenticated kiosks: credential hash, record and when it was checked.
    pub kiosk_auth: Arc<std::sync::RwLock<AuthCache>>,
    /// Heartbeats received since start, for `/metrics`.
    pub heartbeats: Arc<std::sync::atomic::AtomicU64>,
    /// What changed, for the dashboard's live pages.
    pub changes: tokio::sync::broadcast::Sender<Change>,
    /// Sign-in attempts per address.
    pub login_limiter: Arc<RateLimiter>,
    /// Status look-ups (by code and by card) per kiosk.
    pub kiosk_lookups: Arc<RateLimiter<String>>,
    /// Console events a kiosk may add to the audit log, per kiosk.
    pub console_audit: Arc<RateLimiter<String>>,
    /// Releases, rollouts and kiosks' updates.
    pub rollouts: Arc<crate::rollout::Rollouts>,
    /// Where release bundles are kept.
    pub releases_dir: std::path::PathBuf,
    /// The versions whose bundles are being uploaded.
    pub uploading: UploadsInProgress,
    /// This instance's name (its leases carry it).
    pub instance: Arc<str>,
    /// The other instances, when several share a PostgreSQL database.
    pub bus: Option<Arc<crate::bus::Bus>>,
    /// Seals citizens' addresses for notices.
    pub contacts: Arc<crate::notices::ContactKey>,
    /// Wakes the notice courier when a notice is queued.
    pub notices_wake: Arc<tokio::sync::Notify>,
    /// Whether the fleet's receipt of a request is told (`notices.tell_receipt`).
    pub tell_receipt: bool,
}

impl AppState {
    /// Tells the open dashboard pages, this instance's (nothing to do when none is open) and
    /// the other instances'.
    pub fn changed(&self, change: Change) {
        if let Some(bus) = &self.bus {
            bus.publish(change.clone());
        }
        if self.changes.receiver_count() > 0 {
            let _ = self.changes.send(change);
        }
    }
}

/// Kiosks authenticated lately: `kiosk_id → (credential hash, record, when)`. A heartbeat then
/// costs no database read; an entry is trusted for a minute (`api::kiosk`) and dropped when the
/// kiosk enrols again or gets a new token (its name or group may change).
pub type AuthCache =
    std::collections::HashMap<String, (String, Arc<crate::store::KioskRecord>, std::time::Instant)>;

/// The versions whose bundles are being uploaded.
pub type UploadsInProgress = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// What SLA reports are measured against (`[sla]`, `alerts.opening_hours`).
#[derive(Debug)]
pub struct SlaSettings {
    /// The availability target, 0-1.
    pub target: f64,
    /// The city's name, on the report.
    pub city: String,
    /// The hours a kiosk must be up.
    pub hours: crate::hours::OpeningHours,
}

/// Runs `f` on the store on the blocking pool.
pub async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, AppError>
where
    F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = Arc::clone(&state.store);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| AppError::Internal(format!("store task failed: {e}")))?
        .map_err(AppError::from)
}
