//! Staff accounts: roles, argon2id passwords, sign-in with lock-out, sessions.
//!
//! - A role includes the ones below it: a **viewer** sees everything; an **operator** also
//!   acknowledges alerts and sends remote commands; a **release manager** also publishes the
//!   catalog and notices (and releases); an **admin** also manages accounts and kiosk tokens.
//! - Passwords are kept as argon2id PHC strings ([`hash_password`]). A sign-in with an unknown
//!   name still runs argon2, so the time does not tell which names exist.
//! - Wrong sign-ins are counted in the database, per name *and* source address (whether or not
//!   the name exists): [`MAX_FAILURES`] in a row from one address lock that name for that
//!   address for [`LOCK_MS`], so a stranger cannot lock an admin out of the office; and
//!   [`MAX_NAME_FAILURES`] from all addresses together (NIST SP 800-63B's ceiling of 100 for
//!   online guessing) lock the name everywhere. While locked, even the right password is
//!   refused; an admin can unlock earlier. Every answer, for a name that exists or not, locked
//!   or not, takes one argon2 verification, and the locked answer is the same for any name.
//!   Addresses are also throttled apart from names (see `dashboard`).
//! - A session is a random token in a `__Host-` cookie (`Secure`, `HttpOnly`,
//!   `SameSite=Strict`); the store keeps only its SHA-256 and a CSRF token that every change
//!   made from the session must carry. Sessions end after [`IDLE_MS`] without a request or
//!   [`MAX_AGE_MS`] after sign-in, at sign-out, and when the account's role, password or state
//!   changes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use protocol::UnixMillis;

use crate::auth;
use crate::store::{LoginLimits, StaffSession, StaffUser, Store, StoreError};

/// The sign-in lock-out limits.
pub const LIMITS: LoginLimits = LoginLimits {
    per_source: MAX_FAILURES,
    per_name: MAX_NAME_FAILURES,
    lock_ms: LOCK_MS,
};

/// Wrong sign-ins in a row to one name from one address that lock the name for that address.
pub const MAX_FAILURES: u32 = 5;
/// Wrong sign-ins in a row to one name from all addresses that lock it everywhere.
pub const MAX_NAME_FAILURES: u32 = 100;
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
    /// The call centre: also looks requests up by tracking code, resends notices to citizens,
    /// adds notes for the office.
    CallCentre,
    /// Acknowledges alerts, sends remote commands.
    Operator,
    /// Publishes the catalog, notices and releases.
    ReleaseManager,
    /// Manages accounts and kiosk tokens.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::CallCentre,
        Role::Operator,
        Role::ReleaseManager,
        Role::Admin,
    ];

    /// The stored and typed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::CallCentre => "call_centre",
            Role::Operator => "operator",
            Role::ReleaseManager => "release_manager",
            Role::Admin => "admin",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::CallCentre => "Call centre",
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

/// Checks a name and password from `source` (the client's address), counts failures, locks,
/// and opens a session.
pub fn login(
    store: &dyn Store,
    username: &str,
    password: &str,
    source: &str,
    now: UnixMillis,
) -> Result<NewSession, LoginError> {
    // Names are kept lower-case; what a stranger types is bounded before it is stored.
    let username: String = username.chars().take(64).collect::<String>().to_lowercase();
    let user = check(store, &username, password, source, now, |u| {
        !u.disabled && Role::parse(&u.role).is_some()
    })?;
    let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
    let token = auth::fresh_secret(32);
    let session = StaffSession {
        id_hash: auth::hash_secret(&token),
        username: user.username.clone(),
        csrf: auth::fresh_secret(20),
        created_at: now,
        last_seen: now,
    };
    // The account may have been disabled, or given a new password or role, while argon2 ran:
    // the session opens only if it is still as checked.
    if !store
        .login_succeeded(&user, &session, source)
        .map_err(|_| LoginError::Store)?
    {
        return Err(LoginError::Wrong);
    }
    Ok(NewSession {
        token,
        session,
        role,
    })
}

/// Checks the current password of a signed-in user before a change to their account, counted
/// as a sign-in is (a stolen session cannot guess it at leisure). `Ok(hash)` is the hash it
/// was checked against, for [`crate::store::UserChange::PasswordFrom`].
pub fn check_current_password(
    store: &dyn Store,
    username: &str,
    password: &str,
    source: &str,
    now: UnixMillis,
) -> Result<String, LoginError> {
    check(store, username, password, source, now, |_| true).map(|u| u.password_hash)
}

