//! Tracking codes: what a citizen reads off the receipt, types on a keypad or reads aloud.
//!
//! A code is 8 Crockford base32 characters and one check character, shown as `K7M2-9XQ4-T`:
//! the first 3 characters are the issuing kiosk's number (so codes are unique across the fleet
//! without asking the server), the next 5 are the kiosk's own sequence, permuted so codes are
//! not guessable in order (see `kiosk-agent`'s `tracking` module). The check character is the
//! Luhn mod 32 of the rest: it catches every single wrong character and every swap of two
//! neighbours except `0`↔`Z` (Luhn's one blind spot). Crockford's alphabet has no I, L, O or U; when typed, `I`/`L` read as `1` and `O`
//! as `0`, lower case is accepted, and hyphens and spaces are ignored.

use std::fmt;

use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters of a kiosk number.
pub const KIOSK_CHARS: usize = 3;
/// Characters of the sequence part.
pub const BODY_CHARS: usize = 5;
/// The largest kiosk number a code can carry.
pub const MAX_KIOSK: u32 = (1 << (5 * KIOSK_CHARS)) - 1;
/// The largest sequence value a code can carry.
pub const MAX_BODY: u32 = (1 << (5 * BODY_CHARS)) - 1;

/// A tracking code, always stored without separators and with its check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingCode(String);

/// Why a typed code is not a tracking code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Wrong number of characters.
    #[error("a tracking code has 9 characters, this has {0}")]
    Length(usize),
    /// A character outside Crockford base32.
    #[error("{0:?} cannot appear in a tracking code")]
    Character(char),
    /// The check character does not match: a typo.
    #[error("the check character does not match; the code was probably mistyped")]
    Check,
}

fn value_of(c: char) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        c => c,
    };
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u32)
}

/// Luhn mod 32 over the values: the character that makes the weighted sum divisible by 32.
fn check_value(values: &[u32]) -> u32 {
    let mut sum = 0;
    let mut factor = 2;
    for &v in values.iter().rev() {
        let addend = factor * v;
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    (32 - sum % 32) % 32
}

impl TrackingCode {
    /// The code of sequence value `body` issued by kiosk number `kiosk`.
    pub fn from_parts(kiosk: u32, body: u32) -> Option<TrackingCode> {
        if kiosk > MAX_KIOSK || body > MAX_BODY {
            return None;
        }
        let n = (u64::from(kiosk) << (5 * BODY_CHARS)) | u64::from(body);
        let total = KIOSK_CHARS + BODY_CHARS;
        let values: Vec<u32> = (0..total)
            .rev()
            .map(|i| ((n >> (5 * i)) & 31) as u32)
            .collect();
        let mut s: String = values
            .iter()
            .map(|&v| ALPHABET[v as usize] as char)
            .collect();
        s.push(ALPHABET[check_value(&values) as usize] as char);
        Some(TrackingCode(s))
    }

    /// Parses a code as a person typed it.
    pub fn parse(input: &str) -> Result<TrackingCode, CodeError> {
        let chars: Vec<char> = input
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
            .collect();
        if chars.len() != KIOSK_CHARS + BODY_CHARS + 1 {
            return Err(CodeError::Length(chars.len()));
        }
        let values = chars
            .iter()
            .map(|&c| value_of(c).ok_or(CodeError::Character(c)))
            .collect::<Result<Vec<u32>, _>>()?;
        let (data, check) = values.split_at(values.len() - 1);
        if check_value(data) != check[0] {
            return Err(CodeError::Check);
        }
        Ok(TrackingCode(
            values
                .iter()
                .map(|&v| ALPHABET[v as usize] as char)
                .collect(),
        ))
    }

    /// The issuing kiosk's number.
    pub fn kiosk_number(&self) -> u32 {
        self.0
            .chars()
            .take(KIOSK_CHARS)
            .fold(0, |acc, c| (acc << 5) | value_of(c).unwrap_or(0))
    }

    /// The sequence part (the issuing kiosk's permuted sequence number).
    pub fn body(&self) -> u32 {
        self.0
            .chars()
            .skip(KIOSK_CHARS)
            .take(BODY_CHARS)
            .fold(0, |acc, c| (acc << 5) | value_of(c).unwrap_or(0))
    }

    /// The nine characters without separators, as stored and put in URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The public status page of this code under `base` (the fleet's public address, e.g.
    /// `https://fleet.ostrava.cz`): `base/s/CODE`. The one place such a link is made, so that
    /// a receipt's QR code, the kiosk's screen and the fleet agree.
    pub fn status_url(&self, base: &str) -> String {
        format!("{}/s/{}", base.trim_end_matches('/'), self.as_str())
    }
}

/// Bytes in Crockford base32 (upper case, no padding): for secrets and tokens that people or
/// headers carry.
pub fn crockford(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0);
    for &byte in bytes {
        acc = ((acc << 8) | u32::from(byte)) & 0xffff;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

impl fmt::Display for TrackingCode {
    /// Grouped for reading: `K7M2-9XQ4-T`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        write!(f, "{}-{}-{}", &s[0..4], &s[4..8], &s[8..])
    }
}

impl TryFrom<String> for TrackingCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TrackingCode::parse(&s)
    }
}

impl From<TrackingCode> for String {
    fn from(c: TrackingCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_carries_the_kiosk() {
        for (k, b) in [(0, 0), (1, 12345), (MAX_KIOSK, MAX_BODY), (23, 7)] {
            let c = TrackingCode::from_parts(k, b).unwrap();
            assert_eq!(c.kiosk_number(), k);
            assert_eq!(c.body(), b);
            assert_eq!(TrackingCode::parse(&c.to_string()).unwrap(), c);
            assert_eq!(TrackingCode::parse(&c.as_str().to_lowercase()).unwrap(), c);
        }
        assert!(TrackingCode::from_parts(MAX_KIOSK + 1, 0).is_none());
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        let c = TrackingCode::from_parts(23, 0x1A2B3C).unwrap();
        let s: Vec<char> = c.as_str().chars().collect();
        for i in 0..s.len() {
            for &a in ALPHABET {
                let a = a as char;
                if a == s[i] {
                    continue;
                }
                let mut t = s.clone();
                t[i] = a;
                let typed: String = t.iter().collect();
                assert!(TrackingCode::parse(&typed).is_err(), "{typed} accepted");
            }
            if i + 1 < s.len()
                && s[i] != s[i + 1]
                && !matches!((s[i], s[i + 1]), ('0', 'Z') | ('Z', '0'))
            {
                let mut t = s.clone();
                t.swap(i, i + 1);
                let typed: String = t.iter().collect();
                assert!(
                    TrackingCode::parse(&typed).is_err(),
                    "swap {typed} accepted"
                );
            }
        }
    }

    #[test]
    fn confusable_letters_are_read_as_digits() {
        let c = TrackingCode::from_parts(1, 0).unwrap();
        let typed = c.as_str().replace('1', "l").replace('0', "o");
        assert_eq!(TrackingCode::parse(&typed).unwrap(), c);
        assert_eq!(TrackingCode::parse("ABC"), Err(CodeError::Length(3)));
        assert_eq!(
            TrackingCode::parse("UUUUUUUUU"),
            Err(CodeError::Character('U'))
        );
    }
}
