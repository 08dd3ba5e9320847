//! Remote commands: queued by staff, answered by kiosks.

use super::*;

impl Commands for PgStore {
    fn kiosks_with_pending_commands(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT DISTINCT kiosk_id FROM commands WHERE finished_at IS NULL",
            &[],
        )?;
        each(&rows, |r| get(r, 0))
    }

    fn queue_command(
        &self,
        kiosk_id: &str,
        action: &CommandAction,
        by: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, StoreError> {
        let row = self.conn()?.query_opt(
            "INSERT INTO commands (kiosk_id, action, issued_by, issued_at)
             SELECT $1, $2, $3, $4 WHERE EXISTS (
                 SELECT 1 FROM kiosks WHERE kiosk_id = $1 AND enrolled_at IS NOT NULL)
             RETURNING id",
            &[&kiosk_id, &json("command", action)?, &by, &now],
        )?;
        row.map(|r| get(&r, 0)).transpose()
    }

    fn pending_commands(
        &self,
        kiosk_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Command>, StoreError> {
        let rows = self.tx(|c| {
            let rows = c.query(
                "SELECT id, action FROM commands WHERE kiosk_id = $1 AND finished_at IS NULL
                 ORDER BY id LIMIT 20",
                &[&kiosk_id],
            )?;
            if !rows.is_empty() {
                c.execute(
                    "UPDATE commands SET delivered_at = $2
                     WHERE kiosk_id = $1 AND finished_at IS NULL AND delivered_at IS NULL",
                    &[&kiosk_id, &now],
                )?;
            }
            Ok(rows)
        })?;
        each(&rows, |r| {
            let action: String = get(r, 1)?;
            Ok(Command {
                id: get(r, 0)?,
                action: serde_json::from_str(&action).map_err(|e| corrupt("command", e))?,
            })
        })
    }

    fn finish_command(
        &self,
        kiosk_id: &str,
        id: i64,
        result: &CommandResult,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        // Only the kiosk the command was for, and only once (a repeated result is a retry).
        let mut c = self.conn()?;
        let n = c.execute(
            "UPDATE commands SET finished_at = $3, ok = $4, output = $5
             WHERE id = $1 AND kiosk_id = $2 AND finished_at IS NULL",
            &[&id, &kiosk_id, &now, &result.ok, &result.output],
        )?;
        if n > 0 {
            return Ok(true);
        }
        let row = c.query_one(
            "SELECT EXISTS (SELECT 1 FROM commands WHERE id = $1 AND kiosk_id = $2)",
            &[&id, &kiosk_id],
        )?;
        get(&row, 0)
    }

    fn cancel_command(
        &self,
        kiosk_id: &str,
        id: i64,
        by: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.conn()?
            .execute(
                "UPDATE commands SET finished_at = $3, ok = FALSE, output = $4
                 WHERE id = $1 AND kiosk_id = $2 AND finished_at IS NULL",
                &[&id, &kiosk_id, &now, &format!("cancelled by {by}")],
            )
            .map(|n| n > 0)
    }

    fn commands(&self, kiosk_id: &str, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT id, kiosk_id, action, issued_by, issued_at, delivered_at, finished_at, ok,
                    output
             FROM commands WHERE kiosk_id = $1 ORDER BY id DESC LIMIT $2",
            &[&kiosk_id, &(limit as i64)],
        )?;
        each(&rows, |r| {
            let action: String = get(r, 2)?;
            Ok(CommandRecord {
                id: get(r, 0)?,
                kiosk_id: get(r, 1)?,
                action: serde_json::from_str(&action).map_err(|e| corrupt("command", e))?,
                issued_by: get(r, 3)?,
                issued_at: get(r, 4)?,
                delivered_at: get(r, 5)?,
                finished_at: get(r, 6)?,
                ok: get(r, 7)?,
                output: get(r, 8)?,
            })
        })
    }
}
