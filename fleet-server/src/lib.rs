//! `fleet-server`: the central server of an Okénko fleet.
//!
//! - [`api`]: the HTTP surface (kiosk API, admin API, agenda push, public status page).
//! - [`store`]: storage behind the [`store::Store`] trait; [`store::sqlite`] is the embedded
//!   default.
//! - [`connector`]: delivery of submissions to the office's agenda system.
//! - [`run`]: configuration to a serving process (HTTPS with rustls, graceful shutdown).
//!
//! It never shows a client an internal error's detail, and never logs submission values.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod config;
pub mod connector;
pub mod dashboard;
pub mod hours;
pub mod http_server;
pub mod ingest;
pub mod notify;
pub mod ratelimit;
pub mod rollout;
pub mod run;
pub mod sim;
pub mod sla;
pub mod staff;
pub mod store;

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
