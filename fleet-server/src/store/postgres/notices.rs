//! Notices to citizens and the call centre's view of a request. A notice is claimed by the
//! instance that sends it (`FOR UPDATE SKIP LOCKED`, until its claim lapses), and every change
//! to a request locks its status row first, so that two instances never queue one state change
//! twice.

use super::*;
use crate::store::rows::{
    CLOSED_STATES, NOTICE_COLUMNS, NOTICE_JOB_COLUMNS, notice_job, notice_record, notice_update,
    request_history,
};
use crate::store::{
    NoticeJob, NoticeOutcome, NoticeRecord, Notices, RequestEvent, RequestView, SealedContact,
};

/// Queues the notice of state `$2` for request `$1` to the address kept for it, if any: `$3`
/// now, `$4` who asked.
pub(super) const QUEUE_NOTICE: &str = "INSERT INTO notices (tracking_code, state, channel, masked,
         address_key, status, next_attempt_at, created_at, requested_by)
     SELECT c.tracking_code, $2, c.channel, c.masked, c.address_key, 'pending', $3, $3, $4
     FROM request_contacts c WHERE c.tracking_code = $1
     RETURNING id";

/// The state of request `$1`, its row locked for the transaction.
pub(super) const LOCK_STATE: &str =
    "SELECT state FROM statuses WHERE tracking_code = $1 FOR UPDATE";

fn forget_if_closed() -> String {
    format!(
        "DELETE FROM request_contacts WHERE tracking_code = $1
         AND EXISTS (SELECT 1 FROM statuses s
                     WHERE s.tracking_code = $1 AND s.state IN {CLOSED_STATES})
         AND NOT EXISTS (SELECT 1 FROM notices n
                         WHERE n.tracking_code = $1 AND n.status = 'pending')"
    )
}

/// A notice from the first columns of `row` ([`NOTICE_COLUMNS`]).
fn notice_row(r: &postgres::Row) -> Result<NoticeRecord, StoreError> {
    notice_record((
        get(r, 0)?,
        get(r, 1)?,
        get(r, 2)?,
        get(r, 3)?,
        get(r, 4)?,
        get(r, 5)?,
        get(r, 6)?,
        get(r, 7)?,
        get(r, 8)?,
        get(r, 9)?,
        get(r, 10)?,
    ))
}

