//! The PostgreSQL store, for fleets served by several fleet-server instances against one
//! database (`[store] url = "postgres://…"`).
//!
//! **Connections.** A small pool ([`pool`]): each connection keeps its prepared statements
//! (one parse per statement per connection), every statement runs under a time-out
//! (`statement_timeout`), and a connection that broke (the database restarted, failed over) is
//! dropped, so the call fails cleanly and the next one connects again.
//!
//! **Several instances.** Nothing here is cached across calls that another instance could
//! change, except what only adds up: each kiosk's newest heartbeat goes to its row in the batch
//! that received it (every instance reads the same), the minute a kiosk was seen in is OR-ed
//! into its day's bitmap in the database (never written back from memory), and the hourly
//! health aggregates are *added* to the stored ones. Those aggregates are the one thing written
//! behind (within [`WRITE_BEHIND`], and when the server stops): a crashed instance loses at most
//! that minute of health samples; availability, kiosks' state and everything else are committed
//! before the call returns. Submissions are stored once whichever instance a retry lands on
//! (unique keys, `ON CONFLICT DO NOTHING`); deliveries to the agenda system are claimed for a
//! while (`FOR UPDATE SKIP LOCKED`), so two connectors never send the same one at once and a
//! dead instance's claims lapse; background jobs that must run once take a lease
//! ([`crate::store::Upkeep::hold_lease`]).
//!
//! One file per part of [`crate::store::Store`], as for SQLite; the schema in `schema.rs`.

mod alerts;
mod audit;
mod catalogs;
mod commands;
mod deliveries;
mod history;
mod kiosks;
mod notices;
pub mod pool;
mod releases;
mod schema;
mod staff;
mod submissions;
mod upkeep;

use std::collections::HashMap;
use std::sync::Mutex;

use postgres::types::ToSql;
use protocol::fleet::{
    AgendaDelivery, Catalog, Command, CommandAction, CommandResult, Heartbeat, ItemAck,
    ItemOutcome, RequestState, StatusRecord, SubmissionUpload,
};
use protocol::form::Service;
use protocol::{Text, UnixMillis};

