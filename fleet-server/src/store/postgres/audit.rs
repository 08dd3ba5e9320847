//! The audit log.

use super::*;

impl Audit for PgStore {
    fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
                &[&e.at, &e.actor, &e.action, &e.target, &e.detail],
            )
            .map(drop)
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.conn()?.query(
            "SELECT at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT $1",
            &[&(limit as i64)],
        )?;
        each(&rows, |r| {
            Ok(AuditEntry {
                at: get(r, 0)?,
                actor: get(r, 1)?,
                action: get(r, 2)?,
                target: get(r, 3)?,
                detail: get(r, 4)?,
            })
        })
    }
}
