//! Logging set-up: `tracing` to stderr (journald picks it up), filtered by `RUST_LOG` or the
//! configured filter.
//!
//! What may be logged: ids, tracking codes, service ids, counts, states, errors. What must never
//! be logged: form values, card data, credentials. Types that carry secrets hide them in `Debug`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call is ignored.
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
