//! The technician's one-time codes for a kiosk's serial console: RFC 6238 TOTP with
//! HMAC-SHA-256, 30-second steps, 6 digits.
//!
//! The secret is derived from what both sides hold without ever sending it: the kiosk knows its
//! fleet credential and the fleet keeps that credential's SHA-256 ([`secret`]). So the fleet's
//! dashboard shows the code to staff, and the kiosk checks it with no network at all. A leak of
//! the fleet's database would let someone compute the codes; they would still need the key to
//! the kiosk's service door.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Seconds per code.
pub const STEP_S: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The console secret of a kiosk whose fleet credential has SHA-256 `credential_hash` (hex).
pub fn secret(credential_hash: &str) -> Vec<u8> {
    hmac_sha256(credential_hash.as_bytes(), b"okenko-console-totp-v1")
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// The code of time step `step` (RFC 6238 with RFC 4226's dynamic truncation), `digits` long.
pub fn code_at_step(secret: &[u8], step: i64, digits: u32) -> String {
    let mac = hmac_sha256(secret, &step.to_be_bytes());
    let off = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = (u32::from(mac[off] & 0x7f) << 24)
        | (u32::from(mac[off + 1]) << 16)
        | (u32::from(mac[off + 2]) << 8)
        | u32::from(mac[off + 3]);
    format!(
        "{:0width$}",
        bin % 10u32.pow(digits),
        width = digits as usize
    )
}

/// The time step of a Unix time in seconds.
pub fn step_of(unix_s: i64) -> i64 {
    unix_s.div_euclid(STEP_S)
}

/// The code now, and the seconds it stays valid.
pub fn code(secret: &[u8], unix_s: i64) -> (String, i64) {
    (
        code_at_step(secret, step_of(unix_s), DIGITS),
        STEP_S - unix_s.rem_euclid(STEP_S),
    )
}

/// The step `given` (spaces allowed) is the code of: this step or one either side (a kiosk's
/// clock may be off by a little). `None` for a wrong code.
pub fn verify(secret: &[u8], given: &str, unix_s: i64) -> Option<i64> {
    let given: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_s);
    [now, now - 1, now + 1].into_iter().find(|&s| {
        crate::constant_time_eq(code_at_step(secret, s, DIGITS).as_bytes(), given.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha256_vectors() {
        // RFC 6238 appendix B, SHA-256, 8 digits; its key is this 32-byte string.
        let key = b"12345678901234567890123456789012";
        for (t, want) in [
            (59, "46119246"),
            (1_111_111_109, "68084774"),
            (1_111_111_111, "67062674"),
            (1_234_567_890, "91819424"),
            (2_000_000_000, "90698825"),
            (20_000_000_000, "77737706"),
        ] {
            assert_eq!(code_at_step(key, step_of(t), 8), want, "T = {t}");
        }
    }

    #[test]
    fn verify_takes_a_step_either_side_and_nothing_else() {
        let s = secret("ab12");
        let t = 1_800_000_000;
        let (c, left) = code(&s, t);
        assert!((1..=30).contains(&left));
        assert_eq!(verify(&s, &c, t), Some(step_of(t)));
        assert_eq!(
            verify(&s, &format!("{} {}", &c[..3], &c[3..]), t),
            Some(step_of(t))
        );
        assert!(
            verify(&s, &c, t + 30).is_some(),
            "a kiosk clock a step behind"
        );
        assert!(verify(&s, &c, t + 95).is_none(), "three steps later");
        assert!(verify(&s, "12345", t).is_none());
        assert!(verify(&s, "abcdef", t).is_none());
        assert!(verify(&secret("other"), &c, t).is_none() || c == code(&secret("other"), t).0);
    }
}
