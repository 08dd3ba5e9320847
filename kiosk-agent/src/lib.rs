//! `kiosk-agent`: the on-device daemon of an Okénko kiosk.
//!
//! It owns everything the citizen UI must not: the SQLite store ([`store`]), the fleet
//! credential and connection ([`sync`]), and (with the devices work) the hardware. The UI talks
//! to it only through the local socket ([`local_api`], [`handlers`]).
//!
//! The rule it keeps above all: a submission acknowledged to the app is on disk before the
//! acknowledgement is sent, and reaches the fleet exactly once.

pub mod agent;
pub mod backoff;
pub mod card_tokens;
pub mod commands;
pub mod config;
pub mod console;
pub mod devices;
pub mod handlers;
pub mod local_api;
pub mod logging;
pub mod notify;
pub mod provision;
pub mod random;
pub mod run;
pub mod store;
pub mod sync;
pub mod tracking;
pub mod update;
