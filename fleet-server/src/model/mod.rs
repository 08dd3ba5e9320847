//! What the store saves and the rest of the server reasons about, below both: alert kinds
//! ([`alert`]) and releases, rollouts and each kiosk's update ([`rollout`]). It imports nothing
//! of the server, so the store depends on it and not on the logic above (alert rules, the
//! rollout policy).

pub mod alert;
pub mod rollout;

pub use alert::AlertKind;
pub use rollout::{KioskUpdate, Release, Rollout, RolloutState};
