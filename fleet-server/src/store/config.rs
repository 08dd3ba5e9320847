//! `[store]`: which database the server keeps its data in. Without the section (or without
//! `url`), the embedded SQLite file in `server.data_dir`; with `url = "postgres://…"` (or
//! `url_file`, when the URL holds a password), PostgreSQL, which several instances can share.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::postgres::PgSettings;

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `postgres://user:password@host:port/database` or `sqlite:///path/to/fleet.sqlite`.
    /// Default: the SQLite file `fleet.sqlite` in `server.data_dir`.
    pub url: Option<String>,
    /// A file holding the URL (trimmed), so that its password stays out of this file.
    pub url_file: Option<PathBuf>,
    /// PostgreSQL connections one instance keeps open at most. Default 16.
    pub pool_size: usize,
    /// How long connecting to PostgreSQL may take, seconds. Default 5.
    pub connect_timeout_s: u64,
    /// How long one statement may run, seconds. Default 30.
    pub statement_timeout_s: u64,
    /// How long a call waits for a free connection, seconds. Default 10.
    pub pool_wait_s: u64,
    /// How long an instance holds a delivery to the agenda system it took, seconds (above
    /// `connector.timeout_s`): an instance that died mid-delivery hands it over after this.
    /// Default 120.
    pub delivery_claim_s: u64,
}

impl Default for StoreSection {
    fn default() -> StoreSection {
        let d = PgSettings::default();
        StoreSection {
            url: None,
            url_file: None,
            pool_size: d.size,
            connect_timeout_s: d.connect_timeout.as_secs(),
            statement_timeout_s: d.statement_timeout.as_secs(),
            pool_wait_s: d.wait.as_secs(),
            delivery_claim_s: d.delivery_claim.as_secs(),
        }
    }
}

/// Where the data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (the URL as given).
    Postgres(String),
}

impl Location {
    /// `postgres://…`, `postgresql://…` or `sqlite://PATH` (`sqlite:///abs/path`).
    pub fn parse(url: &str) -> Result<Location, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path".into());
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        Err("must start with postgres://, postgresql:// or sqlite://".into())
    }

    /// For messages: the location without a password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite://{}", p.display()),
            Location::Postgres(url) => {
                let Some((scheme, rest)) = url.split_once("://") else {
                    return url.clone();
                };
                match rest.split_once('@') {
                    Some((auth, host)) => match auth.split_once(':') {
                        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                        None => url.clone(),
                    },
                    None => url.clone(),
                }
            }
        }
    }
}

impl StoreSection {
    /// The PostgreSQL settings.
    pub fn pg_settings(&self) -> PgSettings {
        PgSettings {
            size: self.pool_size,
            wait: Duration::from_secs(self.pool_wait_s),
            connect_timeout: Duration::from_secs(self.connect_timeout_s),
            statement_timeout: Duration::from_secs(self.statement_timeout_s),
            delivery_claim: Duration::from_secs(self.delivery_claim_s),
        }
    }

    /// The configured URL, inline or from `url_file`.
    pub fn url(&self) -> Result<Option<String>, protocol::config::ConfigError> {
        if let Some(u) = &self.url {
            return Ok(Some(u.clone()));
        }
        let Some(p) = &self.url_file else {
            return Ok(None);
        };
        std::fs::read_to_string(p)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|source| protocol::config::ConfigError::Read {
                path: p.clone(),
                source,
            })
    }

    /// Refuses values that cannot work, naming the key.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(u) = &self.url {
            Location::parse(u).map_err(|e| ("store.url", e))?;
        }
        if self.url.is_some() && self.url_file.is_some() {
            return Err(("store.url_file", "give url or url_file, not both".into()));
        }
        if !(1..=256).contains(&self.pool_size) {
            return Err(("store.pool_size", "must be 1 to 256".into()));
        }
        for (key, v) in [
            ("store.connect_timeout_s", self.connect_timeout_s),
            ("store.statement_timeout_s", self.statement_timeout_s),
            ("store.pool_wait_s", self.pool_wait_s),
            ("store.delivery_claim_s", self.delivery_claim_s),
        ] {
            if !(1..=3600).contains(&v) {
                return Err((key, "must be 1 to 3600 seconds".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Location;

    #[test]
    fn locations_parse_and_hide_the_password() {
        let pg = Location::parse("postgres://fleet:s3cret@db.example:5432/fleet").unwrap();
        assert_eq!(pg.display(), "postgres://fleet:***@db.example:5432/fleet");
        let no_password = Location::parse("postgres://fleet@127.0.0.1:5432/fleet").unwrap();
        assert_eq!(
            no_password.display(),
            "postgres://fleet@127.0.0.1:5432/fleet"
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/f.sqlite").unwrap(),
            Location::Sqlite("/var/lib/f.sqlite".into())
        );
        assert!(Location::parse("mysql://x").is_err());
        assert!(Location::parse("sqlite://").is_err());
    }
}
