//! Credentials: hashing and constant-time comparison of secrets, `Bearer` parsing.
//!
//! Kiosk credentials, bootstrap tokens and API tokens are 160+ random bits, so a SHA-256 hash is
//! enough to make a stolen database useless (no dictionary to run). Staff passwords are another
//! matter: argon2id, in [`crate::staff`].

/// Hex SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> String {
    protocol::sha256_hex(secret)
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    protocol::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&axum::http::HeaderValue>) -> Option<&str> {
    let v = header?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// HMAC-SHA256 of `msg` under `key`, hex, cut to 128 bits: a tag the server checks on what it
/// sent through a browser (a redirect's message).
pub fn mac(key: &str, msg: &str) -> String {
    use hmac::Mac;
    let Ok(mut m) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    m.update(msg.as_bytes());
    m.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh random secret (`bytes` bytes, Crockford base32).
pub fn fresh_secret(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS random source is available on Linux");
    protocol::tracking::crockford(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let h = |s: &'static str| axum::http::HeaderValue::from_static(s);
        assert_eq!(bearer(Some(&h("Bearer abc"))), Some("abc"));
        assert_eq!(bearer(Some(&h("bearer  abc "))), Some("abc"));
        assert_eq!(bearer(Some(&h("Basic abc"))), None);
        assert_eq!(bearer(Some(&h("Bearer "))), None);
        assert_eq!(bearer(None), None);
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert_eq!(hash_secret("x").len(), 64);
    }
}
