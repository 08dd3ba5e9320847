//! Submissions: ingest (exactly once per id), states from the agenda system, look-ups.

use super::*;

impl Submissions for SqliteStore {
    fn ingest(
        &self,
        kiosk: &KioskRecord,
        items: &[SubmissionUpload],
        now: UnixMillis,
        check: &ItemCheck<'_>,
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
                None => match check(item, published_form(&tx, item, &mut forms)?) {
                    Err(reason) => ItemOutcome::Rejected { reason },
                    Ok(()) => {
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
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let old = super::notices::state_of(&tx, code)?;
        let Some(old) = old else {
            return Ok(false);
        };
        tx.execute(
            "UPDATE statuses SET state = ?2, note = ?3, updated_at = ?4 WHERE tracking_code = ?1",
            params![code, state.as_str(), note, now],
        )
        .map_err(db)?;
        if old != state.as_str() {
            tx.execute(
                "INSERT INTO request_events (tracking_code, at, state, actor)
                 VALUES (?1, ?2, ?3, 'agenda')",
                params![code, now, state.as_str()],
            )
            .map_err(db)?;
            tx.execute(
                super::notices::QUEUE_NOTICE,
                params![code, state.as_str(), now, "citizen"],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(true)
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
