//! Through the router (`oneshot`, a real SQLite file). A published catalog version never changes; kiosks fetch it by ETag.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn catalog_etag_and_published_versions_are_immutable() {
    let env = env();
    let catalog = publish_demo(&env).await;
    let (a, _) = enrolled(&env, "kiosk-e").await;
    let resp = app(env.state.clone())
        .oneshot(
            Request::get("/api/kiosk/v1/catalog")
                .header(header::AUTHORIZATION, format!("Bearer {a}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let etag = resp.headers().get(header::ETAG).unwrap().clone();
    let resp = app(env.state.clone())
        .oneshot(
            Request::get("/api/kiosk/v1/catalog")
                .header(header::AUTHORIZATION, format!("Bearer {a}"))
                .header(header::IF_NONE_MATCH, etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let changed = catalog.replacen("\"min_len\": 10", "\"min_len\": 11", 1);
    let (s, e) = call(
        &env,
        "PUT",
        "/api/admin/v1/catalog",
        Some(ADMIN),
        Some(changed),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}
