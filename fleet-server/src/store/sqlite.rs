//! The embedded SQLite store: one file, WAL, `synchronous=FULL` (an ack sent to a kiosk means
//! the submission is on disk: the kiosk deletes its copy on that ack).
//!
//! Heartbeats: what the SLA is computed from, the minute a kiosk was seen in, is committed (and
//! flushed, `Store::sync`) before the heartbeat is answered. The rest is written behind, within
//! a minute, in the same commits: each kiosk's newest heartbeat (its row's `last_heartbeat`,
//! `last_seen`, version, outbox) and its hourly health aggregate. Until then every read of a
//! kiosk shows the newest heartbeat from memory, so nothing reads stale state. A crash of the
//! server loses at most that minute of health history; a kiosk's newest state comes back with
//! its next heartbeat. A stop writes everything.

use std::path::Path;
use std::sync::Mutex;

use protocol::fleet::{
    AgendaDelivery, Catalog, Command, CommandAction, CommandResult, Heartbeat, ItemAck,
    ItemOutcome, RequestState, StatusRecord, SubmissionUpload,
};
use protocol::form::Service;
use protocol::{Text, UnixMillis};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use std::collections::HashMap;

use super::{
    Alert, AlertEvent, AuditEntry, CommandRecord, Enrolment, HealthPoint, KioskRecord, LoginLimits,
    StaffSession, StaffUser, Store, StoreError, SubmissionMeta, UserChange,
};
use crate::alerts::kind::AlertKind;

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE kiosks (
         kiosk_id        TEXT PRIMARY KEY,
         number          INTEGER NOT NULL DEFAULT 0,
         name            TEXT NOT NULL,
         grp             TEXT NOT NULL,
         credential_hash TEXT,
         enrolled_at     INTEGER,
         last_seen       INTEGER,
         agent_version   TEXT,
         outbox_len      INTEGER
     );
     CREATE TABLE bootstrap_tokens (
         token_hash TEXT PRIMARY KEY,
         kiosk_id   TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         expires_at INTEGER NOT NULL,
         used_by    TEXT,
         used_at    INTEGER
     );
     CREATE TABLE submissions (
         id            TEXT PRIMARY KEY,
         tracking_code TEXT NOT NULL UNIQUE,
         kiosk_id      TEXT NOT NULL,
         service_id    TEXT NOT NULL,
         form_version  INTEGER NOT NULL,
         language      TEXT NOT NULL,
         body          TEXT NOT NULL,
         created_at    INTEGER NOT NULL,
         received_at   INTEGER NOT NULL
     );
     CREATE INDEX submissions_by_kiosk ON submissions (kiosk_id, received_at);
     CREATE TABLE statuses (
         tracking_code TEXT PRIMARY KEY,
         service_id    TEXT NOT NULL,
         state         TEXT NOT NULL,
         note          TEXT,
         updated_at    INTEGER NOT NULL
     );
     CREATE TABLE deliveries (
         submission_id   TEXT PRIMARY KEY,
         next_attempt_at INTEGER NOT NULL,
         attempts        INTEGER NOT NULL DEFAULT 0,
         last_error      TEXT,
         delivered_at    INTEGER
     );
     CREATE INDEX deliveries_due ON deliveries (delivered_at, next_attempt_at);
     CREATE TABLE catalogs (
         version      INTEGER PRIMARY KEY,
         document     TEXT NOT NULL,
         published_at INTEGER NOT NULL
     );
     CREATE TABLE forms (
         service_id TEXT NOT NULL,
         version    INTEGER NOT NULL,
         definition TEXT NOT NULL,
         PRIMARY KEY (service_id, version)
     );
     CREATE TABLE heartbeats (
         kiosk_id    TEXT NOT NULL,
         sampled_at  INTEGER NOT NULL,
         received_at INTEGER NOT NULL,
         body        TEXT NOT NULL
     );
     CREATE INDEX heartbeats_by_kiosk ON heartbeats (kiosk_id, sampled_at);",
    // 2: "my requests": submissions found by the keyed hash of the citizen's card.
    "ALTER TABLE submissions ADD COLUMN identity TEXT;
     UPDATE submissions SET identity = json_extract(body, '$.identity');
     CREATE INDEX submissions_by_identity ON submissions (identity, received_at)
         WHERE identity IS NOT NULL;",
    // 3: each kiosk's newest heartbeat beside it, for metrics and the dashboard (no scan of
    // the history).
    "ALTER TABLE kiosks ADD COLUMN last_heartbeat TEXT;
     UPDATE kiosks SET last_heartbeat = (SELECT body FROM heartbeats h
         WHERE h.kiosk_id = kiosks.kiosk_id ORDER BY sampled_at DESC LIMIT 1);",
    // 4: alerts, and each kiosk's clock skew.
    "CREATE TABLE alerts (
         id          INTEGER PRIMARY KEY,
         kiosk_id    TEXT NOT NULL,
         kind        TEXT NOT NULL,
         detail      TEXT NOT NULL,
         opened_at   INTEGER NOT NULL,
         acked_at    INTEGER,
         acked_by    TEXT,
         ack_comment TEXT,
         resolved_at INTEGER
     );
     CREATE UNIQUE INDEX alerts_open ON alerts (kiosk_id, kind) WHERE resolved_at IS NULL;
     CREATE INDEX alerts_by_time ON alerts (opened_at);
     ALTER TABLE kiosks ADD COLUMN clock_skew_ms INTEGER;",
    // 5: remote commands, delivered in heartbeat replies until their result arrives.
    "CREATE TABLE commands (
         id           INTEGER PRIMARY KEY,
         kiosk_id     TEXT NOT NULL,
         action       TEXT NOT NULL,
         issued_by    TEXT NOT NULL,
         issued_at    INTEGER NOT NULL,
         delivered_at INTEGER,
         finished_at  INTEGER,
         ok           INTEGER,
         output       TEXT
     );
     CREATE INDEX commands_by_kiosk ON commands (kiosk_id, id);",
    // 6: availability bitmaps (a bit per local minute with a heartbeat), and hourly health
    // aggregates that replace raw heartbeats after `history.raw_days`.
    "CREATE TABLE uptime (
         kiosk_id TEXT NOT NULL,
         day      TEXT NOT NULL,
         minutes  BLOB NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     ) WITHOUT ROWID;
     CREATE TABLE health_hourly (
         kiosk_id        TEXT NOT NULL,
         hour            INTEGER NOT NULL,
         samples         INTEGER NOT NULL,
         temperature_max REAL,
         disk_used_max   REAL,
         outbox_max      INTEGER NOT NULL,
         PRIMARY KEY (kiosk_id, hour)
     ) WITHOUT ROWID;",
    // 7: daily aggregates replace hourly ones after 90 days.
    "CREATE TABLE health_daily (
         kiosk_id        TEXT NOT NULL,
         day             INTEGER NOT NULL,
         samples         INTEGER NOT NULL,
         temperature_max REAL,
         disk_used_max   REAL,
         outbox_max      INTEGER NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     ) WITHOUT ROWID;",
    // 8: the audit log: every change staff make, who, what, when.
    "CREATE TABLE audit (
         id     INTEGER PRIMARY KEY,
         at     INTEGER NOT NULL,
         actor  TEXT NOT NULL,
         action TEXT NOT NULL,
         target TEXT NOT NULL,
         detail TEXT NOT NULL
     );",
    // 9: staff accounts and their sessions (only hashes of session tokens are kept).
    "CREATE TABLE staff (
         username      TEXT PRIMARY KEY,
         role          TEXT NOT NULL,
         password_hash TEXT NOT NULL,
         created_at    INTEGER NOT NULL,
         disabled      INTEGER NOT NULL DEFAULT 0,
         failed_logins INTEGER NOT NULL DEFAULT 0,
         locked_until  INTEGER,
         last_login    INTEGER
     );
     CREATE TABLE staff_sessions (
         id_hash    TEXT PRIMARY KEY,
         username   TEXT NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
         csrf       TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         last_seen  INTEGER NOT NULL
     );
     CREATE INDEX staff_sessions_by_user ON staff_sessions (username);",
    // 10: heartbeats are aggregated per hour as they arrive (see `HourlyCache`); the raw
    // history is folded into the hourly aggregates and goes. The newest heartbeat of each
    // kiosk stays beside it.
    "INSERT INTO health_hourly (kiosk_id, hour, samples, temperature_max, disk_used_max,
                                outbox_max)
         SELECT kiosk_id, sampled_at / 3600000, COUNT(*),
                MAX(json_extract(body, '$.system.temperature_c')),
                MAX(1.0 - CAST(json_extract(body, '$.system.disk_free_kb') AS REAL)
                          / json_extract(body, '$.system.disk_total_kb')),
                COALESCE(MAX(json_extract(body, '$.outbox_len')), 0)
         FROM heartbeats GROUP BY kiosk_id, sampled_at / 3600000
         ON CONFLICT (kiosk_id, hour) DO UPDATE SET
             samples = samples + excluded.samples,
             temperature_max = MAX(COALESCE(temperature_max, excluded.temperature_max),
                                   COALESCE(excluded.temperature_max, temperature_max)),
             disk_used_max = MAX(COALESCE(disk_used_max, excluded.disk_used_max),
                                 COALESCE(excluded.disk_used_max, disk_used_max)),
             outbox_max = MAX(outbox_max, excluded.outbox_max);
     DROP TABLE heartbeats;",
    // 11: a kiosk's alerts for its page.
    "CREATE INDEX alerts_by_kiosk ON alerts (kiosk_id, opened_at);",
    // 12: releases, rollouts and each kiosk's update (small tables, kept as JSON documents).
    "CREATE TABLE releases (version TEXT PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE rollouts (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
     CREATE TABLE kiosk_updates (kiosk_id TEXT PRIMARY KEY, body TEXT NOT NULL);",
    // 13: wrong sign-ins counted per name and source (`*`: every source), whether or not the
    // name exists; the counters on `staff` are no longer written.
    "CREATE TABLE login_failures (
         username     TEXT NOT NULL,
         source       TEXT NOT NULL,
         failures     INTEGER NOT NULL,
         locked_until INTEGER,
         updated_at   INTEGER NOT NULL,
         PRIMARY KEY (username, source)
     );
     CREATE INDEX login_failures_by_age ON login_failures (updated_at);",
    // 14: a delivered submission's values leave the server (`purge_delivered`).
    "ALTER TABLE submissions ADD COLUMN purged INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX deliveries_done ON deliveries (delivered_at) WHERE delivered_at IS NOT NULL;",
    // 15: minutes known only from late (buffered) heartbeats, for the availability report.
    "CREATE TABLE uptime_late (
         kiosk_id TEXT NOT NULL,
         day      TEXT NOT NULL,
         minutes  BLOB NOT NULL,
         PRIMARY KEY (kiosk_id, day)
     ) WITHOUT ROWID;",
];

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Today's availability bitmaps as written, so a heartbeat in a minute already marked
    /// writes nothing for it (and none is read back).
    uptime: Mutex<UptimeCache>,
    /// What heartbeats changed that is written behind (see the module docs).
    pending: Mutex<Pending>,
    /// The write-ahead log, for [`Store::sync`] (none for an in-memory database).
    wal: Option<std::path::PathBuf>,
    /// It, opened on the first sync.
    wal_file: Mutex<Option<std::fs::File>>,
}

