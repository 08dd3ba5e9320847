//! `kiosk-agent`: the on-device daemon of an Okénko kiosk.
//!
//! It owns everything the citizen UI must not: the SQLite store ([`store`]), the fleet
//! credential and connection ([`fleet`], [`sync`]), the hardware ([`devices`]), updates
//! ([`update`]) and the power actions ([`power`] over [`programs`], the only place another
//! program is started). The UI talks to it only through the local socket ([`local_api`],
//! [`handlers`]); technicians through the serial console ([`console`]).
//!
//! Beside them: [`commands`] (the fleet's remote commands), [`config`] (the TOML file; each
//! subsystem owns its section), [`provision`] (an installer's provisioning), [`tracking`]
//! (issuing tracking codes), [`card_tokens`] (cards behind short-lived tokens the UI holds),
//! [`backoff`] (one back-off with jitter), [`random`] (bytes from the OS), [`logging`] (tracing,
//! with the last lines kept for the fleet), [`notify`] (systemd's `sd_notify`) and [`speech`]
//! (audio mode: espeak-ng, the headset jack).
//!
//! [`agent`] wires it: it builds the parts and hands each subsystem only what it needs
//! ([`sync::Parts`], [`update::Parts`], [`commands::Executor`]); nothing below it imports it.
//! [`run`] starts and stops it.
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
pub mod fleet;
pub mod handlers;
pub mod local_api;
pub mod logging;
pub mod notify;
pub mod power;
pub mod programs;
pub mod provision;
pub mod random;
pub mod run;
pub mod speech;
pub mod store;
pub mod sync;
pub mod tracking;
pub mod update;
