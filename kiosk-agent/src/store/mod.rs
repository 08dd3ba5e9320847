//! The agent's SQLite store: outbox, catalog cache, status cache, telemetry buffer, settings.
//!
//! One database file in the data directory, WAL journal, `synchronous=FULL` (every commit is
//! fsynced before it returns, so an acknowledged submission survives a power cut) and
//! `secure_delete=ON` (personal data deleted after the fleet's ack is overwritten, not left in
//! free pages). The schema is versioned by `PRAGMA user_version` and migrated forward on open
//! ([`migrations`]); a database from a newer agent is refused rather than misread.
//!
//! This module must never log a submission's values.

mod catalog;
mod commands;
mod handle;
pub mod migrations;
mod outbox;
mod settings;
mod status;
mod telemetry;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use handle::Shared;
pub use outbox::{NewSubmission, OutboxEntry, OutboxStats, QueuedSubmission, StoredAck};
pub use settings::Identity;
pub use status::CachedStatus;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database {path}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database was written by a newer agent.
    #[error("database {path} has schema version {found}; this agent knows up to {known}")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this agent knows.
        known: i64,
    },
    /// A stored document could not be read back (corruption or a bug).
    #[error("stored {what} is unreadable: {message}")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The submission id was already used for a different submission.
    #[error("submission id {0} was already used for a different submission")]
    Conflict(uuid::Uuid),
    /// The kiosk has no kiosk number yet (not enrolled).
    #[error("the kiosk is not enrolled yet")]
    NotEnrolled,
    /// The kiosk has issued every tracking code its number allows.
    #[error("tracking-code sequence exhausted")]
    SequenceExhausted,
}

/// The open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Kiosk number and code key, cached after the first submission.
    issuer: Option<(u32, u64)>,
    /// No queued row has a lower sequence than this (rows only leave the queue, and new rows get
    /// higher sequences), so the queue is read by rowid from here; `None` until first needed.
    queued_from: Option<i64>,
    /// Parsed form definitions by (service, version); published versions never change.
    forms: std::collections::HashMap<(String, u32), std::sync::Arc<protocol::form::Service>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            issuer: None,
            queued_from: None,
            forms: Default::default(),
        };
        store.configure()?;
        migrations::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    fn configure(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA secure_delete = ON;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(|e| self.err(e))
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub use protocol::time::now_ms;
