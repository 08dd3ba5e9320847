//! Kiosks: bootstrap tokens, enrolment, credentials, and their newest state.

use super::*;

impl Kiosks for PgStore {
    fn create_bootstrap_token(
        &self,
        token_hash: &str,
        kiosk_id: &str,
        name: &str,
        group: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        self.tx(|c| {
            c.execute(
                "INSERT INTO kiosks (kiosk_id, name, grp) VALUES ($1, $2, $3)
                 ON CONFLICT (kiosk_id) DO UPDATE SET name = excluded.name, grp = excluded.grp",
                &[&kiosk_id, &name, &group],
            )?;
            c.execute(
                "INSERT INTO bootstrap_tokens (token_hash, kiosk_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[&token_hash, &kiosk_id, &crate::now_ms(), &expires_at],
            )?;
            Ok(())
        })
    }

    fn enrol(
        &self,
        token_hash: &str,
        credential_hash: &str,
        agent_version: &str,
        now: UnixMillis,
    ) -> Result<Enrolment, StoreError> {
        self.tx(|c| {
            // The token's row is locked: two instances enrolling with it take turns.
            let Some(token) = c.query_opt(
                "SELECT kiosk_id, expires_at, used_by FROM bootstrap_tokens
                 WHERE token_hash = $1 FOR UPDATE",
                &[&token_hash],
            )?
            else {
                return Ok(Enrolment::UnknownToken);
            };
            let kiosk_id: String = get(&token, 0)?;
            let expires_at: i64 = get(&token, 1)?;
            let used_by: Option<String> = get(&token, 2)?;
            match used_by {
                Some(c) if crate::auth::constant_time_eq(&c, credential_hash) => {}
                Some(_) => return Ok(Enrolment::TokenUsed),
                None if now > expires_at => return Ok(Enrolment::Expired),
                None => {
                    let number = next_kiosk_number(c)?;
                    c.execute(
                        "UPDATE bootstrap_tokens SET used_by = $2, used_at = $3
                         WHERE token_hash = $1",
                        &[&token_hash, &credential_hash, &now],
                    )?;
                    c.execute(
                        "UPDATE kiosks SET number = $2, credential_hash = $3, enrolled_at = $4,
                                           agent_version = $5
                         WHERE kiosk_id = $1",
                        &[&kiosk_id, &number, &credential_hash, &now, &agent_version],
                    )?;
                }
            }
            let row = c.query_one(
                &format!("SELECT {KIOSK_COLUMNS} FROM kiosks WHERE kiosk_id = $1"),
                &[&kiosk_id],
            )?;
            Ok(Enrolment::Enrolled(kiosk_row(&row)?))
        })
    }

    fn authenticate(
        &self,
        kiosk_id: &str,
        credential_hash: &str,
    ) -> Result<Option<KioskRecord>, StoreError> {
        let row = self.conn()?.query_opt(
            &format!("SELECT {KIOSK_COLUMNS}, credential_hash FROM kiosks WHERE kiosk_id = $1"),
            &[&kiosk_id],
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let stored: Option<String> = get(&row, KIOSK_NCOL)?;
        match stored {
            Some(h) if crate::auth::constant_time_eq(&h, credential_hash) => {
                Ok(Some(kiosk_row(&row)?))
            }
            _ => Ok(None),
        }
    }

    fn credential_hash(&self, kiosk_id: &str) -> Result<Option<String>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT credential_hash FROM kiosks WHERE kiosk_id = $1",
            &[&kiosk_id],
        )?;
        Ok(row
            .map(|r| get::<Option<String>>(&r, 0))
            .transpose()?
            .flatten())
    }

    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError> {
        let rows = self.conn()?.query(
            &format!("SELECT {KIOSK_COLUMNS} FROM kiosks ORDER BY kiosk_id"),
            &[],
        )?;
        each(&rows, kiosk_row)
    }

    fn kiosk_health_of(
        &self,
        kiosk_id: &str,
    ) -> Result<Option<(KioskRecord, Option<Heartbeat>)>, StoreError> {
        let row = self.conn()?.query_opt(
            &format!("SELECT {KIOSK_COLUMNS}, last_heartbeat FROM kiosks WHERE kiosk_id = $1"),
            &[&kiosk_id],
        )?;
        row.as_ref().map(kiosk_health_row).transpose()
    }

    fn kiosk_health(&self) -> Result<Vec<(KioskRecord, Option<Heartbeat>)>, StoreError> {
        let rows = self.conn()?.query(
            &format!("SELECT {KIOSK_COLUMNS}, last_heartbeat FROM kiosks ORDER BY kiosk_id"),
            &[],
        )?;
        each(&rows, kiosk_health_row)
    }
}

/// The next kiosk number, taken in the caller's transaction (the row is locked until it ends).
fn next_kiosk_number(c: &mut Conn) -> Result<i64, StoreError> {
    let row = c.query_one(
        "INSERT INTO meta (key, value) VALUES ('next_kiosk_number', '2')
         ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text
         RETURNING value::bigint - 1",
        &[],
    )?;
    let n: i64 = get(&row, 0)?;
    if n > i64::from(protocol::tracking::MAX_KIOSK) {
        return Err(StoreError::Conflict(
            "every kiosk number has been used".into(),
        ));
    }
    Ok(n)
}
