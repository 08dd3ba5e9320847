//! The agent's database upgrades from every earlier schema version with its data intact, and a
//! database from a newer agent is refused rather than misread.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use kiosk_agent::store::migrations::{MIGRATIONS, current, migrate_to};
use kiosk_agent::store::{Store, StoreError};
use rusqlite::Connection;

#[test]
fn upgrades_from_every_earlier_version() {
    for from in 0..MIGRATIONS.len() {
        let dir = common::TestDir::new(&format!("upgrade-{from}"));
        let db = dir.0.join("agent.sqlite");
        {
            let mut c = Connection::open(&db).unwrap();
            migrate_to(&mut c, from).unwrap();
            if from >= 1 {
                c.execute(
                    "INSERT INTO settings (key, value) VALUES ('marker', 'kept')",
                    [],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO outbox (id, seq, tracking_code, service_id, form_version, language,
                                         payload, payload_hash, created_at, state)
                     VALUES ('6f1c2f4e-3b1a-4b5e-9c1d-0a1b2c3d4e5f', 0, '001CX86BY', 'podnet', 1, 'cs',
                             '{\"values\":{}}', 'h', 1, 'queued')",
                    [],
                )
                .unwrap();
            }
        }
        let mut store = Store::open(&db).unwrap();
        let c = Connection::open(&db).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, current(), "upgraded from {from}");
        if from >= 1 {
            let marker: String = c
                .query_row("SELECT value FROM settings WHERE key = 'marker'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(marker, "kept");
            assert_eq!(
                store.outbox_stats().unwrap().queued,
                1,
                "queued submission survives from {from}"
            );
            assert_eq!(store.queued_batch(10).unwrap().len(), 1);
        }
        // Every table of the current schema is usable.
        store.buffered_heartbeat_count().unwrap();
        assert!(store.catalog().unwrap().is_none());
    }
}

#[test]
fn a_newer_database_is_refused() {
    let dir = common::TestDir::new("newer");
    let db = dir.0.join("agent.sqlite");
    Store::open(&db).unwrap();
    Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", current() + 1)
        .unwrap();
    match Store::open(&db) {
        Err(StoreError::TooNew { found, .. }) => assert_eq!(found, current() + 1),
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn pragmas_make_commits_durable() {
    let dir = common::TestDir::new("pragmas");
    let store = common::ready_store(&dir.0.join("agent.sqlite"));
    drop(store);
    let c = Connection::open(dir.0.join("agent.sqlite")).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}
