//! The audit log.

use super::*;

impl Audit for SqliteStore {
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.target,
                    entry.detail
                ],
            )
            .map(drop)
            .map_err(db)
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?1",
            )
            .map_err(db)?;
        stmt.query_map([limit as i64], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)
    }
}
