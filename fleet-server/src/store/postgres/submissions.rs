//! Submissions: ingest (exactly once per id, whichever instance a retry lands on), states from
//! the agenda system, look-ups.

use super::*;

impl Submissions for PgStore {
    fn ingest(
        &self,
        kiosk: &KioskRecord,
        items: &[SubmissionUpload],
        now: UnixMillis,
        check: &ItemCheck<'_>,
    ) -> Result<Vec<ItemAck>, StoreError> {
        self.tx(|c| {
            let mut acks = Vec::with_capacity(items.len());
            let mut forms = FormCache::new();
            for item in items {
                let outcome = match known(c, item)? {
                    Some(outcome) => outcome_for(kiosk, outcome),
                    None => match check(item, published_form(c, item, &mut forms)?) {
                        Err(reason) => ItemOutcome::Rejected { reason },
                        Ok(()) => insert(c, kiosk, item, now)?,
                    },
                };
                acks.push(ItemAck {
                    id: item.id,
                    outcome,
                });
            }
            Ok(acks)
        })
    }

    fn status(&self, code: &str) -> Result<Option<StatusRecord>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT tracking_code, service_id, state, note, updated_at FROM statuses
             WHERE tracking_code = $1",
            &[&code],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let catalog = self.catalog()?;
        status_record(status_row(&row)?, catalog.as_ref()).map(Some)
    }

    fn requests_by_identity(
        &self,
        identity: &str,
        limit: usize,
    ) -> Result<Vec<StatusRecord>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT st.tracking_code, st.service_id, st.state, st.note, st.updated_at
             FROM submissions su JOIN statuses st ON st.tracking_code = su.tracking_code
             WHERE su.identity = $1
             ORDER BY su.created_at DESC LIMIT $2",
            &[&identity, &(limit as i64)],
        )?;
        let catalog = self.catalog()?;
        rows.iter()
            .map(|r| status_record(status_row(r)?, catalog.as_ref()))
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
        self.tx(|c| {
            let Some(row) = c.query_opt(super::notices::LOCK_STATE, &[&code])? else {
                return Ok(false);
            };
            let old: String = get(&row, 0)?;
            c.execute(
                "UPDATE statuses SET state = $2, note = $3, updated_at = $4 WHERE tracking_code = $1",
                &[&code, &state.as_str(), &note, &now],
            )?;
            if old != state.as_str() {
                c.execute(
                    "INSERT INTO request_events (tracking_code, at, state, actor)
                     VALUES ($1, $2, $3, 'agenda')",
                    &[&code, &now, &state.as_str()],
                )?;
                c.execute(
                    super::notices::QUEUE_NOTICE,
                    &[&code, &state.as_str(), &now, &"citizen"],
                )?;
            }
            Ok(true)
        })
    }

    fn forget_identities(&self, before: UnixMillis) -> Result<usize, StoreError> {
        self.conn()?
            .execute(
                "UPDATE submissions SET identity = NULL
                 WHERE identity IS NOT NULL AND received_at < $1",
                &[&before],
            )
            .map(|n| n as usize)
    }

    fn submission_days(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT to_char(to_timestamp(received_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                    AS day, COUNT(*)
             FROM submissions WHERE kiosk_id = $1 AND received_at >= $2
             GROUP BY day ORDER BY day DESC",
            &[&kiosk_id, &since],
        )?;
        each(&rows, |r| Ok((get(r, 0)?, get::<i64>(r, 1)?.max(0) as u64)))
    }

    fn submission_count(&self) -> Result<u64, StoreError> {
        let row = self
            .conn()?
            .query_one("SELECT COUNT(*) FROM submissions", &[])?;
        Ok(get::<i64>(&row, 0)?.max(0) as u64)
    }

    fn submissions(&self, limit: usize) -> Result<Vec<SubmissionMeta>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT s.id, s.tracking_code, s.kiosk_id, s.service_id, st.state, s.created_at,
                    s.received_at, d.delivered_at
             FROM submissions s
             JOIN statuses st ON st.tracking_code = s.tracking_code
             LEFT JOIN deliveries d ON d.submission_id = s.id
             ORDER BY s.received_at DESC, s.id LIMIT $1",
            &[&(limit as i64)],
        )?;
        each(&rows, |r| {
            let id: String = get(r, 0)?;
            let state: String = get(r, 4)?;
            Ok(SubmissionMeta {
                id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt("submission id", e))?,
                tracking_code: get(r, 1)?,
                kiosk_id: get(r, 2)?,
                service_id: get(r, 3)?,
                state: RequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
                created_at: get(r, 5)?,
                received_at: get(r, 6)?,
                delivered_at: get(r, 7)?,
            })
        })
    }
}

/// A submission already stored under the item's id: its kiosk and when it arrived.
fn known(c: &mut Conn, item: &SubmissionUpload) -> Result<Option<(String, i64)>, StoreError> {
    c.query_opt(
        "SELECT kiosk_id, received_at FROM submissions WHERE id = $1",
        &[&item.id.to_string()],
    )?
    .map(|r| Ok((get(&r, 0)?, get(&r, 1)?)))
    .transpose()
}

/// The answer to a retry of a stored submission.
fn outcome_for(kiosk: &KioskRecord, (owner, received_at): (String, i64)) -> ItemOutcome {
    if owner == kiosk.kiosk_id {
        ItemOutcome::Duplicate { received_at }
    } else {
        ItemOutcome::Rejected {
            reason: "the id belongs to another kiosk".into(),
        }
    }
}

/// Stores a new submission with its status and delivery entry. Another instance may be storing
/// the same one at this moment (a kiosk's retry that landed elsewhere): the unique keys make
/// one insert win, and this one then answers as for a retry.
fn insert(
    c: &mut Conn,
    kiosk: &KioskRecord,
    item: &SubmissionUpload,
    now: UnixMillis,
) -> Result<ItemOutcome, StoreError> {
    let id = item.id.to_string();
    let inserted = c.execute(
        "INSERT INTO submissions (id, tracking_code, kiosk_id, service_id, form_version, language,
                                  body, created_at, received_at, identity)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        &[
            &id,
            &item.tracking_code.as_str(),
            &kiosk.kiosk_id,
            &item.service_id,
            &i64::from(item.form_version),
            &item.language.code(),
            &json("submission", item)?,
            &item.created_at,
            &now,
            &item.identity,
        ],
    )?;
    if inserted == 0 {
        return Ok(match known(c, item)? {
            Some(stored) => outcome_for(kiosk, stored),
            None => ItemOutcome::Rejected {
                reason: "tracking code already used".into(),
            },
        });
    }
    c.execute(
        "INSERT INTO statuses (tracking_code, service_id, state, updated_at)
         VALUES ($1, $2, 'submitted', $3)",
        &[&item.tracking_code.as_str(), &item.service_id, &now],
    )?;
    c.execute(
        "INSERT INTO deliveries (submission_id, next_attempt_at) VALUES ($1, $2)",
        &[&id, &now],
    )?;
    Ok(ItemOutcome::Accepted { received_at: now })
}
