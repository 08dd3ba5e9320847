//! Simulators and test harnesses for Okénko.
//!
//! - [`netsim`]: a fault-injecting TCP proxy (drops, delays, resets, replies lost after the
//!   server committed) that stands between an agent and the fleet server.
//! - [`agenda`]: a reference agenda system: receives deliveries idempotently and pushes status
//!   changes back to the fleet (binary `agenda-ref`).
//! - [`harness`]: starts the real `fleet-server` and `kiosk-agent` binaries on 127.0.0.1 with
//!   temporary data directories, for the end-to-end proofs in `tests/`.
//!
//! - [`kiosksim`]: simulated kiosks against a real fleet server (binary `kiosk-sim`): the
//!   reference city on the dashboard, with scripted faults, following rollouts.
//! - [`cardsim`]: a serial card reader on a pty, with garbage and partial frames on request.
//! - [`escpos`]: the ESC/POS printer: a streaming decoder from bytes to a receipt model.
//! - [`selftest`]: the hardware self-test (binary `kiosk-hwtest`), against the simulators or
//!   real devices.
//! - [`releases`]: signing keys, keyrings and bundles for the update tests, made with
//!   `fleetctl`.
//! - [`sinks`]: a webhook endpoint and an SMTP relay that keep what the fleet sends.
//! - [`smsgw`]: a reference SMS gateway: one message per idempotency key, scripted faults
//!   (binary `sms-gateway-ref`).
//! - [`browser`]: a real headless Chromium over the DevTools protocol.
//! - [`vm`]: the appliance image in QEMU (UEFI, virtio screen and touch, serial console, QMP).
//! - [`postgres`]: a real PostgreSQL server (Debian's) in a temporary directory on 127.0.0.1,
//!   for the store suite and the fleet of several instances.
//! - [`touchsim`]: evdev event streams (touch panel, keyboard-wedge reader) written to a FIFO
//!   the agent opens in place of an evdev node.

pub mod agenda;
pub mod browser;
pub mod cardsim;
pub mod escpos;
pub mod harness;
pub mod kiosksim;
pub mod netsim;
pub mod postgres;
pub mod releases;
pub mod selftest;
pub mod sinks;
pub mod smsgw;
pub mod touchsim;
pub mod vm;
