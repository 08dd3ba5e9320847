//! What a card read means: a contactless chip's UID, or an ISO 7813 magnetic track (track 1
//! `%B<PAN>^<NAME>^<YYMM>…?`, track 2 `;<PAN>=<YYMM>…?`). Only a keyed hash of the card leaves
//! the agent; logs see it masked.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A card as read.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    /// What kind of read.
    pub kind: CardKind,
    /// The identifying number: the UID in upper-case hex, or the track's account number.
    id: String,
}

/// Kinds of card read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    /// A contactless chip's UID (Mifare: 4, 7 or 10 bytes).
    Uid,
    /// ISO 7813 track 1.
    Track1,
    /// ISO 7813 track 2.
    Track2,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Card({:?} {})", self.kind, self.masked())
    }
}

/// Why a payload is not a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// A track without its sentinels or fields.
    #[error("malformed magnetic track")]
    BadTrack,
    /// An account number of the wrong length or with non-digits.
    #[error("malformed account number")]
    BadNumber,
    /// Not a UID (hex of 4, 7 or 10 bytes) nor a track.
    #[error("not a card UID or magnetic track")]
    Unknown,
}

fn account(pan: &str) -> Result<String, CardError> {
    if (8..=19).contains(&pan.len()) && pan.bytes().all(|b| b.is_ascii_digit()) {
        Ok(pan.to_owned())
    } else {
        Err(CardError::BadNumber)
    }
}

impl Card {
    /// Parses a reader's payload.
    pub fn parse(payload: &str) -> Result<Card, CardError> {
        let p = payload.trim();
        if let Some(rest) = p.strip_prefix('%') {
            // Track 1: format code B, PAN, ^, name, ^, expiry and data, end sentinel.
            let body = rest.strip_suffix('?').ok_or(CardError::BadTrack)?;
            let body = body.strip_prefix('B').ok_or(CardError::BadTrack)?;
            let mut fields = body.split('^');
            let pan = fields.next().ok_or(CardError::BadTrack)?;
            let _name = fields.next().ok_or(CardError::BadTrack)?;
            let _data = fields.next().ok_or(CardError::BadTrack)?;
            return Ok(Card {
                kind: CardKind::Track1,
                id: account(pan)?,
            });
        }
        if let Some(rest) = p.strip_prefix(';') {
            let body = rest.strip_suffix('?').ok_or(CardError::BadTrack)?;
            let (pan, _data) = body.split_once('=').ok_or(CardError::BadTrack)?;
            return Ok(Card {
                kind: CardKind::Track2,
                id: account(pan)?,
            });
        }
        let hex: String = p
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | ' '))
            .collect();
        if matches!(hex.len(), 8 | 14 | 20) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Card {
                kind: CardKind::Uid,
                id: hex.to_ascii_uppercase(),
            });
        }
        Err(CardError::Unknown)
    }

    /// For logs and screens: all but the last four characters hidden.
    pub fn masked(&self) -> String {
        let n = self.id.chars().count();
        let tail: String = self.id.chars().skip(n.saturating_sub(4)).collect();
        format!("{}{tail}", "•".repeat(n.saturating_sub(4).min(12)))
    }

    /// The only form of the card that leaves the agent: HMAC-SHA256 with the deployment's key
    /// over the kind and number, hex. The same card gives the same value at every kiosk of the
    /// deployment, and nothing without the key.
    pub fn keyed_hash(&self, key: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        let kind: &[u8] = match self.kind {
            CardKind::Uid => b"uid:",
            CardKind::Track1 | CardKind::Track2 => b"pan:",
        };
        mac.update(kind);
        mac.update(self.id.as_bytes());
        protocol::hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_and_tracks() {
        let uid = Card::parse("04a1b2c3d4e5f6").unwrap();
        assert_eq!(
            (uid.kind, uid.masked().as_str()),
            (CardKind::Uid, "••••••••••E5F6")
        );
        let t1 = Card::parse("%B4111111111111111^DVORAKOVA/ZOFIE^2512101000000000000?").unwrap();
        let t2 = Card::parse(";4111111111111111=25121010000000000000?").unwrap();
        assert_eq!((t1.kind, t2.kind), (CardKind::Track1, CardKind::Track2));
        assert_eq!(t1.masked(), "••••••••••••1111");
        // The same account on either track is the same citizen; its name never leaves the parse.
        assert_eq!(t1.keyed_hash(b"k"), t2.keyed_hash(b"k"));
        assert!(
            !format!("{t1:?}").contains("4111111111111111")
                && !format!("{t1:?}").contains("DVORAK")
        );
        for bad in [
            "%B41^X^1?",
            "%4111111111111111^X^2512?",
            ";4111111111111111?",
            "12345",
            "zzzzzzzz",
            "",
        ] {
            assert!(Card::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_is_keyed() {
        let c = Card::parse("0A1B2C3D").unwrap();
        assert_eq!(
            c.keyed_hash(b"deployment-key"),
            c.keyed_hash(b"deployment-key")
        );
        assert_ne!(c.keyed_hash(b"deployment-key"), c.keyed_hash(b"other-key"));
        assert_eq!(c.keyed_hash(b"k").len(), 64);
        assert!(!c.keyed_hash(b"k").to_ascii_uppercase().contains("0A1B2C3D"));
    }
}
