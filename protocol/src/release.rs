//! Signed releases: a bundle is accepted only with a manifest signed by a trusted ed25519 key,
//! and only when the bundle matches it. The fleet server checks an upload with this, and each
//! agent checks again before anything is written to a slot.
//!
//! - [`Manifest`]: version, compatible hardware, size and SHA-256 of the bundle.
//! - [`SignedManifest`]: the manifest's exact JSON text, the signing key's id and the signature
//!   over that text (the text is kept as signed, so no re-serialisation can change it).
//! - [`Keyring`]: the trusted public keys. A new key is trusted when a [`KeyEndorsement`]
//!   signed by a key already trusted vouches for it: that is how keys rotate, and why a kiosk
//!   never needs a key installed by hand after the first.
//!
//! Keys are raw 32-byte ed25519 public keys, written in hex; a key's id is the first 8 bytes of
//! its SHA-256 (16 hex digits).

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::UnixMillis;

/// What a release bundle is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The release's version, e.g. `1.4.0`.
    pub version: String,
    /// Hardware it runs on, e.g. `okenko-x86_64`; a kiosk refuses a bundle not listing its own.
    pub compatible: Vec<String>,
    /// The bundle's length in bytes.
    pub size: u64,
    /// The bundle's SHA-256, hex.
    pub sha256: String,
    /// When it was signed.
    pub created_at: UnixMillis,
}

/// A manifest as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedManifest {
    /// The manifest's JSON, exactly as signed.
    pub manifest: String,
    /// Id of the signing key.
    pub key_id: String,
    /// The ed25519 signature over `manifest`, hex.
    pub signature: String,
}

/// A trusted key vouching for a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEndorsement {
    /// The new public key, hex.
    pub key: String,
    /// Id of the endorsing key.
    pub signed_by: String,
    /// Its signature over `okenko-key-endorsement-v1:` followed by the new key's hex.
    pub signature: String,
}

/// A trusted key withdrawing a key (its own or another's): a kiosk that learns it never trusts
/// that key again, not even through an endorsement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevocation {
    /// Id of the revoked key.
    pub key_id: String,
    /// Id of the revoking key.
    pub signed_by: String,
    /// Its signature over `okenko-key-revocation-v1:` followed by the revoked key's id.
    pub signature: String,
}

/// A release manager's statement that kiosks running `from` may go back to one of `to` (TUF's
/// rule: a kiosk never installs an older release than it runs without a signed rollback that
/// names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// The release being rolled back.
    pub from: String,
    /// The releases its kiosks may return to.
    pub to: Vec<String>,
    /// When it was signed.
    pub created_at: UnixMillis,
}

/// A rollback as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRollback {
    /// The rollback's JSON, exactly as signed.
    pub rollback: String,
    /// Id of the signing key.
    pub key_id: String,
    /// The ed25519 signature over `okenko-rollback-v1:` followed by `rollback`, hex.
    pub signature: String,
}

/// Orders release versions: dot-separated parts, numbers by value (a missing part is 0),
/// words by their letters; a version with a `-` suffix (a pre-release) comes before the same
/// version without it; a `+` suffix (build data) does not count.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn parts(v: &str) -> Vec<&str> {
        v.split('.').collect()
    }
    fn by_parts(x: &[&str], y: &[&str]) -> Ordering {
        for i in 0..x.len().max(y.len()) {
            let (p, q) = (
                x.get(i).copied().unwrap_or("0"),
                y.get(i).copied().unwrap_or("0"),
            );
            let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => p.cmp(q),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
    let split = |v: &'_ str| {
        let v = v.split('+').next().unwrap_or(v).to_owned();
        match v.split_once('-') {
            Some((core, pre)) => (core.to_owned(), Some(pre.to_owned())),
            None => (v, None),
        }
    };
    let ((ac, ap), (bc, bp)) = (split(a), split(b));
    by_parts(&parts(&ac), &parts(&bc)).then_with(|| match (ap, bp) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => by_parts(&parts(&x), &parts(&y)),
    })
}

