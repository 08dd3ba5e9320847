//! Through the router (`oneshot`, a real SQLite file). Heartbeats: samples bounded in time, buffered ones marked; the console's audit entries bounded
//! and marked as the kiosk's word.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

/// Samples are filed on the server's clock: a kiosk whose clock is off is moved by the offset
/// it shows when sending; a sample ahead of the server beyond the skew allowance, from before
/// the kiosk enrolled or older than a kiosk keeps is refused; a buffered one is accepted and
/// its minute marked as learnt late.
#[tokio::test]
async fn heartbeat_samples_are_bounded_in_time_and_buffered_ones_marked() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-time").await;
    let now = fleet_server::now_ms();
    let beat = |sampled_at: i64, sent_at: Option<i64>| {
        let a = a.clone();
        let env = &env;
        async move {
            let hb = protocol::fleet::Heartbeat {
                sampled_at,
                sent_at,
                ..quiet_heartbeat(Vec::new())
            };
            call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&a),
                Some(serde_json::to_string(&hb).unwrap()),
            )
            .await
        }
    };
    // Ahead of the server by an hour: refused with the reason.
    let (s, e) = beat(now + 3_600_000, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().contains("ahead"), "{e}");
    // Before the kiosk enrolled.
    let (s, e) = beat(now - 3_600_000, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("enrolled"), "{e}");
    // A kiosk whose clock runs an hour ahead, sending now: filed at the server's time.
    let (s, e) = beat(now + 3_600_000, Some(now + 3_600_000)).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    // Nothing was written for the hour ahead.
    let (day, minute) = fleet_server::sla::day_minute(now + 3_600_000);
    let up = env.state.store.uptime(&day, &day).unwrap();
    let bits = up.get(&("kiosk-time".to_owned(), day.clone()));
    assert!(
        !bits.is_some_and(|b| fleet_server::sla::is_set(b, minute)),
        "no minute in the future"
    );

    // A kiosk enrolled a day ago replays what it buffered 20 minutes ago, and a week-old one.
    let db = rusqlite::Connection::open(env.state_db()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let (b, _) = enrolled(&env, "kiosk-late").await;
    db.execute(
        "UPDATE kiosks SET enrolled_at = ?1 WHERE kiosk_id = 'kiosk-late'",
        [now - 8 * 86_400_000],
    )
    .unwrap();
    let replay = |sampled_at: i64| {
        let b = b.clone();
        let env = &env;
        async move {
            let hb = protocol::fleet::Heartbeat {
                sampled_at,
                sent_at: Some(now),
                ..quiet_heartbeat(Vec::new())
            };
            call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&b),
                Some(serde_json::to_string(&hb).unwrap()),
            )
            .await
            .0
        }
    };
    assert_eq!(
        replay(now - 7 * 86_400_000 - 60_000).await,
        StatusCode::BAD_REQUEST,
        "older than a kiosk keeps"
    );
    let buffered_at = now - 20 * 60_000;
    assert_eq!(replay(buffered_at).await, StatusCode::OK);
    let (day, minute) = fleet_server::sla::day_minute(buffered_at);
    let mut marked = false;
    for _ in 0..100 {
        let late = env.state.store.late_uptime(&day, &day).unwrap();
        marked = late
            .get(&("kiosk-late".to_owned(), day.clone()))
            .is_some_and(|b| fleet_server::sla::is_set(b, minute));
        if marked {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(marked, "the buffered minute is marked as learnt late");
}

#[tokio::test]
async fn console_audit_entries_are_bounded_and_marked_as_the_kiosks_word() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-console").await;
    let forged = |n: usize| {
        (0..n)
            .map(|i| protocol::fleet::ConsoleEvent {
                at: fleet_server::now_ms() + 86_400_000,
                what: format!("admin alice disabled the alarm {i}\r\nforged line"),
            })
            .collect::<Vec<_>>()
    };
    for _ in 0..4 {
        let body = serde_json::to_string(&quiet_heartbeat(forged(50))).unwrap();
        let (s, r) = call(
            &env,
            "POST",
            "/api/kiosk/v1/heartbeat",
            Some(&a),
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let log = env.state.store.audit_log(1000).unwrap();
    let console: Vec<_> = log
        .iter()
        .filter(|e| e.actor == "console@kiosk-console")
        .collect();
    // The minute's budget (60, plus a token refilled every second on a slow machine) and one
    // count per heartbeat over it, not 200.
    assert!((63..=68).contains(&console.len()), "{console:#?}");
    let now = fleet_server::now_ms();
    for e in &console {
        assert_eq!(e.action, "kiosk.console");
        assert!(e.detail.starts_with("reported by the kiosk: "), "{e:?}");
        assert!(
            !e.detail.contains('\n') && !e.detail.contains('\r'),
            "{e:?}"
        );
        assert!(e.at <= now, "not dated in the future: {e:?}");
    }
    assert!(
        console
            .iter()
            .any(|e| e.detail.contains("40 more console events")),
        "{console:#?}"
    );
}
