//! The records of releases and rollouts, as the store saves them.

use protocol::UnixMillis;
use protocol::fleet::UpdateReport;
use protocol::release::SignedManifest;
use serde::{Deserialize, Serialize};

/// A release the server accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Its version.
    pub version: String,
    /// The signed manifest, as uploaded.
    pub manifest: SignedManifest,
    /// Bundle size, bytes.
    pub size: u64,
    /// Bundle SHA-256, hex.
    pub sha256: String,
    /// Hardware it is for.
    pub compatible: Vec<String>,
    /// The key that signed it.
    pub key_id: String,
    /// When its manifest was accepted.
    pub created_at: UnixMillis,
    /// When its bundle arrived whole; `None` while it is still awaited.
    pub uploaded_at: Option<UnixMillis>,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// The signed rollback that lets its kiosks go back to an older release, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<protocol::release::SignedRollback>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Kiosks in its target install the release.
    Active,
    /// Nobody new starts (by hand, or because too many failed).
    Paused,
    /// Stopped; kiosks already updated stay.
    Aborted,
    /// Every kiosk it updated goes back to its previous release.
    RolledBack,
    /// Superseded by a newer rollout after reaching everybody.
    Completed,
}

impl RolloutState {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Active => "active",
            RolloutState::Paused => "paused",
            RolloutState::Aborted => "aborted",
            RolloutState::RolledBack => "rolled_back",
            RolloutState::Completed => "completed",
        }
    }

    /// Whether it still moves kiosks forward (active or paused).
    pub fn is_open(self) -> bool {
        matches!(self, RolloutState::Active | RolloutState::Paused)
    }
}

/// A rollout of one release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Its number.
    pub id: i64,
    /// The release.
    pub version: String,
    /// The kiosk group it targets; `None`: every kiosk.
    pub group: Option<String>,
    /// Kiosks that get it whatever the percentage (the canaries).
    pub canary: Vec<String>,
    /// Share of the group that gets it, percent.
    pub percent: u8,
    /// Its state.
    pub state: RolloutState,
    /// Install at once, ignoring the maintenance window and citizens at the kiosk.
    pub force: bool,
    /// Pauses when more of the current wave than this failed, percent.
    pub max_failure_percent: u8,
    /// The kiosks the latest create or expand added (the current wave).
    pub wave: Vec<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: UnixMillis,
    /// Last change.
    pub updated_at: UnixMillis,
    /// Why it is paused, aborted or rolled back.
    pub reason: Option<String>,
}

/// A kiosk's update, as it last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KioskUpdate {
    /// The kiosk.
    pub kiosk_id: String,
    /// Its report.
    pub report: UpdateReport,
    /// The release it ran when the rollout `from_rollout` first reached it (where a rollback
    /// sends it).
    pub from_version: Option<String>,
    /// That rollout.
    pub from_rollout: Option<i64>,
    /// When the server received the report.
    pub received_at: UnixMillis,
}