/// Why a release is refused. Nothing is written to a slot for any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// The manifest or a key is not well-formed.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Signed by a key that is not trusted.
    #[error("signed by an unknown key {0}")]
    UnknownKey(String),
    /// Signed by a key that was revoked.
    #[error("signed by the revoked key {0}")]
    Revoked(String),
    /// The signature does not match.
    #[error("the signature does not match the manifest")]
    BadSignature,
    /// The bundle is not the one the manifest describes.
    #[error("the bundle does not match its manifest: {0}")]
    WrongBundle(String),
    /// Not for this hardware.
    #[error("release {version} is not for this hardware ({hardware}); it is for {compatible}")]
    Incompatible {
        /// The release.
        version: String,
        /// This kiosk's hardware.
        hardware: String,
        /// What it is for.
        compatible: String,
    },
}

/// A public key's id: its SHA-256's first 8 bytes, hex.
pub fn key_id(public: &[u8]) -> String {
    crate::hex(&Sha256::digest(public)[..8])
}

fn unhex(s: &str) -> Result<Vec<u8>, ReleaseError> {
    if !s.len().is_multiple_of(2) {
        return Err(ReleaseError::Malformed("odd-length hex".into()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ReleaseError::Malformed(format!("not hex: {s:.20}")))
        })
        .collect()
}

/// The public keys releases may be signed with, and the ids of keys revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Vec<u8>>,
    revoked: Vec<String>,
}

impl Keyring {
    /// A keyring of hex public keys (one per line in a keyring file; `#` comments).
    pub fn parse(text: &str) -> Result<Keyring, ReleaseError> {
        let mut ring = Keyring::default();
        for line in text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
        {
            if !line.is_empty() {
                ring.add(line)?;
            }
        }
        Ok(ring)
    }

    /// Trusts a hex public key.
    pub fn add(&mut self, hex_key: &str) -> Result<String, ReleaseError> {
        let k = unhex(hex_key.trim())?;
        if k.len() != 32 {
            return Err(ReleaseError::Malformed(
                "an ed25519 public key has 32 bytes".into(),
            ));
        }
        let id = key_id(&k);
        if self.revoked.contains(&id) {
            return Err(ReleaseError::Revoked(id));
        }
        if !self.keys.contains(&k) {
            self.keys.push(k);
        }
        Ok(id)
    }

    /// Withdraws the key a revocation names, if a trusted key (it, or another) signed it; the
    /// revoked key's id. It cannot be trusted again.
    pub fn revoke(&mut self, r: &KeyRevocation) -> Result<String, ReleaseError> {
        if self.revoked.contains(&r.key_id) {
            return Ok(r.key_id.clone());
        }
        self.check(
            &r.signed_by,
            revocation_message(&r.key_id).as_bytes(),
            &r.signature,
        )?;
        self.keys.retain(|k| key_id(k) != r.key_id);
        self.revoked.push(r.key_id.clone());
        Ok(r.key_id.clone())
    }

    /// Marks a key id revoked without a signature (a revocation checked before, kept).
    pub fn forbid(&mut self, id: &str) {
        self.keys.retain(|k| key_id(k) != id);
        if !self.revoked.iter().any(|r| r == id) {
            self.revoked.push(id.to_owned());
        }
    }

    /// The revoked keys' ids.
    pub fn revoked(&self) -> &[String] {
        &self.revoked
    }

    /// Checks a signed rollback: a trusted key, a good signature, a well-formed statement.
    pub fn verify_rollback(&self, signed: &SignedRollback) -> Result<Rollback, ReleaseError> {
        self.check(
            &signed.key_id,
            rollback_message(&signed.rollback).as_bytes(),
            &signed.signature,
        )?;
        let r: Rollback = crate::json::decode(signed.rollback.as_bytes(), 16 * 1024)
            .map_err(|e| ReleaseError::Malformed(e.to_string()))?;
        if r.from.is_empty() || r.to.is_empty() || r.to.len() > 64 {
            return Err(ReleaseError::Malformed(
                "a rollback names the release it leaves and 1 to 64 it may return to".into(),
            ));
        }
        Ok(r)
    }

