//! Both stores keep the store's contract (`fleet_server::store::contract`): every check on a
//! fresh SQLite file, and on a fresh database of a real PostgreSQL server (Debian's, started
//! for the test on 127.0.0.1 by `hw-tests/src/postgres.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "../../hw-tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use fleet_server::store::Store;
use fleet_server::store::contract::CHECKS;
use fleet_server::store::postgres::{PgSettings, PgStore};
use fleet_server::store::sqlite::SqliteStore;

/// Runs every check on a fresh store from `fresh`; the broken rules.
fn broken(fresh: &mut dyn FnMut(&str) -> Box<dyn Store>) -> Vec<String> {
    let mut broken = Vec::new();
    for (name, check) in CHECKS {
        let store = fresh(name);
        if let Err(why) = check(store.as_ref()) {
            broken.push(format!("{name}: {why}"));
        }
    }
    broken
}

#[test]
fn every_rule_holds_on_sqlite() {
    let root = std::env::temp_dir().join(format!("okenko-contract-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let broken = broken(&mut |name| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Box::new(SqliteStore::open(&dir.join("fleet.sqlite")).unwrap())
    });
    let _ = std::fs::remove_dir_all(&root);
    assert!(broken.is_empty(), "broken rules:\n{}", broken.join("\n"));
}

#[test]
fn every_rule_holds_on_postgresql() {
    let pg = postgres::PgServer::start(false).unwrap();
    let broken = broken(&mut |name| {
        let url = pg.create_database(name).unwrap();
        Box::new(PgStore::open(&url, PgSettings::default()).unwrap())
    });
    assert!(broken.is_empty(), "broken rules:\n{}", broken.join("\n"));
}
