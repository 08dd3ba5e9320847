//! The availability bitmap: one bit per minute of a Czech local day, 1,440 bits in 180
//! bytes, set when a heartbeat arrived in that minute. The store keeps one per kiosk and day;
//! [`crate::sla`] reads them into reports.

use protocol::UnixMillis;

/// Bytes of one day's bitmap.
pub const DAY_BYTES: usize = 180;

/// A local day, `YYYY-MM-DD`, and the minute of that day, of a timestamp.
pub fn day_minute(ms: UnixMillis) -> (String, usize) {
    let c = protocol::time::czech(ms);
    (
        format!("{:04}-{:02}-{:02}", c.year, c.month, c.day),
        (c.hour * 60 + c.minute) as usize,
    )
}

/// Sets minute `m`'s bit.
pub fn mark(bits: &mut Vec<u8>, m: usize) {
    bits.resize(DAY_BYTES, 0);
    if let Some(b) = bits.get_mut(m / 8) {
        *b |= 1 << (m % 8);
    }
}

/// Whether minute `m`'s bit is set.
pub fn is_set(bits: &[u8], m: usize) -> bool {
    bits.get(m / 8).is_some_and(|b| b & (1 << (m % 8)) != 0)
}
