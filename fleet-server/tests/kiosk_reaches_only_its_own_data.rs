//! Through the router (`oneshot`, a real SQLite file). A kiosk's credential reaches only its own data: its submissions are idempotent per id and
//! scoped to it, it cannot enumerate tracking codes, and a form version not published is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn ingest_is_idempotent_and_scoped_to_the_kiosk() {
    let env = env();
    publish_demo(&env).await;
    let (a, na) = enrolled(&env, "kiosk-a").await;
    let (b, nb) = enrolled(&env, "kiosk-b").await;
    assert_ne!(na, nb);

    let id = uuid::Uuid::new_v4();
    let first = send(&env, &a, vec![upload(na, 1, id)]).await;
    assert!(matches!(first[0], ItemOutcome::Accepted { .. }));
    let again = send(&env, &a, vec![upload(na, 1, id)]).await;
    assert!(
        matches!(again[0], ItemOutcome::Duplicate { .. }),
        "a replay returns the original ack"
    );
    // Kiosk B cannot claim A's id, nor upload a code carrying A's number.
    assert!(matches!(
        &send(&env, &b, vec![upload(nb, 1, id)]).await[0],
        ItemOutcome::Rejected { .. }
    ));
    assert!(matches!(
        &send(&env, &b, vec![upload(na, 2, uuid::Uuid::new_v4())]).await[0],
        ItemOutcome::Rejected { .. }
    ));
    // Values that do not validate against the published form are refused for good.
    let mut bad = upload(na, 3, uuid::Uuid::new_v4());
    bad.values.clear();
    assert!(
        matches!(&send(&env, &a, vec![bad]).await[0], ItemOutcome::Rejected { reason } if reason.contains("text"))
    );
    assert_eq!(env.state.store.submissions(10).unwrap().len(), 1);

    // Credentials: missing, wrong, another kiosk's secret.
    let code = TrackingCode::from_parts(na, 1).unwrap();
    let uri = format!("/api/kiosk/v1/status/{}", code.as_str());
    assert_eq!(
        call(&env, "GET", &uri, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&env, "GET", &uri, Some("kiosk-a:wrong"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let b_secret = b.split_once(':').unwrap().1;
    assert_eq!(
        call(
            &env,
            "GET",
            &uri,
            Some(&format!("kiosk-a:{b_secret}")),
            None
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, st) = call(&env, "GET", &uri, Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["state"], "submitted");
    // The admin API refuses kiosk credentials.
    assert_eq!(
        call(&env, "GET", "/api/admin/v1/submissions", Some(&a), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, list) = call(&env, "GET", "/api/admin/v1/submissions", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !list.to_string().contains("Dost dlouhý"),
        "admin lists carry no form values"
    );
}

#[tokio::test]
async fn a_kiosk_credential_cannot_enumerate_tracking_codes() {
    let env = env();
    let (a, na) = enrolled(&env, "kiosk-enum-a").await;
    let (b, _) = enrolled(&env, "kiosk-enum-b").await;
    let mut statuses = Vec::new();
    for seq in 1..=31 {
        let code = TrackingCode::from_parts(na, seq).unwrap();
        let uri = format!("/api/kiosk/v1/status/{}", code.as_str());
        statuses.push(call(&env, "GET", &uri, Some(&a), None).await.0);
    }
    assert!(
        statuses[..30].iter().all(|s| *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    assert_eq!(statuses[30], StatusCode::TOO_MANY_REQUESTS);
    // Look-ups by card share the kiosk's budget.
    let (s, e) = call(
        &env,
        "POST",
        "/api/kiosk/v1/requests/by-identity",
        Some(&a),
        Some(format!(r#"{{"identity":"{}"}}"#, "0f".repeat(32))),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert_eq!(e["error"], "rate_limited");
    // Another kiosk has its own budget.
    let code = TrackingCode::from_parts(na, 1).unwrap();
    let uri = format!("/api/kiosk/v1/status/{}", code.as_str());
    assert_eq!(
        call(&env, "GET", &uri, Some(&b), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_submission_against_an_unpublished_form_version_is_refused() {
    let env = env();
    publish_demo(&env).await;
    let (a, na) = enrolled(&env, "kiosk-unpublished").await;
    let mut item = upload(na, 1, uuid::Uuid::new_v4());
    item.form_version = 99;
    // Values that would never validate against any published form.
    item.values.clear();
    let out = send(&env, &a, vec![item]).await;
    assert!(
        matches!(&out[0], ItemOutcome::Rejected { reason } if reason.contains("never published")),
        "{out:?}"
    );
    let mut item = upload(na, 2, uuid::Uuid::new_v4());
    item.service_id = "made-up-service".into();
    assert!(matches!(
        &send(&env, &a, vec![item]).await[0],
        ItemOutcome::Rejected { .. }
    ));
    assert_eq!(env.state.store.submission_count().unwrap(), 0);
    // The published version is accepted.
    assert!(matches!(
        &send(&env, &a, vec![upload(na, 3, uuid::Uuid::new_v4())]).await[0],
        ItemOutcome::Accepted { .. }
    ));
}
