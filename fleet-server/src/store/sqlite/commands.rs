//! Remote commands: queued by staff, answered by kiosks.

use super::*;

impl Commands for SqliteStore {
    fn kiosks_with_pending_commands(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT DISTINCT kiosk_id FROM commands WHERE finished_at IS NULL")
            .map_err(db)?;
        stmt.query_map([], |r| r.get(0))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn queue_command(
        &self,
        kiosk_id: &str,
        action: &CommandAction,
        by: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, StoreError> {
        let conn = self.conn();
        let known: bool = conn
            .query_row(
                "SELECT COUNT(*) > 0 FROM kiosks WHERE kiosk_id = ?1 AND enrolled_at IS NOT NULL",
                [kiosk_id],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !known {
            return Ok(None);
        }
        conn.execute(
            "INSERT INTO commands (kiosk_id, action, issued_by, issued_at) VALUES (?1, ?2, ?3, ?4)",
            params![kiosk_id, json("command", action)?, by, now],
        )
        .map_err(db)?;
        Ok(Some(conn.last_insert_rowid()))
    }

    fn pending_commands(
        &self,
        kiosk_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<Command>, StoreError> {
        let conn = self.conn();
        let rows: Vec<(i64, String)> = {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, action FROM commands WHERE kiosk_id = ?1 AND finished_at IS NULL
                     ORDER BY id LIMIT 20",
                )
                .map_err(db)?;
            stmt.query_map([kiosk_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        if !rows.is_empty() {
            conn.execute(
                "UPDATE commands SET delivered_at = ?2
                 WHERE kiosk_id = ?1 AND finished_at IS NULL AND delivered_at IS NULL",
                params![kiosk_id, now],
            )
            .map_err(db)?;
        }
        rows.into_iter()
            .map(|(id, action)| {
                Ok(Command {
                    id,
                    action: serde_json::from_str(&action).map_err(|e| corrupt("command", e))?,
                })
            })
            .collect()
    }

    fn finish_command(
        &self,
        kiosk_id: &str,
        id: i64,
        result: &CommandResult,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        // Only the kiosk the command was for, and only once (a repeated result is a retry).
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE commands SET finished_at = ?3, ok = ?4, output = ?5
                 WHERE id = ?1 AND kiosk_id = ?2 AND finished_at IS NULL",
                params![id, kiosk_id, now, result.ok, result.output],
            )
            .map_err(db)?;
        if n > 0 {
            return Ok(true);
        }
        conn.query_row(
            "SELECT COUNT(*) > 0 FROM commands WHERE id = ?1 AND kiosk_id = ?2",
            params![id, kiosk_id],
            |r| r.get(0),
        )
        .map_err(db)
    }

    fn cancel_command(
        &self,
        kiosk_id: &str,
        id: i64,
        by: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.conn()
            .execute(
                "UPDATE commands SET finished_at = ?3, ok = 0, output = ?4
                 WHERE id = ?1 AND kiosk_id = ?2 AND finished_at IS NULL",
                params![id, kiosk_id, now, format!("cancelled by {by}")],
            )
            .map(|n| n > 0)
            .map_err(db)
    }

    fn commands(&self, kiosk_id: &str, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, kiosk_id, action, issued_by, issued_at, delivered_at, finished_at, ok,
                        output
                 FROM commands WHERE kiosk_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(db)?;
        let rows: Vec<(CommandRecord, String)> = stmt
            .query_map(params![kiosk_id, limit as i64], |r| {
                Ok((
                    CommandRecord {
                        id: r.get(0)?,
                        kiosk_id: r.get(1)?,
                        action: CommandAction::SelfTest,
                        issued_by: r.get(3)?,
                        issued_at: r.get(4)?,
                        delivered_at: r.get(5)?,
                        finished_at: r.get(6)?,
                        ok: r.get(7)?,
                        output: r.get(8)?,
                    },
                    r.get(2)?,
                ))
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        rows.into_iter()
            .map(|(mut c, action)| {
                c.action = serde_json::from_str(&action).map_err(|e| corrupt("command", e))?;
                Ok(c)
            })
            .collect()
    }
}
