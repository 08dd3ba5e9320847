//! Staff accounts, their sign-in lock-out and sessions.

use super::*;

impl StaffAccounts for SqliteStore {
    fn create_user(&self, u: &StaffUser) -> Result<(), StoreError> {
        let n = self
            .conn()
            .execute(
                "INSERT INTO staff (username, role, password_hash, created_at, disabled)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username) DO NOTHING",
                params![
                    u.username,
                    u.role,
                    u.password_hash,
                    u.created_at,
                    u.disabled
                ],
            )
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "there is already a user {:?}",
                u.username
            )));
        }
        Ok(())
    }

    fn user(&self, username: &str) -> Result<Option<StaffUser>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STAFF_COLUMNS} FROM staff WHERE username = ?1"
            ))
            .map_err(db)?;
        stmt.query_row([username], staff_row).optional().map_err(db)
    }

    fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {STAFF_COLUMNS} FROM staff ORDER BY username"
            ))
            .map_err(db)?;
        stmt.query_map([], staff_row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    fn change_user(&self, username: &str, change: &UserChange) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM staff WHERE username = ?1)",
                [username],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !exists {
            return Err(StoreError::NotFound(format!("user {username:?}")));
        }
        let end_sessions = match change {
            UserChange::Role(role) => {
                tx.execute(
                    "UPDATE staff SET role = ?2 WHERE username = ?1",
                    params![username, role],
                )
                .map_err(db)?;
                true
            }
            UserChange::Disabled(disabled) => {
                tx.execute(
                    "UPDATE staff SET disabled = ?2 WHERE username = ?1",
                    params![username, disabled],
                )
                .map_err(db)?;
                *disabled
            }
            UserChange::Password(hash) => {
                tx.execute(
                    "UPDATE staff SET password_hash = ?2 WHERE username = ?1",
                    params![username, hash],
                )
                .map_err(db)?;
                true
            }
            UserChange::PasswordFrom { old, new } => {
                let n = tx
                    .execute(
                        "UPDATE staff SET password_hash = ?3
                         WHERE username = ?1 AND password_hash = ?2",
                        params![username, old, new],
                    )
                    .map_err(db)?;
                if n == 0 {
                    return Err(StoreError::Conflict(
                        "the password was changed meanwhile".into(),
                    ));
                }
                true
            }
            UserChange::Unlock => {
                tx.execute("DELETE FROM login_failures WHERE username = ?1", [username])
                    .map_err(db)?;
                false
            }
        };
        if end_sessions {
            tx.execute("DELETE FROM staff_sessions WHERE username = ?1", [username])
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    fn login_lock(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        self.conn()
            .prepare_cached(
                "SELECT MAX(locked_until) FROM login_failures
                 WHERE username = ?1 AND source IN (?2, '*') AND locked_until > ?3",
            )
            .and_then(|mut st| st.query_row(params![username, source, now], |r| r.get(0)))
            .map_err(db)
    }

    fn login_failed(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
        limits: LoginLimits,
    ) -> Result<Option<UnixMillis>, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        // Counts of names nobody has tried for a day go (a lock lasts far less).
        tx.prepare_cached(
            "DELETE FROM login_failures WHERE updated_at < ?1 AND COALESCE(locked_until, 0) < ?2",
        )
        .and_then(|mut st| st.execute(params![now - 86_400_000, now]))
        .map_err(db)?;
        let mut locked = None;
        for (src, limit) in [(source, limits.per_source), ("*", limits.per_name)] {
            let until: Option<UnixMillis> = tx
                .prepare_cached(
                    "INSERT INTO login_failures (username, source, failures, updated_at)
                     VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (username, source) DO UPDATE SET
                         failures = failures + 1, updated_at = excluded.updated_at
                     RETURNING CASE WHEN failures >= ?4 THEN ?5 END",
                )
                .and_then(|mut st| {
                    st.query_row(
                        params![username, src, now, limit, now + limits.lock_ms],
                        |r| r.get(0),
                    )
                })
                .map_err(db)?;
            if let Some(until) = until {
                tx.prepare_cached(
                    "UPDATE login_failures SET locked_until = ?3, failures = 0
                     WHERE username = ?1 AND source = ?2",
                )
                .and_then(|mut st| st.execute(params![username, src, until]))
                .map_err(db)?;
                locked = locked.max(Some(until));
            }
        }
        tx.commit().map_err(db)?;
        Ok(locked)
    }

    fn login_succeeded(
        &self,
        user: &StaffUser,
        session: &StaffSession,
        source: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db)?;
        let n = tx
            .execute(
                "UPDATE staff SET last_login = ?2
                 WHERE username = ?1 AND disabled = 0 AND password_hash = ?3 AND role = ?4",
                params![
                    user.username,
                    session.created_at,
                    user.password_hash,
                    user.role
                ],
            )
            .map_err(db)?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM login_failures WHERE username = ?1 AND source IN (?2, '*')
                 AND COALESCE(locked_until, 0) < ?3",
            params![user.username, source, session.created_at],
        )
        .map_err(db)?;
        tx.execute(
            "INSERT INTO staff_sessions (id_hash, username, csrf, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                session.id_hash,
                session.username,
                session.csrf,
                session.created_at,
                session.last_seen
            ],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn create_session(&self, s: &StaffSession) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO staff_sessions (id_hash, username, csrf, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.id_hash, s.username, s.csrf, s.created_at, s.last_seen],
            )
            .map(drop)
            .map_err(db)
    }

    fn session(&self, id_hash: &str) -> Result<Option<StaffSession>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id_hash, username, csrf, created_at, last_seen FROM staff_sessions
                 WHERE id_hash = ?1",
            )
            .map_err(db)?;
        stmt.query_row([id_hash], |r| {
            Ok(StaffSession {
                id_hash: r.get(0)?,
                username: r.get(1)?,
                csrf: r.get(2)?,
                created_at: r.get(3)?,
                last_seen: r.get(4)?,
            })
        })
        .optional()
        .map_err(db)
    }

    fn touch_session(&self, id_hash: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE staff_sessions SET last_seen = ?2 WHERE id_hash = ?1",
                params![id_hash, now],
            )
            .map(drop)
            .map_err(db)
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM staff_sessions WHERE id_hash = ?1", [id_hash])
            .map(drop)
            .map_err(db)
    }
}
