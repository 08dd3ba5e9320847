//! The rollout book, its policy and its waves.

use super::*;
use crate::hours::OpeningHours;

fn rollout(percent: u8, group: Option<&str>, canary: &[&str]) -> Rollout {
    Rollout {
        id: 1,
        version: "2.0.0".into(),
        group: group.map(str::to_owned),
        canary: canary.iter().map(|c| (*c).to_owned()).collect(),
        percent,
        state: RolloutState::Active,
        force: false,
        max_failure_percent: 20,
        wave: Vec::new(),
        created_by: "t".into(),
        created_at: 0,
        updated_at: 0,
        reason: None,
    }
}

#[test]
fn percentages_are_stable_and_only_grow() {
    let ids: Vec<String> = (1..=1000).map(|i| format!("kiosk-{i:04}")).collect();
    let mut before = 0;
    for p in [0u8, 1, 5, 25, 50, 99, 100] {
        let r = rollout(p, None, &[]);
        let chosen: Vec<&String> = ids.iter().filter(|k| r.targets(k, "g")).collect();
        assert!(chosen.len() >= before, "growing to {p} % dropped kiosks");
        // Everyone chosen at a lower percentage is still chosen.
        let lower = rollout(p / 2, None, &[]);
        assert!(
            ids.iter()
                .filter(|k| lower.targets(k, "g"))
                .all(|k| r.targets(k, "g"))
        );
        // Roughly the share asked for, on a thousand kiosks.
        let share = chosen.len() as f64 / 10.0;
        assert!((share - f64::from(p)).abs() <= 5.0, "{p} %: {share}");
        before = chosen.len();
    }
    assert_eq!(bucket("kiosk-0001"), bucket("kiosk-0001"));
    assert_ne!(bucket("kiosk-0001"), bucket("kiosk-0002"));
}

#[test]
fn groups_and_canaries() {
    let r = rollout(100, Some("north"), &["south-1"]);
    assert!(r.targets("north-1", "north"));
    assert!(!r.targets("south-2", "south"));
    assert!(r.targets("south-1", "south"), "a canary outside the group");
    let c = rollout(0, None, &["a"]);
    assert!(c.targets("a", "x") && !c.targets("b", "x"));
}

fn report(kiosk_running: &str, rollout: i64, state: UpdateState, at: i64) -> UpdateReport {
    UpdateReport {
        running: kiosk_running.into(),
        slot: "A".into(),
        target: Some("2.0.0".into()),
        rollout_id: Some(rollout),
        state,
        progress: None,
        reason: None,
        since: at,
    }
}

