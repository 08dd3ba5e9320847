//! `fleet-server copy`: a city's SQLite database into an empty PostgreSQL one, table by table in
//! one transaction, then every table counted on both sides.
//!
//! Everything is copied: kiosks with their credentials and bootstrap tokens, submissions (those
//! not yet delivered keep their place in the delivery queue), statuses, catalog versions and
//! forms, alerts, commands, availability and health history, the audit log, staff accounts and
//! their sessions and lock-outs, releases, rollouts and kiosks' updates, requests' history,
//! notices and the (sealed) addresses they go to. The source is read in
//! one read transaction (a consistent snapshot); stop the server first, so that nothing arrives
//! after the snapshot (the kiosks keep their submissions meanwhile and send them to the new
//! instances).

use postgres::types::ToSql;
use rusqlite::types::Value;

use super::StoreError;
use super::postgres::PgStore;

/// How a column is carried across.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Real,
    Blob,
    Bool,
}

use Kind::{Blob, Bool, Int, Real, Text};

/// Every table, in an order that satisfies the references, with its columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    ("meta", &[("key", Text), ("value", Text)]),
    (
        "kiosks",
        &[
            ("kiosk_id", Text),
            ("number", Int),
            ("name", Text),
            ("grp", Text),
            ("credential_hash", Text),
            ("enrolled_at", Int),
            ("last_seen", Int),
            ("agent_version", Text),
            ("outbox_len", Int),
            ("last_heartbeat", Text),
            ("clock_skew_ms", Int),
        ],
    ),
    (
        "bootstrap_tokens",
        &[
            ("token_hash", Text),
            ("kiosk_id", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("used_by", Text),
            ("used_at", Int),
        ],
    ),
    (
        "submissions",
        &[
            ("id", Text),
            ("tracking_code", Text),
            ("kiosk_id", Text),
            ("service_id", Text),
            ("form_version", Int),
            ("language", Text),
            ("body", Text),
            ("created_at", Int),
            ("received_at", Int),
            ("identity", Text),
            ("purged", Bool),
        ],
    ),
    (
        "statuses",
        &[
            ("tracking_code", Text),
            ("service_id", Text),
            ("state", Text),
            ("note", Text),
            ("updated_at", Int),
        ],
    ),
    (
        "deliveries",
        &[
            ("submission_id", Text),
            ("next_attempt_at", Int),
            ("attempts", Int),
            ("last_error", Text),
            ("delivered_at", Int),
        ],
    ),
    (
        "catalogs",
        &[("version", Int), ("document", Text), ("published_at", Int)],
    ),
    (
        "forms",
        &[("service_id", Text), ("version", Int), ("definition", Text)],
    ),
    (
        "alerts",
        &[
            ("id", Int),
            ("kiosk_id", Text),
            ("kind", Text),
            ("detail", Text),
            ("opened_at", Int),
            ("acked_at", Int),
            ("acked_by", Text),
            ("ack_comment", Text),
            ("resolved_at", Int),
        ],
    ),
    (
        "commands",
        &[
            ("id", Int),
            ("kiosk_id", Text),
            ("action", Text),
            ("issued_by", Text),
            ("issued_at", Int),
            ("delivered_at", Int),
            ("finished_at", Int),
            ("ok", Bool),
            ("output", Text),
        ],
    ),
    (
        "uptime",
        &[("kiosk_id", Text), ("day", Text), ("minutes", Blob)],
    ),
    (
        "uptime_late",
        &[("kiosk_id", Text), ("day", Text), ("minutes", Blob)],
    ),
    ("health_hourly", HEALTH),
    ("health_daily", HEALTH_DAILY),
    (
        "audit",
        &[
            ("id", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
        ],
    ),
    (
        "staff",
        &[
            ("username", Text),
            ("role", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("disabled", Bool),
            ("failed_logins", Int),
            ("locked_until", Int),
            ("last_login", Int),
        ],
    ),
    (
        "staff_sessions",
        &[
            ("id_hash", Text),
            ("username", Text),
            ("csrf", Text),
            ("created_at", Int),
            ("last_seen", Int),
        ],
    ),
    ("releases", &[("version", Text), ("body", Text)]),
    ("rollouts", &[("id", Int), ("body", Text)]),
    ("kiosk_updates", &[("kiosk_id", Text), ("body", Text)]),
    (
        "login_failures",
        &[
            ("username", Text),
            ("source", Text),
            ("failures", Int),
            ("locked_until", Int),
            ("updated_at", Int),
        ],
    ),
    (
        "request_contacts",
        &[
            ("tracking_code", Text),
            ("channel", Text),
            ("sealed", Text),
            ("address_key", Text),
            ("masked", Text),
            ("language", Text),
            ("created_at", Int),
        ],
    ),
    (
        "request_events",
        &[
            ("id", Int),
            ("tracking_code", Text),
            ("at", Int),
            ("state", Text),
            ("actor", Text),
            ("text", Text),
        ],
    ),
    (
        "notices",
        &[
            ("id", Int),
            ("tracking_code", Text),
            ("state", Text),
            ("channel", Text),
            ("masked", Text),
            ("address_key", Text),
            ("status", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("claimed_until", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("sent_at", Int),
            ("requested_by", Text),
        ],
    ),
];

const HEALTH: &[(&str, Kind)] = &[
    ("kiosk_id", Text),
    ("hour", Int),
    ("samples", Int),
    ("temperature_max", Real),
    ("disk_used_max", Real),
    ("outbox_max", Int),
];

const HEALTH_DAILY: &[(&str, Kind)] = &[
    ("kiosk_id", Text),
    ("day", Int),
    ("samples", Int),
    ("temperature_max", Real),
    ("disk_used_max", Real),
    ("outbox_max", Int),
];

/// Tables whose ids the target numbers from a sequence: set past the copied ids.
const SEQUENCES: &[&str] = &["alerts", "commands", "audit", "request_events", "notices"];

/// One table's rows: in the source, and in the target after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source: u64,
    /// Rows in the target.
    pub target: u64,
}

/// A value read from SQLite as PostgreSQL takes it for a column of `kind`.
fn convert(
    table: &str,
    column: &str,
    kind: Kind,
    v: Value,
) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let wrong = |found: &str| StoreError::Corrupt {
        what: "row to copy",
        message: format!("{table}.{column} holds {found}"),
    };
    Ok(match (kind, v) {
        (Text, Value::Null) => Box::new(None::<String>),
        (Int, Value::Null) => Box::new(None::<i64>),
        (Real, Value::Null) => Box::new(None::<f64>),
        (Blob, Value::Null) => Box::new(None::<Vec<u8>>),
        (Bool, Value::Null) => Box::new(None::<bool>),
        (Text, Value::Text(s)) => Box::new(s),
        (Int, Value::Integer(i)) => Box::new(i),
        (Real, Value::Real(f)) => Box::new(f),
        (Real, Value::Integer(i)) => Box::new(i as f64),
        (Blob, Value::Blob(b)) => Box::new(b),
        (Bool, Value::Integer(i)) => Box::new(i != 0),
        (_, Value::Text(_)) => return Err(wrong("text")),
        (_, Value::Integer(_)) => return Err(wrong("an integer")),
        (_, Value::Real(_)) => return Err(wrong("a real")),
        (_, Value::Blob(_)) => return Err(wrong("a blob")),
    })
}

fn lite(e: rusqlite::Error) -> StoreError {
    StoreError::Db(format!("source: {e}"))
}

/// Copies the SQLite database at `source` (migrated to this server's schema first) into `target`,
/// which must hold no kiosk, submission or staff account yet; the counts of every table after.
/// Nothing is written to the target unless everything copies (one transaction).
pub fn sqlite_to_postgres(
    source: &std::path::Path,
    target: &PgStore,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Vec<Counted>, StoreError> {
    // Brings the source to the newest schema (and fails on one from a newer server).
    drop(super::sqlite::SqliteStore::open(source)?);
    let mut src =
        rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(lite)?;
    let snapshot = src.transaction().map_err(lite)?;
    let mut counts = Vec::new();
    target.with_conn(|c| {
        c.tx(|c| {
            for table in ["kiosks", "submissions", "staff"] {
                let row = c.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?;
                let n: i64 = row.try_get(0).map_err(|e| StoreError::Db(e.to_string()))?;
                if n > 0 {
                    return Err(StoreError::Conflict(format!(
                        "the target database already holds {n} rows in {table}; copy into an \
                         empty one"
                    )));
                }
            }
            // `meta` may hold what a migration wrote; the source's values replace it.
            c.batch("DELETE FROM meta")?;
            for (table, columns) in TABLES {
                let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
                let list = names.join(", ");
                let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
                let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
                let mut stmt = snapshot
                    .prepare(&format!("SELECT {list} FROM {table}"))
                    .map_err(lite)?;
                let mut rows = stmt.query([]).map_err(lite)?;
                let mut n = 0u64;
                while let Some(row) = rows.next().map_err(lite)? {
                    let mut values = Vec::with_capacity(columns.len());
                    for (i, (name, kind)) in columns.iter().enumerate() {
                        let v: Value = row.get(i).map_err(lite)?;
                        values.push(convert(table, name, *kind, v)?);
                    }
                    let params: Vec<&(dyn ToSql + Sync)> =
                        values.iter().map(|b| b.as_ref()).collect();
                    c.execute(&insert, &params)?;
                    n += 1;
                }
                progress(table, n);
            }
            for table in SEQUENCES {
                c.batch(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   GREATEST((SELECT MAX(id) FROM {table}), 1))"
                ))?;
            }
            for (table, _) in TABLES {
                let source: i64 = snapshot
                    .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .map_err(lite)?;
                let row = c.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?;
                let target: i64 = row.try_get(0).map_err(|e| StoreError::Db(e.to_string()))?;
                counts.push(Counted {
                    table,
                    source: source.max(0) as u64,
                    target: target.max(0) as u64,
                });
            }
            if let Some(off) = counts.iter().find(|c| c.source != c.target) {
                return Err(StoreError::Db(format!(
                    "{}: {} rows in the source, {} in the target; nothing was copied",
                    off.table, off.source, off.target
                )));
            }
            Ok(())
        })
    })?;
    Ok(counts)
}
