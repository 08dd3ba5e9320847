//! The connector to the office's agenda system: every submission the server accepted is POSTed
//! to `connector.url` (with `Idempotency-Key: <submission id>`) until the agenda system answers
//! 2xx; then the request's state becomes `received`. Failures are retried with exponential
//! back-off per submission; the queue lives in the store, so a restart loses nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::config::ConnectorSection;
use crate::store::Store;

/// Runs until `shutdown` turns true. Without a configured URL it does nothing: submissions wait.
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
    let max = Duration::from_secs(cfg.retry_max_s);
    loop {
        let delivered = round(&store, &http, &url, cfg.outbound_token.as_deref(), max).await;
        let idle = if delivered > 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Delivers what is due; returns how many were delivered.
async fn round(
    store: &Arc<dyn Store>,
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    max: Duration,
) -> usize {
    let s = Arc::clone(store);
    let due = match tokio::task::spawn_blocking(move || s.due_deliveries(crate::now_ms(), 50)).await
    {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read the delivery queue");
            return 0;
        }
        Err(_) => return 0,
    };
    let mut delivered = 0;
    for d in due {
        let id = d.id;
        let mut req = http
            .post(url)
            .header("Idempotency-Key", id.to_string())
            .json(&d);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let result = match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("agenda system answered {}", r.status())),
            Err(e) => Err(format!("agenda system unreachable: {e}")),
        };
        let s = Arc::clone(store);
        let outcome = match result {
            Ok(()) => {
                delivered += 1;
                tokio::task::spawn_blocking(move || {
                    s.mark_delivered(id, crate::now_ms()).map(|_| 0)
                })
                .await
            }
            Err(msg) => {
                let max_ms = max.as_millis() as i64;
                tokio::task::spawn_blocking(move || {
                    s.delivery_failed(id, &msg, crate::now_ms(), max_ms)
                })
                .await
            }
        };
        match outcome {
            Ok(Ok(0)) => tracing::info!(submission = %id, "delivered to the agenda system"),
            Ok(Ok(n)) => {
                tracing::warn!(submission = %id, attempts = n, "delivery failed; will retry")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot record a delivery"),
            Err(_) => {}
        }
    }
    delivered
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
