//! The outbox: submissions stored durably before the citizen is answered, uploaded later.
//!
//! A row goes `queued` → `acked` (the fleet holds it; its personal data is deleted here) or
//! `queued` → `rejected` (the fleet refused it for good; kept for a technician).

use protocol::fleet::SubmissionUpload;
use protocol::tracking::TrackingCode;
use protocol::validate::FormValues;
use protocol::{Lang, UnixMillis};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::tracking;

/// A submission to store.
#[derive(Debug, Clone)]
pub struct NewSubmission<'a> {
    /// The app's id for it.
    pub id: Uuid,
    /// The service.
    pub service_id: &'a str,
    /// The form version.
    pub form_version: u32,
    /// The language.
    pub language: Lang,
    /// The values.
    pub values: &'a FormValues,
    /// Keyed card hash.
    pub identity: Option<&'a str>,
    /// Where the citizen asked to be told about changes (deleted with the values at the ack).
    pub notify: Option<&'a protocol::fleet::NoticeRequest>,
}

/// What the store answers for a stored submission.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAck {
    /// The tracking code.
    pub tracking_code: TrackingCode,
    /// When it was committed.
    pub created_at: UnixMillis,
    /// False when this id was stored before (a retry).
    pub new: bool,
}

/// A queued submission, ready to upload.
pub type QueuedSubmission = SubmissionUpload;

/// What the kiosk keeps of a submission it issued a code for.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The service.
    pub service_id: String,
    /// `queued`, `acked` or `rejected`.
    pub state: String,
    /// When it was stored.
    pub created_at: UnixMillis,
    /// The citizen's language.
    pub language: Lang,
}

/// Counts for heartbeats and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Waiting for upload.
    pub queued: u64,
    /// Creation time of the oldest waiting one.
    pub oldest_queued_at: Option<UnixMillis>,
    /// Refused by the fleet.
    pub rejected: u64,
    /// Delivered.
    pub acked: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    values: FormValues,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify: Option<protocol::fleet::NoticeRequest>,
}

fn payload_hash(s: &NewSubmission<'_>, payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(s.service_id.as_bytes());
    h.update([0]);
    h.update(s.form_version.to_be_bytes());
    h.update(s.language.code().as_bytes());
    h.update([0]);
    h.update(payload.as_bytes());
    protocol::hex(&h.finalize())
}

