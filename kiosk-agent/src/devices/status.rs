//! A device's current state ([`StatusCell`]), its use ([`Activity`]), and when a missing one is
//! tried again ([`Retry`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::app::{DeviceEvent, DeviceKind, DeviceState, DeviceStatus};

use super::events::Changes;
use crate::backoff::Backoff;

/// Input activity over the last minute, for health.
#[derive(Debug, Default)]
pub struct Activity {
    pub(crate) events: VecDeque<i64>,
    pub(crate) last_ms: Option<i64>,
}

impl Activity {
    /// Records that the device sent something at `now_ms`; `counted` when it is an event that
    /// counts toward the rate (a finger put down, a card).
    pub fn record(&mut self, now_ms: i64, counted: bool) {
        self.last_ms = Some(now_ms);
        if counted {
            self.events.push_back(now_ms);
        }
        self.expire(now_ms);
    }

    pub(crate) fn expire(&mut self, now_ms: i64) {
        while self.events.front().is_some_and(|t| *t <= now_ms - 60_000) {
            self.events.pop_front();
        }
    }

    /// Counted events in the minute before `now_ms`.
    pub fn per_minute(&mut self, now_ms: i64) -> u32 {
        self.expire(now_ms);
        self.events.len() as u32
    }

    /// When the device last sent anything.
    pub fn last(&self) -> Option<i64> {
        self.last_ms
    }
}

/// One device's current state; changes become events.
#[derive(Debug)]
pub struct StatusCell {
    pub(crate) status: Mutex<DeviceStatus>,
    pub(crate) activity: Option<Mutex<Activity>>,
    pub(crate) changes: Arc<Changes>,
}

impl StatusCell {
    pub(crate) fn new(device: DeviceKind, changes: &Arc<Changes>, input: bool) -> StatusCell {
        StatusCell {
            status: Mutex::new(DeviceStatus {
                device,
                state: DeviceState::Missing,
                detail: Some("not checked yet".into()),
                since: crate::store::now_ms(),
                last_event_at: None,
                events_per_minute: None,
            }),
            activity: input.then(|| Mutex::new(Activity::default())),
            changes: Arc::clone(changes),
        }
    }

    /// Sets the state; a change is logged and becomes an event.
    pub fn set(&self, state: DeviceState, detail: Option<String>) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if s.state == state && s.detail == detail {
            return;
        }
        tracing::info!(
            device = ?s.device,
            ?state,
            detail = detail.as_deref().unwrap_or(""),
            "device state changed"
        );
        s.state = state;
        s.detail = detail;
        s.since = crate::store::now_ms();
        let status = s.clone();
        drop(s);
        self.changes.log.push(|seq| DeviceEvent {
            seq,
            status: status.clone(),
        });
        self.changes.notify.notify_one();
    }

    /// Records input activity (no event: activity is read with the status).
    pub fn activity(&self, counted: bool) {
        if let Some(a) = &self.activity {
            a.lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(crate::store::now_ms(), counted);
        }
    }

    /// The current state, with activity for input devices.
    pub fn get(&self) -> DeviceStatus {
        let mut s = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(a) = &self.activity {
            let mut a = a.lock().unwrap_or_else(|p| p.into_inner());
            s.last_event_at = a.last();
            s.events_per_minute = Some(a.per_minute(crate::store::now_ms()));
        }
        s
    }

    pub(crate) fn state(&self) -> DeviceState {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).state
    }
}

/// When a device is checked next: at the poll interval while it answers, with back-off while
/// it is missing.
#[derive(Debug)]
pub(crate) struct Retry {
    pub(crate) backoff: Backoff,
    pub(crate) next: Instant,
}

impl Retry {
    pub(crate) fn new() -> Retry {
        Retry {
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
            next: Instant::now(),
        }
    }

    pub(crate) fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    pub(crate) fn after(&mut self, ok: bool, poll: Duration) {
        let wait = if ok {
            self.backoff.reset();
            poll
        } else {
            self.backoff.fail()
        };
        self.next = Instant::now() + wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_counts_events_of_the_last_minute() {
        let mut a = Activity::default();
        a.record(1_000, true);
        a.record(30_000, true);
        a.record(31_000, false);
        assert_eq!(a.per_minute(59_000), 2);
        assert_eq!(a.per_minute(61_000), 1);
        assert_eq!(a.last(), Some(31_000));
    }
}