    /// The trusted keys' ids.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| key_id(k)).collect()
    }

    /// The keyring file's text.
    pub fn to_text(&self) -> String {
        self.keys
            .iter()
            .map(|k| format!("{}  # {}\n", crate::hex(k), key_id(k)))
            .collect()
    }

    fn key(&self, id: &str) -> Result<&[u8], ReleaseError> {
        if self.revoked.iter().any(|r| r == id) {
            return Err(ReleaseError::Revoked(id.to_owned()));
        }
        self.keys
            .iter()
            .find(|k| key_id(k) == id)
            .map(Vec::as_slice)
            .ok_or_else(|| ReleaseError::UnknownKey(id.to_owned()))
    }

    fn check(&self, id: &str, message: &[u8], signature_hex: &str) -> Result<(), ReleaseError> {
        let key = self.key(id)?;
        let sig = unhex(signature_hex)?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(message, &sig)
            .map_err(|_| ReleaseError::BadSignature)
    }

    /// Trusts the key an endorsement vouches for, if a trusted key signed it; its id.
    pub fn endorse(&mut self, e: &KeyEndorsement) -> Result<String, ReleaseError> {
        self.check(
            &e.signed_by,
            endorsement_message(&e.key).as_bytes(),
            &e.signature,
        )?;
        self.add(&e.key)
    }

    /// Checks a signed manifest: a trusted key, a good signature, a well-formed manifest for
    /// `hardware`. The bundle itself is checked with [`check_bundle`].
    pub fn verify(
        &self,
        signed: &SignedManifest,
        hardware: &str,
    ) -> Result<Manifest, ReleaseError> {
        let m = self.verify_signature(signed)?;
        if !m.compatible.iter().any(|c| c == hardware) {
            return Err(ReleaseError::Incompatible {
                version: m.version.clone(),
                hardware: hardware.to_owned(),
                compatible: m.compatible.join(", "),
            });
        }
        Ok(m)
    }

    /// Checks a signed manifest's key, signature and form, for any hardware (the fleet server
    /// serves many kinds of kiosk).
    pub fn verify_signature(&self, signed: &SignedManifest) -> Result<Manifest, ReleaseError> {
        self.check(
            &signed.key_id,
            signed.manifest.as_bytes(),
            &signed.signature,
        )?;
        let m: Manifest = crate::json::decode(signed.manifest.as_bytes(), 64 * 1024)
            .map_err(|e| ReleaseError::Malformed(e.to_string()))?;
        if m.version.is_empty()
            || m.version.len() > 64
            || !m
                .version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
        {
            return Err(ReleaseError::Malformed(format!("version {:?}", m.version)));
        }
        if m.sha256.len() != 64 || unhex(&m.sha256).is_err() {
            return Err(ReleaseError::Malformed(
                "sha256 must be 64 hex digits".into(),
            ));
        }
        Ok(m)
    }
}

fn revocation_message(key_id: &str) -> String {
    format!(
        "okenko-key-revocation-v1:{}",
        key_id.trim().to_ascii_lowercase()
    )
}

fn rollback_message(rollback: &str) -> String {
    format!("okenko-rollback-v1:{rollback}")
}

fn endorsement_message(key_hex: &str) -> String {
    format!(
        "okenko-key-endorsement-v1:{}",
        key_hex.trim().to_ascii_lowercase()
    )
}

/// Checks a downloaded bundle (size, then SHA-256) against its manifest.
pub fn check_bundle(m: &Manifest, bundle: &mut impl std::io::Read) -> Result<(), ReleaseError> {
    Verifying::new(bundle, m).finish()
}

/// A reader that checks the bundle bytes passing through it against a manifest: it refuses to
/// read past the manifest's size, and [`Verifying::finish`] checks the length and SHA-256 of
/// everything read. Whoever consumes the bytes (a hash check, an unpacker) gets exactly the
/// bytes that were checked.
#[derive(Debug)]
pub struct Verifying<'m, R> {
    inner: R,
    manifest: &'m Manifest,
    sha: Sha256,
    len: u64,
}

