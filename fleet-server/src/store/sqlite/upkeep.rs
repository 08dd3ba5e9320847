//! Durability and upkeep: commits made durable, write-behind flushed, the log scrubbed.

use super::*;

impl Upkeep for SqliteStore {
    fn write_behind(&self) -> Result<(), StoreError> {
        self.flush_pending()
    }

    fn sync(&self) -> Result<(), StoreError> {
        let Some(path) = &self.wal else {
            return Ok(());
        };
        let mut file = self.wal_file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            *file = Some(
                std::fs::File::open(path)
                    .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", path.display())))?,
            );
        }
        // fsync flushes the file's data whatever handle wrote it.
        file.as_ref()
            .map_or(Ok(()), std::fs::File::sync_data)
            .map_err(|e| StoreError::Db(format!("cannot flush {}: {e}", path.display())))
    }

    fn scrub_log(&self) -> Result<bool, StoreError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|busy| busy == 0)
            .map_err(db)
    }

    fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE leases.holder = excluded.holder OR leases.until <= ?4
                 RETURNING holder",
            )
            .and_then(|mut st| {
                st.query_row(params![name, holder, now + ttl_ms, now], |_| Ok(()))
                    .optional()
            })
            .map(|held| held.is_some())
            .map_err(db)
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )
            .map(drop)
            .map_err(db)
    }
}