#[test]
fn a_rollout_pauses_on_failures_and_steers_kiosks_through_its_states() {
    use crate::store::sqlite::SqliteStore;
    let store = SqliteStore::open(std::path::Path::new(":memory:")).unwrap();
    let (key, _) = protocol::release::SigningKey::generate().unwrap();
    let mut ring = Keyring::default();
    ring.add(&key.public_hex()).unwrap();
    let book = Rollouts::load(&store, Some(ring), Vec::new(), Window::Always, 20).unwrap();
    let bundle = b"bundle".to_vec();
    for v in ["1.0.0", "2.0.0"] {
        let m =
            protocol::release::manifest_of(&mut bundle.as_slice(), v, &["hw".into()], 1).unwrap();
        book.accept_manifest(&store, key.sign(&m).unwrap(), "rm", 1)
            .unwrap();
    }
    let ids: Vec<String> = (1..=40).map(|i| format!("k{i:02}")).collect();
    let members: Vec<Member<'_>> = ids
        .iter()
        .map(|k| Member {
            kiosk_id: k,
            group: "g",
        })
        .collect();
    let new = NewRollout {
        version: "2.0.0".into(),
        canary: vec!["k01".into()],
        ..NewRollout::default()
    };
    // Not before the bundle arrived.
    assert!(matches!(
        book.create(&store, new.clone(), &members, "rm", 2),
        Err(RolloutError::Conflict(_))
    ));
    book.bundle_arrived(&store, "2.0.0", 2).unwrap();
    book.bundle_arrived(&store, "1.0.0", 2).unwrap();
    let r = book.create(&store, new.clone(), &members, "rm", 3).unwrap();
    assert_eq!(r.wave, ["k01"]);
    let k01 = members[0];
    let (d, _) = book.on_heartbeat(k01, Some(&report("1.0.0", 1, UpdateState::Idle, 4)), 4);
    assert_eq!(d.map(|d| d.version), Some("2.0.0".into()));
    let (d, _) = book.on_heartbeat(members[1], None, 4);
    assert!(d.is_none(), "only the canary");
    // A second open rollout is refused.
    assert!(book.create(&store, new.clone(), &members, "rm", 5).is_err());
    // The canary fails: its whole wave failed, so the rollout pauses itself.
    let (_, changed) = book.on_heartbeat(
        k01,
        Some(&report("1.0.0", 1, UpdateState::RolledBack, 6)),
        6,
    );
    let paused = changed.paused.expect("paused");
    assert_eq!(paused.state, RolloutState::Paused);
    assert!(paused.reason.unwrap().contains("1 of the 1 kiosks"));
    assert!(book.on_heartbeat(members[1], None, 7).0.is_none());
    // Expanding needs an explicit resume first.
    assert!(
        book.act(&store, 1, Action::Expand(50), &members, "rm", 8)
            .is_err()
    );
    book.act(&store, 1, Action::Resume, &members, "rm", 8)
        .unwrap();
    let r = book
        .act(&store, 1, Action::Expand(50), &members, "rm", 9)
        .unwrap();
    assert!(!r.wave.is_empty() && !r.wave.contains(&"k01".to_owned()));
    assert!(
        book.act(&store, 1, Action::Expand(40), &members, "rm", 9)
            .is_err(),
        "no shrinking"
    );
    let in_wave = members
        .iter()
        .find(|m| r.wave.iter().any(|w| w == m.kiosk_id))
        .unwrap();
    // It updates; a replayed older report does not undo that.
    book.on_heartbeat(
        *in_wave,
        Some(&report("1.0.0", 1, UpdateState::Downloading, 10)),
        10,
    );
    let mut done = report("2.0.0", 1, UpdateState::Succeeded, 12);
    done.slot = "B".into();
    book.on_heartbeat(*in_wave, Some(&done), 12)
        .1
        .save(&store)
        .unwrap();
    book.on_heartbeat(
        *in_wave,
        Some(&report("1.0.0", 1, UpdateState::Downloading, 11)),
        13,
    );
    let u = book.update_of(in_wave.kiosk_id).unwrap();
    assert_eq!(
        (u.report.running.as_str(), u.from_version.as_deref()),
        ("2.0.0", Some("1.0.0"))
    );
    // Roll back: refused until a release key signed the rollback from 2.0.0 (kiosks would
    // refuse the older release without it); then the updated kiosk is sent to 1.0.0,
    // forced, with the signed rollback; the others get nothing.
    let e = book
        .act(&store, 1, Action::Rollback, &members, "rm", 14)
        .unwrap_err();
    assert!(e.to_string().contains("signed"), "{e}");
    let rb = key
        .sign_rollback(&protocol::release::Rollback {
            from: "2.0.0".into(),
            to: vec!["1.0.0".into()],
            created_at: 14,
        })
        .unwrap();
    let forged = protocol::release::SignedRollback {
        signature: "00".repeat(64),
        ..rb.clone()
    };
    assert!(book.accept_rollback(&store, "2.0.0", forged).is_err());
    assert!(
        book.accept_rollback(&store, "1.0.0", rb.clone()).is_err(),
        "not for that release"
    );
    book.accept_rollback(&store, "2.0.0", rb.clone()).unwrap();
    let r = book
        .act(&store, 1, Action::Rollback, &members, "rm", 14)
        .unwrap();
    assert_eq!(r.state, RolloutState::RolledBack);
    let d = book.on_heartbeat(*in_wave, None, 15).0.unwrap();
    assert_eq!(
        (d.version.as_str(), d.force, d.install_now),
        ("1.0.0", true, true)
    );
    assert_eq!(d.rollback, Some(rb));
    assert!(book.on_heartbeat(members[39], None, 15).0.is_none());
    // All of it survives a restart.
    let again = Rollouts::load(&store, None, Vec::new(), Window::Always, 20).unwrap();
    assert_eq!(again.rollout(1).unwrap().state, RolloutState::RolledBack);
    assert_eq!(
        again.update_of(in_wave.kiosk_id).unwrap().report.running,
        "2.0.0"
    );
}

#[test]
fn windows() {
    let open = OpeningHours::parse("Mo-Su 08:00-18:00").unwrap();
    // 2026-11-23 (Monday) 12:00 and 23:00 Czech time (UTC+1).
    let noon = 1_795_392_000_000 + 11 * 3_600_000;
    let night = 1_795_392_000_000 + 22 * 3_600_000;
    let w = Window::from_config(&OpeningHours::default(), &open);
    assert!(!w.is_open(noon) && w.is_open(night));
    let own = OpeningHours::parse("Mo-Su 11:00-13:00").unwrap();
    let w = Window::from_config(&own, &open);
    assert!(w.is_open(noon) && !w.is_open(night));
    let w = Window::from_config(&OpeningHours::default(), &OpeningHours::default());
    assert!(w.is_open(noon) && w.is_open(night));
}
