//! Staff accounts, their sign-in lock-out and sessions.

use super::*;

impl StaffAccounts for PgStore {
    fn create_user(&self, u: &StaffUser) -> Result<(), StoreError> {
        let n = self.conn()?.execute(
            "INSERT INTO staff (username, role, password_hash, created_at, disabled)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
            &[
                &u.username,
                &u.role,
                &u.password_hash,
                &u.created_at,
                &u.disabled,
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "there is already a user {:?}",
                u.username
            )));
        }
        Ok(())
    }

    fn user(&self, username: &str) -> Result<Option<StaffUser>, StoreError> {
        let row = self.conn()?.query_opt(
            &format!("SELECT {STAFF_COLUMNS} FROM staff WHERE username = $1"),
            &[&username],
        )?;
        row.as_ref().map(staff_row).transpose()
    }

    fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        let rows = self.conn()?.query(
            &format!("SELECT {STAFF_COLUMNS} FROM staff ORDER BY username"),
            &[],
        )?;
        each(&rows, staff_row)
    }

    fn change_user(&self, username: &str, change: &UserChange) -> Result<(), StoreError> {
        self.tx(|c| {
            let exists = c.query_opt(
                "SELECT 1 FROM staff WHERE username = $1 FOR UPDATE",
                &[&username],
            )?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("user {username:?}")));
            }
            let end_sessions = match change {
                UserChange::Role(role) => {
                    c.execute(
                        "UPDATE staff SET role = $2 WHERE username = $1",
                        &[&username, role],
                    )?;
                    true
                }
                UserChange::Disabled(disabled) => {
                    c.execute(
                        "UPDATE staff SET disabled = $2 WHERE username = $1",
                        &[&username, disabled],
                    )?;
                    *disabled
                }
                UserChange::Password(hash) => {
                    c.execute(
                        "UPDATE staff SET password_hash = $2 WHERE username = $1",
                        &[&username, hash],
                    )?;
                    true
                }
                UserChange::PasswordFrom { old, new } => {
                    let n = c.execute(
                        "UPDATE staff SET password_hash = $3
                         WHERE username = $1 AND password_hash = $2",
                        &[&username, old, new],
                    )?;
                    if n == 0 {
                        return Err(StoreError::Conflict(
                            "the password was changed meanwhile".into(),
                        ));
                    }
                    true
                }
                UserChange::Unlock => {
                    c.execute(
                        "DELETE FROM login_failures WHERE username = $1",
                        &[&username],
                    )?;
                    false
                }
            };
            if end_sessions {
                c.execute(
                    "DELETE FROM staff_sessions WHERE username = $1",
                    &[&username],
                )?;
            }
            Ok(())
        })
    }

    fn login_lock(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError> {
        let row = self.conn()?.query_one(
            "SELECT MAX(locked_until) FROM login_failures
             WHERE username = $1 AND source IN ($2, '*') AND locked_until > $3",
            &[&username, &source, &now],
        )?;
        get(&row, 0)
    }

    fn login_failed(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
        limits: LoginLimits,
    ) -> Result<Option<UnixMillis>, StoreError> {
        self.tx(|c| {
            // Counts of names nobody has tried for a day go (a lock lasts far less).
            c.execute(
                "DELETE FROM login_failures
                 WHERE updated_at < $1 AND COALESCE(locked_until, 0) < $2",
                &[&(now - 86_400_000), &now],
            )?;
            let mut locked = None;
            for (src, limit) in [(source, limits.per_source), ("*", limits.per_name)] {
                // The count is raised in the database, so failures at two instances add up.
                let row = c.query_one(
                    "INSERT INTO login_failures AS f (username, source, failures, updated_at)
                     VALUES ($1, $2, 1, $3)
                     ON CONFLICT (username, source) DO UPDATE SET
                         failures = f.failures + 1, updated_at = excluded.updated_at
                     RETURNING CASE WHEN failures >= $4::bigint THEN $5::bigint END",
                    &[
                        &username,
                        &src,
                        &now,
                        &i64::from(limit),
                        &(now + limits.lock_ms),
                    ],
                )?;
                let until: Option<i64> = get(&row, 0)?;
                if let Some(until) = until {
                    c.execute(
                        "UPDATE login_failures SET locked_until = $3, failures = 0
                         WHERE username = $1 AND source = $2",
                        &[&username, &src, &until],
                    )?;
                    locked = locked.max(Some(until));
                }
            }
            Ok(locked)
        })
    }

    fn login_succeeded(
        &self,
        user: &StaffUser,
        session: &StaffSession,
        source: &str,
    ) -> Result<bool, StoreError> {
        self.tx(|c| {
            let n = c.execute(
                "UPDATE staff SET last_login = $2
                 WHERE username = $1 AND NOT disabled AND password_hash = $3 AND role = $4",
                &[
                    &user.username,
                    &session.created_at,
                    &user.password_hash,
                    &user.role,
                ],
            )?;
            if n == 0 {
                return Ok(false);
            }
            c.execute(
                "DELETE FROM login_failures WHERE username = $1 AND source IN ($2, '*')
                     AND COALESCE(locked_until, 0) < $3",
                &[&user.username, &source, &session.created_at],
            )?;
            insert_session(c, session)?;
            Ok(true)
        })
    }

    fn create_session(&self, s: &StaffSession) -> Result<(), StoreError> {
        insert_session(&mut *self.conn()?, s)
    }

    fn session(&self, id_hash: &str) -> Result<Option<StaffSession>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT id_hash, username, csrf, created_at, last_seen FROM staff_sessions
             WHERE id_hash = $1",
            &[&id_hash],
        )?;
        row.map(|r| {
            Ok(StaffSession {
                id_hash: get(&r, 0)?,
                username: get(&r, 1)?,
                csrf: get(&r, 2)?,
                created_at: get(&r, 3)?,
                last_seen: get(&r, 4)?,
            })
        })
        .transpose()
    }

    fn touch_session(&self, id_hash: &str, now: UnixMillis) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "UPDATE staff_sessions SET last_seen = $2 WHERE id_hash = $1",
                &[&id_hash, &now],
            )
            .map(drop)
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn()?
            .execute("DELETE FROM staff_sessions WHERE id_hash = $1", &[&id_hash])
            .map(drop)
    }
}

fn insert_session(c: &mut Conn, s: &StaffSession) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO staff_sessions (id_hash, username, csrf, created_at, last_seen)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &s.id_hash,
            &s.username,
            &s.csrf,
            &s.created_at,
            &s.last_seen,
        ],
    )
    .map(drop)
}
