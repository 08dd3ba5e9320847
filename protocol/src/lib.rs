//! The wire contract of Okénko, defined once for every process.
//!
//! - [`app`]: requests and replies between `kiosk-app` and `kiosk-agent` on the local socket.
//! - [`fleet`]: the HTTP API between `kiosk-agent` and `fleet-server`.
//! - [`form`]: the form-definition model that staff publish and the app renders.
//! - [`validate`]: the one validator for filled forms, used by the agent and the app alike.
//! - [`tracking`]: the tracking-code format (Crockford base32 with a check character).
//! - [`frame`] and [`json`]: length-delimited framing and size-limited decoding.
//! - [`time`]: civil time in Czechia for what citizens read; [`i18n`]: languages and
//!   translated text.
//! - [`release`]: signed release manifests, keyrings and bundle checks.
//! - [`totp`]: the technician's one-time codes for the serial console.
//! - [`config`]: reading a program's TOML configuration; [`cli`]: what every `main` does with
//!   its result.
//!
//! This crate does no I/O and holds no state: it is serde types and pure functions, so every
//! process can depend on it without pulling in a runtime.

pub mod app;
pub mod cli;
pub mod config;
pub mod fleet;
pub mod form;
pub mod frame;
pub mod i18n;
pub mod json;
pub mod release;
pub mod time;
pub mod totp;
pub mod tracking;
pub mod validate;

pub use i18n::{Lang, Text};

/// Milliseconds since the Unix epoch, UTC. Every timestamp on the wire uses this.
pub type UnixMillis = i64;

/// Hex SHA-256: of a secret, how the fleet stores a kiosk's credential and what the kiosk's
/// console code is derived from ([`totp::secret`]); of a manifest or bundle, its identity.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data.as_ref()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lower-case hex of `bytes` (digests in stores and headers).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(super::hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