/// The account `username`, if `password` is its password, no lock holds for `source` and the
/// account passes `usable`; otherwise the failure is counted (and may lock). One argon2 run
/// whatever happens (an unknown name is checked against a decoy), so the time tells nothing.
fn check(
    store: &dyn Store,
    username: &str,
    password: &str,
    source: &str,
    now: UnixMillis,
    usable: impl Fn(&StaffUser) -> bool,
) -> Result<StaffUser, LoginError> {
    let user = store.user(username).map_err(|_| LoginError::Store)?;
    let right = verify_password(
        password,
        user.as_ref()
            .map_or(decoy_hash(), |u| u.password_hash.as_str()),
    );
    let locked = |until: UnixMillis| LoginError::Locked {
        minutes: (until - now + 59_999) / 60_000,
    };
    if let Some(until) = store
        .login_lock(username, source, now)
        .map_err(|_| LoginError::Store)?
    {
        return Err(locked(until));
    }
    match user.filter(|u| right && usable(u)) {
        Some(u) => Ok(u),
        None => match store
            .login_failed(username, source, now, LIMITS)
            .map_err(|_| LoginError::Store)?
        {
            Some(until) => {
                tracing::warn!(user = %username, "sign-in locked after wrong passwords");
                Err(locked(until))
            }
            None => Err(LoginError::Wrong),
        },
    }
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
    let Some((staff, session)) = current(store, &id_hash, now)? else {
        return Ok(None);
    };
    if now - session.last_seen > 60_000 {
        store.touch_session(&id_hash, now)?;
    }
    Ok(Some(staff))
}

/// The session with the token hash `id_hash`, if it is current and its account may still sign
/// in, without noting any activity (a live page's stream must not keep a session alive);
/// with it, when it ends if nothing touches it. Ended sessions are deleted.
pub fn current(
    store: &dyn Store,
    id_hash: &str,
    now: UnixMillis,
) -> Result<Option<(Staff, StaffSession)>, StoreError> {
    let Some(session) = store.session(id_hash)? else {
        return Ok(None);
    };
    let user = store.user(&session.username)?;
    let role = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| Role::parse(&u.role));
    let Some(role) = role.filter(|_| now < session_end(&session)) else {
        store.delete_session(id_hash)?;
        return Ok(None);
    };
    Ok(Some((
        Staff {
            name: session.username.clone(),
            role,
            csrf: session.csrf.clone(),
        },
        session,
    )))
}

