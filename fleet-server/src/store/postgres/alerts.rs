//! Alerts: opened and resolved by the sweeper, acknowledged by staff.

use super::*;

impl Alerts for PgStore {
    fn reconcile_alerts(
        &self,
        kiosk_id: &str,
        active: &[(AlertKind, String)],
        keep: &[AlertKind],
        now: UnixMillis,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        self.tx(|c| {
            // The kiosk's row is locked: a sweep on another instance waits, then sees these
            // alerts (and the unique index keeps one open alert per kind in any case).
            c.execute(
                "SELECT 1 FROM kiosks WHERE kiosk_id = $1 FOR UPDATE",
                &[&kiosk_id],
            )?;
            let rows = c.query(
                &format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts
                     WHERE kiosk_id = $1 AND resolved_at IS NULL"
                ),
                &[&kiosk_id],
            )?;
            let plan = plan_alerts(each(&rows, alert_row)?, active, keep);
            let mut events = Vec::new();
            for (id, detail) in plan.redetail {
                c.execute(
                    "UPDATE alerts SET detail = $2 WHERE id = $1",
                    &[&id, &detail],
                )?;
            }
            for (kind, detail) in plan.open {
                let row = c.query_opt(
                    "INSERT INTO alerts (kiosk_id, kind, detail, opened_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id",
                    &[&kiosk_id, &kind.as_str(), &detail, &now],
                )?;
                if let Some(row) = row {
                    events.push(opened(get(&row, 0)?, kiosk_id, kind, detail, now));
                }
            }
            for mut a in plan.resolve {
                c.execute(
                    "UPDATE alerts SET resolved_at = $2 WHERE id = $1",
                    &[&a.id, &now],
                )?;
                a.resolved_at = Some(now);
                events.push(AlertEvent {
                    event: "resolved",
                    alert: a,
                });
            }
            Ok(events)
        })
    }

    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let rows = self.conn()?.query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE (NOT $1 OR resolved_at IS NULL)
                 ORDER BY opened_at DESC, id DESC LIMIT $2"
            ),
            &[&open_only, &(limit as i64)],
        )?;
        each(&rows, alert_row)
    }

    fn kiosk_alerts(&self, kiosk_id: &str, limit: usize) -> Result<Vec<Alert>, StoreError> {
        let rows = self.conn()?.query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE kiosk_id = $1
                 ORDER BY opened_at DESC, id DESC LIMIT $2"
            ),
            &[&kiosk_id, &(limit as i64)],
        )?;
        each(&rows, alert_row)
    }

    fn ack_alert(
        &self,
        id: i64,
        by: &str,
        comment: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let n = self.conn()?.execute(
            "UPDATE alerts SET acked_at = $2, acked_by = $3, ack_comment = $4
             WHERE id = $1 AND resolved_at IS NULL",
            &[&id, &now, &by, &comment],
        )?;
        Ok(n > 0)
    }
}
