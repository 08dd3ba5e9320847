//! Length-delimited framing for the local socket: a 4-byte big-endian length, then that many
//! bytes of UTF-8 JSON. Pure functions; the reading and writing is the caller's.

/// The default largest frame, in bytes. A submission with every field at its longest fits.
pub const DEFAULT_MAX_FRAME: u32 = 1024 * 1024;

/// Bytes of the length header.
pub const HEADER_LEN: usize = 4;

/// Why a frame header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The announced length is over the limit; the connection cannot be resynchronised.
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// Announced length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A zero-length frame.
    #[error("empty frame")]
    Empty,
}

/// Reads the payload length from a header, enforcing `max`.
pub fn payload_len(header: [u8; HEADER_LEN], max: u32) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len as usize)
}

/// A whole frame (header and payload) for `payload`.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_limits() {
        let f = encode(b"{}");
        assert_eq!(payload_len(f[..4].try_into().unwrap(), 10), Ok(2));
        assert_eq!(payload_len([0, 0, 0, 0], 10), Err(FrameError::Empty));
        assert_eq!(
            payload_len([0xff, 0xff, 0xff, 0xff], 10),
            Err(FrameError::TooLarge {
                len: u32::MAX,
                max: 10
            })
        );
    }
}
