//! Staff accounts: roles, argon2id passwords, sign-in with lock-out, sessions.
//!
//! - A role includes the ones below it: a **viewer** sees everything; an **operator** also
//!   acknowledges alerts and sends remote commands; a **release manager** also publishes the
//!   catalog and notices (and releases); an **admin** also manages accounts and kiosk tokens.
//! - Passwords are kept as argon2id PHC strings ([`hash_password`]). A sign-in with an unknown
//!   name still runs argon2, so the time does not tell which names exist.
//! - [`MAX_FAILURES`] wrong passwords lock an account for [`LOCK_MS`]. While locked, even the
//!   right password is refused; an admin can unlock it earlier. Addresses are throttled apart
//!   from accounts (see `api::dashboard`).
//! - A session is a random token in a `__Host-` cookie (`Secure`, `HttpOnly`,
//!   `SameSite=Strict`); the store keeps only its SHA-256 and a CSRF token that every change
//!   made from the session must carry. Sessions end after [`IDLE_MS`] without a request or
//!   [`MAX_AGE_MS`] after sign-in, at sign-out, and when the account's role, password or state
//!   changes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use protocol::UnixMillis;

use crate::auth;
use crate::store::{StaffSession, StaffUser, Store, StoreError};

/// Wrong passwords in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a lock lasts.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// A session unused this long has ended.
pub const IDLE_MS: i64 = 30 * 60 * 1000;
/// A session this old has ended, used or not.
pub const MAX_AGE_MS: i64 = 12 * 3600 * 1000;
/// The session cookie's name (the `__Host-` prefix makes browsers insist on `Secure`, `Path=/`
/// and no `Domain`).
pub const COOKIE: &str = "__Host-okenko_session";
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// What a member of staff may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees everything, changes nothing.
    Viewer,
    /// Acknowledges alerts, sends remote commands.
    Operator,
    /// Publishes the catalog, notices and releases.
    ReleaseManager,
    /// Manages accounts and kiosk tokens.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 4] = [
        Role::Viewer,
        Role::Operator,
        Role::ReleaseManager,
        Role::Admin,
    ];

    /// The stored and typed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::ReleaseManager => "release_manager",
            Role::Admin => "admin",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Operator => "Operator",
            Role::ReleaseManager => "Release manager",
            Role::Admin => "Admin",
        }
    }

    /// Parses [`Role::as_str`] (also with a space or dash for the underscore).
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an account cannot be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The input is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a sign-in name: 2-64 of `a-z 0-9 . _ -`, starting with a letter.
pub fn check_username(name: &str) -> Result<(), AccountError> {
    let ok = (2..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(
            "a user name is 2-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter"
                .into(),
        ))
    }
}

/// Checks a new password: at least [`MIN_PASSWORD`] characters, at most 1024, not only spaces.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD || password.len() > 1024 || password.trim().is_empty() {
        return Err(AccountError::Invalid(format!(
            "a password has {MIN_PASSWORD} to 1024 characters"
        )));
    }
    Ok(())
}

/// The argon2id PHC string of a password, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| AccountError::Invalid(format!("no random source: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| AccountError::Invalid(format!("salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches a PHC string (false for a malformed one).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches, checked for unknown names so that they take as long.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&auth::fresh_secret(20)).unwrap_or_default())
}

/// Makes an account.
pub fn create_user(
    store: &dyn Store,
    username: &str,
    role: Role,
    password: &str,
    now: UnixMillis,
) -> Result<StaffUser, AccountError> {
    check_username(username)?;
    check_password(password)?;
    let user = StaffUser {
        username: username.to_owned(),
        role: role.as_str().to_owned(),
        password_hash: hash_password(password)?,
        created_at: now,
        disabled: false,
        failed_logins: 0,
        locked_until: None,
        last_login: None,
    };
    store.create_user(&user)?;
    Ok(user)
}

