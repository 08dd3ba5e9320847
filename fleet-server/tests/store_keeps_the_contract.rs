//! Both stores keep the store's contract (`fleet_server::store::contract`): every check on a
//! fresh SQLite file, and on a fresh database of a real PostgreSQL server (Debian's, started
//! for the test on 127.0.0.1 by `hw-tests/src/postgres.rs`). Then what only PostgreSQL is for:
//! two instances' stores on one database store a submission once, hand each delivery to one
//! of them (and a dead one's to the other when its claim lapses), open an alert once; and what
//! a killed instance loses (the hourly health it held) and a stopped one writes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "../../hw-tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use fleet_server::store::contract::{CHECKS, NOW, heartbeat, upload};
use fleet_server::store::postgres::{PgSettings, PgStore};
use fleet_server::store::prelude::*;
use fleet_server::store::sqlite::SqliteStore;
use fleet_server::store::{Enrolment, KioskRecord};
use protocol::fleet::{ItemOutcome, SubmissionUpload};

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

/// Two instances' stores on one database: `a` and `b`, with the demo catalog and kiosk `k-1`.
fn two_instances(pg: &postgres::PgServer, db: &str) -> (PgStore, PgStore, KioskRecord) {
    let url = pg.create_database(db).unwrap();
    let settings = PgSettings {
        delivery_claim: std::time::Duration::from_secs(60),
        ..PgSettings::default()
    };
    let a = PgStore::open(&url, settings).unwrap();
    let b = PgStore::open(&url, settings).unwrap();
    let catalog: protocol::fleet::Catalog =
        protocol::json::decode(include_bytes!("../data/demo-catalog.json"), 1 << 20).unwrap();
    a.publish_catalog(&catalog, NOW).unwrap();
    a.create_bootstrap_token("t-1", "k-1", "Kiosk 1", "default", NOW + 3_600_000)
        .unwrap();
    let Enrolment::Enrolled(k) = b.enrol("t-1", "cred-1", "1.0.0", NOW).unwrap() else {
        panic!("not enrolled");
    };
    (a, b, k)
}

fn any_form(_: &SubmissionUpload, _: Option<&protocol::form::Service>) -> Result<(), String> {
    Ok(())
}

