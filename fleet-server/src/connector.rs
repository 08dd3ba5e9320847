//! The connector to the office's agenda system: every submission the server accepted is POSTed
//! to `connector.url` (with `Idempotency-Key: <submission id>`) until the agenda system answers
//! 2xx; then the request's state becomes `received` and its form values leave the server
//! (after `keep_delivered_s`). Failures are retried with exponential back-off per submission;
//! the queue lives in the store, so a restart loses nothing.
//!
//! Up to `connector.concurrency` deliveries are in flight at once, each with its own time-out
//! (`timeout_s`): a slow answer holds one slot, not the queue. Deliveries start oldest first
//! (by when each became due), but finish in any order: the agenda system must not rely on
//! arrival order (each delivery carries its tracking code and its created and received times),
//! and the reference agenda system does not.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::ConnectorSection;
use crate::store::Store;

fn try_http_client() -> Option<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .tls_backend_rustls()
        .build()
    {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "cannot build an HTTP client");
            None
        }
    }
}

/// The client the server's outgoing calls use (rustls, no proxy, 30 s time-out).
pub fn http_client() -> reqwest::Client {
    try_http_client().unwrap_or_default()
}

/// Runs until `shutdown` turns true. Without a configured URL it does nothing: submissions wait.
pub async fn run(
    store: Arc<dyn Store>,
    cfg: ConnectorSection,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(url) = cfg.url.clone() else {
        tracing::warn!("no connector.url configured; submissions wait on the server");
        return;
    };
    let Some(http) = try_http_client() else {
        return;
    };
    let job = Arc::new(Job {
        store,
        http,
        url,
        token: cfg.outbound_token.clone(),
        timeout: Duration::from_secs(cfg.timeout_s),
        max_delay_ms: Duration::from_secs(cfg.retry_max_s).as_millis() as i64,
        purge_at_once: cfg.keep_delivered_s == 0,
        scrubbed_at: std::sync::Mutex::new(None),
    });
    let slots = cfg.concurrency.max(1);
    let mut in_flight: HashSet<uuid::Uuid> = HashSet::new();
    let mut running: JoinSet<uuid::Uuid> = JoinSet::new();
    loop {
        // Fill the free slots with what is due, oldest first, skipping what is in flight.
        let mut started = 0;
        if in_flight.len() < slots {
            let want = slots - in_flight.len();
            let s = Arc::clone(&job.store);
            let fetch = in_flight.len() + want;
            let due =
                tokio::task::spawn_blocking(move || s.due_deliveries(crate::now_ms(), fetch)).await;
            match due {
                Ok(Ok(due)) => {
                    let fresh: Vec<_> = due
                        .into_iter()
                        .filter(|d| !in_flight.contains(&d.id))
                        .take(want)
                        .collect();
                    for d in fresh {
                        in_flight.insert(d.id);
                        let job = Arc::clone(&job);
                        running.spawn(async move {
                            let id = d.id;
                            job.deliver(d).await;
                            id
                        });
                        started += 1;
                    }
                }
                Ok(Err(e)) => tracing::error!(error = %e, "cannot read the delivery queue"),
                Err(_) => {}
            }
        }
        // Then wait: for a delivery to finish (a slot frees), new work, a retry coming due, or
        // the end. With free slots and nothing started, nothing is due: look again in a second.
        let idle = if started > 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(id) = done {
                    in_flight.remove(&id);
                }
                // Collect whatever else finished meanwhile.
                while let Some(Ok(id)) = running.try_join_next() {
                    in_flight.remove(&id);
                }
            }
            _ = tokio::time::sleep(idle), if in_flight.len() < slots => {}
            _ = wake.notified(), if in_flight.len() < slots => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            // In-flight deliveries are abandoned; each is retried after a restart (the agenda
            // system takes a repeat by its Idempotency-Key).
            running.abort_all();
            return;
        }
    }
}

/// What every delivery needs.
struct Job {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    timeout: Duration,
    max_delay_ms: i64,
    purge_at_once: bool,
    /// When the log was last scrubbed after a purge (at most once a minute: a checkpoint
    /// costs a flush).
    scrubbed_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Job {
    /// POSTs one submission and records the outcome: delivered (and its values purged when
    /// the server keeps none), or failed with its own back-off.
    async fn deliver(&self, d: protocol::fleet::AgendaDelivery) {
        let id = d.id;
        let mut req = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .header("Idempotency-Key", id.to_string())
            .json(&d);
        drop(d);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let result = match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("agenda system answered {}", r.status())),
            Err(e) if e.is_timeout() => Err(format!(
                "agenda system did not answer within {} s",
                self.timeout.as_secs()
            )),
            Err(e) => Err(format!("agenda system unreachable: {e}")),
        };
        let s = Arc::clone(&self.store);
        let (max_ms, purge) = (self.max_delay_ms, self.purge_at_once);
        // After a delivery that purged values, the log is scrubbed too (at most once a minute).
        let scrub = result.is_ok() && purge && {
            let mut at = self.scrubbed_at.lock().unwrap_or_else(|p| p.into_inner());
            let due = at.is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
            if due {
                *at = Some(std::time::Instant::now());
            }
            due
        };
        let outcome = tokio::task::spawn_blocking(move || match result {
            Ok(()) => {
                let now = crate::now_ms();
                s.mark_delivered(id, now, purge)?;
                if scrub && !s.scrub_log()? {
                    tracing::debug!("log scrub held back by a reader; the hourly one follows");
                }
                Ok(0)
            }
            Err(msg) => s.delivery_failed(id, &msg, crate::now_ms(), &|attempts| {
                retry_delay_ms(attempts, max_ms)
            }),
        })
        .await;
        match outcome {
            Ok(Ok(0)) => tracing::info!(submission = %id, "delivered to the agenda system"),
            Ok(Ok(n)) => {
                tracing::warn!(submission = %id, attempts = n, "delivery failed; will retry")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot record a delivery"),
            Err(_) => {}
        }
    }
}

/// The delay before retry number `attempts + 1`: 0.5 s doubling, at most `max_ms`.
pub fn retry_delay_ms(attempts: u32, max_ms: i64) -> i64 {
    (500i64 << attempts.min(30)).min(max_ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_delays_double_to_the_cap() {
        assert_eq!(super::retry_delay_ms(0, 300_000), 500);
        assert_eq!(super::retry_delay_ms(3, 300_000), 4_000);
        assert_eq!(super::retry_delay_ms(60, 300_000), 300_000);
    }
}