/// `(kiosk, hour) → aggregate` of heartbeats received since the last flush.
type HourlyCache = HashMap<(String, i64), Hourly>;

/// Written behind: each kiosk's newest heartbeat and the hourly aggregates, since `since`.
#[derive(Debug)]
struct Pending {
    newest: HashMap<String, Newest>,
    hourly: HourlyCache,
    since: std::time::Instant,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            newest: HashMap::new(),
            hourly: HashMap::new(),
            since: std::time::Instant::now(),
        }
    }

    fn is_empty(&self) -> bool {
        self.newest.is_empty() && self.hourly.is_empty()
    }

    /// A kiosk read from its row with its stored heartbeat, brought up to date: the pending
    /// heartbeat where it is newer (the stored one is then not even parsed).
    fn newest_of(
        &self,
        mut k: KioskRecord,
        body: Option<String>,
    ) -> (KioskRecord, Option<Heartbeat>) {
        let pending = self.newest.get(&k.kiosk_id);
        if let Some(n) = pending
            && n.seen >= k.last_seen.unwrap_or(0)
        {
            let mut hb = None;
            n.apply(&mut k, Some(&mut hb));
            return (k, hb);
        }
        // A heartbeat this server cannot read (older format) counts as none.
        let hb = body.and_then(|b| serde_json::from_str(&b).ok());
        if let Some(n) = pending {
            n.apply(&mut k, None);
        }
        (k, hb)
    }
}

/// A kiosk's newest heartbeat, not yet in its row.
#[derive(Debug, Clone)]
struct Newest {
    /// When it was sampled (not after it arrived): the kiosk's `last_seen`.
    seen: UnixMillis,
    hb: Heartbeat,
    /// The newest clock difference measured.
    clock_skew_ms: Option<i64>,
}

impl Newest {
    /// Takes `o` in where it is newer (a replayed old heartbeat only adds its skew).
    fn merge(&mut self, o: &Newest) {
        if o.seen >= self.seen {
            self.seen = o.seen;
            self.hb = o.hb.clone();
        }
        if o.clock_skew_ms.is_some() {
            self.clock_skew_ms = o.clock_skew_ms;
        }
    }

    /// Shows it in a record read from the row (and its heartbeat).
    fn apply(&self, rec: &mut KioskRecord, hb: Option<&mut Option<Heartbeat>>) {
        if self.seen >= rec.last_seen.unwrap_or(0) {
            rec.agent_version = Some(self.hb.agent_version.clone());
            rec.outbox_len = Some(self.hb.outbox_len);
            if let Some(h) = hb {
                *h = Some(self.hb.clone());
            }
            rec.last_seen = Some(self.seen);
        }
        if self.clock_skew_ms.is_some() {
            rec.clock_skew_ms = self.clock_skew_ms;
        }
    }
}

/// Written-behind state is written at most this long after its heartbeat (and when the
/// server stops, and before history is read or pruned).
const WRITE_BEHIND: std::time::Duration = std::time::Duration::from_secs(60);

/// One kiosk's heartbeats in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Hourly {
    samples: u64,
    temperature_max: Option<f64>,
    disk_used_max: Option<f64>,
    outbox_max: u64,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Hourly {
    fn of(hb: &Heartbeat) -> Hourly {
        let system = hb.system.as_ref();
        Hourly {
            samples: 1,
            temperature_max: system.and_then(|s| s.temperature_c).map(f64::from),
            disk_used_max: system.and_then(|s| match (s.disk_total_kb, s.disk_free_kb) {
                (Some(t), Some(f)) if t > 0 => Some(1.0 - f.min(t) as f64 / t as f64),
                _ => None,
            }),
            outbox_max: hb.outbox_len,
        }
    }

    fn add(&mut self, o: &Hourly) {
        self.samples += o.samples;
        self.temperature_max = max_opt(self.temperature_max, o.temperature_max);
        self.disk_used_max = max_opt(self.disk_used_max, o.disk_used_max);
        self.outbox_max = self.outbox_max.max(o.outbox_max);
    }
}

