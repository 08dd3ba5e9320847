//! Issuing tracking codes: the kiosk's sequence number, permuted with a per-kiosk secret key.
//!
//! The code's body must be unique on this kiosk (the kiosk number makes it unique in the fleet)
//! and must not reveal the order of submissions, so neighbouring codes cannot be guessed from
//! one receipt. A keyed bijection does both: a 4-round Feistel network on 26 bits, with
//! cycle-walking to stay inside the 25 bits a code's body holds. Distinct sequence numbers give
//! distinct bodies by construction; no look-up is needed, and [`unpermute`] takes a code back
//! to its sequence number, so the store finds a code's row by rowid without an index on codes.

use protocol::tracking::MAX_BODY;
use sha2::{Digest, Sha256};

const HALF_BITS: u32 = 13;
const HALF_MASK: u32 = (1 << HALF_BITS) - 1;
const ROUNDS: u8 = 4;

fn round(key: u64, r: u8, half: u32) -> u32 {
    let mut h = Sha256::new();
    h.update(key.to_le_bytes());
    h.update([r]);
    h.update(half.to_le_bytes());
    let d = h.finalize();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]]) & HALF_MASK
}

fn feistel(x: u32, key: u64) -> u32 {
    let (mut l, mut r) = (x >> HALF_BITS, x & HALF_MASK);
    for i in 0..ROUNDS {
        (l, r) = (r, l ^ round(key, i, r));
    }
    (l << HALF_BITS) | r
}

/// The code body for sequence number `seq`, or `None` when `seq` is beyond the code space.
pub fn permute(seq: u32, key: u64) -> Option<u32> {
    if seq > MAX_BODY {
        return None;
    }
    let mut x = feistel(seq, key);
    // Cycle-walking: the Feistel network permutes 2^26 values; walking until the value is
    // inside 2^25 restricts it to a permutation of 0..2^25.
    while x > MAX_BODY {
        x = feistel(x, key);
    }
    Some(x)
}

fn feistel_inverse(x: u32, key: u64) -> u32 {
    let (mut l, mut r) = (x >> HALF_BITS, x & HALF_MASK);
    for i in (0..ROUNDS).rev() {
        (l, r) = (r ^ round(key, i, l), l);
    }
    (l << HALF_BITS) | r
}

/// The sequence number whose code body is `body`: the inverse of [`permute`]. It lets the store
/// find a code's row by its sequence number, so codes need no index of their own.
pub fn unpermute(body: u32, key: u64) -> Option<u32> {
    if body > MAX_BODY {
        return None;
    }
    let mut x = feistel_inverse(body, key);
    while x > MAX_BODY {
        x = feistel_inverse(x, key);
    }
    Some(x)
}

/// A fresh random key.
pub fn fresh_key() -> u64 {
    let mut b = [0u8; 8];
    crate::random::fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_sequences_give_distinct_bodies() {
        let key = 0x5eed_1234_abcd_0042;
        let mut seen = std::collections::HashSet::new();
        for seq in 0..50_000 {
            let b = permute(seq, key).unwrap();
            assert!(b <= MAX_BODY);
            assert!(seen.insert(b), "collision at {seq}");
        }
        assert_eq!(permute(MAX_BODY + 1, key), None);
    }

    #[test]
    fn unpermute_inverts_permute() {
        for key in [0, 7, 0x5eed_1234_abcd_0042, u64::MAX] {
            for seq in (0..3_000).chain([MAX_BODY - 1, MAX_BODY]) {
                let body = permute(seq, key).unwrap();
                assert_eq!(unpermute(body, key), Some(seq), "key {key} seq {seq}");
            }
        }
        assert_eq!(unpermute(MAX_BODY + 1, 1), None);
    }

    #[test]
    fn bodies_do_not_follow_the_sequence() {
        let key = 7;
        let steps: Vec<i64> = (0..100)
            .map(|s| permute(s + 1, key).unwrap() as i64 - permute(s, key).unwrap() as i64)
            .collect();
        assert!(steps.iter().filter(|&&d| d == 1).count() < 3);
    }
}
