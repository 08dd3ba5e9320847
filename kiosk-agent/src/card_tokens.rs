//! The cards citizens presented, held by the agent: the UI is untrusted by design, so a card
//! read gives it an opaque, short-lived token bound to that read, never the card's keyed hash.
//! `Submit` and `MyRequests` take the token, and the agent puts the hash in their place. A token
//! the agent did not issue, or one older than [`TOKEN_TTL`], is refused.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a card read stays usable: about one citizen's session at the kiosk.
pub const TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// Reads remembered at once; the oldest goes first.
const MAX_TOKENS: usize = 32;
/// Every token starts so, and no keyed hash (64 hex digits) can be mistaken for one.
const PREFIX: &str = "card-";

/// The live tokens.
#[derive(Default)]
pub struct CardTokens {
    live: Mutex<Vec<Live>>,
}

struct Live {
    token: String,
    hash: String,
    expires: Instant,
}

impl std::fmt::Debug for CardTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.live.lock().map_or(0, |l| l.len());
        write!(f, "CardTokens({n} live)")
    }
}

impl CardTokens {
    /// A new token standing for the card with keyed hash `hash`.
    pub fn issue(&self, hash: String) -> String {
        self.issue_at(hash, Instant::now())
    }

    fn issue_at(&self, hash: String, now: Instant) -> String {
        let token = format!("{PREFIX}{}", crate::random::secret(20));
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|l| l.expires > now);
        if live.len() >= MAX_TOKENS {
            live.remove(0);
        }
        live.push(Live {
            token: token.clone(),
            hash,
            expires: now + TOKEN_TTL,
        });
        token
    }

    /// The keyed hash of the card `token` stands for, if the token is live.
    pub fn resolve(&self, token: &str) -> Option<String> {
        self.resolve_at(token, Instant::now())
    }

    fn resolve_at(&self, token: &str, now: Instant) -> Option<String> {
        if !token.starts_with(PREFIX) {
            return None;
        }
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|l| l.expires > now);
        live.iter()
            .find(|l| protocol::constant_time_eq(l.token.as_bytes(), token.as_bytes()))
            .map(|l| l.hash.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_and_expired_tokens_stand_for_nothing() {
        let t = CardTokens::default();
        let now = Instant::now();
        let hash = "ab".repeat(32);
        let token = t.issue_at(hash.clone(), now);
        assert!(!token.contains(&hash));
        assert_eq!(t.resolve_at(&token, now), Some(hash.clone()));
        // A hash, a guess, a near miss: nothing.
        assert_eq!(t.resolve_at(&hash, now), None);
        assert_eq!(
            t.resolve_at("card-0000000000000000000000000000000", now),
            None
        );
        assert_eq!(t.resolve_at(&format!("{token}x"), now), None);
        // Expired.
        assert_eq!(t.resolve_at(&token, now + TOKEN_TTL), None);
        // Bounded: the oldest go first.
        let first = t.issue_at("1".into(), now);
        for i in 0..MAX_TOKENS {
            t.issue_at(i.to_string(), now);
        }
        assert_eq!(t.resolve_at(&first, now), None);
        assert!(format!("{t:?}").starts_with("CardTokens("));
    }
}