impl Pending {
    fn add(&mut self, newest: &HashMap<String, Newest>, hourly: &HourlyCache) {
        for (k, n) in newest {
            match self.newest.get_mut(k) {
                Some(e) => e.merge(n),
                None => {
                    self.newest.insert(k.clone(), n.clone());
                }
            }
        }
        for (k, h) in hourly {
            self.hourly.entry(k.clone()).or_default().add(h);
        }
    }
}

/// Writes what is pending.
fn write_pending(tx: &Transaction<'_>, p: &Pending) -> Result<(), StoreError> {
    for (kiosk_id, n) in &p.newest {
        write_newest(tx, kiosk_id, n)?;
    }
    write_hourly(tx, &p.hourly)
}

impl SqliteStore {
    /// Writes what is pending now.
    fn flush_pending(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.is_empty() {
            return Ok(());
        }
        let tx = conn.transaction().map_err(db)?;
        write_pending(&tx, &pending)?;
        tx.commit().map_err(db)?;
        *pending = Pending::new();
        Ok(())
    }

    /// Shows the pending newest heartbeat in a record read from its row.
    fn overlay(&self, rec: &mut KioskRecord) {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = pending.newest.get(&rec.kiosk_id) {
            n.apply(rec, None);
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush_pending() {
            tracing::error!(error = %e, "health history of the last minute not written");
        }
    }
}

/// How a health aggregate joins a stored one of the same kiosk and period.
const MERGE_HEALTH: &str = "samples = samples + excluded.samples,
    temperature_max = MAX(COALESCE(temperature_max, excluded.temperature_max),
                          COALESCE(excluded.temperature_max, temperature_max)),
    disk_used_max = MAX(COALESCE(disk_used_max, excluded.disk_used_max),
                        COALESCE(excluded.disk_used_max, disk_used_max)),
    outbox_max = MAX(outbox_max, excluded.outbox_max)";

/// Adds pending aggregates to the stored ones.
fn write_hourly(tx: &Transaction<'_>, pending: &HourlyCache) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO health_hourly (kiosk_id, hour, samples, temperature_max, disk_used_max,
                                    outbox_max)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (kiosk_id, hour) DO UPDATE SET {MERGE_HEALTH}"
    );
    for ((kiosk_id, hour), h) in pending {
        exec_cached(
            tx,
            &sql,
            params![
                kiosk_id,
                hour,
                h.samples as i64,
                h.temperature_max,
                h.disk_used_max,
                h.outbox_max as i64
            ],
        )
        .map_err(db)?;
    }
    Ok(())
}

/// `(kiosk, day) → bitmap`, as in the `uptime` table.
type UptimeCache = HashMap<(String, String), Vec<u8>>;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        message: e.to_string(),
    }
}

fn json<T: serde::Serialize>(what: &'static str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(what, e))
}

impl SqliteStore {
    /// Opens (creating) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON;",
        )
        .map_err(db)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        if found > MIGRATIONS.len() as i64 {
            return Err(StoreError::Db(format!(
                "{} has schema version {found}; this server knows up to {}",
                path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction().map_err(db)?;
            tx.execute_batch(step).map_err(db)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            uptime: Mutex::new(HashMap::new()),
            pending: Mutex::new(Pending::new()),
            wal: (path.as_os_str() != ":memory:").then(|| {
                let mut p = path.as_os_str().to_owned();
                p.push("-wal");
                p.into()
            }),
            wal_file: Mutex::new(None),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `doc` as JSON in `table` under `key` (tables of documents, see migration 12).
    fn put_doc(
        &self,
        table: &str,
        key_column: &str,
        key: &dyn rusqlite::ToSql,
        doc: &impl serde::Serialize,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(doc).map_err(|e| StoreError::Db(e.to_string()))?;
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO {table} ({key_column}, body) VALUES (?1, ?2)
                     ON CONFLICT ({key_column}) DO UPDATE SET body = excluded.body"
                ),
                params![key, body],
            )
            .map(drop)
            .map_err(db)
    }

    /// Every document of `table`.
    fn docs<T: serde::de::DeserializeOwned>(&self, table: &str) -> Result<Vec<T>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT body FROM {table}"))
            .map_err(db)?;
        let bodies: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        bodies
            .iter()
            .map(|b| {
                serde_json::from_str(b).map_err(|e| StoreError::Corrupt {
                    what: "release or rollout record",
                    message: format!("{table}: {e}"),
                })
            })
            .collect()
    }
}

/// How many columns [`KIOSK_COLUMNS`] has: the index of a column selected after them.
const KIOSK_NCOL: usize = 9;
const KIOSK_COLUMNS: &str =
    "kiosk_id, number, name, grp, enrolled_at, last_seen, agent_version, outbox_len, clock_skew_ms";

fn kiosk_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KioskRecord> {
    Ok(KioskRecord {
        kiosk_id: r.get(0)?,
        number: r.get(1)?,
        name: r.get(2)?,
        group: r.get(3)?,
        enrolled_at: r.get(4)?,
        last_seen: r.get(5)?,
        agent_version: r.get(6)?,
        outbox_len: r.get::<_, Option<i64>>(7)?.map(|n| n as u64),
        clock_skew_ms: r.get(8)?,
    })
}

fn next_kiosk_number(tx: &Transaction<'_>) -> Result<u32, StoreError> {
    let n: u32 = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_kiosk_number'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .map_err(db)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    if n > protocol::tracking::MAX_KIOSK {
        return Err(StoreError::Conflict(
            "every kiosk number has been used".into(),
        ));
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('next_kiosk_number', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [(n + 1).to_string()],
    )
    .map_err(db)?;
    Ok(n)
}

/// Checks one uploaded item against the uploader and the published form.
/// Published form definitions parsed once per batch (a batch mostly repeats a few forms).
type FormCache = std::collections::HashMap<(String, u32), Option<Service>>;

fn check_item(
    tx: &Transaction<'_>,
    kiosk: &KioskRecord,
    item: &SubmissionUpload,
    forms: &mut FormCache,
) -> Result<Option<String>, StoreError> {
    if item.tracking_code.kiosk_number() != kiosk.number {
        return Ok(Some(
            "the tracking code was not issued by this kiosk".into(),
        ));
    }
    if !protocol::form::is_valid_id(&item.service_id) {
        return Ok(Some("malformed service id".into()));
    }
    let key = (item.service_id.clone(), item.form_version);
    if !forms.contains_key(&key) {
        let def: Option<String> = tx
            .prepare_cached("SELECT definition FROM forms WHERE service_id = ?1 AND version = ?2")
            .and_then(|mut st| {
                st.query_row(params![item.service_id, item.form_version], |r| r.get(0))
                    .optional()
            })
            .map_err(db)?;
        let service = def
            .map(|d| serde_json::from_str::<Service>(&d).map_err(|e| corrupt("form", e)))
            .transpose()?;
        forms.insert(key.clone(), service);
    }
    // A form this server never published is refused: without its definition nothing can be
    // validated, and a kiosk must not be able to file values against a form of its own making.
    // The kiosk keeps a refused item with the reason (it is not lost).
    match forms.get(&key) {
        Some(Some(service)) => {
            if let Err(errors) = protocol::validate::validate_form(&service.form, &item.values) {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                return Ok(Some(format!(
                    "values do not validate: {}",
                    fields.join(", ")
                )));
            }
        }
        _ => {
            return Ok(Some(format!(
                "version {} of the form {} was never published",
                item.form_version, item.service_id
            )));
        }
    }
    Ok(None)
}

impl SqliteStore {
    /// The minute bitmaps of `table` (`uptime`, `uptime_late`) by (kiosk, day), for days
    /// `from_day..=to_day`.
    fn bitmaps(
        &self,
        table: &str,
        from_day: &str,
        to_day: &str,
    ) -> Result<HashMap<(String, String), Vec<u8>>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT kiosk_id, day, minutes FROM {table} WHERE day >= ?1 AND day <= ?2"
            ))
            .map_err(db)?;
        stmt.query_map(params![from_day, to_day], |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get(2)?))
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)
    }
}

