//! Schema migrations, applied in order on open. Each step runs in its own transaction and bumps
//! `PRAGMA user_version`. Never edit a released step: add a new one.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Every schema step; `MIGRATIONS[i]` upgrades version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the outbox, the catalog cache, settings.
    "CREATE TABLE settings (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );
     CREATE TABLE outbox (
         id            TEXT PRIMARY KEY,
         seq           INTEGER NOT NULL UNIQUE,
         tracking_code TEXT NOT NULL UNIQUE,
         service_id    TEXT NOT NULL,
         form_version  INTEGER NOT NULL,
         language      TEXT NOT NULL,
         payload       TEXT,
         payload_hash  TEXT NOT NULL,
         created_at    INTEGER NOT NULL,
         state         TEXT NOT NULL CHECK (state IN ('queued', 'acked', 'rejected')),
         attempts      INTEGER NOT NULL DEFAULT 0,
         last_error    TEXT,
         acked_at      INTEGER
     );
     CREATE INDEX outbox_by_state ON outbox (state, seq);
     CREATE TABLE catalog (
         id         INTEGER PRIMARY KEY CHECK (id = 1),
         version    INTEGER NOT NULL,
         etag       TEXT,
         document   TEXT NOT NULL,
         fetched_at INTEGER NOT NULL
     );
     CREATE TABLE forms (
         service_id TEXT NOT NULL,
         version    INTEGER NOT NULL,
         definition TEXT NOT NULL,
         fetched_at INTEGER NOT NULL,
         PRIMARY KEY (service_id, version)
     );",
    // 2: what the kiosk knows of request states, and heartbeats buffered while offline.
    "CREATE TABLE status_cache (
         tracking_code TEXT PRIMARY KEY,
         service_id    TEXT NOT NULL,
         state         TEXT NOT NULL,
         note          TEXT,
         updated_at    INTEGER NOT NULL,
         known_at      INTEGER NOT NULL
     );
     CREATE TABLE telemetry (
         id         INTEGER PRIMARY KEY AUTOINCREMENT,
         sampled_at INTEGER NOT NULL,
         body       TEXT NOT NULL
     );",
    // 3: the outbox keyed by its sequence (the rowid). A tracking code is a keyed bijection of
    // the sequence, so it needs no index (the store inverts it), and what still waits is found
    // from a bookmark by rowid: a durable submit writes two b-trees instead of five.
    "CREATE TABLE outbox_v3 (
         seq           INTEGER PRIMARY KEY,
         id            TEXT NOT NULL UNIQUE,
         tracking_code TEXT NOT NULL,
         service_id    TEXT NOT NULL,
         form_version  INTEGER NOT NULL,
         language      TEXT NOT NULL,
         payload       TEXT,
         payload_hash  TEXT NOT NULL,
         created_at    INTEGER NOT NULL,
         state         TEXT NOT NULL CHECK (state IN ('queued', 'acked', 'rejected')),
         attempts      INTEGER NOT NULL DEFAULT 0,
         last_error    TEXT,
         acked_at      INTEGER
     );
     INSERT INTO outbox_v3 (seq, id, tracking_code, service_id, form_version, language, payload,
                            payload_hash, created_at, state, attempts, last_error, acked_at)
         SELECT seq, id, tracking_code, service_id, form_version, language, payload,
                payload_hash, created_at, state, attempts, last_error, acked_at FROM outbox;
     DROP TABLE outbox;
     ALTER TABLE outbox_v3 RENAME TO outbox;
     DELETE FROM settings WHERE key = 'next_seq';",
    // 4: "my requests" offline: which codes belong to a card (its keyed hash, never the card).
    "CREATE TABLE card_requests (
         identity      TEXT NOT NULL,
         tracking_code TEXT NOT NULL,
         known_at      INTEGER NOT NULL,
         PRIMARY KEY (identity, tracking_code)
     ) WITHOUT ROWID;",
    // 5: remote commands already run, so a command delivered again is not run twice.
    "CREATE TABLE commands_done (
         id      INTEGER PRIMARY KEY,
         ok      INTEGER NOT NULL,
         output  TEXT NOT NULL,
         posted  INTEGER NOT NULL DEFAULT 0,
         done_at INTEGER NOT NULL
     );",
];

/// The schema version this agent writes.
pub fn current() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies the steps `conn` lacks.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if found > current() {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: current(),
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(step).map_err(err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(version = i + 1, db = %path.display(), "migrated agent database");
    }
    Ok(())
}

/// Applies only the first `n` steps: for tests that build an old database.
pub fn migrate_to(conn: &mut Connection, n: usize) -> rusqlite::Result<()> {
    for (i, step) in MIGRATIONS.iter().enumerate().take(n) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
