//! Notices to citizens and the call centre's view of a request.

use super::*;
use crate::store::rows::{
    CLOSED_STATES, NOTICE_COLUMNS, NOTICE_JOB_COLUMNS, NoticeJobRow, NoticeRow, notice_job,
    notice_record, notice_update, request_history,
};
use crate::store::{
    NoticeJob, NoticeOutcome, NoticeRecord, Notices, RequestEvent, RequestView, SealedContact,
};

/// Queues the notice of state `?2` for request `?1` to the address kept for it, if any:
/// `?3` now, `?4` who asked.
pub(super) const QUEUE_NOTICE: &str = "INSERT INTO notices (tracking_code, state, channel, masked,
         address_key, status, next_attempt_at, created_at, requested_by)
     SELECT c.tracking_code, ?2, c.channel, c.masked, c.address_key, 'pending', ?3, ?3, ?4
     FROM request_contacts c WHERE c.tracking_code = ?1";

/// Deletes the address of request `?1` once it is closed and nothing is left to send to it.
fn forget_if_closed() -> String {
    format!(
        "DELETE FROM request_contacts WHERE tracking_code = ?1
         AND EXISTS (SELECT 1 FROM statuses s
                     WHERE s.tracking_code = ?1 AND s.state IN {CLOSED_STATES})
         AND NOT EXISTS (SELECT 1 FROM notices n
                         WHERE n.tracking_code = ?1 AND n.status = 'pending')"
    )
}

/// The state of request `code` (in a write transaction: no one changes it meanwhile).
pub(super) fn state_of(tx: &Transaction<'_>, code: &str) -> Result<Option<String>, StoreError> {
    tx.prepare_cached("SELECT state FROM statuses WHERE tracking_code = ?1")
        .and_then(|mut st| st.query_row([code], |r| r.get(0)).optional())
        .map_err(db)
}

fn notice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoticeRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