impl Store for SqliteStore {
    fn create_bootstrap_token(
        &self,
        token_hash: &str,
        kiosk_id: &str,
        name: &str,
        group: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO kiosks (kiosk_id, name, grp) VALUES (?1, ?2, ?3)
             ON CONFLICT (kiosk_id) DO UPDATE SET name = excluded.name, grp = excluded.grp",
            params![kiosk_id, name, group],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO bootstrap_tokens (token_hash, kiosk_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, kiosk_id, crate::now_ms(), expires_at],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn enrol(
        &self,
        token_hash: &str,
        credential_hash: &str,
        agent_version: &str,
        now: UnixMillis,
    ) -> Result<Enrolment, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let token: Option<(String, i64, Option<String>)> = tx
            .query_row(
                "SELECT kiosk_id, expires_at, used_by FROM bootstrap_tokens WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((kiosk_id, expires_at, used_by)) = token else {
            return Ok(Enrolment::UnknownToken);
        };
        match used_by {
            Some(c) if crate::auth::constant_time_eq(&c, credential_hash) => {}
            Some(_) => return Ok(Enrolment::TokenUsed),
            None if now > expires_at => return Ok(Enrolment::Expired),
            None => {
                let number = next_kiosk_number(&tx)?;
                tx.execute(
                    "UPDATE bootstrap_tokens SET used_by = ?2, used_at = ?3 WHERE token_hash = ?1",
                    params![token_hash, credential_hash, now],
                )
                .map_err(db)?;
                tx.execute(
                    "UPDATE kiosks SET number = ?2, credential_hash = ?3, enrolled_at = ?4,
                                       agent_version = ?5
                     WHERE kiosk_id = ?1",
                    params![kiosk_id, number, credential_hash, now, agent_version],
                )
                .map_err(db)?;
            }
        }
        let rec = tx
            .query_row(
                &format!("SELECT {KIOSK_COLUMNS} FROM kiosks WHERE kiosk_id = ?1"),
                [&kiosk_id],
                kiosk_row,
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Enrolment::Enrolled(rec))
    }

    fn authenticate(
        &self,
        kiosk_id: &str,
        credential_hash: &str,
    ) -> Result<Option<KioskRecord>, StoreError> {
        let conn = self.conn();
        let row: Option<(KioskRecord, Option<String>)> = conn
            .query_row(
                &format!("SELECT {KIOSK_COLUMNS}, credential_hash FROM kiosks WHERE kiosk_id = ?1"),
                [kiosk_id],
                |r| Ok((kiosk_row(r)?, r.get(KIOSK_NCOL)?)),
            )
            .optional()
            .map_err(db)?;
        Ok(row.and_then(|(mut k, h)| {
            h.filter(|h| crate::auth::constant_time_eq(h, credential_hash))?;
            self.overlay(&mut k);
            Some(k)
        }))
    }

