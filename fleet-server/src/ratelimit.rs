//! A token bucket per key: per client address for the public endpoints (status page, enrolment,
//! sign-in), so that tracking codes and tokens cannot be guessed at speed; per kiosk for what a
//! kiosk credential can ask or write (status look-ups, console audit entries).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets by key (a client address unless said otherwise).
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    per_minute: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Addresses tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 100_000;

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter allowing `per_minute` requests per minute per key, in bursts of as many.
    pub fn new(per_minute: u32) -> RateLimiter<K> {
        RateLimiter {
            per_minute: f64::from(per_minute),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `false` when its bucket is empty.
    pub fn allow(&self, key: K) -> bool {
        self.allow_at(key, Instant::now())
    }

    fn allow_at(&self, ip: K, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED {
            let cap = self.per_minute;
            let rate = self.per_minute / 60.0;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < cap
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.per_minute, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.per_minute / 60.0;
        *tokens = (*tokens + refill).min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills() {
        let rl = RateLimiter::new(3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let t = Instant::now();
        assert!(rl.allow_at(ip, t) && rl.allow_at(ip, t) && rl.allow_at(ip, t));
        assert!(!rl.allow_at(ip, t));
        assert!(rl.allow_at(other, t));
        assert!(rl.allow_at(ip, t + Duration::from_secs(20)));
        assert!(!rl.allow_at(ip, t + Duration::from_secs(21)));
    }
}
