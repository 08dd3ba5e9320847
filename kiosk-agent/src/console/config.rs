//! `[console]`: the serial console's section of the agent's configuration, owned here;
//! [`crate::config::Config`] composes it.

use std::path::PathBuf;

use serde::Deserialize;

/// `[console]`: the technician's serial console (see [`crate::console`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSection {
    /// The serial port (any tty or pty). Default `/dev/ttyS0`.
    pub path: PathBuf,
    /// Its speed (8N1). Default 115200.
    pub baud: u32,
    /// A static PIN accepted besides the one-time codes, for labs (6-32 digits). Default none.
    pub pin: Option<String>,
    /// A session with no input this long ends. Default 600.
    pub idle_timeout_s: u64,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        ConsoleSection {
            path: PathBuf::from("/dev/ttyS0"),
            baud: 115_200,
            pin: None,
            idle_timeout_s: 600,
        }
    }
}