/// The marker of a bundle longer than its manifest, inside an I/O error.
#[derive(Debug, thiserror::Error)]
#[error("longer than the {0} bytes of its manifest")]
struct TooLong(u64);

impl<'m, R: std::io::Read> Verifying<'m, R> {
    /// Checks what is read from `inner` against `manifest`.
    pub fn new(inner: R, manifest: &'m Manifest) -> Self {
        Verifying {
            inner,
            manifest,
            sha: Sha256::new(),
            len: 0,
        }
    }

    /// Reads what is left, then checks the whole against the manifest.
    pub fn finish(mut self) -> Result<(), ReleaseError> {
        std::io::copy(&mut self, &mut std::io::sink()).map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<TooLong>()) {
                Some(t) => ReleaseError::WrongBundle(t.to_string()),
                None => ReleaseError::WrongBundle(format!("cannot read it: {e}")),
            }
        })?;
        let m = self.manifest;
        if self.len != m.size {
            return Err(ReleaseError::WrongBundle(format!(
                "{} bytes, its manifest says {}",
                self.len, m.size
            )));
        }
        let digest = crate::hex(&self.sha.finalize());
        if digest != m.sha256.to_ascii_lowercase() {
            return Err(ReleaseError::WrongBundle(format!(
                "SHA-256 {digest}, its manifest says {}",
                m.sha256
            )));
        }
        Ok(())
    }
}

impl<R: std::io::Read> std::io::Read for Verifying<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.len += n as u64;
        if self.len > self.manifest.size {
            return Err(std::io::Error::other(TooLong(self.manifest.size)));
        }
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

/// A signing key (PKCS#8), as `fleetctl` keeps it for the release manager.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SigningKey").field(&self.id()).finish()
    }
}

impl SigningKey {
    /// A fresh key and its PKCS#8 document (keep that secret).
    pub fn generate() -> Result<(SigningKey, Vec<u8>), ReleaseError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| ReleaseError::Malformed("no random source".into()))?;
        let bytes = doc.as_ref().to_vec();
        Ok((SigningKey::from_pkcs8(&bytes)?, bytes))
    }

    /// The key of a PKCS#8 document.
    pub fn from_pkcs8(doc: &[u8]) -> Result<SigningKey, ReleaseError> {
        Ed25519KeyPair::from_pkcs8(doc)
            .map(SigningKey)
            .map_err(|_| ReleaseError::Malformed("not an ed25519 PKCS#8 key".into()))
    }

    /// Its public key, hex.
    pub fn public_hex(&self) -> String {
        crate::hex(self.0.public_key().as_ref())
    }

    /// Its id.
    pub fn id(&self) -> String {
        key_id(self.0.public_key().as_ref())
    }

    /// Signs a manifest.
    pub fn sign(&self, m: &Manifest) -> Result<SignedManifest, ReleaseError> {
        let manifest =
            serde_json::to_string(m).map_err(|e| ReleaseError::Malformed(e.to_string()))?;
        Ok(SignedManifest {
            signature: crate::hex(self.0.sign(manifest.as_bytes()).as_ref()),
            key_id: self.id(),
            manifest,
        })
    }

    /// Withdraws the key with id `key_id` (this one or another).
    pub fn revoke(&self, key_id: &str) -> KeyRevocation {
        KeyRevocation {
            key_id: key_id.trim().to_ascii_lowercase(),
            signed_by: self.id(),
            signature: crate::hex(self.0.sign(revocation_message(key_id).as_bytes()).as_ref()),
        }
    }

    /// Signs a rollback.
    pub fn sign_rollback(&self, r: &Rollback) -> Result<SignedRollback, ReleaseError> {
        let rollback =
            serde_json::to_string(r).map_err(|e| ReleaseError::Malformed(e.to_string()))?;
        Ok(SignedRollback {
            signature: crate::hex(self.0.sign(rollback_message(&rollback).as_bytes()).as_ref()),
            key_id: self.id(),
            rollback,
        })
    }

    /// Vouches for a new public key (hex).
    pub fn endorse(&self, new_key_hex: &str) -> KeyEndorsement {
        KeyEndorsement {
            key: new_key_hex.trim().to_ascii_lowercase(),
            signed_by: self.id(),
            signature: crate::hex(
                self.0
                    .sign(endorsement_message(new_key_hex).as_bytes())
                    .as_ref(),
            ),
        }
    }
}

