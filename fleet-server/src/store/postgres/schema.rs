//! The PostgreSQL schema: migrations in order, each applied once and counted in
//! `schema_version` (a database migrated by a newer server is refused). Instances that start
//! together take turns (an advisory lock), so a migration runs once.
//!
//! The first migration is the SQLite schema as it stands after its 15 steps, in PostgreSQL's
//! types (times are `BIGINT` milliseconds, documents `TEXT` holding JSON, bitmaps `BYTEA`), and
//! with what several instances need: a claim on each delivery (`claimed_until`) and the leases
//! of jobs that run on one instance at a time. Later changes add steps to both schemas.

use super::pool::Conn;
use super::{StoreError, get};

/// The advisory lock the migrations hold (any number; this one reads "okenko").
const MIGRATION_LOCK: i64 = 0x6f6b_656e_6b6f;

pub(super) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE kiosks (
         kiosk_id        TEXT PRIMARY KEY,
         number          BIGINT NOT NULL DEFAULT 0,
         name            TEXT NOT NULL,
         grp             TEXT NOT NULL,
         credential_hash TEXT,
         enrolled_at     BIGINT,
         last_seen       BIGINT,
         agent_version   TEXT,
         outbox_len      BIGINT,
         last_heartbeat  TEXT,
         clock_skew_ms   BIGINT
     );
     CREATE TABLE bootstrap_tokens (
         token_hash TEXT PRIMARY KEY,
         kiosk_id   TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         expires_at BIGINT NOT NULL,
         used_by    TEXT,
         used_at    BIGINT
     );
     CREATE TABLE submissions (
         id            TEXT PRIMARY KEY,
         tracking_code TEXT NOT NULL UNIQUE,
         kiosk_id      TEXT NOT NULL,
         service_id    TEXT NOT NULL,
         form_version  BIGINT NOT NULL,
         language      TEXT NOT NULL,
         body          TEXT NOT NULL,
         created_at    BIGINT NOT NULL,
         received_at   BIGINT NOT NULL,
         identity      TEXT,
         purged        BOOLEAN NOT NULL DEFAULT FALSE
     );
     CREATE INDEX submissions_by_kiosk ON submissions (kiosk_id, received_at);
     CREATE INDEX submissions_by_identity ON submissions (identity, received_at)
         WHERE identity IS NOT NULL;
     CREATE INDEX submissions_by_time ON submissions (received_at);
     CREATE TABLE statuses (
         tracking_code TEXT PRIMARY KEY,
         service_id    TEXT NOT NULL,
         state         TEXT NOT NULL,
         note          TEXT,
         updated_at    BIGINT NOT NULL
     );
     CREATE TABLE deliveries (
         submission_id   TEXT PRIMARY KEY,
         next_attempt_at BIGINT NOT NULL,
         attempts        BIGINT NOT NULL DEFAULT 0,
         last_error      TEXT,
         delivered_at    BIGINT,
         claimed_by      TEXT,
         claimed_until   BIGINT NOT NULL DEFAULT 0
     );
     CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE delivered_at IS NULL;
     CREATE INDEX deliveries_done ON deliveries (delivered_at) WHERE delivered_at IS NOT NULL;
     CREATE TABLE catalogs (
         version      BIGINT PRIMARY KEY,
         document     TEXT NOT NULL,
         published_at BIGINT NOT NULL
     );
     CREATE TABLE forms (
         service_id TEXT NOT NULL,
         version    BIGINT NOT NULL,
         definition TEXT NOT NULL,
         PRIMARY KEY (service_id, version)
     );
     CREATE TABLE alerts (
         id          BIGSERIAL PRIMARY KEY,
         kiosk_id    TEXT NOT NULL,
         kind        TEXT NOT NULL,
         detail      TEXT NOT NULL,
         opened_at   BIGINT NOT NULL,
         acked_at    BIGINT,
         acked_by    TEXT,
         ack_comment TEXT,
         resolved_at BIGINT
     );
     CREATE UNIQUE INDEX alerts_open ON alerts (kiosk_id, kind) WHERE resolved_at IS NULL;
     CREATE INDEX alerts_by_time ON alerts (opened_at);
     CREATE INDEX alerts_by_kiosk ON alerts (kiosk_id, opened_at);
     CREATE TABLE commands (
         id           BIGSERIAL PRIMARY KEY,
         kiosk_id     TEXT NOT NULL,
         action       TEXT NOT NULL,
         issued_by    TEXT NOT NULL,
         issued_at    BIGINT NOT NULL,
         delivered_at BIGINT,
         finished_at  BIGINT,
         ok           BOOLEAN,
         output       TEXT
     );
     CREATE INDEX commands_by_kiosk ON commands (kiosk_id, id);
     CREATE INDEX commands_pending ON commands (kiosk_id) WHERE finished_at IS NULL;
     CREATE TABLE uptime (
         kiosk_id TEXT NOT NULL,
         day      TEXT NOT NULL,
         minutes  BYTEA NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     );
     CREATE TABLE uptime_late (
         kiosk_id TEXT NOT NULL,
         day      TEXT NOT NULL,
         minutes  BYTEA NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     );
     CREATE TABLE health_hourly (
         kiosk_id        TEXT NOT NULL,
         hour            BIGINT NOT NULL,
         samples         BIGINT NOT NULL,
         temperature_max DOUBLE PRECISION,
         disk_used_max   DOUBLE PRECISION,
         outbox_max      BIGINT NOT NULL,
         PRIMARY KEY (kiosk_id, hour)
     );
     CREATE TABLE health_daily (
         kiosk_id        TEXT NOT NULL,
         day             BIGINT NOT NULL,
         samples         BIGINT NOT NULL,
         temperature_max DOUBLE PRECISION,
         disk_used_max   DOUBLE PRECISION,
         outbox_max      BIGINT NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     );
     CREATE TABLE audit (
         id     BIGSERIAL PRIMARY KEY,
         at     BIGINT NOT NULL,
         actor  TEXT NOT NULL,
         action TEXT NOT NULL,
         target TEXT NOT NULL,
         detail TEXT NOT NULL
     );
     CREATE TABLE staff (
         username      TEXT PRIMARY KEY,
         role          TEXT NOT NULL,
         password_hash TEXT NOT NULL,
         created_at    BIGINT NOT NULL,
         disabled      BOOLEAN NOT NULL DEFAULT FALSE,
         failed_logins BIGINT NOT NULL DEFAULT 0,
         locked_until  BIGINT,
         last_login    BIGINT
     );
     CREATE TABLE staff_sessions (
         id_hash    TEXT PRIMARY KEY,
         username   TEXT NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
         csrf       TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         last_seen  BIGINT NOT NULL
     );
     CREATE INDEX staff_sessions_by_user ON staff_sessions (username);
     CREATE TABLE releases (version TEXT PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE rollouts (id BIGINT PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE kiosk_updates (kiosk_id TEXT PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE login_failures (
         username     TEXT NOT NULL,
         source       TEXT NOT NULL,
         failures     BIGINT NOT NULL,
         locked_until BIGINT,
         updated_at   BIGINT NOT NULL,
         PRIMARY KEY (username, source)
     );
     CREATE INDEX login_failures_by_age ON login_failures (updated_at);
     CREATE TABLE leases (
         name   TEXT PRIMARY KEY,
         holder TEXT NOT NULL,
         until  BIGINT NOT NULL
     );",
    // 2: notices to citizens (their address kept apart, sealed) and requests' history.
    "CREATE TABLE request_contacts (
         tracking_code TEXT PRIMARY KEY,
         channel       TEXT NOT NULL,
         sealed        TEXT NOT NULL,
         address_key   TEXT NOT NULL,
         masked        TEXT NOT NULL,
         language      TEXT NOT NULL,
         created_at    BIGINT NOT NULL
     );
     CREATE INDEX request_contacts_by_age ON request_contacts (created_at);
     CREATE TABLE request_events (
         id            BIGSERIAL PRIMARY KEY,
         tracking_code TEXT NOT NULL,
         at            BIGINT NOT NULL,
         state         TEXT,
         actor         TEXT NOT NULL,
         text          TEXT
     );
     CREATE INDEX request_events_by_code ON request_events (tracking_code, id);
     CREATE TABLE notices (
         id              BIGSERIAL PRIMARY KEY,
         tracking_code   TEXT NOT NULL,
         state           TEXT NOT NULL,
         channel         TEXT NOT NULL,
         masked          TEXT NOT NULL,
         address_key     TEXT NOT NULL,
         status          TEXT NOT NULL,
         attempts        BIGINT NOT NULL DEFAULT 0,
         next_attempt_at BIGINT NOT NULL,
         claimed_until   BIGINT NOT NULL DEFAULT 0,
         last_error      TEXT,
         created_at      BIGINT NOT NULL,
         sent_at         BIGINT,
         requested_by    TEXT NOT NULL
     );
     CREATE INDEX notices_due ON notices (next_attempt_at) WHERE status = 'pending';
     CREATE INDEX notices_by_code ON notices (tracking_code, id);
     CREATE INDEX notices_by_address ON notices (address_key, sent_at);",
];

/// The version the database is at (0: empty).
pub(super) fn version(c: &mut Conn) -> Result<i64, StoreError> {
    c.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let row = c.query_opt("SELECT MAX(version) FROM schema_version", &[])?;
    Ok(row
        .map(|r| get::<Option<i64>>(&r, 0))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// Applies the migrations the database lacks, one instance at a time.
pub(super) fn migrate(c: &mut Conn) -> Result<(), StoreError> {
    c.tx(|c| {
        c.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let found = version(c)?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::Db(format!(
                "the database has schema version {found}; this server knows up to {known}"
            )));
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            c.batch(step)?;
            c.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(i as i64 + 1)],
            )?;
        }
        Ok(())
    })
}
