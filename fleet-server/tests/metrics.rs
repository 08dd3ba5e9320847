//! Through the router (`oneshot`, a real SQLite file). `/metrics`: each kiosk's newest heartbeat, to the metrics token and staff only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn metrics_show_each_kiosks_newest_heartbeat_to_the_admin_only() {
    use protocol::app::{DeviceKind, DeviceState, DeviceStatus};
    let env = env();
    let (a, _) = enrolled(&env, "ostrava-01").await;
    let (b, _) = enrolled(&env, "ostrava-02").await;
    let now = fleet_server::now_ms();
    let device = |device, state, detail: Option<&str>| DeviceStatus {
        device,
        state,
        detail: detail.map(str::to_owned),
        since: now,
        last_event_at: None,
        events_per_minute: None,
    };
    let heartbeat = |sampled_at, devices, outbox_len| protocol::fleet::Heartbeat {
        sampled_at,
        outbox_len,
        outbox_oldest_age_s: Some(42),
        devices,
        system: Some(protocol::fleet::SystemHealth {
            temperature_c: Some(48.5),
            disk_total_kb: Some(1000),
            disk_free_kb: Some(250),
            ..Default::default()
        }),
        ..quiet_heartbeat(Vec::new())
    };
    let send = |cred: String, hb: protocol::fleet::Heartbeat| {
        let env = &env;
        async move {
            let body = serde_json::to_string(&hb).unwrap();
            let (s, r) = call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&cred),
                Some(body),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{r}");
        }
    };
    let paper_out = vec![
        device(DeviceKind::Printer, DeviceState::Fault, Some("paper out")),
        device(
            DeviceKind::CardReader,
            DeviceState::Missing,
            Some("not found"),
        ),
        device(DeviceKind::Touchscreen, DeviceState::Ok, None),
    ];
    send(a.clone(), heartbeat(now, paper_out, 3)).await;
    // A buffered heartbeat replayed later with an older time does not replace the newest.
    let old = vec![device(DeviceKind::Printer, DeviceState::Ok, None)];
    send(a.clone(), heartbeat(now - 60_000, old, 0)).await;

    let get = |auth: Option<String>| {
        let env = &env;
        async move {
            let mut req = Request::builder().method("GET").uri("/metrics");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
            }
            let resp = app(env.state.clone())
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let ctype = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned());
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, ctype, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(get(None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some(b)).await.0,
        StatusCode::UNAUTHORIZED,
        "not with a kiosk's credential"
    );
    assert_eq!(
        get(Some("wrong-token-0123456789".into())).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The metrics-only token reads the metrics, and opens nothing else.
    let (s, _, by_token) = get(Some(METRICS.into())).await;
    assert_eq!(s, StatusCode::OK);
    assert!(by_token.contains("okenko_kiosk_up"), "{by_token}");
    for uri in ["/api/admin/v1/submissions", "/api/admin/v1/kiosks"] {
        assert_eq!(
            call(&env, "GET", uri, Some(METRICS), None).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let (s, ctype, text) = get(Some(ADMIN.into())).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.unwrap().starts_with("text/plain; version=0.0.4"));
    let value = |sample: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {sample} in\n{text}"))
    };
    assert_eq!(value(r#"okenko_kiosk_up{kiosk="ostrava-01"}"#), 1.0);
    assert_eq!(
        value(r#"okenko_kiosk_up{kiosk="ostrava-02"}"#),
        0.0,
        "never sent one"
    );
    assert_eq!(
        value(r#"okenko_device_state{kiosk="ostrava-01",device="printer",state="fault"}"#),
        1.0,
        "the newest heartbeat wins over the replayed one"
    );
    assert_eq!(
        value(r#"okenko_device_state{kiosk="ostrava-01",device="printer",state="ok"}"#),
        0.0
    );
    assert_eq!(
        value(r#"okenko_printer_paper{kiosk="ostrava-01",state="out"}"#),
        1.0
    );
    assert_eq!(
        value(r#"okenko_printer_cover_open{kiosk="ostrava-01"}"#),
        0.0
    );
    assert_eq!(
        value(r#"okenko_device_present{kiosk="ostrava-01",device="card_reader"}"#),
        0.0
    );
    assert_eq!(
        value(r#"okenko_device_present{kiosk="ostrava-01",device="touchscreen"}"#),
        1.0
    );
    assert_eq!(
        value(r#"okenko_kiosk_temperature_celsius{kiosk="ostrava-01"}"#),
        48.5
    );
    assert_eq!(
        value(r#"okenko_kiosk_disk_used_ratio{kiosk="ostrava-01"}"#),
        0.75
    );
    assert_eq!(
        value(r#"okenko_kiosk_outbox_length{kiosk="ostrava-01"}"#),
        3.0
    );
    assert_eq!(
        value(r#"okenko_kiosk_outbox_oldest_age_seconds{kiosk="ostrava-01"}"#),
        42.0
    );
    assert_eq!(value("okenko_heartbeats_total"), 2.0);
    assert_eq!(value("okenko_kiosks"), 2.0);
    // Every sample belongs to a family that has its HELP and TYPE.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has no TYPE"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }
}
