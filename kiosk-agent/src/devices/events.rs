//! Device events: a bounded, numbered log readers wait on, and the state changes the app and
//! the sync loop follow.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use protocol::app::DeviceEvent;

/// Longest a caller may wait for events in one request.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// A bounded log of numbered events that readers can wait on.
#[derive(Debug)]
pub struct EventLog<T> {
    inner: Mutex<(u64, VecDeque<(u64, T)>)>,
    cv: Condvar,
    cap: usize,
}

impl<T: Clone> EventLog<T> {
    /// A log keeping the newest `cap` events.
    pub fn new(cap: usize) -> EventLog<T> {
        EventLog {
            inner: Mutex::new((0, VecDeque::new())),
            cv: Condvar::new(),
            cap: cap.max(1),
        }
    }

    /// Appends the event `make` builds from its sequence number; returns the number.
    pub fn push(&self, make: impl FnOnce(u64) -> T) -> u64 {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let seq = g.0;
        g.1.push_back((seq, make(seq)));
        while g.1.len() > self.cap {
            g.1.pop_front();
        }
        drop(g);
        self.cv.notify_all();
        seq
    }

    /// Events numbered above `after`, waiting up to `wait` (at most [`MAX_WAIT`]) for one, and
    /// the newest number.
    pub fn after(&self, after: u64, wait: Duration) -> (Vec<T>, u64) {
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // A reader from an earlier agent run may hold a number above ours: start it over.
        let after = if after > g.0 { 0 } else { after };
        loop {
            if g.0 > after {
                let items =
                    g.1.iter()
                        .filter(|(s, _)| *s > after)
                        .map(|(_, t)| t.clone())
                        .collect();
                return (items, g.0);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (Vec::new(), g.0);
            }
            g = self
                .cv
                .wait_timeout(g, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Where device state changes go: the log the app reads and the sync loop's wake-up.
#[derive(Debug)]
pub struct Changes {
    /// State changes, newest last.
    pub log: EventLog<DeviceEvent>,
    /// Notified on every change; the sync loop sends a heartbeat soon after.
    pub notify: tokio::sync::Notify,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_event_log_numbers_bounds_and_waits() {
        let log = Arc::new(EventLog::<u64>::new(3));
        for _ in 0..5 {
            log.push(|seq| seq * 10);
        }
        assert_eq!(log.after(0, Duration::ZERO), (vec![30, 40, 50], 5));
        assert_eq!(log.after(4, Duration::ZERO), (vec![50], 5));
        assert_eq!(log.after(5, Duration::from_millis(20)), (vec![], 5));
        // A number from an earlier run starts over.
        assert_eq!(log.after(99, Duration::ZERO).0.len(), 3);
        let l = Arc::clone(&log);
        let waiter = std::thread::spawn(move || l.after(5, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        log.push(|seq| seq);
        assert_eq!(waiter.join().unwrap(), (vec![6], 6));
    }
}
