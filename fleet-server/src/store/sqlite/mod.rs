//! The embedded SQLite store: one file, WAL, `synchronous=FULL` (an ack sent to a kiosk means
//! the submission is on disk: the kiosk deletes its copy on that ack).
//!
//! Heartbeats: what the SLA is computed from, the minute a kiosk was seen in, is committed (and
//! flushed, `Upkeep::sync`) before the heartbeat is answered. The rest is written behind, within
//! a minute, in the same commits: each kiosk's newest heartbeat (its row's `last_heartbeat`,
//! `last_seen`, version, outbox) and its hourly health aggregate. Until then every read of a
//! kiosk shows the newest heartbeat from memory, so nothing reads stale state. A crash of the
//! server loses at most that minute of health history; a kiosk's newest state comes back with
//! its next heartbeat. A stop writes everything.
//!
//! One file per part of [`crate::store::Store`] (`kiosks.rs`, `submissions.rs`, …), the schema in
//! `schema.rs`; the connection, the write-behind buffers and the row helpers here.

mod alerts;
mod audit;
mod catalogs;
mod commands;
mod deliveries;
mod history;
mod kiosks;
mod notices;
mod releases;
mod schema;
mod staff;
mod submissions;
mod upkeep;

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

use super::rows::{
    HourlyCache, Newest, StatusRow, WRITE_BEHIND, agenda_delivery, corrupt, json, opened,
    plan_alerts, status_record,
};
use super::{
    Alert, AlertEvent, AuditEntry, CommandRecord, Enrolment, HealthPoint, ItemCheck, KioskRecord,
    LoginLimits, StaffSession, StaffUser, StoreError, SubmissionMeta, UserChange,
};
use super::{
    Alerts, Audit, Catalogs, Commands, Deliveries, History, Kiosks, Releases, StaffAccounts,
    Submissions, Upkeep,
};
use crate::model::AlertKind;
use schema::MIGRATIONS;

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Today's availability bitmaps as written, so a heartbeat in a minute already marked
    /// writes nothing for it (and none is read back).
    uptime: Mutex<UptimeCache>,
    /// What heartbeats changed that is written behind (see the module docs).
    pending: Mutex<Pending>,
    /// The write-ahead log, for [`Upkeep::sync`] (none for an in-memory database).
    wal: Option<std::path::PathBuf>,
    /// It, opened on the first sync.
    wal_file: Mutex<Option<std::fs::File>>,
}

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

/// Published form definitions parsed once per batch (a batch mostly repeats a few forms).
type FormCache = std::collections::HashMap<(String, u32), Option<Service>>;

/// The form version `item` names, as published (`None`: never), through `forms`.
fn published_form<'c>(
    tx: &Transaction<'_>,
    item: &SubmissionUpload,
    forms: &'c mut FormCache,
) -> Result<Option<&'c Service>, StoreError> {
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
    Ok(forms.get(&key).and_then(Option::as_ref))
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

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StatusRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
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