use super::rows::{
    HourlyCache, StatusRow, WRITE_BEHIND, agenda_delivery, corrupt, fold, json, opened,
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
pub use pool::PgSettings;
use pool::{Conn, Pool};

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PgStore {
    pool: Pool,
    /// Hourly health aggregates written behind, and since when.
    hourly: Mutex<(HourlyCache, std::time::Instant)>,
    /// Minutes this instance already OR-ed into the database, so a kiosk's next heartbeat in the
    /// same minute writes nothing (another instance may have written it too: OR-ing twice is
    /// harmless).
    marked: Mutex<HashMap<String, (String, u32)>>,
    /// This instance, as it signs its claims and leases.
    instance: String,
    /// How long a delivery it took stays its own.
    claim_ms: i64,
}

/// A query's rows.
type Rows = Vec<postgres::Row>;

fn db(e: postgres::Error) -> StoreError {
    StoreError::Db(pool::describe(&e))
}

impl PgStore {
    /// Connects to `url`, applies the migrations this server knows (one instance at a time) and
    /// refuses a database migrated by a newer server.
    pub fn open(url: &str, settings: PgSettings) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url, settings)?;
        schema::migrate(&mut *store.conn()?)?;
        Ok(store)
    }

    /// Connects without migrating (another view of a database already migrated, as the tests'
    /// second instance); calls fail until the schema is there.
    pub fn connect(url: &str, settings: PgSettings) -> Result<PgStore, StoreError> {
        let pool = Pool::new(url, settings)?;
        Ok(PgStore {
            pool,
            hourly: Mutex::new((HashMap::new(), std::time::Instant::now())),
            marked: Mutex::new(HashMap::new()),
            instance: format!(
                "{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            claim_ms: settings.delivery_claim.as_millis() as i64,
        })
    }

    /// The schema version of the database, and the newest this server knows.
    pub fn schema_version(&self) -> Result<(i64, i64), StoreError> {
        let found = schema::version(&mut *self.conn()?)?;
        Ok((found, schema::MIGRATIONS.len() as i64))
    }

    /// This instance's name, as it signs its claims, leases and notifications.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Sends `payload` on `channel` (NOTIFY) to every instance listening.
    pub fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        self.conn()?
            .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
            .map(drop)
    }

    /// A connection of its own that listens on `channel` (held by the bus's listener).
    pub fn listen(&self, channel: &str) -> Result<Conn, StoreError> {
        let mut c = self.pool.connect()?;
        c.execute("SELECT 1", &[])?;
        c.batch(&format!("LISTEN {channel}"))?;
        Ok(c)
    }

    /// Runs `f` with one connection of the pool (for `copy`, which writes tables directly).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&mut *self.conn()?)
    }

    fn conn(&self) -> Result<pool::Pooled<'_>, StoreError> {
        self.pool.get()
    }

    /// Runs `f` in one transaction on one connection: committed if it returns `Ok`, rolled back
    /// otherwise.
    fn tx<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut c = self.conn()?;
        c.tx(f)
    }

    /// Writes the pending hourly aggregates now.
    fn flush_hourly(&self) -> Result<(), StoreError> {
        let mut pending = self.hourly.lock().unwrap_or_else(|p| p.into_inner());
        if pending.0.is_empty() {
            pending.1 = std::time::Instant::now();
            return Ok(());
        }
        self.tx(|c| write_hourly(c, &pending.0))?;
        *pending = (HashMap::new(), std::time::Instant::now());
        Ok(())
    }

    /// Stores `doc` as JSON in `table` under `key`, and tells the other instances (in the same
    /// transaction: they hear of it once it is committed) what it is now.
    fn put_doc(
        &self,
        table: &str,
        key_column: &str,
        key: &(dyn ToSql + Sync),
        doc: &impl serde::Serialize,
    ) -> Result<(), StoreError> {
        let body = json("release or rollout record", doc)?;
        let kind = match table {
            "releases" => "release",
            "rollouts" => "rollout",
            _ => "kiosk_update",
        };
        let mut notice = format!("{}\t{kind}\t{body}", self.instance);
        if notice.len() > crate::bus::MAX_PAYLOAD {
            notice = format!("{}\treload\t", self.instance);
        }
        let sql = format!(
            "INSERT INTO {table} ({key_column}, body) VALUES ($1, $2)
             ON CONFLICT ({key_column}) DO UPDATE SET body = excluded.body"
        );
        self.tx(|c| {
            c.execute(&sql, &[key, &body])?;
            c.execute("SELECT pg_notify($1, $2)", &[&crate::bus::CHANNEL, &notice])?;
            Ok(())
        })
    }

    /// Every document of `table`.
    fn docs<T: serde::de::DeserializeOwned>(&self, table: &str) -> Result<Vec<T>, StoreError> {
        let rows = self
            .conn()?
            .query(&format!("SELECT body FROM {table}"), &[])?;
        rows.iter()
            .map(|r| {
                let body: String = get(r, 0)?;
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                    what: "release or rollout record",
                    message: format!("{table}: {e}"),
                })
            })
            .collect()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush_hourly() {
            tracing::error!(error = %e, "health history of the last minute not written");
        }
    }
}

/// Column `i` of a row, as `T` (a type that does not match is a corrupt row, not a panic).
fn get<'a, T: postgres::types::FromSql<'a>>(
    r: &'a postgres::Row,
    i: usize,
) -> Result<T, StoreError> {
    r.try_get(i).map_err(|e| corrupt("row", e))
}

/// How a health aggregate joins a stored one of the same kiosk and period.
const MERGE_HEALTH: &str = "samples = t.samples + excluded.samples,
    temperature_max = GREATEST(t.temperature_max, excluded.temperature_max),
    disk_used_max = GREATEST(t.disk_used_max, excluded.disk_used_max),
    outbox_max = GREATEST(t.outbox_max, excluded.outbox_max)";

/// Adds aggregates to the stored ones, in one statement.
fn write_hourly(c: &mut Conn, pending: &HourlyCache) -> Result<(), StoreError> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(pending.len());
    let (mut hours, mut samples, mut temps, mut disks, mut outboxes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // In key order, as every instance takes the rows' locks (no deadlock between two).
    let mut pending: Vec<_> = pending.iter().collect();
    pending.sort_by(|a, b| a.0.cmp(b.0));
    for ((kiosk_id, hour), h) in pending {
        ids.push(kiosk_id.as_str());
        hours.push(*hour);
        samples.push(h.samples as i64);
        temps.push(h.temperature_max);
        disks.push(h.disk_used_max);
        outboxes.push(h.outbox_max as i64);
    }
    let sql = format!(
        "INSERT INTO health_hourly AS t (kiosk_id, hour, samples, temperature_max, disk_used_max,
                                         outbox_max)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[],
                              $5::float8[], $6::bigint[])
         ON CONFLICT (kiosk_id, hour) DO UPDATE SET {MERGE_HEALTH}"
    );
    c.execute(&sql, &[&ids, &hours, &samples, &temps, &disks, &outboxes])?;
    Ok(())
}