/// The manifest of `bundle` (read whole, hashed).
pub fn manifest_of(
    bundle: &mut impl std::io::Read,
    version: &str,
    compatible: &[String],
    created_at: UnixMillis,
) -> std::io::Result<Manifest> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = bundle.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok(Manifest {
        version: version.to_owned(),
        compatible: compatible.to_vec(),
        size,
        sha256: crate::hex(&h.finalize()),
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &SigningKey, bundle: &[u8]) -> SignedManifest {
        let m = manifest_of(
            &mut &bundle[..],
            "1.4.0",
            &["okenko-x86_64".into()],
            1_800_000_000_000,
        )
        .unwrap();
        key.sign(&m).unwrap()
    }

    #[test]
    fn versions_order_as_people_expect() {
        use std::cmp::Ordering::*;
        for (a, b, o) in [
            ("1.0.0", "1.1.0", Less),
            ("1.10.0", "1.9.3", Greater),
            ("2.0", "2.0.0", Equal),
            ("2.0.0.1", "2.0", Greater),
            ("1.1.0-rc1", "1.1.0", Less),
            ("1.1.0-rc.2", "1.1.0-rc.10", Less),
            ("1.1.0+build7", "1.1.0", Equal),
            ("1.0.0", "1.0.0", Equal),
        ] {
            assert_eq!(compare_versions(a, b), o, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn a_revoked_key_signs_nothing_and_is_never_trusted_again() {
        let (old, _) = SigningKey::generate().unwrap();
        let (new, _) = SigningKey::generate().unwrap();
        let mut ring = Keyring::default();
        ring.add(&old.public_hex()).unwrap();
        ring.add(&new.public_hex()).unwrap();
        let s = signed(&old, b"bundle");
        assert!(ring.verify(&s, "okenko-x86_64").is_ok());
        // A revocation by an unknown key is refused.
        let (stranger, _) = SigningKey::generate().unwrap();
        assert!(ring.revoke(&stranger.revoke(&old.id())).is_err());
        // The new key revokes the old one (leaked).
        assert_eq!(ring.revoke(&new.revoke(&old.id())).unwrap(), old.id());
        assert_eq!(
            ring.verify(&s, "okenko-x86_64").unwrap_err(),
            ReleaseError::Revoked(old.id())
        );
        // Not even an endorsement brings it back.
        let e = new.endorse(&old.public_hex());
        assert_eq!(
            ring.endorse(&e).unwrap_err(),
            ReleaseError::Revoked(old.id())
        );
        assert!(ring.add(&old.public_hex()).is_err());
        assert_eq!(ring.revoked(), [old.id()]);
    }

    #[test]
    fn a_signed_rollback_verifies_and_a_forged_one_does_not() {
        let (key, _) = SigningKey::generate().unwrap();
        let mut ring = Keyring::default();
        ring.add(&key.public_hex()).unwrap();
        let r = Rollback {
            from: "1.1.0".into(),
            to: vec!["1.0.0".into()],
            created_at: 1,
        };
        let signed = key.sign_rollback(&r).unwrap();
        assert_eq!(ring.verify_rollback(&signed).unwrap(), r);
        let mut forged = signed.clone();
        forged.rollback = forged.rollback.replace("1.0.0", "0.9.0");
        assert_eq!(
            ring.verify_rollback(&forged).unwrap_err(),
            ReleaseError::BadSignature
        );
        // A manifest's signature is no rollback's (the messages differ).
        let m = signed_manifest_as_rollback(&key);
        assert!(ring.verify_rollback(&m).is_err());
    }

    fn signed_manifest_as_rollback(key: &SigningKey) -> SignedRollback {
        let s = signed(key, b"x");
        SignedRollback {
            rollback: s.manifest,
            key_id: s.key_id,
            signature: s.signature,
        }
    }

    #[test]
    fn a_good_release_verifies_and_every_fault_is_refused() {
        let (key, _) = SigningKey::generate().unwrap();
        let mut ring = Keyring::default();
        ring.add(&key.public_hex()).unwrap();
        let bundle = b"the bundle's bytes".repeat(1000);
        let s = signed(&key, &bundle);
        let m = ring.verify(&s, "okenko-x86_64").unwrap();
        assert_eq!(m.version, "1.4.0");
        check_bundle(&m, &mut &bundle[..]).unwrap();

        // A corrupted, a truncated and a longer bundle.
        let mut bad = bundle.clone();
        bad[500] ^= 1;
        assert!(
            matches!(check_bundle(&m, &mut &bad[..]), Err(ReleaseError::WrongBundle(e)) if e.contains("SHA-256"))
        );
        assert!(
            matches!(check_bundle(&m, &mut &bundle[..100]), Err(ReleaseError::WrongBundle(e)) if e.contains("100 bytes"))
        );
        let mut long = bundle.clone();
        long.push(0);
        assert!(check_bundle(&m, &mut &long[..]).is_err());
        // A changed manifest, a bad signature, an unknown key, other hardware.
        let mut t = s.clone();
        t.manifest = t.manifest.replace("1.4.0", "1.4.1");
        assert_eq!(
            ring.verify(&t, "okenko-x86_64"),
            Err(ReleaseError::BadSignature)
        );
        let mut t = s.clone();
        let first = if t.signature.starts_with('0') {
            "1"
        } else {
            "0"
        };
        t.signature.replace_range(0..1, first);
        assert_eq!(
            ring.verify(&t, "okenko-x86_64"),
            Err(ReleaseError::BadSignature)
        );
        let (other, _) = SigningKey::generate().unwrap();
        assert!(matches!(
            ring.verify(&signed(&other, &bundle), "okenko-x86_64"),
            Err(ReleaseError::UnknownKey(_))
        ));
        assert!(matches!(
            ring.verify(&s, "okenko-arm64"),
            Err(ReleaseError::Incompatible { .. })
        ));
        let mut t = s.clone();
        t.signature = "zz".into();
        assert!(matches!(
            ring.verify(&t, "okenko-x86_64"),
            Err(ReleaseError::Malformed(_))
        ));
    }

    #[test]
    fn keys_rotate_through_endorsements() {
        let (old, _) = SigningKey::generate().unwrap();
        let (new, doc) = SigningKey::generate().unwrap();
        let mut ring = Keyring::parse(&format!("# release keys\n{}\n", old.public_hex())).unwrap();
        let bundle = b"v2";
        assert!(matches!(
            ring.verify(&signed(&new, bundle), "okenko-x86_64"),
            Err(ReleaseError::UnknownKey(_))
        ));
        // Vouched for by the old key: trusted from then on.
        let e = old.endorse(&new.public_hex());
        assert_eq!(ring.endorse(&e).unwrap(), new.id());
        ring.verify(&signed(&new, bundle), "okenko-x86_64").unwrap();
        assert_eq!(SigningKey::from_pkcs8(&doc).unwrap().id(), new.id());
        // An endorsement by an unknown key, or tampered with, is refused.
        let (stranger, _) = SigningKey::generate().unwrap();
        let mut fresh = Keyring::parse(&old.public_hex()).unwrap();
        let (third, _) = SigningKey::generate().unwrap();
        assert!(matches!(
            fresh.endorse(&stranger.endorse(&third.public_hex())),
            Err(ReleaseError::UnknownKey(_))
        ));
        let mut forged = old.endorse(&third.public_hex());
        forged.key = stranger.public_hex();
        assert_eq!(fresh.endorse(&forged), Err(ReleaseError::BadSignature));
        assert_eq!(fresh.ids(), vec![old.id()]);
        // The keyring file round-trips.
        assert_eq!(Keyring::parse(&ring.to_text()).unwrap(), ring);
        assert!(Keyring::parse("abcd").is_err());
    }
}
