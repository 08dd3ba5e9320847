//! The embedded SQLite store keeps the store's contract (`fleet_server::store::contract`): every
//! check on a fresh database file. A second implementation runs the same checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use fleet_server::store::contract::CHECKS;
use fleet_server::store::sqlite::SqliteStore;

#[test]
fn every_rule_of_the_contract_holds() {
    let mut broken = Vec::new();
    for (name, check) in CHECKS {
        let dir =
            std::env::temp_dir().join(format!("okenko-contract-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("fleet.sqlite")).unwrap();
        if let Err(why) = check(&store) {
            broken.push(format!("{name}: {why}"));
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(broken.is_empty(), "broken rules:\n{}", broken.join("\n"));
}
