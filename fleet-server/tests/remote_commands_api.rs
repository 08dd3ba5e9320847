//! Through the router (`oneshot`, a real SQLite file). A remote command reaches only its kiosk and takes one result.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn a_command_reaches_only_its_kiosk_and_takes_one_result() {
    let env = env();
    publish_demo(&env).await;
    let (a, _) = enrolled(&env, "kiosk-cmd-a").await;
    let (b, _) = enrolled(&env, "kiosk-cmd-b").await;
    let (s, r) = call(
        &env,
        "POST",
        "/api/admin/v1/kiosks/kiosk-cmd-a/commands",
        Some(ADMIN),
        Some(r#"{"action":{"kind":"self_test"},"by":"novak"}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let id = r["id"].as_i64().unwrap();
    let hb = serde_json::to_string(&quiet_heartbeat(Vec::new())).unwrap();
    let beat = |cred: String| {
        let (env, hb) = (&env, hb.clone());
        async move {
            let (s, r) = call(
                env,
                "POST",
                "/api/kiosk/v1/heartbeat",
                Some(&cred),
                Some(hb),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{r}");
            r["commands"].as_array().cloned().unwrap_or_default()
        }
    };
    assert!(
        beat(b.clone()).await.is_empty(),
        "another kiosk never sees it"
    );
    let got = beat(a.clone()).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["id"], id);
    assert_eq!(got[0]["action"]["kind"], "self_test");
    assert_eq!(
        beat(a.clone()).await.len(),
        1,
        "delivered again until its result arrives"
    );

    let result = |cred: String, body: &'static str| {
        let env = &env;
        async move {
            call(
                env,
                "POST",
                &format!("/api/kiosk/v1/commands/{id}/result"),
                Some(&cred),
                Some(body.into()),
            )
            .await
            .0
        }
    };
    assert_eq!(
        result(b.clone(), r#"{"ok":true,"output":"forged"}"#).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        result(a.clone(), r#"{"ok":"yes"}"#).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        result(a.clone(), r#"{"ok":true,"output":"PASS all"}"#).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        result(a.clone(), r#"{"ok":false,"output":"late repeat"}"#).await,
        StatusCode::NO_CONTENT,
        "a repeat is accepted and ignored"
    );
    assert!(
        beat(a.clone()).await.is_empty(),
        "finished: not delivered again"
    );
    let (_, list) = call(
        &env,
        "GET",
        "/api/admin/v1/kiosks/kiosk-cmd-a/commands",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(list[0]["output"], "PASS all");
    assert_eq!(list[0]["ok"], true);

    // Every change is in the audit log, newest first, with who made it.
    let (s, log) = call(&env, "GET", "/api/admin/v1/audit", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let entries: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        entries,
        [
            t("novak", "command.queue", "kiosk-cmd-a"),
            t("admin-token", "token.issue", "kiosk-cmd-b"),
            t("admin-token", "token.issue", "kiosk-cmd-a"),
            t("admin-token", "catalog.publish", "1"),
        ]
    );
    assert!(log[0]["detail"].as_str().unwrap().starts_with("self_test"));
    assert_eq!(
        call(&env, "GET", "/api/admin/v1/audit", Some(&a), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}
