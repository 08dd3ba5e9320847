//! Through the router (`oneshot`, a real SQLite file). The citizen's status page is rate-limited and shows no personal data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn the_public_page_is_rate_limited_and_shows_no_personal_data() {
    // The address's bucket fills again at one request per 2 s while the test runs.
    let started = std::time::Instant::now();
    let env = env();
    publish_demo(&env).await;
    let (a, number) = enrolled(&env, "kiosk-p").await;
    let mut item = upload(number, 9, uuid::Uuid::new_v4());
    item.values.insert(
        "email".into(),
        protocol::validate::FieldValue::Text("tajna.adresa@example.cz".into()),
    );
    let code = item.tracking_code.clone();
    assert!(matches!(
        send(&env, &a, vec![item]).await[0],
        ItemOutcome::Accepted { .. }
    ));

    let get = |uri: String| {
        let env_state = env.state.clone();
        async move {
            let resp = app(env_state)
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (s, page) = get(format!("/s/{}?lang=en", code)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Sent") && page.contains("Suggestion or complaint"),
        "{page}"
    );
    assert!(
        !page.contains("tajna.adresa") && !page.contains("Dost dlouhý"),
        "no personal data"
    );
    let (s, page) = get("/s/0000-0000-1".into()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        page.contains("neplatný") || page.contains("není platný"),
        "{page}"
    );
    // The default limit is 30 a minute per address, shared by enrolment and the status page:
    // three enrolment calls and two pages were used above, and the bucket refills one request
    // per 2 s meanwhile (a loaded machine runs this slowly).
    let (mut served, mut limited) = (0, false);
    for _ in 0..200 {
        match get(format!("/s/{}", code)).await.0 {
            StatusCode::OK => served += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                limited = true;
                break;
            }
            other => panic!("{other}"),
        }
    }
    let refilled = (started.elapsed().as_secs_f64() / 2.0).ceil() as usize;
    assert!(limited, "no 429 after {served} pages");
    assert!(
        (25..=25 + refilled).contains(&served),
        "{served} pages served before the limit ({refilled} refilled)"
    );
}
