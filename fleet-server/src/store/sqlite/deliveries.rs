//! Deliveries of submissions to the agenda system: what is due, delivered, failed.

use super::*;

impl Deliveries for SqliteStore {
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
            out.push(agenda_delivery(&body, kiosk_id, received_at)?);
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
}