/// Why a sign-in failed. The message shown never says whether the name exists.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown name, wrong password or disabled account.
    #[error("wrong user name or password")]
    Wrong,
    /// Too many wrong passwords; try again later.
    #[error(
        "this account is locked after too many wrong passwords; try again in {minutes} min or ask an admin"
    )]
    Locked {
        /// Minutes left.
        minutes: i64,
    },
    /// The store failed.
    #[error("the sign-in could not be checked")]
    Store,
}

/// A new session: the cookie's token (give it to the browser, keep it nowhere) and the stored
/// record.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value.
    pub token: String,
    /// What the store keeps.
    pub session: StaffSession,
    /// The user's role.
    pub role: Role,
}

/// Checks a name and password, counts failures, locks, and opens a session.
pub fn login(
    store: &dyn Store,
    username: &str,
    password: &str,
    now: UnixMillis,
) -> Result<NewSession, LoginError> {
    let user = store.user(username).map_err(|_| LoginError::Store)?;
    let Some(mut user) = user else {
        verify_password(password, decoy_hash());
        return Err(LoginError::Wrong);
    };
    if let Some(until) = user.locked_until.filter(|&u| u > now) {
        return Err(LoginError::Locked {
            minutes: (until - now + 59_999) / 60_000,
        });
    }
    let role = Role::parse(&user.role);
    if !verify_password(password, &user.password_hash) || user.disabled || role.is_none() {
        user.failed_logins = user.failed_logins.saturating_add(1);
        let locks = user.failed_logins >= MAX_FAILURES;
        if locks {
            user.locked_until = Some(now + LOCK_MS);
            user.failed_logins = 0;
            tracing::warn!(user = %user.username, "account locked after wrong passwords");
        }
        store
            .save_user(&user, false)
            .map_err(|_| LoginError::Store)?;
        return Err(if locks {
            LoginError::Locked {
                minutes: LOCK_MS / 60_000,
            }
        } else {
            LoginError::Wrong
        });
    }
    user.failed_logins = 0;
    user.locked_until = None;
    user.last_login = Some(now);
    store
        .save_user(&user, false)
        .map_err(|_| LoginError::Store)?;
    let token = auth::fresh_secret(32);
    let session = StaffSession {
        id_hash: auth::hash_secret(&token),
        username: user.username,
        csrf: auth::fresh_secret(20),
        created_at: now,
        last_seen: now,
    };
    store
        .create_session(&session)
        .map_err(|_| LoginError::Store)?;
    Ok(NewSession {
        token,
        session,
        role: role.unwrap_or(Role::Viewer),
    })
}

/// A signed-in member of staff (or the admin token, which acts as an admin).
#[derive(Debug, Clone)]
pub struct Staff {
    /// Who: the user name, or `admin-token`.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their session's CSRF token (empty for the admin token, which needs none: it is not sent
    /// by browsers on their own).
    pub csrf: String,
}

impl Staff {
    /// Whether they may act as `role`.
    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }

    /// Whether this is the admin token rather than a person's session.
    pub fn is_token(&self) -> bool {
        self.csrf.is_empty()
    }
}

/// The session a cookie token opens, if it is current and its account may still sign in;
/// notes its activity (at most once a minute). Ended sessions are deleted.
pub fn resume(
    store: &dyn Store,
    token: &str,
    now: UnixMillis,
) -> Result<Option<Staff>, StoreError> {
    let id_hash = auth::hash_secret(token);
    let Some(session) = store.session(&id_hash)? else {
        return Ok(None);
    };
    let user = store.user(&session.username)?;
    let role = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| Role::parse(&u.role));
    let expired = now - session.last_seen > IDLE_MS || now - session.created_at > MAX_AGE_MS;
    let Some(role) = role.filter(|_| !expired) else {
        store.delete_session(&id_hash)?;
        return Ok(None);
    };
    if now - session.last_seen > 60_000 {
        store.touch_session(&id_hash, now)?;
    }
    Ok(Some(Staff {
        name: session.username,
        role,
        csrf: session.csrf,
    }))
}