#[test]
fn instances_sharing_a_database_store_claim_and_open_once() {
    let pg = postgres::PgServer::start(false).unwrap();
    let (a, b, k) = two_instances(&pg, "shared");

    // A kiosk's upload and its retry reach both instances at the same moment, many times.
    let items: Vec<SubmissionUpload> = (1..=40)
        .map(|seq| upload(k.number, seq, uuid::Uuid::new_v4()).unwrap())
        .collect();
    let (acks_a, acks_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.ingest(&k, &items, NOW, &any_form).unwrap());
        let tb = s.spawn(|| b.ingest(&k, &items, NOW + 1, &any_form).unwrap());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    for (x, y) in acks_a.iter().zip(&acks_b) {
        let accepted = [x, y]
            .iter()
            .filter(|a| matches!(a.outcome, ItemOutcome::Accepted { .. }))
            .count();
        let duplicate = [x, y]
            .iter()
            .filter(|a| matches!(a.outcome, ItemOutcome::Duplicate { .. }))
            .count();
        assert_eq!((accepted, duplicate), (1, 1), "{x:?} / {y:?}");
    }
    assert_eq!(a.submission_count().unwrap(), 40);

    // Both connectors ask for what is due: each delivery goes to one of them.
    let (due_a, due_b) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.due_deliveries(NOW + 10, 30).unwrap());
        let tb = s.spawn(|| b.due_deliveries(NOW + 10, 30).unwrap());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let ids_a: std::collections::BTreeSet<_> = due_a.iter().map(|d| d.id).collect();
    let ids_b: std::collections::BTreeSet<_> = due_b.iter().map(|d| d.id).collect();
    assert!(
        ids_a.is_disjoint(&ids_b),
        "a delivery went to both instances"
    );
    assert_eq!(ids_a.len() + ids_b.len(), 40, "every delivery went to one");
    // `b` delivers its share; `a` dies holding its claims: they come due to `b` when they
    // lapse, not before.
    for id in &ids_b {
        b.mark_delivered(*id, NOW + 20, false).unwrap();
    }
    drop(a);
    assert!(b.due_deliveries(NOW + 30_000, 100).unwrap().is_empty());
    let handed: std::collections::BTreeSet<_> = b
        .due_deliveries(NOW + 61_000, 100)
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(
        handed, ids_a,
        "the dead instance's deliveries are handed over"
    );

    // Two sweeps of the same kiosk at once open one alert.
    let c = PgStore::connect(&pg.url("shared"), PgSettings::default()).unwrap();
    let active = [(
        fleet_server::model::AlertKind::PrinterPaperOut,
        "paper out".to_owned(),
    )];
    let (ea, eb) = std::thread::scope(|s| {
        let ta = s.spawn(|| b.reconcile_alerts("k-1", &active, &[], NOW).unwrap());
        let tb = s.spawn(|| c.reconcile_alerts("k-1", &active, &[], NOW).unwrap());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    assert_eq!(ea.len() + eb.len(), 1, "{ea:?} {eb:?}");
    assert_eq!(c.alerts(true, 10).unwrap().len(), 1);
}

#[test]
fn a_crashed_instance_loses_only_the_hourly_health_it_held() {
    let pg = postgres::PgServer::start(false).unwrap();
    let (a, b, _) = two_instances(&pg, "crash");
    let hb = |at: i64| heartbeat(at, "1.1.0", 0);
    a.record_heartbeats(&[("k-1".into(), hb(NOW), NOW)])
        .unwrap();
    a.sync().unwrap();
    // The instance is killed: nothing of it runs again (no stop, no drop).
    std::mem::forget(a);
    let (k, _) = b.kiosk_health_of("k-1").unwrap().unwrap();
    assert_eq!(k.last_seen, Some(NOW), "the newest state was committed");
    let (day, minute) = fleet_server::uptime::day_minute(NOW);
    let bits = b.uptime(&day, &day).unwrap();
    assert!(
        fleet_server::uptime::is_set(&bits[&("k-1".to_owned(), day)], minute),
        "the minute was committed"
    );
    assert!(
        b.health_history("k-1", NOW - 3_600_000).unwrap().is_empty(),
        "the hourly sample held in the dead instance's memory is the loss"
    );
    // A stopped instance writes what it held.
    b.record_heartbeats(&[("k-1".into(), hb(NOW + 30_000), NOW + 30_000)])
        .unwrap();
    b.write_behind().unwrap();
    drop(b);
    let c = PgStore::connect(&pg.url("crash"), PgSettings::default()).unwrap();
    let samples: u64 = c
        .health_history("k-1", NOW - 3_600_000)
        .unwrap()
        .iter()
        .map(|p| p.samples)
        .sum();
    assert_eq!(samples, 1, "the stopped instance's sample was written");
}

#[test]
fn a_change_on_one_instance_reaches_the_pages_of_another() {
    use fleet_server::bus::{Bus, Listener, publish};
    use fleet_server::changes::Change;
    use std::sync::Arc;

    let pg = postgres::PgServer::start(false).unwrap();
    let url = pg.create_database("bus").unwrap();
    let a = Arc::new(PgStore::open(&url, PgSettings::default()).unwrap());
    let b = Arc::new(PgStore::open(&url, PgSettings::default()).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    // `b` listens, as its server does.
    let (pages, mut page) = tokio::sync::broadcast::channel(64);
    let hours = fleet_server::hours::OpeningHours::parse("").unwrap();
    let book = fleet_server::rollout::Rollouts::load(
        b.as_ref(),
        None,
        Vec::new(),
        fleet_server::rollout::Window::from_config(&hours, &hours),
        20,
    )
    .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _stop = fleet_server::bus::StopOnDrop(Arc::clone(&stop));
    let listener = Listener {
        pg: Arc::clone(&b),
        changes: pages,
        rollouts: Arc::new(book),
    };
    std::thread::spawn(move || listener.run(stop));
    // `a` publishes a kiosk's change (until `b` is listening).
    let bus = Arc::new(Bus::new(Arc::clone(&a)));
    let (_stopping, stopped) = tokio::sync::watch::channel(false);
    rt.spawn(publish(Arc::clone(&bus), stopped));
    let heard = rt.block_on(async {
        for _ in 0..20 {
            bus.publish(Change::Kiosk("k-7".into()));
            if let Ok(Ok(c)) =
                tokio::time::timeout(std::time::Duration::from_millis(500), page.recv()).await
            {
                return Some(c);
            }
        }
        None
    });
    assert_eq!(heard, Some(Change::Kiosk("k-7".into())));
    // Waiting for the next notice costs nothing: over two idle seconds, the listener (and all
    // of this process) uses a small part of one core, not all of it (it once spun).
    let cpu = || -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
    };
    let before = cpu();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let used = cpu() - before;
    assert!(used < 0.5, "{used:.2} s of CPU in 2 idle seconds");
}