    fn ingest(
        &self,
        kiosk: &KioskRecord,
        items: &[SubmissionUpload],
        now: UnixMillis,
    ) -> Result<Vec<ItemAck>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let mut acks = Vec::with_capacity(items.len());
        let mut forms = FormCache::new();
        for item in items {
            let id = item.id.to_string();
            let existing: Option<(String, i64)> = tx
                .prepare_cached("SELECT kiosk_id, received_at FROM submissions WHERE id = ?1")
                .and_then(|mut st| {
                    st.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(db)?;
            let outcome = match existing {
                Some((owner, received_at)) if owner == kiosk.kiosk_id => {
                    ItemOutcome::Duplicate { received_at }
                }
                Some(_) => ItemOutcome::Rejected {
                    reason: "the id belongs to another kiosk".into(),
                },
                None => match check_item(&tx, kiosk, item, &mut forms)? {
                    Some(reason) => ItemOutcome::Rejected { reason },
                    None => {
                        let code_taken: bool = tx
                            .prepare_cached(
                                "SELECT EXISTS (SELECT 1 FROM submissions WHERE tracking_code = ?1)",
                            )
                            .and_then(|mut st| {
                                st.query_row([item.tracking_code.as_str()], |r| r.get(0))
                            })
                            .map_err(db)?;
                        if code_taken {
                            ItemOutcome::Rejected {
                                reason: "tracking code already used".into(),
                            }
                        } else {
                            insert_submission(&tx, kiosk, item, now)?;
                            ItemOutcome::Accepted { received_at: now }
                        }
                    }
                },
            };
            acks.push(ItemAck {
                id: item.id,
                outcome,
            });
        }
        tx.commit().map_err(db)?;
        Ok(acks)
    }

    fn publish_catalog(&self, catalog: &Catalog, now: UnixMillis) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for s in &catalog.services {
            let def = json("service", s)?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT definition FROM forms WHERE service_id = ?1 AND version = ?2",
                    params![s.id, s.version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            match old {
                Some(old) if old != def => {
                    return Err(StoreError::Conflict(format!(
                        "service {:?} version {} was published before with a different definition; \
                         raise its version",
                        s.id, s.version
                    )));
                }
                Some(_) => {}
                None => {
                    tx.execute(
                        "INSERT INTO forms (service_id, version, definition) VALUES (?1, ?2, ?3)",
                        params![s.id, s.version, def],
                    )
                    .map_err(db)?;
                }
            }
        }
        let version: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM catalogs",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        let mut doc = catalog.clone();
        doc.version = version as u64;
        doc.published_at = now;
        tx.execute(
            "INSERT INTO catalogs (version, document, published_at) VALUES (?1, ?2, ?3)",
            params![version, json("catalog", &doc)?, now],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(version as u64)
    }

    fn catalog_version(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(version), 0) FROM catalogs", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .map_err(db)
    }

    fn kiosks_with_pending_commands(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT DISTINCT kiosk_id FROM commands WHERE finished_at IS NULL")
            .map_err(db)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn catalog(&self) -> Result<Option<Catalog>, StoreError> {
        let doc: Option<String> = self
            .conn()
            .query_row(
                "SELECT document FROM catalogs ORDER BY version DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        doc.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("catalog", e)))
            .transpose()
    }

    fn service_version(&self, id: &str, version: u32) -> Result<Option<Service>, StoreError> {
        let def: Option<String> = self
            .conn()
            .query_row(
                "SELECT definition FROM forms WHERE service_id = ?1 AND version = ?2",
                params![id, version],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        def.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("form", e)))
            .transpose()
    }

    fn status(&self, code: &str) -> Result<Option<StatusRecord>, StoreError> {
        let row: Option<StatusRow> = self
            .conn()
            .query_row(
                "SELECT tracking_code, service_id, state, note, updated_at FROM statuses
                 WHERE tracking_code = ?1",
                [code],
                status_row,
            )
            .optional()
            .map_err(db)?;
        let catalog = self.catalog()?;
        row.map(|r| status_record(r, catalog.as_ref())).transpose()
    }

    fn requests_by_identity(
        &self,
        identity: &str,
        limit: usize,
    ) -> Result<Vec<StatusRecord>, StoreError> {
        let rows: Vec<StatusRow> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT st.tracking_code, st.service_id, st.state, st.note, st.updated_at
                     FROM submissions su JOIN statuses st ON st.tracking_code = su.tracking_code
                     WHERE su.identity = ?1
                     ORDER BY su.created_at DESC LIMIT ?2",
                )
                .map_err(db)?;
            stmt.query_map(params![identity, limit as i64], status_row)
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        let catalog = self.catalog()?;
        rows.into_iter()
            .map(|r| status_record(r, catalog.as_ref()))
            .collect()
    }

    fn set_status(
        &self,
        code: &str,
        state: RequestState,
        note: Option<&Text>,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let note = note.map(|n| json("note", n)).transpose()?;
        let n = self
            .conn()
            .execute(
                "UPDATE statuses SET state = ?2, note = ?3, updated_at = ?4 WHERE tracking_code = ?1",
                params![code, state.as_str(), note, now],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn record_heartbeats(
        &self,
        batch: &[(String, Heartbeat, UnixMillis)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let mut cache = self.uptime.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut hourly: HourlyCache = HashMap::new();
        let mut newest: HashMap<String, Newest> = HashMap::new();
        for (kiosk_id, hb, now) in batch {
            hourly
                .entry((kiosk_id.clone(), hb.sampled_at.div_euclid(3_600_000)))
                .or_default()
                .add(&Hourly::of(hb));
            let n = Newest {
                seen: hb.sampled_at.min(*now),
                hb: hb.clone(),
                clock_skew_ms: hb.sent_at.map(|sent| now - sent),
            };
            match newest.entry(kiosk_id.clone()) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(&n),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(n);
                }
            }
        }
        let flush = pending.since.elapsed() >= WRITE_BEHIND;
        // The commit only writes the WAL; `sync` flushes it (see `Store::record_heartbeats`).
        // Every other transaction stays FULL, and its own flush covers these frames too.
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(db)?;
        let result = conn.transaction().map_err(db).and_then(|tx| {
            for (kiosk_id, hb, now) in batch {
                write_heartbeat(&tx, &mut cache, kiosk_id, hb, *now)?;
            }
            if flush {
                let mut all = Pending {
                    newest: pending.newest.clone(),
                    hourly: pending.hourly.clone(),
                    since: pending.since,
                };
                all.add(&newest, &hourly);
                write_pending(&tx, &all)?;
            }
            tx.commit().map_err(db)
        });
        let restored = conn.execute_batch("PRAGMA synchronous = FULL").map_err(db);
        match &result {
            // Nothing was written: the uptime cache may say otherwise, and the batch's
            // heartbeats will come again.
            Err(_) => cache.clear(),
            Ok(()) if flush => *pending = Pending::new(),
            Ok(()) => pending.add(&newest, &hourly),
        }
        result.and(restored)
    }

    fn credential_hash(&self, kiosk_id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT credential_hash FROM kiosks WHERE kiosk_id = ?1",
                [kiosk_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(db)
    }

    fn write_behind(&self) -> Result<(), StoreError> {
        self.flush_pending()
    }

    fn sync(&self) -> Result<(), StoreError> {
        let Some(path) = &self.wal else {
            return Ok(());
        };
        let mut file = self.wal_file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            *file = Some(
                std::fs::File::open(path)
                    .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", path.display())))?,
            );
        }
        // fsync flushes the file's data whatever handle wrote it.
        file.as_ref()
            .map_or(Ok(()), std::fs::File::sync_data)
            .map_err(|e| StoreError::Db(format!("cannot flush {}: {e}", path.display())))
    }

    fn due_deliveries(
        &self,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<AgendaDelivery>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT s.body, s.kiosk_id, s.received_at FROM deliveries d
                 JOIN submissions s ON s.id = d.submission_id
                 WHERE d.delivered_at IS NULL AND d.next_attempt_at <= ?1
                 ORDER BY d.next_attempt_at LIMIT ?2",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(params![now, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (body, kiosk_id, received_at) = row.map_err(db)?;
            let item: SubmissionUpload =
                serde_json::from_str(&body).map_err(|e| corrupt("submission", e))?;
            out.push(AgendaDelivery {
                id: item.id,
                tracking_code: item.tracking_code,
                kiosk_id,
                service_id: item.service_id,
                form_version: item.form_version,
                language: item.language,
                values: item.values,
                identity: item.identity,
                created_at: item.created_at,
                received_at,
            });
        }
        Ok(out)
    }

    fn purge_delivered(&self, delivered_before: UnixMillis) -> Result<usize, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "UPDATE submissions SET {PURGE}
                 WHERE purged = 0 AND id IN (
                     SELECT submission_id FROM deliveries
                     WHERE delivered_at IS NOT NULL AND delivered_at <= ?1)"
            ))
            .and_then(|mut st| st.execute([delivered_before]))
            .map_err(db)
    }

    fn scrub_log(&self) -> Result<bool, StoreError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|busy| busy == 0)
            .map_err(db)
    }

    fn forget_identities(&self, before: UnixMillis) -> Result<usize, StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE submissions SET identity = NULL
                 WHERE identity IS NOT NULL AND received_at < ?1",
            )
            .and_then(|mut st| st.execute([before]))
            .map_err(db)
    }

    fn mark_delivered(
        &self,
        id: uuid::Uuid,
        now: UnixMillis,
        purge: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        if purge {
            tx.prepare_cached(&format!(
                "UPDATE submissions SET {PURGE} WHERE id = ?1 AND purged = 0"
            ))
            .and_then(|mut st| st.execute([id.to_string()]))
            .map_err(db)?;
        }
        tx.execute(
            "UPDATE deliveries SET delivered_at = ?2, last_error = NULL WHERE submission_id = ?1",
            params![id.to_string(), now],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE statuses SET state = 'received', updated_at = ?2
             WHERE state = 'submitted'
               AND tracking_code = (SELECT tracking_code FROM submissions WHERE id = ?1)",
            params![id.to_string(), now],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn delivery_failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        now: UnixMillis,
        retry_in: &dyn Fn(u32) -> i64,
    ) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let attempts: u32 = tx
            .query_row(
                "SELECT attempts FROM deliveries WHERE submission_id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .map_err(db)?;
        let retry_at = now + retry_in(attempts);
        tx.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE submission_id = ?1",
            params![id.to_string(), error, retry_at],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(attempts + 1)
    }

    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {KIOSK_COLUMNS} FROM kiosks ORDER BY kiosk_id"
            ))
            .map_err(db)?;
        let mut rows: Vec<KioskRecord> = stmt
            .query_map([], kiosk_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for k in &mut rows {
            if let Some(n) = pending.newest.get(&k.kiosk_id) {
                n.apply(k, None);
            }
        }
        Ok(rows)
    }

    fn kiosk_health_of(
        &self,
        kiosk_id: &str,
    ) -> Result<Option<(KioskRecord, Option<Heartbeat>)>, StoreError> {
        let row: Option<(KioskRecord, Option<String>)> = self
            .conn()
            .query_row(
                &format!("SELECT {KIOSK_COLUMNS}, last_heartbeat FROM kiosks WHERE kiosk_id = ?1"),
                [kiosk_id],
                |r| Ok((kiosk_row(r)?, r.get(KIOSK_NCOL)?)),
            )
            .optional()
            .map_err(db)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Ok(row.map(|(k, body)| pending.newest_of(k, body)))
    }

    fn kiosk_health(&self) -> Result<Vec<(KioskRecord, Option<Heartbeat>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {KIOSK_COLUMNS}, last_heartbeat FROM kiosks ORDER BY kiosk_id"
            ))
            .map_err(db)?;
        let rows: Vec<(KioskRecord, Option<String>)> = stmt
            .query_map([], |r| Ok((kiosk_row(r)?, r.get(KIOSK_NCOL)?)))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Ok(rows
            .into_iter()
            .map(|(k, body)| pending.newest_of(k, body))
            .collect())
    }

    fn reconcile_alerts(
        &self,
        kiosk_id: &str,
        active: &[(AlertKind, String)],
        keep: &[AlertKind],
        now: UnixMillis,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let open: Vec<Alert> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = ?1 AND resolved_at IS NULL"
                ))
                .map_err(db)?;
            stmt.query_map([kiosk_id], alert_row)
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        let mut events = Vec::new();
        for (kind, detail) in active {
            match open.iter().find(|a| a.kind == *kind) {
                Some(a) if a.detail == *detail => {}
                Some(a) => {
                    tx.execute(
                        "UPDATE alerts SET detail = ?2 WHERE id = ?1",
                        params![a.id, detail],
                    )
                    .map_err(db)?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO alerts (kiosk_id, kind, detail, opened_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![kiosk_id, kind.as_str(), detail, now],
                    )
                    .map_err(db)?;
                    events.push(AlertEvent {
                        event: "opened",
                        alert: Alert {
                            id: tx.last_insert_rowid(),
                            kiosk_id: kiosk_id.to_owned(),
                            kind: *kind,
                            detail: detail.clone(),
                            opened_at: now,
                            acked_at: None,
                            acked_by: None,
                            ack_comment: None,
                            resolved_at: None,
                        },
                    });
                }
            }
        }
        for mut a in open {
            if !active.iter().any(|(kind, _)| *kind == a.kind) && !keep.contains(&a.kind) {
                tx.execute(
                    "UPDATE alerts SET resolved_at = ?2 WHERE id = ?1",
                    params![a.id, now],
                )
                .map_err(db)?;
                a.resolved_at = Some(now);
                events.push(AlertEvent {
                    event: "resolved",
                    alert: a,
                });
            }
        }
        tx.commit().map_err(db)?;
        Ok(events)
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE (?1 = 0 OR resolved_at IS NULL)
                 ORDER BY opened_at DESC, id DESC LIMIT ?2"
            ))
            .map_err(db)?;
        stmt.query_map(params![open_only, limit as i64], alert_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn kiosk_alerts(&self, kiosk_id: &str, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = ?1
                 ORDER BY opened_at DESC, id DESC LIMIT ?2"
            ))
            .map_err(db)?;
        stmt.query_map(params![kiosk_id, limit as i64], alert_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn ack_alert(
        &self,
        id: i64,
        by: &str,
        comment: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE alerts SET acked_at = ?2, acked_by = ?3, ack_comment = ?4
                 WHERE id = ?1 AND resolved_at IS NULL",
                params![id, now, by, comment],
            )
            .map_err(db)?;
        Ok(n > 0)
    }

    fn queue_command(
        &self,
        kiosk_id: &str,
        action: &CommandAction,
        by: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, StoreError> {
        let conn = self.conn();
        let known: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM kiosks WHERE kiosk_id = ?1 AND enrolled_at IS NOT NULL",
                [kiosk_id],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !known {
            return Ok(None);
        }
        conn.execute(
            "INSERT INTO commands (kiosk_id, action, issued_by, issued_at) VALUES (?1, ?2, ?3, ?4)",
            params![kiosk_id, json("command", action)?, by, now],
        )
        .map_err(db)?;
        Ok(Some(conn.last_insert_rowid()))
    }

    fn pending_commands(
        &self,
        kiosk_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Command>, StoreError> {
        let conn = self.conn();
        let rows: Vec<(i64, String)> = {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, action FROM commands WHERE kiosk_id = ?1 AND finished_at IS NULL
                     ORDER BY id LIMIT 20",
                )
                .map_err(db)?;
            stmt.query_map([kiosk_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        if !rows.is_empty() {
            conn.execute(
                "UPDATE commands SET delivered_at = ?2
                 WHERE kiosk_id = ?1 AND finished_at IS NULL AND delivered_at IS NULL",
                params![kiosk_id, now],
            )
            .map_err(db)?;
        }
        rows.into_iter()
            .map(|(id, action)| {
                Ok(Command {
                    id,
                    action: serde_json::from_str(&action).map_err(|e| corrupt("command", e))?,
                })
            })
            .collect()
    }

    fn finish_command(
        &self,
        kiosk_id: &str,
        id: i64,
        result: &CommandResult,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        // Only the kiosk the command was for, and only once (a repeated result is a retry).
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE commands SET finished_at = ?3, ok = ?4, output = ?5
                 WHERE id = ?1 AND kiosk_id = ?2 AND finished_at IS NULL",
                params![id, kiosk_id, now, result.ok, result.output],
            )
            .map_err(db)?;
        if n > 0 {
            return Ok(true);
        }
        conn.query_row(
            "SELECT COUNT(*) > 0 FROM commands WHERE id = ?1 AND kiosk_id = ?2",
            params![id, kiosk_id],
            |r| r.get(0),
        )
        .map_err(db)
    }

    fn cancel_command(
        &self,
        kiosk_id: &str,
        id: i64,
        by: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.conn()
            .execute(
                "UPDATE commands SET finished_at = ?3, ok = 0, output = ?4
                 WHERE id = ?1 AND kiosk_id = ?2 AND finished_at IS NULL",
                params![id, kiosk_id, now, format!("cancelled by {by}")],
            )
            .map(|n| n > 0)
            .map_err(db)
    }

    fn commands(&self, kiosk_id: &str, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, kiosk_id, action, issued_by, issued_at, delivered_at, finished_at, ok,
                        output
                 FROM commands WHERE kiosk_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(db)?;
        let rows: Vec<(CommandRecord, String)> = stmt
            .query_map(params![kiosk_id, limit as i64], |r| {
                Ok((
                    CommandRecord {
                        id: r.get(0)?,
                        kiosk_id: r.get(1)?,
                        action: CommandAction::SelfTest,
                        issued_by: r.get(3)?,
                        issued_at: r.get(4)?,
                        delivered_at: r.get(5)?,
                        finished_at: r.get(6)?,
                        ok: r.get(7)?,
                        output: r.get(8)?,
                    },
                    r.get(2)?,
                ))
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(mut c, action)| {
                c.action = serde_json::from_str(&action).map_err(|e| corrupt("command", e))?;
                Ok(c)
            })
            .collect()
    }

    fn uptime(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<HashMap<(String, String), Vec<u8>>, StoreError> {
        self.bitmaps("uptime", from_day, to_day)
    }

    fn late_uptime(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<HashMap<(String, String), Vec<u8>>, StoreError> {
        self.bitmaps("uptime_late", from_day, to_day)
    }

    fn prune_history(
        &self,
        now: UnixMillis,
        uptime_before_day: &str,
    ) -> Result<(u64, u64), StoreError> {
        self.flush_pending()?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let days = tx
            .execute("DELETE FROM uptime WHERE day < ?1", [uptime_before_day])
            .map_err(db)?;
        tx.execute(
            "DELETE FROM uptime_late WHERE day < ?1",
            [uptime_before_day],
        )
        .map_err(db)?;
        // Hours older than 90 days become days; days are kept 400 days.
        let hours_before = now / 3_600_000 - 90 * 24;
        tx.execute(
            &format!(
                "INSERT INTO health_daily (kiosk_id, day, samples, temperature_max, disk_used_max,
                                           outbox_max)
                 SELECT kiosk_id, hour / 24, SUM(samples), MAX(temperature_max),
                        MAX(disk_used_max), MAX(outbox_max)
                 FROM health_hourly WHERE hour < ?1 GROUP BY kiosk_id, hour / 24
                 ON CONFLICT (kiosk_id, day) DO UPDATE SET {MERGE_HEALTH}"
            ),
            [hours_before],
        )
        .map_err(db)?;
        let hours = tx
            .execute("DELETE FROM health_hourly WHERE hour < ?1", [hours_before])
            .map_err(db)?;
        tx.execute(
            "DELETE FROM health_daily WHERE day < ?1",
            [now / 86_400_000 - 400],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok((hours as u64, days as u64))
    }

    fn health_history(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<HealthPoint>, StoreError> {
        // The current hour too.
        self.flush_pending()?;
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT day * 86400000, samples, temperature_max, disk_used_max, outbox_max
                 FROM health_daily WHERE kiosk_id = ?1 AND day >= ?2 / 86400000
                 UNION ALL
                 SELECT hour * 3600000, samples, temperature_max, disk_used_max, outbox_max
                 FROM health_hourly WHERE kiosk_id = ?1 AND hour >= ?2 / 3600000
                 ORDER BY 1",
            )
            .map_err(db)?;
        stmt.query_map(params![kiosk_id, since], |r| {
            Ok(HealthPoint {
                hour: r.get(0)?,
                samples: r.get::<_, i64>(1)? as u64,
                temperature_max: r.get(2)?,
                disk_used_max: r.get(3)?,
                outbox_max: r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)
    }

    fn save_release(&self, r: &crate::rollout::model::Release) -> Result<(), StoreError> {
        self.put_doc("releases", "version", &r.version, r)
    }

    fn releases(&self) -> Result<Vec<crate::rollout::model::Release>, StoreError> {
        self.docs("releases")
    }

    fn save_rollout(&self, r: &crate::rollout::model::Rollout) -> Result<(), StoreError> {
        self.put_doc("rollouts", "id", &r.id, r)
    }

    fn rollouts(&self) -> Result<Vec<crate::rollout::model::Rollout>, StoreError> {
        self.docs("rollouts")
    }

    fn save_kiosk_update(&self, u: &crate::rollout::model::KioskUpdate) -> Result<(), StoreError> {
        self.put_doc("kiosk_updates", "kiosk_id", &u.kiosk_id, u)
    }

    fn kiosk_updates(&self) -> Result<Vec<crate::rollout::model::KioskUpdate>, StoreError> {
        self.docs("kiosk_updates")
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.target,
                    entry.detail
                ],
            )
            .map(drop)
            .map_err(db)
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?1",
            )
            .map_err(db)?;
        stmt.query_map([limit as i64], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)
    }

    fn create_user(&self, u: &StaffUser) -> Result<(), StoreError> {
        let n = self
            .conn()
            .execute(
                "INSERT INTO staff (username, role, password_hash, created_at, disabled)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username) DO NOTHING",
                params![
                    u.username,
                    u.role,
                    u.password_hash,
                    u.created_at,
                    u.disabled
                ],
            )
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "there is already a user {:?}",
                u.username
            )));
        }
        Ok(())
    }

    fn user(&self, username: &str) -> Result<Option<StaffUser>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STAFF_COLUMNS} FROM staff WHERE username = ?1"
            ))
            .map_err(db)?;
        stmt.query_row([username], staff_row).optional().map_err(db)
    }

    fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STAFF_COLUMNS} FROM staff ORDER BY username"
            ))
            .map_err(db)?;
        stmt.query_map([], staff_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn change_user(&self, username: &str, change: &UserChange) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM staff WHERE username = ?1)",
                [username],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !exists {
            return Err(StoreError::NotFound(format!("user {username:?}")));
        }
        let end_sessions = match change {
            UserChange::Role(role) => {
                tx.execute(
                    "UPDATE staff SET role = ?2 WHERE username = ?1",
                    params![username, role],
                )
                .map_err(db)?;
                true
            }
            UserChange::Disabled(disabled) => {
                tx.execute(
                    "UPDATE staff SET disabled = ?2 WHERE username = ?1",
                    params![username, disabled],
                )
                .map_err(db)?;
                *disabled
            }
            UserChange::Password(hash) => {
                tx.execute(
                    "UPDATE staff SET password_hash = ?2 WHERE username = ?1",
                    params![username, hash],
                )
                .map_err(db)?;
                true
            }
            UserChange::PasswordFrom { old, new } => {
                let n = tx
                    .execute(
                        "UPDATE staff SET password_hash = ?3
                         WHERE username = ?1 AND password_hash = ?2",
                        params![username, old, new],
                    )
                    .map_err(db)?;
                if n == 0 {
                    return Err(StoreError::Conflict(
                        "the password was changed meanwhile".into(),
                    ));
                }
                true
            }
            UserChange::Unlock => {
                tx.execute("DELETE FROM login_failures WHERE username = ?1", [username])
                    .map_err(db)?;
                false
            }
        };
        if end_sessions {
            tx.execute("DELETE FROM staff_sessions WHERE username = ?1", [username])
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn login_lock(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT MAX(locked_until) FROM login_failures
                 WHERE username = ?1 AND source IN (?2, '*') AND locked_until > ?3",
            )
            .and_then(|mut st| st.query_row(params![username, source, now], |r| r.get(0)))
            .map_err(db)
    }

    fn login_failed(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
        limits: LoginLimits,
    ) -> Result<Option<UnixMillis>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        // Counts of names nobody has tried for a day go (a lock lasts far less).
        tx.prepare_cached(
            "DELETE FROM login_failures WHERE updated_at < ?1 AND COALESCE(locked_until, 0) < ?2",
        )
        .and_then(|mut st| st.execute(params![now - 86_400_000, now]))
        .map_err(db)?;
        let mut locked = None;
        for (src, limit) in [(source, limits.per_source), ("*", limits.per_name)] {
            let until: Option<UnixMillis> = tx
                .prepare_cached(
                    "INSERT INTO login_failures (username, source, failures, updated_at)
                     VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (username, source) DO UPDATE SET
                         failures = failures + 1, updated_at = excluded.updated_at
                     RETURNING CASE WHEN failures >= ?4 THEN ?5 END",
                )
                .and_then(|mut st| {
                    st.query_row(
                        params![username, src, now, limit, now + limits.lock_ms],
                        |r| r.get(0),
                    )
                })
                .map_err(db)?;
            if let Some(until) = until {
                tx.prepare_cached(
                    "UPDATE login_failures SET locked_until = ?3, failures = 0
                     WHERE username = ?1 AND source = ?2",
                )
                .and_then(|mut st| st.execute(params![username, src, until]))
                .map_err(db)?;
                locked = locked.max(Some(until));
            }
        }
        tx.commit().map_err(db)?;
        Ok(locked)
    }

    fn login_succeeded(
        &self,
        user: &StaffUser,
        session: &StaffSession,
        source: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let n = tx
            .execute(
                "UPDATE staff SET last_login = ?2
                 WHERE username = ?1 AND disabled = 0 AND password_hash = ?3 AND role = ?4",
                params![
                    user.username,
                    session.created_at,
                    user.password_hash,
                    user.role
                ],
            )
            .map_err(db)?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM login_failures WHERE username = ?1 AND source IN (?2, '*')
                 AND COALESCE(locked_until, 0) < ?3",
            params![user.username, source, session.created_at],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO staff_sessions (id_hash, username, csrf, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                session.id_hash,
                session.username,
                session.csrf,
                session.created_at,
                session.last_seen
            ],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn create_session(&self, s: &StaffSession) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO staff_sessions (id_hash, username, csrf, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.id_hash, s.username, s.csrf, s.created_at, s.last_seen],
            )
            .map(drop)
            .map_err(db)
    }

    fn session(&self, id_hash: &str) -> Result<Option<StaffSession>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id_hash, username, csrf, created_at, last_seen FROM staff_sessions
                 WHERE id_hash = ?1",
            )
            .map_err(db)?;
        stmt.query_row([id_hash], |r| {
            Ok(StaffSession {
                id_hash: r.get(0)?,
                username: r.get(1)?,
                csrf: r.get(2)?,
                created_at: r.get(3)?,
                last_seen: r.get(4)?,
            })
        })
        .optional()
        .map_err(db)
    }

    fn touch_session(&self, id_hash: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE staff_sessions SET last_seen = ?2 WHERE id_hash = ?1",
                params![id_hash, now],
            )
            .map(drop)
            .map_err(db)
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM staff_sessions WHERE id_hash = ?1", [id_hash])
            .map(drop)
            .map_err(db)
    }

    fn submission_days(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT date(received_at / 1000, 'unixepoch') AS day, COUNT(*) FROM submissions
                 WHERE kiosk_id = ?1 AND received_at >= ?2 GROUP BY day ORDER BY day DESC",
            )
            .map_err(db)?;
        stmt.query_map(params![kiosk_id, since], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)
    }

    fn submission_count(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM submissions", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(db)
    }

    fn submissions(&self, limit: usize) -> Result<Vec<SubmissionMeta>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT s.id, s.tracking_code, s.kiosk_id, s.service_id, st.state, s.created_at,
                        s.received_at, d.delivered_at
                 FROM submissions s
                 JOIN statuses st ON st.tracking_code = s.tracking_code
                 LEFT JOIN deliveries d ON d.submission_id = s.id
                 ORDER BY s.received_at DESC, s.id LIMIT ?1",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                ))
            })
            .map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, code, kiosk_id, service_id, state, created_at, received_at, delivered_at) =
                row.map_err(db)?;
            out.push(SubmissionMeta {
                id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt("submission id", e))?,
                tracking_code: code,
                kiosk_id,
                service_id,
                state: RequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
                created_at,
                received_at,
                delivered_at,
            });
        }
        Ok(out)
    }
}

