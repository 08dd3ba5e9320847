//! Reading a program's TOML configuration: the file, then serde (unknown keys refused, the
//! parser's message naming the key), then the program's own checks ([`Validate`]). One error
//! type for all of it, naming the file or the key.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a key of the wrong type or an unknown key.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the key and line.
        message: String,
    },
    /// A key has a value that parses but cannot be used.
    #[error("config key `{key}`: {problem}")]
    Invalid {
        /// The key, dotted (`fleet.url`).
        key: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// A configuration's own checks, after it parsed.
pub trait Validate {
    /// Refuses a value that parses but cannot be used, naming its key.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// Reads and validates the file at `path`.
pub fn from_file<C: DeserializeOwned + Validate>(path: &Path) -> Result<C, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    from_toml(&text).map_err(|e| match e {
        ConfigError::Parse { message, .. } => ConfigError::Parse {
            path: path.to_owned(),
            message,
        },
        other => other,
    })
}

/// Parses and validates TOML text.
pub fn from_toml<C: DeserializeOwned + Validate>(text: &str) -> Result<C, ConfigError> {
    let config: C = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: PathBuf::new(),
        message: e.to_string(),
    })?;
    config.validate()?;
    Ok(config)
}