impl Notices for SqliteStore {
    fn save_contact(
        &self,
        code: &str,
        contact: &SealedContact,
        tell_receipt: bool,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let state = state_of(&tx, code)?;
        let Some(state) = state else {
            return Ok(false);
        };
        if matches!(
            RequestState::parse(&state),
            Some(RequestState::Resolved | RequestState::Rejected)
        ) {
            return Ok(false);
        }
        let kept = tx
            .execute(
                "INSERT INTO request_contacts (tracking_code, channel, sealed, address_key, masked,
                                               language, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (tracking_code) DO NOTHING",
                params![
                    code,
                    contact.channel.as_str(),
                    contact.sealed,
                    contact.address_key,
                    contact.masked,
                    contact.language.code(),
                    now
                ],
            )
            .map_err(db)?
            > 0;
        if kept && tell_receipt {
            tx.execute(QUEUE_NOTICE, params![code, state, now, "citizen"])
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(kept)
    }

    fn due_notices(
        &self,
        now: UnixMillis,
        limit: usize,
        claim_until: UnixMillis,
    ) -> Result<Vec<NoticeJob>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let rows: Vec<NoticeJobRow> = {
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {NOTICE_JOB_COLUMNS}
                     FROM notices n JOIN request_contacts c ON c.tracking_code = n.tracking_code
                     WHERE n.status = 'pending' AND n.next_attempt_at <= ?1
                       AND n.claimed_until <= ?1
                     ORDER BY n.next_attempt_at, n.id LIMIT ?2"
                ))
                .map_err(db)?;
            st.query_map(params![now, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?
        };
        for r in &rows {
            exec_cached(
                &tx,
                "UPDATE notices SET claimed_until = ?2 WHERE id = ?1",
                params![r.0, claim_until],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        rows.into_iter().map(notice_job).collect()
    }

    fn notice_done(
        &self,
        id: i64,
        outcome: &NoticeOutcome,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let (status, tried, next, sent_at, error) = notice_update(outcome, now);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let code: Option<String> = tx
            .query_row(
                "UPDATE notices SET status = ?2, attempts = attempts + ?3,
                        next_attempt_at = COALESCE(?4, next_attempt_at),
                        sent_at = COALESCE(?5, sent_at), last_error = ?6, claimed_until = 0
                 WHERE id = ?1 RETURNING tracking_code",
                params![id, status, tried, next, sent_at, error],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if let Some(code) = code {
            tx.execute(&forget_if_closed(), [&code]).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn notices_sent_to(&self, address_key: &str, since: UnixMillis) -> Result<u32, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT COUNT(*) FROM notices
                 WHERE address_key = ?1 AND status IN ('sent', 'unconfirmed') AND sent_at >= ?2",
            )
            .and_then(|mut st| st.query_row(params![address_key, since], |r| r.get::<_, i64>(0)))
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32)
            .map_err(db)
    }

    fn request_view(&self, code: &str) -> Result<Option<RequestView>, StoreError> {
        let conn = self.conn();
        type Head = (
            String,
            String,
            String,
            String,
            String,
            i64,
            i64,
            Option<i64>,
        );
        let head: Option<Head> = conn
            .query_row(
                "SELECT s.service_id, s.kiosk_id, COALESCE(k.name, s.kiosk_id), s.language,
                        st.state, s.created_at, s.received_at, d.delivered_at
                 FROM submissions s JOIN statuses st ON st.tracking_code = s.tracking_code
                 LEFT JOIN kiosks k ON k.kiosk_id = s.kiosk_id
                 LEFT JOIN deliveries d ON d.submission_id = s.id
                 WHERE s.tracking_code = ?1",
                [code],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )
            .optional()
            .map_err(db)?;
        let Some((service_id, kiosk_id, kiosk_name, language, state, created, received, delivered)) =
            head
        else {
            return Ok(None);
        };
        let contact: Option<(String, String)> = conn
            .query_row(
                "SELECT channel, masked FROM request_contacts WHERE tracking_code = ?1",
                [code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        let mut st = conn
            .prepare(
                "SELECT at, state, actor, text FROM request_events WHERE tracking_code = ?1
                 ORDER BY id",
            )
            .map_err(db)?;
        let events = st
            .query_map([code], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })
            .map_err(db)?
            .map(|row| {
                let (at, state, by, text) = row.map_err(db)?;
                Ok(RequestEvent {
                    at,
                    state: match state {
                        Some(s) => {
                            Some(RequestState::parse(&s).ok_or_else(|| corrupt("state", &s))?)
                        }
                        None => None,
                    },
                    by,
                    text,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {NOTICE_COLUMNS} FROM notices WHERE tracking_code = ?1 ORDER BY id"
            ))
            .map_err(db)?;
        let notices = st
            .query_map([code], notice_row)
            .map_err(db)?
            .map(|r| notice_record(r.map_err(db)?))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(RequestView {
            tracking_code: code.to_owned(),
            service_id,
            kiosk_id,
            kiosk_name,
            language,
            state: RequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
            created_at: created,
            received_at: received,
            delivered_at: delivered,
            contact: contact
                .map(|(channel, masked)| {
                    protocol::fleet::NoticeChannel::parse(&channel)
                        .map(|c| (c, masked))
                        .ok_or_else(|| corrupt("notice channel", &channel))
                })
                .transpose()?,
            events: request_history(created, received, delivered, events),
            notices,
        }))
    }

    fn resend_notice(
        &self,
        code: &str,
        by: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let state =
            state_of(&tx, code)?.ok_or_else(|| StoreError::NotFound(format!("request {code}")))?;
        let queued = tx
            .execute(QUEUE_NOTICE, params![code, state, now, by])
            .map_err(db)?;
        let id = (queued > 0).then(|| tx.last_insert_rowid());
        tx.commit().map_err(db)?;
        Ok(id)
    }

    fn add_request_note(
        &self,
        code: &str,
        by: &str,
        text: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.conn()
            .execute(
                "INSERT INTO request_events (tracking_code, at, state, actor, text)
                 SELECT ?1, ?2, NULL, ?3, ?4
                 WHERE EXISTS (SELECT 1 FROM statuses WHERE tracking_code = ?1)",
                params![code, now, by, text],
            )
            .map(|n| n > 0)
            .map_err(db)
    }

    fn troubled_notices(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(String, NoticeRecord)>, StoreError> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {NOTICE_COLUMNS}, tracking_code FROM notices
                 WHERE status IN ('failed', 'unconfirmed') AND created_at >= ?1
                 ORDER BY id DESC LIMIT ?2"
            ))
            .map_err(db)?;
        let rows = st
            .query_map(params![since, limit as i64], |r| {
                Ok((r.get::<_, String>(11)?, notice_row(r)?))
            })
            .map_err(db)?;
        rows.map(|r| {
            let (code, row) = r.map_err(db)?;
            Ok((code, notice_record(row)?))
        })
        .collect()
    }

    fn forget_contacts(&self, kept_before: UnixMillis) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let forgotten = tx
            .execute(
                &format!(
                    "DELETE FROM request_contacts
                     WHERE created_at < ?1
                        OR (tracking_code IN (SELECT tracking_code FROM statuses
                                              WHERE state IN {CLOSED_STATES})
                            AND NOT EXISTS (SELECT 1 FROM notices n
                                            WHERE n.tracking_code = request_contacts.tracking_code
                                              AND n.status = 'pending'))"
                ),
                [kept_before],
            )
            .map_err(db)?;
        tx.execute(
            "UPDATE notices SET status = 'cancelled', last_error = 'the address was forgotten'
             WHERE status = 'pending'
               AND tracking_code NOT IN (SELECT tracking_code FROM request_contacts)",
            [],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(forgotten)
    }
}
