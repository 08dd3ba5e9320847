//! Through the router (`oneshot`, a real SQLite file). The availability report, and the downsampling of health history.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn availability_report_and_history_downsampling() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-sla").await;
    let now = fleet_server::now_ms();
    // Enrolled three weeks ago (its history may go back that far).
    rusqlite::Connection::open(env.state_db())
        .unwrap()
        .execute(
            "UPDATE kiosks SET enrolled_at = ?1 WHERE kiosk_id = 'kiosk-sla'",
            [now - 21 * 86_400_000],
        )
        .unwrap();
    let hb = |sampled_at: i64, temp: f32| {
        serde_json::to_string(&protocol::fleet::Heartbeat {
            sampled_at,
            agent_version: "t".into(),
            outbox_len: 2,
            outbox_oldest_age_s: None,
            devices: Vec::new(),
            catalog_version: 1,
            system: Some(protocol::fleet::SystemHealth {
                temperature_c: Some(temp),
                ..Default::default()
            }),
            last_interaction_at: None,
            sent_at: None,
            console: Vec::new(),
            update: None,
        })
        .unwrap()
    };
    // Two minutes with heartbeats now; and a replayed hour of history six days ago.
    for (t, temp) in [(now - 60_000, 40.0), (now, 41.0)] {
        let (s, r) = call(
            &env,
            "POST",
            "/api/kiosk/v1/heartbeat",
            Some(&a),
            Some(hb(t, temp)),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    // Within one hour, whatever the time of day the test runs at.
    let old = (now - 6 * 86_400_000) / 3_600_000 * 3_600_000 + 60_000;
    for i in 0..4 {
        let (s, _) = call(
            &env,
            "POST",
            "/api/kiosk/v1/heartbeat",
            Some(&a),
            Some(hb(old + i * 30_000, 50.0 + i as f32)),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }

    let (s, r) = call(&env, "GET", "/api/admin/v1/sla", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let k = &r["kiosks"][0];
    assert_eq!(k["kiosk_id"], "kiosk-sla");
    // The minutes with heartbeats are marked.
    assert!(k["open_minutes"].as_u64().unwrap() >= k["up_minutes"].as_u64().unwrap());
    let (today, _) = fleet_server::sla::day_minute(now);
    let marked = env.state.store.uptime(&today, &today).unwrap();
    let bits = &marked[&("kiosk-sla".to_owned(), today.clone())];
    let set: u32 = bits.iter().map(|b| b.count_ones()).sum();
    assert!((1..=2).contains(&set), "{set} minutes marked");
    assert_eq!(r["target"], 0.99);
    for (q, ctype) in [("csv", "text/csv"), ("html", "text/html")] {
        let resp = app(env.state.clone())
            .oneshot(
                Request::builder()
                    .uri(format!("/api/admin/v1/sla?format={q}"))
                    .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let t = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(t.starts_with(ctype), "{t}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("kiosk-sla"));
    }
    for bad in [
        "/api/admin/v1/sla?month=2026-13",
        "/api/admin/v1/sla?format=pdf",
    ] {
        assert_eq!(
            call(&env, "GET", bad, Some(ADMIN), None).await.0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        call(&env, "GET", "/api/admin/v1/sla", Some(&a), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "not for kiosks"
    );

    // Heartbeats were aggregated per hour as they came.
    let store = env.state.store.clone();
    store.prune_history(now, "2000-01-01").unwrap();
    let history = store
        .health_history("kiosk-sla", now - 30 * 86_400_000)
        .unwrap();
    let first = &history[0];
    assert_eq!(first.samples, 4);
    assert_eq!(first.temperature_max, Some(53.0));
    assert_eq!(first.outbox_max, 2);
    assert_eq!(history.iter().map(|h| h.samples).sum::<u64>(), 6);
    // Months on: hours older than 90 days become days; nothing is counted twice.
    store
        .prune_history(now + 100 * 86_400_000, "2000-01-01")
        .unwrap();
    let later = store
        .health_history("kiosk-sla", now - 30 * 86_400_000)
        .unwrap();
    assert_eq!(later.iter().map(|h| h.samples).sum::<u64>(), 6, "{later:?}");
    assert!(
        later.iter().all(|h| h.hour % 86_400_000 == 0),
        "daily points: {later:?}"
    );
    let (s, r) = call(
        &env,
        "GET",
        "/api/admin/v1/kiosks/kiosk-sla/health?days=30",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(r.as_array().unwrap().len() >= 2, "{r}");
}