/// The `Set-Cookie` value that gives a browser its session.
pub fn session_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        MAX_AGE_MS / 1000
    )
}

/// The `Set-Cookie` value that removes it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session token in a `Cookie` header, if any.
pub fn cookie_token(header: Option<&axum::http::HeaderValue>) -> Option<&str> {
    header?
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn store() -> ((), SqliteStore) {
        (
            (),
            SqliteStore::open(std::path::Path::new(":memory:")).unwrap(),
        )
    }

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Admin > Role::ReleaseManager && Role::Operator > Role::Viewer);
        assert_eq!(Role::parse("Release manager"), Some(Role::ReleaseManager));
        assert_eq!(Role::parse("release-manager"), Some(Role::ReleaseManager));
        assert_eq!(Role::parse("root"), None);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_username("jana.novakova").is_ok());
        for bad in ["", "a", "Jana", "1jana", "jana novakova", "jana;drop"] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("            ").is_err());
        assert!(check_password("correct horse battery").is_ok());
    }

    #[test]
    fn argon2id_hash_verifies_and_salts() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterY", &a));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn lock_out_holds_even_for_the_right_password_and_ends() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "jana", Role::Operator, "correct horse battery", now).unwrap();
        for i in 1..MAX_FAILURES {
            assert_eq!(
                login(&s, "jana", "wrong password!", now + i as i64).unwrap_err(),
                LoginError::Wrong
            );
        }
        assert!(matches!(
            login(&s, "jana", "wrong password!", now + 10),
            Err(LoginError::Locked { minutes: 15 })
        ));
        assert!(matches!(
            login(&s, "jana", "correct horse battery", now + 120_000),
            Err(LoginError::Locked { minutes: 14 })
        ));
        let ok = login(&s, "jana", "correct horse battery", now + LOCK_MS + 11).unwrap();
        assert_eq!(ok.role, Role::Operator);
        assert_eq!(s.user("jana").unwrap().unwrap().failed_logins, 0);
        assert_eq!(
            login(&s, "nobody", "whatever it is", now).unwrap_err(),
            LoginError::Wrong
        );
    }

    #[test]
    fn sessions_expire_and_end_with_the_account() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "petr", Role::Viewer, "correct horse battery", now).unwrap();
        let a = login(&s, "petr", "correct horse battery", now).unwrap();
        let staff = resume(&s, &a.token, now + 1000).unwrap().unwrap();
        assert_eq!((staff.name.as_str(), staff.role), ("petr", Role::Viewer));
        assert_eq!(staff.csrf, a.session.csrf);
        assert!(resume(&s, "not-a-token", now).unwrap().is_none());
        // Idle too long.
        assert!(resume(&s, &a.token, now + IDLE_MS + 1).unwrap().is_none());
        assert!(s.session(&a.session.id_hash).unwrap().is_none(), "deleted");
        // Disabled account.
        let b = login(&s, "petr", "correct horse battery", now).unwrap();
        let mut u = s.user("petr").unwrap().unwrap();
        u.disabled = true;
        s.save_user(&u, true).unwrap();
        assert!(resume(&s, &b.token, now + 1).unwrap().is_none());
        assert_eq!(
            login(&s, "petr", "correct horse battery", now + 2).unwrap_err(),
            LoginError::Wrong
        );
    }

    #[test]
    fn cookie_parsing() {
        let h = axum::http::HeaderValue::from_static(
            "theme=dark; __Host-okenko_session=ABC123; other=1",
        );
        assert_eq!(cookie_token(Some(&h)), Some("ABC123"));
        let h = axum::http::HeaderValue::from_static("okenko_session=ABC");
        assert_eq!(cookie_token(Some(&h)), None);
        assert!(session_cookie("X").contains("Secure; HttpOnly; SameSite=Strict"));
    }
}