/// When a session ends unless it is used again: idle for [`IDLE_MS`], or [`MAX_AGE_MS`] old.
pub fn session_end(session: &StaffSession) -> UnixMillis {
    (session.last_seen + IDLE_MS).min(session.created_at + MAX_AGE_MS)
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

/// Refuses a member of staff whose role is below `role`.
pub fn require(staff: &Staff, role: Role) -> Result<(), crate::error::AppError> {
    if staff.may(role) {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden(format!(
            "this needs the {} role; {} is {}",
            role.label(),
            staff.name,
            staff.role.label()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserChange;
    use crate::store::prelude::*;
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

    const HERE: &str = "10.0.0.1";
    const ELSEWHERE: &str = "10.0.0.2";

    #[test]
    fn lock_out_holds_even_for_the_right_password_and_ends() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "jana", Role::Operator, "correct horse battery", now).unwrap();
        for i in 1..MAX_FAILURES {
            assert_eq!(
                login(&s, "jana", "wrong password!", HERE, now + i as i64).unwrap_err(),
                LoginError::Wrong
            );
        }
        assert!(matches!(
            login(&s, "jana", "wrong password!", HERE, now + 10),
            Err(LoginError::Locked { minutes: 15 })
        ));
        assert!(matches!(
            login(&s, "jana", "correct horse battery", HERE, now + 120_000),
            Err(LoginError::Locked { minutes: 14 })
        ));
        // The lock is for the name from that address: Jana at her own desk still gets in.
        login(
            &s,
            "jana",
            "correct horse battery",
            ELSEWHERE,
            now + 120_001,
        )
        .unwrap();
        let ok = login(
            &s,
            "jana",
            "correct horse battery",
            HERE,
            now + LOCK_MS + 11,
        )
        .unwrap();
        assert_eq!(ok.role, Role::Operator);
        assert_eq!(s.user("jana").unwrap().unwrap().failed_logins, 0);
        assert_eq!(
            login(&s, "nobody", "whatever it is", HERE, now).unwrap_err(),
            LoginError::Wrong
        );
    }

    #[test]
    fn a_name_that_does_not_exist_locks_as_one_that_does() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "jana", Role::Operator, "correct horse battery", now).unwrap();
        let answers = |name: &str| {
            (0..=MAX_FAILURES)
                .map(|i| login(&s, name, "wrong password!", HERE, now + i as i64).unwrap_err())
                .collect::<Vec<_>>()
        };
        assert_eq!(answers("jana"), answers("nobody"));
        assert!(matches!(
            answers("nobody").last(),
            Some(LoginError::Locked { .. })
        ));
    }

    #[test]
    fn guesses_from_many_addresses_lock_the_name_everywhere() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "admin", Role::Admin, "correct horse battery", now).unwrap();
        for i in 0..MAX_NAME_FAILURES {
            let source = format!("10.1.{}.{}", i / 4, i % 4);
            let _ = login(&s, "admin", "wrong password!", &source, now + i64::from(i));
        }
        assert!(matches!(
            login(
                &s,
                "admin",
                "correct horse battery",
                "192.0.2.1",
                now + 1000
            ),
            Err(LoginError::Locked { .. })
        ));
        s.change_user("admin", &UserChange::Unlock).unwrap();
        login(
            &s,
            "admin",
            "correct horse battery",
            "192.0.2.1",
            now + 1001,
        )
        .unwrap();
    }

    /// Parallel wrong guesses each count: the counter is incremented in the database, not
    /// written back from a row read before argon2 ran.
    #[test]
    fn parallel_wrong_guesses_each_count() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "jana", Role::Operator, "correct horse battery", now).unwrap();
        let s = std::sync::Arc::new(s);
        let threads: Vec<_> = (0..20)
            .map(|_| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || login(&*s, "jana", "wrong password!", HERE, now))
            })
            .collect();
        let answers: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap_err())
            .collect();
        assert!(
            answers
                .iter()
                .any(|a| matches!(a, LoginError::Locked { .. })),
            "{answers:?}"
        );
        assert!(matches!(
            login(&*s, "jana", "correct horse battery", HERE, now + 1),
            Err(LoginError::Locked { .. })
        ));
        // Every guess before the lock was counted in the name's total too.
        assert!(s.user("jana").unwrap().unwrap().failed_logins >= MAX_FAILURES);
    }

    /// A sign-in whose password check is under way when an admin disables the account (or sets
    /// a new password) gets no session, and leaves the account disabled.
    #[test]
    fn a_disable_racing_a_sign_in_wins() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "petr", Role::Admin, "correct horse battery", now).unwrap();
        let s = std::sync::Arc::new(s);
        for round in 0..6 {
            s.change_user("petr", &UserChange::Disabled(false)).unwrap();
            let t = {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    login(&*s, "petr", "correct horse battery", HERE, now + round)
                })
            };
            std::thread::sleep(std::time::Duration::from_millis(round as u64 * 4));
            s.change_user("petr", &UserChange::Disabled(true)).unwrap();
            let r = t.join().unwrap();
            let u = s.user("petr").unwrap().unwrap();
            assert!(u.disabled, "round {round}: the disable stands");
            if let Ok(session) = r {
                // It finished before the disable: the disable ended its session.
                assert!(s.session(&session.session.id_hash).unwrap().is_none());
            }
        }
        // A password reset racing a sign-in with the old password.
        s.change_user("petr", &UserChange::Disabled(false)).unwrap();
        let checked = s.user("petr").unwrap().unwrap();
        s.change_user(
            "petr",
            &UserChange::Password(hash_password("a brand new password").unwrap()),
        )
        .unwrap();
        let session = StaffSession {
            id_hash: "x".repeat(64),
            username: "petr".into(),
            csrf: "c".into(),
            created_at: now,
            last_seen: now,
        };
        assert!(!s.login_succeeded(&checked, &session, HERE).unwrap());
        assert!(s.session(&session.id_hash).unwrap().is_none());
    }

    #[test]
    fn the_current_password_check_is_counted() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "jana", Role::Operator, "correct horse battery", now).unwrap();
        for _ in 1..MAX_FAILURES {
            assert_eq!(
                check_current_password(&s, "jana", "guess", HERE, now),
                Err(LoginError::Wrong)
            );
        }
        assert!(matches!(
            check_current_password(&s, "jana", "guess", HERE, now),
            Err(LoginError::Locked { .. })
        ));
        assert!(matches!(
            check_current_password(&s, "jana", "correct horse battery", HERE, now),
            Err(LoginError::Locked { .. })
        ));
    }

    #[test]
    fn sessions_expire_and_end_with_the_account() {
        let (_d, s) = store();
        let now = 1_800_000_000_000;
        create_user(&s, "petr", Role::Viewer, "correct horse battery", now).unwrap();
        let a = login(&s, "petr", "correct horse battery", HERE, now).unwrap();
        let staff = resume(&s, &a.token, now + 1000).unwrap().unwrap();
        assert_eq!((staff.name.as_str(), staff.role), ("petr", Role::Viewer));
        assert_eq!(staff.csrf, a.session.csrf);
        assert!(resume(&s, "not-a-token", now).unwrap().is_none());
        // Idle too long.
        assert!(resume(&s, &a.token, now + IDLE_MS + 1).unwrap().is_none());
        assert!(s.session(&a.session.id_hash).unwrap().is_none(), "deleted");
        // Disabled account.
        let b = login(&s, "petr", "correct horse battery", HERE, now).unwrap();
        s.change_user("petr", &UserChange::Disabled(true)).unwrap();
        assert!(resume(&s, &b.token, now + 1).unwrap().is_none());
        assert_eq!(
            login(&s, "petr", "correct horse battery", HERE, now + 2).unwrap_err(),
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
