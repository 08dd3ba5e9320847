//! Remote commands this kiosk already ran: a command the fleet delivers again (its result was
//! lost, or the agent restarted) gets the stored result instead of a second run.

use protocol::fleet::CommandResult;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

impl Store {
    /// The stored result of command `id`, if it ran.
    pub fn command_done(&self, id: i64) -> Result<Option<CommandResult>, StoreError> {
        self.conn
            .query_row(
                "SELECT ok, output FROM commands_done WHERE id = ?1",
                [id],
                |r| {
                    Ok(CommandResult {
                        ok: r.get(0)?,
                        output: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores the result of command `id` before it is sent; keeps the newest 200.
    pub fn record_command(&self, id: i64, result: &CommandResult) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO commands_done (id, ok, output, done_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, result.ok, result.output, super::now_ms()],
            )
            .and_then(|_| {
                self.conn.execute(
                    "DELETE FROM commands_done WHERE id NOT IN
                         (SELECT id FROM commands_done ORDER BY id DESC LIMIT 200)",
                    [],
                )
            })
            .map(drop)
            .map_err(|e| self.err(e))
    }
}
