//! `fleet-server`: the central server of an Okénko fleet.
//!
//! - [`state`]: what every handler and task shares ([`state::AppState`]).
//! - [`http`]: HTTP plumbing (errors, extractors, sessions, layers, the server).
//! - [`routes`]: the route table the router is built from.
//! - [`api`]: the JSON API's handlers (kiosks, staff, the agenda system, the public page).
//! - [`dashboard`]: the staff's web pages.
//! - [`ops`]: what the API and the dashboard both do (catalog, commands, alerts, releases…).
//! - [`store`]: storage behind the [`store::Store`] trait; [`store::sqlite`] is the embedded
//!   default, [`store::postgres`] the database several instances share.
//! - [`bus`]: what one instance changed, told to the others (PostgreSQL's LISTEN/NOTIFY).
//! - [`connector`]: delivery of submissions to the office's agenda system.
//! - [`notices`]: text messages and e-mails to citizens when their request changes state (the
//!   SMS gateway connector, quiet hours, the sealed addresses).
//! - [`run`]: configuration to a serving process (HTTPS with rustls, graceful shutdown).
//! - [`config`]: the TOML configuration; [`hours`]: opening hours in Czech local time.
//! - [`auth`]: secrets hashed and compared in constant time; [`staff`]: staff accounts,
//!   argon2id passwords, lock-out, sessions; [`ratelimit`]: token buckets per address or kiosk.
//! - [`error`]: the one error type of handlers and operations.
//! - [`changes`]: what changed, for the dashboard's live pages.
//! - [`heartbeat_writer`]: heartbeats written behind, with group commit.
//! - [`alerts`]: the rules that open and resolve alerts; [`notify`]: their webhook and e-mail.
//! - [`model`]: what the store saves and the logic above reasons about (alert kinds,
//!   releases and rollouts); [`rollout`]: the rollout policy and its waves.
//! - [`sla`]: availability and the monthly report, over [`uptime`]'s minute bitmaps.
//!
//! It never shows a client an internal error's detail, and never logs submission values.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod bus;
pub mod changes;
pub mod config;
pub mod connector;
pub mod dashboard;
pub mod error;
pub mod heartbeat_writer;
pub mod hours;
pub mod http;
pub mod model;
pub mod notices;
pub mod notify;
pub mod ops;
pub mod ratelimit;
pub mod rollout;
pub mod routes;
pub mod run;
pub mod sla;
pub mod staff;
pub mod state;
pub mod store;
pub mod uptime;

pub use protocol::time::now_ms;
