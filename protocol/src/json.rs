//! Decoding JSON from the outside with a size limit and errors a person can act on.
//!
//! serde_json already refuses nesting deeper than 128 levels; this adds a size limit checked
//! before parsing and a protocol-version check that runs before the body is interpreted, so an
//! unknown version is reported as such and not as a confusing type error.

use serde::de::DeserializeOwned;

/// Why a JSON document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Over the size limit.
    #[error("document of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, or not the expected shape.
    #[error("malformed document: {0}")]
    Malformed(String),
    /// A protocol version this side does not speak.
    #[error("protocol version {got} is not supported (this side speaks {supported})")]
    UnsupportedVersion {
        /// The version the peer announced.
        got: u64,
        /// The version this side speaks.
        supported: u32,
    },
}

/// Decodes `bytes` as `T`, refusing documents over `max` bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[derive(serde::Deserialize)]
struct VersionProbe {
    v: Option<serde_json::Value>,
}

/// Decodes a versioned envelope: checks its `v` field against `supported` first.
pub fn decode_versioned<T: DeserializeOwned>(
    bytes: &[u8],
    max: usize,
    supported: u32,
) -> Result<T, DecodeError> {
    let probe: VersionProbe = decode(bytes, max)?;
    match probe.v {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(supported)) => {}
        Some(serde_json::Value::Number(n)) => {
            return Err(DecodeError::UnsupportedVersion {
                got: n.as_u64().unwrap_or(0),
                supported,
            });
        }
        Some(_) => return Err(DecodeError::Malformed("field `v` must be a number".into())),
        None => {
            return Err(DecodeError::Malformed(
                "missing field `v` (protocol version)".into(),
            ));
        }
    }
    decode(bytes, max)
}