/// What purging a delivered submission sets: its values and the card's hash leave the body.
const PURGE: &str = "body = json_set(json_remove(body, '$.identity'), '$.values', json('{}')),
                     purged = 1";

const STAFF_COLUMNS: &str = "username, role, password_hash, created_at, disabled,
     COALESCE((SELECT failures FROM login_failures f
               WHERE f.username = staff.username AND f.source = '*'), 0),
     (SELECT MAX(locked_until) FROM login_failures f WHERE f.username = staff.username),
     last_login";

fn staff_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaffUser> {
    Ok(StaffUser {
        username: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        created_at: r.get(3)?,
        disabled: r.get(4)?,
        failed_logins: r.get(5)?,
        locked_until: r.get(6)?,
        last_login: r.get(7)?,
    })
}

const ALERT_COLUMNS: &str =
    "id, kiosk_id, kind, detail, opened_at, acked_at, acked_by, ack_comment, resolved_at";

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    Ok(Alert {
        id: r.get(0)?,
        kiosk_id: r.get(1)?,
        kind: {
            let name: String = r.get(2)?;
            AlertKind::parse(&name).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("unknown alert kind {name:?}").into(),
                )
            })?
        },
        detail: r.get(3)?,
        opened_at: r.get(4)?,
        acked_at: r.get(5)?,
        acked_by: r.get(6)?,
        ack_comment: r.get(7)?,
        resolved_at: r.get(8)?,
    })
}

