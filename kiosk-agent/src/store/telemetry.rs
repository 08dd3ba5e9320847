//! Heartbeats buffered while the fleet is unreachable, replayed with their original time.

use protocol::fleet::Heartbeat;
use rusqlite::params;

use super::{Store, StoreError};

/// Most buffered heartbeats; the oldest are dropped beyond it (a day at 30 s is 2,880).
pub const MAX_BUFFERED: i64 = 5_000;

impl Store {
    /// Buffers a heartbeat that could not be sent.
    pub fn buffer_heartbeat(&self, hb: &Heartbeat) -> Result<(), StoreError> {
        let body = serde_json::to_string(hb).map_err(|e| StoreError::Corrupt {
            what: "heartbeat",
            message: e.to_string(),
        })?;
        self.conn
            .execute(
                "INSERT INTO telemetry (sampled_at, body) VALUES (?1, ?2)",
                params![hb.sampled_at, body],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "DELETE FROM telemetry WHERE id <= (SELECT MAX(id) FROM telemetry) - ?1",
                [MAX_BUFFERED],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The oldest buffered heartbeats with their row ids.
    pub fn buffered_heartbeats(&self, limit: usize) -> Result<Vec<(i64, Heartbeat)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, body FROM telemetry ORDER BY id LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(|e| self.err(e))?;
            // An unreadable row is dropped rather than blocking the buffer forever.
            match serde_json::from_str(&body) {
                Ok(hb) => out.push((id, hb)),
                Err(e) => {
                    tracing::warn!(id, error = %e, "dropping unreadable buffered heartbeat");
                    self.drop_heartbeat(id)?;
                }
            }
        }
        Ok(out)
    }

    /// Removes a buffered heartbeat once sent.
    pub fn drop_heartbeat(&self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM telemetry WHERE id = ?1", [id])
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// How many heartbeats are buffered.
    pub fn buffered_heartbeat_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM telemetry", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}
