//! What the JSON API and the dashboard both do: each operation checks its input, changes the
//! store, tells the kiosks or the open pages, and writes the audit log. `api` and `dashboard`
//! call these and never each other.

pub mod alerts;
pub mod audit;
pub mod catalog;
pub mod commands;
pub mod notices;
pub mod releases;
pub mod sla;
pub mod submissions;
pub mod tokens;