/// `(tracking_code, service_id, state, note, updated_at)` of a `statuses` row.
type StatusRow = (String, String, String, Option<String>, i64);

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StatusRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn status_record(row: StatusRow, catalog: Option<&Catalog>) -> Result<StatusRecord, StoreError> {
    let (code, service_id, state, note, updated_at) = row;
    let service_name = catalog.and_then(|c| {
        c.services
            .iter()
            .find(|s| s.id == service_id)
            .map(|s| s.name.clone())
    });
    Ok(StatusRecord {
        tracking_code: protocol::tracking::TrackingCode::parse(&code)
            .map_err(|e| corrupt("tracking code", e))?,
        service_id,
        service_name,
        state: RequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        note: note.and_then(|n| serde_json::from_str(&n).ok()),
        updated_at,
    })
}

fn insert_submission(
    tx: &Transaction<'_>,
    kiosk: &KioskRecord,
    item: &SubmissionUpload,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let id = item.id.to_string();
    exec_cached(
        tx,
        "INSERT INTO submissions (id, tracking_code, kiosk_id, service_id, form_version, language,
                                  body, created_at, received_at, identity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            id,
            item.tracking_code.as_str(),
            kiosk.kiosk_id,
            item.service_id,
            item.form_version,
            item.language.code(),
            json("submission", item)?,
            item.created_at,
            now,
            item.identity
        ],
    )
    .map_err(db)?;
    exec_cached(
        tx,
        "INSERT INTO statuses (tracking_code, service_id, state, updated_at)
         VALUES (?1, ?2, 'submitted', ?3)",
        params![item.tracking_code.as_str(), item.service_id, now],
    )
    .map_err(db)?;
    exec_cached(
        tx,
        "INSERT INTO deliveries (submission_id, next_attempt_at) VALUES (?1, ?2)",
        params![id, now],
    )
    .map_err(db)?;
    Ok(())
}

