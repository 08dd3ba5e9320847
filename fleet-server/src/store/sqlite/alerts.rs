//! Alerts: opened and resolved by the sweeper, acknowledged by staff.

use super::*;

impl Alerts for SqliteStore {
    fn reconcile_alerts(
        &self,
        kiosk_id: &str,
        active: &[(AlertKind, String)],
        keep: &[AlertKind],
        now: UnixMillis,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let open: Vec<Alert> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = ?1 AND resolved_at IS NULL"
                ))
                .map_err(db)?;
            stmt.query_map([kiosk_id], alert_row)
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        let plan = plan_alerts(open, active, keep);
        let mut events = Vec::new();
        for (id, detail) in plan.redetail {
            tx.execute(
                "UPDATE alerts SET detail = ?2 WHERE id = ?1",
                params![id, detail],
            )
            .map_err(db)?;
        }
        for (kind, detail) in plan.open {
            tx.execute(
                "INSERT INTO alerts (kiosk_id, kind, detail, opened_at) VALUES (?1, ?2, ?3, ?4)",
                params![kiosk_id, kind.as_str(), detail, now],
            )
            .map_err(db)?;
            events.push(opened(tx.last_insert_rowid(), kiosk_id, kind, detail, now));
        }
        for mut a in plan.resolve {
            tx.execute(
                "UPDATE alerts SET resolved_at = ?2 WHERE id = ?1",
                params![a.id, now],
            )
            .map_err(db)?;
            a.resolved_at = Some(now);
            events.push(AlertEvent {
                event: "resolved",
                alert: a,
            });
        }
        tx.commit().map_err(db)?;
        Ok(events)
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE (?1 = 0 OR resolved_at IS NULL)
                 ORDER BY opened_at DESC, id DESC LIMIT ?2"
            ))
            .map_err(db)?;
        stmt.query_map(params![open_only, limit as i64], alert_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn kiosk_alerts(&self, kiosk_id: &str, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = ?1
                 ORDER BY opened_at DESC, id DESC LIMIT ?2"
            ))
            .map_err(db)?;
        stmt.query_map(params![kiosk_id, limit as i64], alert_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn ack_alert(
        &self,
        id: i64,
        by: &str,
        comment: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE alerts SET acked_at = ?2, acked_by = ?3, ack_comment = ?4
                 WHERE id = ?1 AND resolved_at IS NULL",
                params![id, now, by, comment],
            )
            .map_err(db)?;
        Ok(n > 0)
    }
}