impl Store {
    /// Stores a submission in one transaction and returns its tracking code. Returns only after
    /// the commit is on disk. A second call with the same id and content returns the first
    /// answer; with the same id and other content it fails with [`StoreError::Conflict`].
    pub fn store_submission(&mut self, s: &NewSubmission<'_>) -> Result<StoredAck, StoreError> {
        let payload = serde_json::to_string(&Payload {
            values: s.values.clone(),
            identity: s.identity.map(str::to_owned),
            notify: s.notify.cloned(),
        })
        .map_err(|e| StoreError::Corrupt {
            what: "submission",
            message: e.to_string(),
        })?;
        let hash = payload_hash(s, &payload);
        let (number, key) = self.issuer()?;
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let id = s.id.to_string();
        // Rows are never deleted (only their payload is), so the next sequence number is derived
        // from the unique index rather than kept as a second row to write on every commit.
        let seq: u32 = tx
            .prepare_cached("SELECT COALESCE(MAX(seq) + 1, 0) FROM outbox")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(err)?;
        let body = tracking::permute(seq, key).ok_or(StoreError::SequenceExhausted)?;
        let tracking_code =
            TrackingCode::from_parts(number, body).ok_or(StoreError::SequenceExhausted)?;
        let created_at = super::now_ms();
        // Insert first; only when the id is already there (a retry) look at the original. The
        // happy path makes no extra query.
        let inserted = tx
            .prepare_cached(
                "INSERT INTO outbox (id, seq, tracking_code, service_id, form_version, language,
                                     payload, payload_hash, created_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued')
                 ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    seq,
                    tracking_code.as_str(),
                    s.service_id,
                    s.form_version,
                    s.language.code(),
                    payload,
                    hash,
                    created_at
                ])
            })
            .map_err(err)?;
        if inserted != 0
            && let Some(identity) = s.identity
        {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO card_requests (identity, tracking_code, known_at)
                 VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![identity, tracking_code.as_str(), created_at]))
            .map_err(err)?;
        }
        if inserted == 0 {
            let (old_hash, code, created_at): (String, String, i64) = tx
                .prepare_cached(
                    "SELECT payload_hash, tracking_code, created_at FROM outbox WHERE id = ?1",
                )
                .and_then(|mut st| st.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
                .map_err(err)?;
            if old_hash != hash {
                return Err(StoreError::Conflict(s.id));
            }
            let tracking_code = TrackingCode::parse(&code).map_err(|e| StoreError::Corrupt {
                what: "tracking code",
                message: e.to_string(),
            })?;
            return Ok(StoredAck {
                tracking_code,
                created_at,
                new: false,
            });
        }
        tx.commit().map_err(err)?;
        Ok(StoredAck {
            tracking_code,
            created_at,
            new: true,
        })
    }

    /// Up to `limit` queued submissions, oldest first.
    pub fn queued_batch(&mut self, limit: usize) -> Result<Vec<QueuedSubmission>, StoreError> {
        let from = match self.queued_from {
            Some(f) => f,
            // Once per start: a scan finds where the queue begins.
            None => self
                .conn
                .query_row(
                    "SELECT COALESCE((SELECT MIN(seq) FROM outbox WHERE state = 'queued'),
                                     (SELECT COALESCE(MAX(seq) + 1, 0) FROM outbox))",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?,
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, tracking_code, service_id, form_version, language, payload, created_at,
                        seq
                 FROM outbox WHERE seq >= ?1 AND state = 'queued' ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut first_seq = None;
        let rows = stmt
            .query_map(params![from, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let corrupt = |what, e: &dyn std::fmt::Display| StoreError::Corrupt {
            what,
            message: e.to_string(),
        };
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        for row in rows {
            let (id, code, service_id, form_version, lang, payload, created_at, seq) =
                row.map_err(|e| self.err(e))?;
            first_seq.get_or_insert(seq);
            let decoded = (|| -> Result<SubmissionUpload, StoreError> {
                let payload: Payload = serde_json::from_str(payload.as_deref().unwrap_or(""))
                    .map_err(|e| corrupt("outbox payload", &e))?;
                Ok(SubmissionUpload {
                    id: Uuid::parse_str(&id).map_err(|e| corrupt("outbox id", &e))?,
                    tracking_code: TrackingCode::parse(&code)
                        .map_err(|e| corrupt("tracking code", &e))?,
                    service_id,
                    form_version,
                    language: serde_json::from_value(serde_json::Value::String(lang))
                        .map_err(|e| corrupt("language", &e))?,
                    values: payload.values,
                    identity: payload.identity,
                    created_at,
                    notify: payload.notify,
                })
            })();
            match decoded {
                Ok(item) => out.push(item),
                Err(e) => unreadable.push((seq, e.to_string())),
            }
        }
        drop(stmt);
        // A row that cannot be read back must not block the queue behind it: it is set aside,
        // data intact, for a technician.
        for (seq, reason) in unreadable {
            tracing::error!(seq, %reason, "queued submission unreadable; set aside as rejected");
            self.conn
                .execute(
                    "UPDATE outbox SET state = 'rejected', last_error = ?2 WHERE seq = ?1",
                    params![seq, format!("unreadable on this kiosk: {reason}")],
                )
                .map_err(|e| self.err(e))?;
        }
        self.queued_from = match first_seq {
            Some(seq) => Some(seq),
            None => Some(
                self.conn
                    .query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM outbox", [], |r| {
                        r.get(0)
                    })
                    .map_err(|e| self.err(e))?,
            ),
        };
        Ok(out)
    }

    /// Records the fleet's acks: stored items lose their personal data and become `acked`;
    /// rejected ones are kept with the reason. Returns how many were acked.
    pub fn apply_acks(&mut self, acks: &[protocol::fleet::ItemAck]) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let now = super::now_ms();
        let tx = self.conn.transaction().map_err(err)?;
        let mut acked = 0;
        for ack in acks {
            let id = ack.id.to_string();
            match &ack.outcome {
                protocol::fleet::ItemOutcome::Accepted { received_at }
                | protocol::fleet::ItemOutcome::Duplicate { received_at } => {
                    let row: Option<(String, String)> = tx
                        .prepare_cached(
                            "UPDATE outbox SET state = 'acked', payload = NULL, acked_at = ?2,
                                    last_error = NULL
                             WHERE id = ?1 AND state = 'queued'
                             RETURNING tracking_code, service_id",
                        )
                        .and_then(|mut st| {
                            st.query_row(params![id, now], |r| Ok((r.get(0)?, r.get(1)?)))
                                .optional()
                        })
                        .map_err(err)?;
                    if let Some((code, service)) = row {
                        acked += 1;
                        tx.prepare_cached(
                            "INSERT INTO status_cache (tracking_code, service_id, state, note,
                                                       updated_at, known_at)
                             VALUES (?1, ?2, 'submitted', NULL, ?3, ?4)
                             ON CONFLICT (tracking_code) DO NOTHING",
                        )
                        .and_then(|mut st| st.execute(params![code, service, received_at, now]))
                        .map_err(err)?;
                    }
                }
                protocol::fleet::ItemOutcome::Rejected { reason } => {
                    tx.execute(
                        "UPDATE outbox SET state = 'rejected', last_error = ?2
                         WHERE id = ?1 AND state = 'queued'",
                        params![id, reason.chars().take(500).collect::<String>()],
                    )
                    .map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)?;
        if acked > 0 {
            self.scrub_wal();
        }
        Ok(acked)
    }

    /// `secure_delete` overwrites what a delete frees in the database file, but the frames that
    /// first wrote the values stay in the `-wal` file until a checkpoint overwrites them. A
    /// `TRUNCATE` checkpoint copies the current pages into the database and empties the WAL, so
    /// an acknowledged submission's values are on disk nowhere. A busy checkpoint (a reader in
    /// the way) is retried at the next ack; it never fails the ack itself.
    fn scrub_wal(&self) {
        let busy: Result<i64, _> =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0));
        match busy {
            Ok(0) => {}
            Ok(_) => tracing::debug!("WAL checkpoint busy; it is retried at the next ack"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }

    /// Notes a failed upload attempt on the given items.
    pub fn note_upload_failure(&self, ids: &[Uuid], error: &str) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            )
            .map_err(|e| self.err(e))?;
        for id in ids {
            stmt.execute(params![id.to_string(), error])
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Counts by state.
    pub fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.conn
            .query_row(
                "SELECT
                    COUNT(*) FILTER (WHERE state = 'queued'),
                    MIN(created_at) FILTER (WHERE state = 'queued'),
                    COUNT(*) FILTER (WHERE state = 'rejected'),
                    COUNT(*) FILTER (WHERE state = 'acked')
                 FROM outbox",
                [],
                |r| {
                    Ok(OutboxStats {
                        queued: r.get::<_, i64>(0)? as u64,
                        oldest_queued_at: r.get(1)?,
                        rejected: r.get::<_, i64>(2)? as u64,
                        acked: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// The local state of a code this kiosk issued: service and whether it still waits.
    pub fn outbox_entry(&mut self, code: &TrackingCode) -> Result<Option<OutboxEntry>, StoreError> {
        // The code's body is the permuted sequence: invert it and read the row by rowid.
        let key = match self.issuer() {
            Ok((_, key)) => key,
            Err(StoreError::NotEnrolled) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(seq) = tracking::unpermute(code.body(), key) else {
            return Ok(None);
        };
        let row: Option<(OutboxEntry, String)> = self
            .conn
            .prepare_cached(
                "SELECT service_id, state, created_at, language, tracking_code FROM outbox
                 WHERE seq = ?1",
            )
            .and_then(|mut st| {
                st.query_row([seq], |r| {
                    let lang: String = r.get(3)?;
                    Ok((
                        OutboxEntry {
                            service_id: r.get(0)?,
                            state: r.get(1)?,
                            created_at: r.get(2)?,
                            language: serde_json::from_value(serde_json::Value::String(lang))
                                .unwrap_or_default(),
                        },
                        r.get(4)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(row
            .filter(|(_, stored)| stored == code.as_str())
            .map(|(e, _)| e))
    }
}
