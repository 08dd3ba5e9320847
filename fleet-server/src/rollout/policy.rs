//! The rules of a rollout, without state: which kiosks it reaches, and when a kiosk may
//! install.

use protocol::UnixMillis;

use crate::hours::OpeningHours;
use crate::model::Rollout;

/// A kiosk's place in every percentage, 0 to 9999: from a hash of its id, so it never changes.
pub fn bucket(kiosk_id: &str) -> u16 {
    let d = protocol::sha256_hex(format!("okenko-rollout:{kiosk_id}"));
    // 16 hex digits are 64 bits; their remainder by 10,000 is as good as uniform.
    u64::from_str_radix(d.get(..16).unwrap_or("0"), 16).map_or(0, |n| (n % 10_000) as u16)
}

impl Rollout {
    /// Whether it offers its release to `kiosk_id` of `group`.
    pub fn targets(&self, kiosk_id: &str, group: &str) -> bool {
        self.canary.iter().any(|c| c == kiosk_id)
            || (self.group.as_deref().is_none_or(|g| g == group)
                && bucket(kiosk_id) < u16::from(self.percent) * 100)
    }
}

/// When kiosks may install.
#[derive(Debug, Clone)]
pub enum Window {
    /// At any time.
    Always,
    /// Within these hours.
    Within(OpeningHours),
    /// Outside these (opening) hours.
    OutsideOf(OpeningHours),
}

impl Window {
    /// The window from `releases.window` and `alerts.opening_hours`.
    pub fn from_config(window: &OpeningHours, opening: &OpeningHours) -> Window {
        if !window.always_open() {
            Window::Within(window.clone())
        } else if !opening.always_open() {
            Window::OutsideOf(opening.clone())
        } else {
            Window::Always
        }
    }

    /// Whether it is open at `now`.
    pub fn is_open(&self, now: UnixMillis) -> bool {
        match self {
            Window::Always => true,
            Window::Within(h) => h.is_open(now),
            Window::OutsideOf(h) => !h.is_open(now),
        }
    }
}
