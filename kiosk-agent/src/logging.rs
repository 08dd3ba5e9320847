//! Logging set-up: `tracing` to stderr (journald picks it up), filtered by `RUST_LOG` or the
//! configured filter. The last [`KEPT_LINES`] lines are also kept in memory, for the fleet's
//! "upload logs" command and the technician's console, which work when the disk or journald
//! does not.
//!
//! What may be logged: ids, tracking codes, service ids, counts, states, errors. What must never
//! be logged: form values, card data, credentials. Types that carry secrets hide them in `Debug`.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::EnvFilter;

/// How many lines are kept in memory.
pub const KEPT_LINES: usize = 2000;

fn ring() -> &'static Mutex<VecDeque<String>> {
    static RING: OnceLock<Mutex<VecDeque<String>>> = OnceLock::new();
    RING.get_or_init(|| Mutex::new(VecDeque::with_capacity(KEPT_LINES)))
}

/// Keeps one formatted line (several when it has line breaks).
pub fn keep(text: &str) {
    let mut ring = ring().lock().unwrap_or_else(|p| p.into_inner());
    for line in text.lines().filter(|l| !l.is_empty()) {
        if ring.len() == KEPT_LINES {
            ring.pop_front();
        }
        ring.push_back(line.to_owned());
    }
}

/// The last `n` lines, oldest first.
pub fn last_lines(n: usize) -> Vec<String> {
    let ring = ring().lock().unwrap_or_else(|p| p.into_inner());
    ring.iter()
        .skip(ring.len().saturating_sub(n))
        .cloned()
        .collect()
}

/// One event's output: to stderr and to the ring when the event is written out.
struct Tee(Vec<u8>);

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        let _ = std::io::stderr().write_all(&self.0);
        keep(&String::from_utf8_lossy(&self.0));
    }
}

/// Installs the global subscriber; a second call is ignored.
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Tee(Vec::with_capacity(256)))
        .with_ansi(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_lines() {
        for i in 0..KEPT_LINES + 10 {
            keep(&format!("line {i}\n"));
        }
        let last = last_lines(3);
        assert_eq!(
            last,
            [
                format!("line {}", KEPT_LINES + 7),
                format!("line {}", KEPT_LINES + 8),
                format!("line {}", KEPT_LINES + 9)
            ]
        );
        assert_eq!(last_lines(usize::MAX).len(), KEPT_LINES);
    }
}
