//! Kiosks: bootstrap tokens, enrolment, credentials, and their newest state.

use super::*;

impl Kiosks for SqliteStore {
    fn create_bootstrap_token(
        &self,
        token_hash: &str,
        kiosk_id: &str,
        name: &str,
        group: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO kiosks (kiosk_id, name, grp) VALUES (?1, ?2, ?3)
             ON CONFLICT (kiosk_id) DO UPDATE SET name = excluded.name, grp = excluded.grp",
            params![kiosk_id, name, group],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO bootstrap_tokens (token_hash, kiosk_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, kiosk_id, crate::now_ms(), expires_at],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn enrol(
        &self,
        token_hash: &str,
        credential_hash: &str,
        agent_version: &str,
        now: UnixMillis,
    ) -> Result<Enrolment, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let token: Option<(String, i64, Option<String>)> = tx
            .query_row(
                "SELECT kiosk_id, expires_at, used_by FROM bootstrap_tokens WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((kiosk_id, expires_at, used_by)) = token else {
            return Ok(Enrolment::UnknownToken);
        };
        match used_by {
            Some(c) if crate::auth::constant_time_eq(&c, credential_hash) => {}
            Some(_) => return Ok(Enrolment::TokenUsed),
            None if now > expires_at => return Ok(Enrolment::Expired),
            None => {
                let number = next_kiosk_number(&tx)?;
                tx.execute(
                    "UPDATE bootstrap_tokens SET used_by = ?2, used_at = ?3 WHERE token_hash = ?1",
                    params![token_hash, credential_hash, now],
                )
                .map_err(db)?;
                tx.execute(
                    "UPDATE kiosks SET number = ?2, credential_hash = ?3, enrolled_at = ?4,
                                       agent_version = ?5
                     WHERE kiosk_id = ?1",
                    params![kiosk_id, number, credential_hash, now, agent_version],
                )
                .map_err(db)?;
            }
        }
        let rec = tx
            .query_row(
                &format!("SELECT {KIOSK_COLUMNS} FROM kiosks WHERE kiosk_id = ?1"),
                [&kiosk_id],
                kiosk_row,
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Enrolment::Enrolled(rec))
    }

    fn authenticate(
        &self,
        kiosk_id: &str,
        credential_hash: &str,
    ) -> Result<Option<KioskRecord>, StoreError> {
        let conn = self.conn();
        let row: Option<(KioskRecord, Option<String>)> = conn
            .query_row(
                &format!("SELECT {KIOSK_COLUMNS}, credential_hash FROM kiosks WHERE kiosk_id = ?1"),
                [kiosk_id],
                |r| Ok((kiosk_row(r)?, r.get(KIOSK_NCOL)?)),
            )
            .optional()
            .map_err(db)?;
        Ok(row.and_then(|(mut k, h)| {
            h.filter(|h| crate::auth::constant_time_eq(h, credential_hash))?;
            self.overlay(&mut k);
            Some(k)
        }))
    }

    fn credential_hash(&self, kiosk_id: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row(
                "SELECT credential_hash FROM kiosks WHERE kiosk_id = ?1",
                [kiosk_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(db)
    }

    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {KIOSK_COLUMNS} FROM kiosks ORDER BY kiosk_id"
            ))
            .map_err(db)?;
        let mut rows: Vec<KioskRecord> = stmt
            .query_map([], kiosk_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for k in &mut rows {
            if let Some(n) = pending.newest.get(&k.kiosk_id) {
                n.apply(k, None);
            }
        }
        Ok(rows)
    }

    fn kiosk_health_of(
        &self,
        kiosk_id: &str,
    ) -> Result<Option<(KioskRecord, Option<Heartbeat>)>, StoreError> {
        let row: Option<(KioskRecord, Option<String>)> = self
            .conn()
            .query_row(
                &format!("SELECT {KIOSK_COLUMNS}, last_heartbeat FROM kiosks WHERE kiosk_id = ?1"),
                [kiosk_id],
                |r| Ok((kiosk_row(r)?, r.get(KIOSK_NCOL)?)),
            )
            .optional()
            .map_err(db)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Ok(row.map(|(k, body)| pending.newest_of(k, body)))
    }

    fn kiosk_health(&self) -> Result<Vec<(KioskRecord, Option<Heartbeat>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {KIOSK_COLUMNS}, last_heartbeat FROM kiosks ORDER BY kiosk_id"
            ))
            .map_err(db)?;
        let rows: Vec<(KioskRecord, Option<String>)> = stmt
            .query_map([], |r| Ok((kiosk_row(r)?, r.get(KIOSK_NCOL)?)))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Ok(rows
            .into_iter()
            .map(|(k, body)| pending.newest_of(k, body))
            .collect())
    }
}
