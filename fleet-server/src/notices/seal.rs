//! The contact key: citizens' addresses are sealed (ChaCha20-Poly1305, bound to their tracking
//! code) before they reach the database, and grouped for rate limits by a keyed hash, so a copy
//! of the database alone reveals no phone number or e-mail address.

use std::path::Path;

use protocol::fleet::NoticeRequest;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;

use crate::store::SealedContact;

/// The key that seals addresses, and the one that hashes them (both derived from one secret).
pub struct ContactKey {
    seal: LessSafeKey,
    hash: hmac::Key,
}

impl std::fmt::Debug for ContactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContactKey(…)")
    }
}

/// Sealed values start with this (a later scheme would get another).
const PREFIX: &str = "v1:";

impl ContactKey {
    /// From the 32-byte secret.
    pub fn from_secret(secret: &[u8; 32]) -> ContactKey {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derive = |label: &[u8]| hmac::sign(&root, label);
        let seal_key = derive(b"okenko contact seal");
        let hash_key = derive(b"okenko contact hash");
        ContactKey {
            seal: LessSafeKey::new(
                // A 32-byte key is what ChaCha20-Poly1305 takes; HMAC-SHA256 gives 32.
                UnboundKey::new(&CHACHA20_POLY1305, seal_key.as_ref())
                    .unwrap_or_else(|_| unreachable!("32 bytes is the key length")),
            ),
            hash: hmac::Key::new(hmac::HMAC_SHA256, hash_key.as_ref()),
        }
    }

    /// Reads the key file (64 hex digits), or makes one (mode 0600) when there is none.
    pub fn load_or_create(path: &Path) -> Result<ContactKey, String> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let secret = unhex(text.trim())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| format!("{shown}: not 64 hex digits"))?;
                Ok(ContactKey::from_secret(&secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| format!("no random source: {e}"))?;
                match write_new(path, &protocol::hex(&secret)) {
                    Ok(()) => {
                        tracing::info!(path = %shown, "made a new contact key");
                        Ok(ContactKey::from_secret(&secret))
                    }
                    // Another instance sharing the directory made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        ContactKey::load_or_create(path)
                    }
                    Err(e) => Err(format!("cannot make {shown}: {e}")),
                }
            }
            Err(e) => Err(format!("cannot read {shown}: {e}")),
        }
    }

    /// `n` (normalized) for request `code`, sealed, with what staff may see.
    pub fn seal(&self, code: &str, n: &NoticeRequest, language: protocol::Lang) -> SealedContact {
        let mut nonce = [0u8; NONCE_LEN];
        // Without a random source nothing is safe; Linux always has one.
        if getrandom::fill(&mut nonce).is_err() {
            tracing::error!("no random source for a nonce");
        }
        let mut data = n.to.as_bytes().to_vec();
        let sealed = match self.seal.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(code.as_bytes()),
            &mut data,
        ) {
            Ok(()) => {
                let mut all = nonce.to_vec();
                all.extend_from_slice(&data);
                format!("{PREFIX}{}", protocol::hex(&all))
            }
            Err(_) => String::new(),
        };
        SealedContact {
            channel: n.channel,
            sealed,
            address_key: self.address_key(&n.to),
            masked: n.masked(),
            language,
        }
    }

    /// The address sealed for `code`, or why it cannot be opened (another key, another
    /// request's value, damage).
    pub fn open(&self, code: &str, sealed: &str) -> Result<String, String> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(unhex)
            .ok_or("the sealed address is malformed")?;
        if bytes.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err("the sealed address is too short".into());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| "bad nonce")?;
        let mut rest = rest.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(code.as_bytes()), &mut rest)
            .map_err(
                |_| "the address does not open with this key (was notices.key_file changed?)",
            )?;
        String::from_utf8(plain.to_vec()).map_err(|_| "the address is not text".into())
    }

    /// A keyed hash of an address: the same for every request to it, useless without the key.
    pub fn address_key(&self, to: &str) -> String {
        protocol::hex(&hmac::sign(&self.hash, to.as_bytes()).as_ref()[..16])
    }
}

/// Writes `text` to a new file at `path`, whole or not at all: written and synced under a
/// temporary name, then linked to `path` (which fails if it exists), so an instance starting
/// beside this one reads either nothing or the whole key.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!(
        "tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{text}\n").as_bytes())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    written
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use protocol::fleet::NoticeChannel;

    use super::*;

    #[test]
    fn an_address_opens_only_with_its_key_and_for_its_request() {
        let key = ContactKey::from_secret(&[7; 32]);
        let n = NoticeRequest {
            channel: NoticeChannel::Sms,
            to: "+420777123456".into(),
        };
        let c = key.seal("0A1B2C3D4", &n, protocol::Lang::En);
        assert!(!c.sealed.contains("777123456"));
        assert_eq!(
            key.open("0A1B2C3D4", &c.sealed).as_deref(),
            Ok("+420777123456")
        );
        // Moved to another request's row, or read with another key: refused.
        assert!(key.open("0A1B2C3D5", &c.sealed).is_err());
        assert!(
            ContactKey::from_secret(&[8; 32])
                .open("0A1B2C3D4", &c.sealed)
                .is_err()
        );
        assert!(key.open("0A1B2C3D4", "v1:00").is_err());
        assert!(key.open("0A1B2C3D4", "garbage").is_err());
        // Two seals of one address differ; its keyed hash does not.
        let again = key.seal("0A1B2C3D4", &n, protocol::Lang::En);
        assert_ne!(again.sealed, c.sealed);
        assert_eq!(again.address_key, c.address_key);
        assert_ne!(
            ContactKey::from_secret(&[8; 32]).address_key(&n.to),
            c.address_key
        );
    }

    #[test]
    fn the_key_file_is_made_once_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("okenko-key-{}", uuid::Uuid::new_v4()));
        // The directory is made with the key (a PostgreSQL fleet's data_dir may not exist yet).
        let path = dir.join("data/contact.key");
        let n = NoticeRequest {
            channel: NoticeChannel::Email,
            to: "jana@example.cz".into(),
        };
        let sealed = ContactKey::load_or_create(&path)
            .unwrap()
            .seal("C", &n, protocol::Lang::Cs)
            .sealed;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = ContactKey::load_or_create(&path).unwrap();
        assert_eq!(again.open("C", &sealed).as_deref(), Ok("jana@example.cz"));
        // Instances starting together end with one key.
        let other = dir.join("other/contact.key");
        let keys: Vec<ContactKey> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..8)
                .map(|_| s.spawn(|| ContactKey::load_or_create(&other).unwrap()))
                .collect();
            starts.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let first = keys[0].seal("C", &n, protocol::Lang::Cs).sealed;
        assert!(keys.iter().all(|k| k.open("C", &first).is_ok()));
        assert_eq!(
            std::fs::read_dir(dir.join("other")).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::write(&path, "not hex\n").unwrap();
        assert!(
            ContactKey::load_or_create(&path)
                .unwrap_err()
                .contains("64 hex")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
