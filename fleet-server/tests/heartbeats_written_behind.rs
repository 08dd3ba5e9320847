//! The SQLite store's write-behind of heartbeats (a real database file): reads show the newest
//! heartbeat at once, a replayed older one never replaces it, availability is on disk with the
//! commit, and what was written behind is in the rows after `write_behind` and after the store
//! is dropped (the server stopping), so a reopened store agrees.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use fleet_server::store::prelude::*;
use fleet_server::store::sqlite::SqliteStore;
use protocol::fleet::{Heartbeat, SystemHealth};

fn hb(sampled_at: i64, outbox: u64, temp: f32) -> Heartbeat {
    Heartbeat {
        sampled_at,
        agent_version: format!("v{sampled_at}"),
        outbox_len: outbox,
        outbox_oldest_age_s: None,
        devices: Vec::new(),
        catalog_version: 1,
        system: Some(SystemHealth {
            temperature_c: Some(temp),
            ..Default::default()
        }),
        last_interaction_at: None,
        sent_at: Some(sampled_at),
        console: Vec::new(),
        update: None,
    }
}

fn row(path: &std::path::Path) -> (Option<i64>, Option<String>) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row(
        "SELECT last_seen, last_heartbeat FROM kiosks WHERE kiosk_id = 'k-1'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn newest_state_is_read_at_once_and_written_behind() {
    let dir = std::env::temp_dir().join(format!("okenko-behind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("fleet.sqlite");
    let now = fleet_server::now_ms();
    {
        let s = SqliteStore::open(&path).unwrap();
        s.create_bootstrap_token("t", "k-1", "Kiosk", "default", now + 60_000)
            .unwrap();
        s.enrol("t", "c", "v0", now).unwrap();
        s.record_heartbeats(&[("k-1".into(), hb(now, 3, 40.0), now)])
            .unwrap();
        s.sync().unwrap();
        // A buffered heartbeat from a minute ago, replayed late.
        s.record_heartbeats(&[("k-1".into(), hb(now - 60_000, 9, 70.0), now + 10)])
            .unwrap();
        let (k, newest) = s.kiosk_health_of("k-1").unwrap().unwrap();
        assert_eq!(k.last_seen, Some(now));
        assert_eq!(k.agent_version.as_deref(), Some(format!("v{now}").as_str()));
        assert_eq!(newest.unwrap().outbox_len, 3, "the newest wins");
        assert_eq!(s.kiosks().unwrap()[0].outbox_len, Some(3));
        // Availability of both minutes is in the database already.
        let (day, _) = fleet_server::sla::day_minute(now);
        let (old_day, _) = fleet_server::sla::day_minute(now - 60_000);
        let up = s.uptime(&old_day, &day).unwrap();
        let marked: u32 = up.values().flatten().map(|b| b.count_ones()).sum();
        assert_eq!(marked, 2);
        // The row is written behind …
        assert_eq!(row(&path).0, None, "not yet");
        s.write_behind().unwrap();
        let (seen, body) = row(&path);
        assert_eq!(seen, Some(now));
        assert!(body.unwrap().contains("\"outbox_len\":3"));
        // … and so is the hour's health; both heartbeats count.
        let h = s.health_history("k-1", now - 3_600_000).unwrap();
        assert_eq!(h.iter().map(|p| p.samples).sum::<u64>(), 2);
        assert_eq!(
            h.iter()
                .filter_map(|p| p.temperature_max)
                .fold(0.0, f64::max),
            70.0
        );
        // A newer heartbeat, then the store goes (the server stops).
        s.record_heartbeats(&[("k-1".into(), hb(now + 30_000, 0, 41.0), now + 30_000)])
            .unwrap();
    }
    let (seen, body) = row(&path);
    assert_eq!(
        seen,
        Some(now + 30_000),
        "written when the store was dropped"
    );
    assert!(body.unwrap().contains("\"outbox_len\":0"));
    let s = SqliteStore::open(&path).unwrap();
    let (k, _) = s.kiosk_health_of("k-1").unwrap().unwrap();
    assert_eq!(k.last_seen, Some(now + 30_000));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