/// One heartbeat inside a transaction: the history row, its minute of availability, and the
/// kiosk's newest state.
fn write_heartbeat(
    tx: &Transaction<'_>,
    uptime: &mut UptimeCache,
    kiosk_id: &str,
    hb: &Heartbeat,
    now: UnixMillis,
) -> Result<(), StoreError> {
    // Its minute counts as available (a kiosk's clock ahead of the server's does not make
    // future minutes available).
    let (day, minute) = crate::uptime::day_minute(hb.sampled_at.min(now));
    let key = (kiosk_id.to_owned(), day.clone());
    let bits = match uptime.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let stored: Vec<u8> = tx
                .query_row(
                    "SELECT minutes FROM uptime WHERE kiosk_id = ?1 AND day = ?2",
                    params![kiosk_id, e.key().1],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?
                .unwrap_or_default();
            e.insert(stored)
        }
    };
    if !crate::uptime::is_set(bits, minute) {
        crate::uptime::mark(bits, minute);
        exec_cached(
            tx,
            "INSERT OR REPLACE INTO uptime (kiosk_id, day, minutes) VALUES (?1, ?2, ?3)",
            params![kiosk_id, day, &bits[..]],
        )
        .map_err(db)?;
        // A minute first known from a buffered heartbeat: the kiosk served, the fleet could
        // not hear it then. Rare (after an outage), so not cached.
        if now - hb.sampled_at > protocol::fleet::LATE_SAMPLE_MS {
            let mut late: Vec<u8> = tx
                .query_row(
                    "SELECT minutes FROM uptime_late WHERE kiosk_id = ?1 AND day = ?2",
                    params![kiosk_id, day],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?
                .unwrap_or_default();
            crate::uptime::mark(&mut late, minute);
            exec_cached(
                tx,
                "INSERT OR REPLACE INTO uptime_late (kiosk_id, day, minutes) VALUES (?1, ?2, ?3)",
                params![kiosk_id, day, &late[..]],
            )
            .map_err(db)?;
        }
    }
    Ok(())
}

/// Writes a kiosk's newest heartbeat into its row.
fn write_newest(tx: &Transaction<'_>, kiosk_id: &str, n: &Newest) -> Result<(), StoreError> {
    let body = json("heartbeat", &n.hb)?;
    exec_cached(
        tx,
        // A buffered heartbeat replayed late is history: it does not replace a newer one.
        "UPDATE kiosks SET
             last_heartbeat = CASE WHEN ?2 >= COALESCE(last_seen, 0) THEN ?5
                                   ELSE last_heartbeat END,
             agent_version = CASE WHEN ?2 >= COALESCE(last_seen, 0) THEN ?3
                                  ELSE agent_version END,
             outbox_len = CASE WHEN ?2 >= COALESCE(last_seen, 0) THEN ?4
                               ELSE outbox_len END,
             clock_skew_ms = COALESCE(?6, clock_skew_ms),
             last_seen = MAX(COALESCE(last_seen, 0), ?2)
         WHERE kiosk_id = ?1",
        params![
            kiosk_id,
            n.seen,
            n.hb.agent_version,
            n.hb.outbox_len as i64,
            body,
            n.clock_skew_ms
        ],
    )
    .map_err(db)?;
    Ok(())
}

/// Executes `sql` through the connection's statement cache (ingest runs it once per item).
fn exec_cached(
    tx: &Transaction<'_>,
    sql: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(p)
}
