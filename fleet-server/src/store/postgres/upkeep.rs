//! Durability and upkeep: commits made durable, write-behind flushed, purged values vacuumed,
//! leases of the jobs that run on one instance at a time.

use super::*;

impl Upkeep for PgStore {
    fn write_behind(&self) -> Result<(), StoreError> {
        self.flush_hourly()
    }

    fn sync(&self) -> Result<(), StoreError> {
        // A transaction with an id (this statement alone is one) commits only once the log is
        // flushed up to it, so every earlier commit made without waiting (heartbeats) is
        // durable after it too.
        self.conn()?.batch("SELECT pg_current_xact_id()")
    }

    fn scrub_log(&self) -> Result<bool, StoreError> {
        // The old row versions of purged submissions leave the table's pages; what the
        // database's own log and backups keep is the operator's retention (docs/deploying.md).
        self.conn()?.batch("VACUUM submissions")?;
        Ok(true)
    }

    fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let row = self.conn()?.query_opt(
            "INSERT INTO leases AS l (name, holder, until) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE l.holder = excluded.holder OR l.until <= $4
             RETURNING holder",
            &[&name, &holder, &(now + ttl_ms), &now],
        )?;
        Ok(row.is_some())
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                &[&name, &holder],
            )
            .map(drop)
    }
}
