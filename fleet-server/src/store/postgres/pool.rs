//! A small pool of PostgreSQL connections, each with its own cache of prepared statements.
//!
//! A call takes a connection (opening one while fewer than `size` are open, else waiting up to
//! `wait` for one to come back), runs, and gives it back, unless it broke: a connection whose
//! socket closed (the database restarted or failed over) is dropped, so the next call connects
//! again. Every statement runs under `statement_timeout`; connecting gives up after
//! `connect_timeout`.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};

use super::{Rows, StoreError, db};

/// `[store]` settings for PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgSettings {
    /// Connections this instance keeps open at most.
    pub size: usize,
    /// How long a call waits for a free connection.
    pub wait: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one statement may run.
    pub statement_timeout: Duration,
    /// How long an instance holds a delivery to the agenda system it took (longer than the
    /// connector's time-out): a dead instance's deliveries go to another after it.
    pub delivery_claim: Duration,
}

impl Default for PgSettings {
    fn default() -> PgSettings {
        PgSettings {
            size: 16,
            wait: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            delivery_claim: Duration::from_secs(120),
        }
    }
}

/// One connection and the statements prepared on it.
pub struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("statements", &self.statements.len())
            .finish()
    }
}

impl Conn {
    /// `sql` prepared on this connection (once).
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(db)?;
        if self.statements.len() > 500 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Runs a statement; the rows it changed.
    pub fn execute(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        self.client.execute(&s, p).map_err(db)
    }

    /// Runs a query.
    pub fn query(&mut self, sql: &str, p: &[&(dyn ToSql + Sync)]) -> Result<Rows, StoreError> {
        let s = self.statement(sql)?;
        self.client.query(&s, p).map_err(db)
    }

    /// Runs a query that returns at most one row.
    pub fn query_opt(
        &mut self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, StoreError> {
        let s = self.statement(sql)?;
        self.client.query_opt(&s, p).map_err(db)
    }

    /// Runs a query that returns exactly one row.
    pub fn query_one(
        &mut self,
        sql: &str,
        p: &[&(dyn ToSql + Sync)],
    ) -> Result<postgres::Row, StoreError> {
        let s = self.statement(sql)?;
        self.client.query_one(&s, p).map_err(db)
    }

    /// Runs statements without parameters (the schema, `BEGIN`).
    pub fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.client.batch_execute(sql).map_err(db)
    }

    /// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn tx<T>(
        &mut self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.tx_as("BEGIN", f)
    }

    /// [`Conn::tx`] begun with `begin` (`BEGIN; SET LOCAL …` in one round trip).
    pub fn tx_as<T>(
        &mut self,
        begin: &str,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(e) = self.batch(begin) {
            let _ = self.batch("ROLLBACK");
            return Err(e);
        }
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // A broken connection rolls back by itself (and is dropped).
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// The client, for what the wrappers do not cover (LISTEN).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The pool.
pub struct Pool {
    config: postgres::Config,
    settings: PgSettings,
    state: Mutex<State>,
    returned: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("settings", &self.settings)
            .finish()
    }
}

#[derive(Default)]
struct State {
    idle: Vec<Conn>,
    open: usize,
}

/// A connection taken from the pool; it goes back when dropped (unless it broke).
#[derive(Debug)]
pub struct Pooled<'p> {
    pool: &'p Pool,
    conn: Option<Conn>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        // Some until dropped.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let mut state = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
        if conn.client.is_closed() {
            state.open = state.open.saturating_sub(1);
        } else {
            state.idle.push(conn);
        }
        self.pool.returned.notify_one();
    }
}

/// An error's message, with the server's detail where it sent one.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None if e.is_closed() => "the connection to PostgreSQL closed".to_owned(),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

impl Pool {
    /// A pool for `url` (`postgres://user:password@host:port/db?…`); connects lazily.
    pub fn new(url: &str, settings: PgSettings) -> Result<Pool, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Db(format!("store url is not a PostgreSQL URL: {e}")))?;
        config
            .connect_timeout(settings.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .application_name("fleet-server")
            .options(&format!(
                "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
                settings.statement_timeout.as_millis(),
                settings.statement_timeout.as_millis(),
                settings.statement_timeout.as_millis() * 2
            ));
        Ok(Pool {
            config,
            settings,
            state: Mutex::new(State::default()),
            returned: Condvar::new(),
        })
    }

    /// A new connection, outside the pool (for LISTEN, which holds one for good).
    pub fn connect(&self) -> Result<Conn, StoreError> {
        let client = self.config.connect(NoTls).map_err(db)?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// A connection: an idle one, a new one while fewer than `size` are open, or the first one
    /// given back within `wait`.
    pub fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let deadline = std::time::Instant::now() + self.settings.wait;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open = state.open.saturating_sub(1);
                    continue;
                }
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.settings.size.max(1) {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                        state.open = state.open.saturating_sub(1);
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Db(format!(
                    "no database connection free within {} s ({} open)",
                    self.settings.wait.as_secs(),
                    state.open
                )));
            }
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
