//! Deliveries of submissions to the agenda system: what is due (claimed by the instance that
//! asks, so that no other sends it meanwhile), delivered, failed.

use super::*;

impl Deliveries for PgStore {
    fn due_deliveries(
        &self,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<AgendaDelivery>, StoreError> {
        // Rows another instance is claiming right now are skipped, not waited for; a claim
        // lapses after `claim_ms` (its instance died, or is slow: the agenda system takes a
        // repeat by its Idempotency-Key).
        let rows = self.tx(|c| {
            c.query(
                "WITH due AS (
                     SELECT submission_id FROM deliveries
                     WHERE delivered_at IS NULL AND next_attempt_at <= $1 AND claimed_until <= $1
                     ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                 UPDATE deliveries d SET claimed_by = $3, claimed_until = $4
                 FROM due, submissions s
                 WHERE d.submission_id = due.submission_id AND s.id = d.submission_id
                 RETURNING s.body, s.kiosk_id, s.received_at, d.next_attempt_at",
                &[
                    &now,
                    &(limit as i64),
                    &self.instance,
                    &(now + self.claim_ms),
                ],
            )
        })?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            let next: i64 = get(r, 3)?;
            due.push((
                next,
                agenda_delivery(&get::<String>(r, 0)?, get(r, 1)?, get(r, 2)?)?,
            ));
        }
        // RETURNING keeps no order: oldest due first, as the connector starts them.
        due.sort_by_key(|(next, _)| *next);
        Ok(due.into_iter().map(|(_, d)| d).collect())
    }

    fn purge_delivered(&self, delivered_before: UnixMillis) -> Result<usize, StoreError> {
        self.conn()?
            .execute(
                &format!(
                    "UPDATE submissions SET {PURGE}
                     WHERE NOT purged AND id IN (
                         SELECT submission_id FROM deliveries
                         WHERE delivered_at IS NOT NULL AND delivered_at <= $1)"
                ),
                &[&delivered_before],
            )
            .map(|n| n as usize)
    }

    fn mark_delivered(
        &self,
        id: uuid::Uuid,
        now: UnixMillis,
        purge: bool,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        self.tx(|c| {
            if purge {
                c.execute(
                    &format!("UPDATE submissions SET {PURGE} WHERE id = $1 AND NOT purged"),
                    &[&id],
                )?;
            }
            c.execute(
                "UPDATE deliveries SET delivered_at = $2, last_error = NULL, claimed_by = NULL,
                                       claimed_until = 0
                 WHERE submission_id = $1",
                &[&id, &now],
            )?;
            c.execute(
                "UPDATE statuses SET state = 'received', updated_at = $2
                 WHERE state = 'submitted'
                   AND tracking_code = (SELECT tracking_code FROM submissions WHERE id = $1)",
                &[&id, &now],
            )?;
            Ok(())
        })
    }

    fn delivery_failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        now: UnixMillis,
        retry_in: &dyn Fn(u32) -> i64,
    ) -> Result<u32, StoreError> {
        let id = id.to_string();
        self.tx(|c| {
            let row = c.query_one(
                "SELECT attempts FROM deliveries WHERE submission_id = $1 FOR UPDATE",
                &[&id],
            )?;
            let attempts = get::<i64>(&row, 0)?.clamp(0, i64::from(u32::MAX - 1)) as u32;
            let retry_at = now + retry_in(attempts);
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = $2,
                                       next_attempt_at = $3, claimed_by = NULL, claimed_until = 0
                 WHERE submission_id = $1",
                &[&id, &error, &retry_at],
            )?;
            Ok(attempts + 1)
        })
    }
}