impl Notices for PgStore {
    fn save_contact(
        &self,
        code: &str,
        contact: &SealedContact,
        tell_receipt: bool,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.tx(|c| {
            let Some(row) = c.query_opt(LOCK_STATE, &[&code])? else {
                return Ok(false);
            };
            let state: String = get(&row, 0)?;
            if matches!(
                RequestState::parse(&state),
                Some(RequestState::Resolved | RequestState::Rejected)
            ) {
                return Ok(false);
            }
            let kept = c.execute(
                "INSERT INTO request_contacts (tracking_code, channel, sealed, address_key, masked,
                                               language, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tracking_code) DO NOTHING",
                &[
                    &code,
                    &contact.channel.as_str(),
                    &contact.sealed,
                    &contact.address_key,
                    &contact.masked,
                    &contact.language.code(),
                    &now,
                ],
            )? > 0;
            if kept && tell_receipt {
                c.execute(QUEUE_NOTICE, &[&code, &state, &now, &"citizen"])?;
            }
            Ok(kept)
        })
    }

    fn due_notices(
        &self,
        now: UnixMillis,
        limit: usize,
        claim_until: UnixMillis,
    ) -> Result<Vec<NoticeJob>, StoreError> {
        let rows = self.tx(|c| {
            c.query(
                &format!(
                    "WITH due AS (
                         SELECT id FROM notices
                         WHERE status = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1
                         ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),
                     claimed AS (
                         UPDATE notices n SET claimed_until = $3 FROM due WHERE n.id = due.id
                         RETURNING n.*)
                     SELECT {NOTICE_JOB_COLUMNS}, n.next_attempt_at
                     FROM claimed n JOIN request_contacts c ON c.tracking_code = n.tracking_code
                     ORDER BY n.next_attempt_at, n.id"
                ),
                &[&now, &(limit as i64), &claim_until],
            )
        })?;
        rows.iter()
            .map(|r| {
                notice_job((
                    get(r, 0)?,
                    get(r, 1)?,
                    get(r, 2)?,
                    get(r, 3)?,
                    get(r, 4)?,
                    get(r, 5)?,
                    get(r, 6)?,
                    get(r, 7)?,
                    get(r, 8)?,
                ))
            })
            .collect()
    }

    fn notice_done(
        &self,
        id: i64,
        outcome: &NoticeOutcome,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let (status, tried, next, sent_at, error) = notice_update(outcome, now);
        self.tx(|c| {
            let row = c.query_opt(
                "UPDATE notices SET status = $2, attempts = attempts + $3,
                        next_attempt_at = COALESCE($4, next_attempt_at),
                        sent_at = COALESCE($5, sent_at), last_error = $6, claimed_until = 0
                 WHERE id = $1 RETURNING tracking_code",
                &[&id, &status, &tried, &next, &sent_at, &error],
            )?;
            if let Some(row) = row {
                let code: String = get(&row, 0)?;
                c.query_opt(LOCK_STATE, &[&code])?;
                c.execute(&forget_if_closed(), &[&code])?;
            }
            Ok(())
        })
    }

    fn notices_sent_to(&self, address_key: &str, since: UnixMillis) -> Result<u32, StoreError> {
        let row = self.conn()?.query_one(
            "SELECT COUNT(*) FROM notices
             WHERE address_key = $1 AND status IN ('sent', 'unconfirmed') AND sent_at >= $2",
            &[&address_key, &since],
        )?;
        let n: i64 = get(&row, 0)?;
        Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn request_view(&self, code: &str) -> Result<Option<RequestView>, StoreError> {
        let mut c = self.conn()?;
        let Some(head) = c.query_opt(
            "SELECT s.service_id, s.kiosk_id, COALESCE(k.name, s.kiosk_id), s.language,
                    st.state, s.created_at, s.received_at, d.delivered_at
             FROM submissions s JOIN statuses st ON st.tracking_code = s.tracking_code
             LEFT JOIN kiosks k ON k.kiosk_id = s.kiosk_id
             LEFT JOIN deliveries d ON d.submission_id = s.id
             WHERE s.tracking_code = $1",
            &[&code],
        )?
        else {
            return Ok(None);
        };
        let state: String = get(&head, 4)?;
        let (created, received, delivered) = (get(&head, 5)?, get(&head, 6)?, get(&head, 7)?);
        let contact = c.query_opt(
            "SELECT channel, masked FROM request_contacts WHERE tracking_code = $1",
            &[&code],
        )?;
        let events = c
            .query(
                "SELECT at, state, actor, text FROM request_events WHERE tracking_code = $1
                 ORDER BY id",
                &[&code],
            )?
            .iter()
            .map(|r| {
                let state: Option<String> = get(r, 1)?;
                Ok(RequestEvent {
                    at: get(r, 0)?,
                    state: match state {
                        Some(s) => {
                            Some(RequestState::parse(&s).ok_or_else(|| corrupt("state", &s))?)
                        }
                        None => None,
                    },
                    by: get(r, 2)?,
                    text: get(r, 3)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let notices = c
            .query(
                &format!(
                    "SELECT {NOTICE_COLUMNS} FROM notices WHERE tracking_code = $1 ORDER BY id"
                ),
                &[&code],
            )?
            .iter()
            .map(notice_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(RequestView {
            tracking_code: code.to_owned(),
            service_id: get(&head, 0)?,
            kiosk_id: get(&head, 1)?,
            kiosk_name: get(&head, 2)?,
            language: get(&head, 3)?,
            state: RequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
            created_at: created,
            received_at: received,
            delivered_at: delivered,
            contact: match contact {
                Some(r) => {
                    let channel: String = get(&r, 0)?;
                    Some((
                        protocol::fleet::NoticeChannel::parse(&channel)
                            .ok_or_else(|| corrupt("notice channel", &channel))?,
                        get(&r, 1)?,
                    ))
                }
                None => None,
            },
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
        self.tx(|c| {
            let row = c
                .query_opt(LOCK_STATE, &[&code])?
                .ok_or_else(|| StoreError::NotFound(format!("request {code}")))?;
            let state: String = get(&row, 0)?;
            match c.query_opt(QUEUE_NOTICE, &[&code, &state, &now, &by])? {
                Some(r) => Ok(Some(get(&r, 0)?)),
                None => Ok(None),
            }
        })
    }

    fn add_request_note(
        &self,
        code: &str,
        by: &str,
        text: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.conn()?
            .execute(
                "INSERT INTO request_events (tracking_code, at, state, actor, text)
                 SELECT $1, $2, NULL, $3, $4
                 WHERE EXISTS (SELECT 1 FROM statuses WHERE tracking_code = $1)",
                &[&code, &now, &by, &text],
            )
            .map(|n| n > 0)
    }

    fn troubled_notices(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(String, NoticeRecord)>, StoreError> {
        let rows = self.conn()?.query(
            &format!(
                "SELECT {NOTICE_COLUMNS}, tracking_code FROM notices
                 WHERE status IN ('failed', 'unconfirmed') AND created_at >= $1
                 ORDER BY id DESC LIMIT $2"
            ),
            &[&since, &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| Ok((get(r, 11)?, notice_row(r)?)))
            .collect()
    }

    fn forget_contacts(&self, kept_before: UnixMillis) -> Result<usize, StoreError> {
        self.tx(|c| {
            let forgotten = c.execute(
                &format!(
                    "DELETE FROM request_contacts
                     WHERE created_at < $1
                        OR (tracking_code IN (SELECT tracking_code FROM statuses
                                              WHERE state IN {CLOSED_STATES})
                            AND NOT EXISTS (SELECT 1 FROM notices n
                                            WHERE n.tracking_code = request_contacts.tracking_code
                                              AND n.status = 'pending'))"
                ),
                &[&kept_before],
            )?;
            c.execute(
                "UPDATE notices SET status = 'cancelled', last_error = 'the address was forgotten'
                 WHERE status = 'pending'
                   AND tracking_code NOT IN (SELECT tracking_code FROM request_contacts)",
                &[],
            )?;
            Ok(forgotten as usize)
        })
    }
}