const KIOSK_NCOL: usize = 9;
const KIOSK_COLUMNS: &str =
    "kiosk_id, number, name, grp, enrolled_at, last_seen, agent_version, outbox_len, clock_skew_ms";

fn kiosk_row(r: &postgres::Row) -> Result<KioskRecord, StoreError> {
    Ok(KioskRecord {
        kiosk_id: get(r, 0)?,
        number: u32::try_from(get::<i64>(r, 1)?).map_err(|e| corrupt("kiosk number", e))?,
        name: get(r, 2)?,
        group: get(r, 3)?,
        enrolled_at: get(r, 4)?,
        last_seen: get(r, 5)?,
        agent_version: get(r, 6)?,
        outbox_len: get::<Option<i64>>(r, 7)?.map(|n| n.max(0) as u64),
        clock_skew_ms: get(r, 8)?,
    })
}

/// A kiosk with its stored newest heartbeat (one this server cannot read counts as none).
fn kiosk_health_row(r: &postgres::Row) -> Result<(KioskRecord, Option<Heartbeat>), StoreError> {
    let body: Option<String> = get(r, KIOSK_NCOL)?;
    Ok((
        kiosk_row(r)?,
        body.and_then(|b| serde_json::from_str(&b).ok()),
    ))
}

/// What purging a delivered submission sets: its values and the card's hash leave the body.
const PURGE: &str = "body = jsonb_set(body::jsonb - 'identity', '{values}', '{}'::jsonb)::text,
                     purged = TRUE";

const STAFF_COLUMNS: &str = "username, role, password_hash, created_at, disabled,
     COALESCE((SELECT failures FROM login_failures f
               WHERE f.username = staff.username AND f.source = '*'), 0),
     (SELECT MAX(locked_until) FROM login_failures f WHERE f.username = staff.username),
     last_login";

fn staff_row(r: &postgres::Row) -> Result<StaffUser, StoreError> {
    Ok(StaffUser {
        username: get(r, 0)?,
        role: get(r, 1)?,
        password_hash: get(r, 2)?,
        created_at: get(r, 3)?,
        disabled: get(r, 4)?,
        failed_logins: get::<i64>(r, 5)?.clamp(0, i64::from(u32::MAX)) as u32,
        locked_until: get(r, 6)?,
        last_login: get(r, 7)?,
    })
}

const ALERT_COLUMNS: &str =
    "id, kiosk_id, kind, detail, opened_at, acked_at, acked_by, ack_comment, resolved_at";

fn alert_row(r: &postgres::Row) -> Result<Alert, StoreError> {
    let kind: String = get(r, 2)?;
    Ok(Alert {
        id: get(r, 0)?,
        kiosk_id: get(r, 1)?,
        kind: AlertKind::parse(&kind).ok_or_else(|| corrupt("alert kind", &kind))?,
        detail: get(r, 3)?,
        opened_at: get(r, 4)?,
        acked_at: get(r, 5)?,
        acked_by: get(r, 6)?,
        ack_comment: get(r, 7)?,
        resolved_at: get(r, 8)?,
    })
}

fn status_row(r: &postgres::Row) -> Result<StatusRow, StoreError> {
    Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?, get(r, 4)?))
}

/// Collects rows through `f`.
fn each<T>(
    rows: &[postgres::Row],
    f: impl Fn(&postgres::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(f).collect()
}

/// Published form definitions parsed once per batch.
type FormCache = HashMap<(String, u32), Option<Service>>;

/// The form version `item` names, as published (`None`: never), through `forms`.
fn published_form<'c>(
    c: &mut Conn,
    item: &SubmissionUpload,
    forms: &'c mut FormCache,
) -> Result<Option<&'c Service>, StoreError> {
    let key = (item.service_id.clone(), item.form_version);
    if !forms.contains_key(&key) {
        let def: Option<String> = c
            .query_opt(
                "SELECT definition FROM forms WHERE service_id = $1 AND version = $2",
                &[&item.service_id, &i64::from(item.form_version)],
            )?
            .map(|r| get(&r, 0))
            .transpose()?;
        let service = def
            .map(|d| serde_json::from_str::<Service>(&d).map_err(|e| corrupt("form", e)))
            .transpose()?;
        forms.insert(key.clone(), service);
    }
    Ok(forms.get(&key).and_then(Option::as_ref))
}
