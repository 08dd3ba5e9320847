//! Random bytes from the OS, for keys, credentials and jitter.

/// Fills `buf` from the OS generator.
///
/// # Panics
/// When the OS has no random source, which a Linux kiosk always has; continuing with a
/// predictable key would be worse than stopping.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the OS random source is available on Linux");
}

/// A random secret of `bytes` bytes in Crockford base32 (lower-case-free, URL- and header-safe).
pub fn secret(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    fill(&mut b);
    protocol::tracking::crockford(&b)
}

/// A random duration in `[0, max]` (full jitter).
pub fn jitter(max: std::time::Duration) -> std::time::Duration {
    let mut b = [0u8; 8];
    fill(&mut b);
    let frac = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(frac)
}
