//! Through the router (`oneshot`, a real SQLite file). A citizen's requests by card: only with a kiosk's credential, only by a keyed hash.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn requests_by_card_need_a_kiosk_credential_and_a_keyed_hash() {
    let env = env();
    publish_demo(&env).await;
    let (a, na) = enrolled(&env, "kiosk-card-a").await;
    let (b, _) = enrolled(&env, "kiosk-card-b").await;
    let card = "0f".repeat(32);
    let mut item = upload(na, 7, uuid::Uuid::new_v4());
    item.identity = Some(card.clone());
    let code = item.tracking_code.clone();
    assert!(matches!(
        send(&env, &a, vec![item, upload(na, 8, uuid::Uuid::new_v4())]).await[..],
        [ItemOutcome::Accepted { .. }, ItemOutcome::Accepted { .. }]
    ));
    let ask = |auth: Option<String>, body: String| {
        let env = &env;
        async move {
            call(
                env,
                "POST",
                "/api/kiosk/v1/requests/by-identity",
                auth.as_deref(),
                Some(body),
            )
            .await
        }
    };
    let body = format!(r#"{{"identity":"{card}"}}"#);
    // Another kiosk where the citizen presents the same card sees it; no personal data comes back.
    let (s, r) = ask(Some(b.clone()), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let list = r["requests"].as_array().unwrap();
    assert_eq!(list.len(), 1, "only the request made with the card: {r}");
    assert_eq!(list[0]["tracking_code"], code.as_str());
    assert!(!r.to_string().contains("Dost dlouhý"), "{r}");
    // Without a kiosk credential, with a wrong one, or with something that is not a hash: refused.
    assert_eq!(ask(None, body.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        ask(
            Some("kiosk-card-b:wrong-secret-0123456789".into()),
            body.clone()
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ask(Some(ADMIN.into()), body).await.0,
        StatusCode::UNAUTHORIZED
    );
    for bad in [
        r#"{"identity":"4111111111111111"}"#,
        r#"{"identity":42}"#,
        r#"{"identity":"0f","extra":1}"#,
        "{",
    ] {
        let (s, e) = ask(Some(b.clone()), bad.into()).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {s}"
        );
        assert!(
            e["error"].is_string() || e["message"].is_string(),
            "{bad}: {e}"
        );
    }
}
