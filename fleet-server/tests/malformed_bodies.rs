//! Through the router (`oneshot`, a real SQLite file). Malformed bodies get clear JSON errors and change nothing; every refusal is JSON and in the
//! OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn malformed_bodies_get_clear_errors_and_change_nothing() {
    let env = env();
    let (a, _) = enrolled(&env, "kiosk-m").await;
    for body in [
        "not json".to_owned(),
        "{}".to_owned(),
        r#"{"items":[{"id":"x"}]}"#.to_owned(),
        format!(r#"{{"items":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)),
        format!(r#"{{"items":[],"junk":"{}"}}"#, "x".repeat(1000)),
    ] {
        let (s, e) = call(
            &env,
            "POST",
            "/api/kiosk/v1/submissions",
            Some(&a),
            Some(body),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(e["error"], "bad_request");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    let (s, _) = call(
        &env,
        "PUT",
        "/api/admin/v1/catalog",
        Some(ADMIN),
        Some(r#"{"version":0,"published_at":0,"categories":[],"services":[{"id":"Bad"}]}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = call(
        &env,
        "POST",
        "/api/agenda/v1/status",
        Some("agenda-token-0123456789"),
        Some(r#"{"tracking_code":"001CX86BY","state":"resolved"}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = call(
        &env,
        "POST",
        "/api/agenda/v1/status",
        Some("wrong-agenda-token"),
        Some("{}".into()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = call(
        &env,
        "GET",
        "/api/kiosk/v1/status/not-a-code",
        Some(&a),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(env.state.store.submissions(10).unwrap().is_empty());
    assert!(env.state.store.catalog().unwrap().is_none());
}

/// Every operation of the OpenAPI document, refused every way a client can get it wrong
/// (no credentials, a path or query that does not parse, a body that is not JSON or not the
/// schema): each refusal is the JSON error body, with a status the document lists for that
/// operation, and nothing answers 5xx.
#[tokio::test]
async fn every_refusal_is_json_and_in_the_document() {
    let env = env();
    publish_demo(&env).await;
    let (kiosk, _) = enrolled(&env, "kiosk-doc").await;
    let doc: serde_json::Value = serde_json::from_str(fleet_server::api::OPENAPI).unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let documented: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let auth = if path.starts_with("/api/kiosk/") {
                Some(kiosk.as_str())
            } else if path.starts_with("/api/agenda/") {
                Some("agenda-token-0123456789")
            } else if secured {
                Some(ADMIN)
            } else {
                None
            };
            // Path parameters that do not parse; query parameters of the wrong kind.
            let bad_path = path
                .replace("{code}", "%00%FF")
                .replace("{version}", "..%2F..")
                .replace("{action}", "explode")
                .replace("{command}", "-x")
                .replace(
                    "{id}",
                    if path.contains("/kiosks/{id}") {
                        "k%0A"
                    } else {
                        "not-a-number"
                    },
                );
            let query = if op["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x["in"] == "query"))
            {
                "?limit=-1&lang=xx"
            } else {
                ""
            };
            let has_body = op.get("requestBody").is_some();
            let mut tries: Vec<(&str, Option<&str>, String, Option<String>)> = vec![(
                "bad path and query",
                auth,
                format!("{bad_path}{query}"),
                None,
            )];
            if secured {
                tries.push(("no credentials", None, path.to_owned(), None));
            }
            if has_body {
                tries.push(("not JSON", auth, path.to_owned(), Some("{".into())));
                tries.push((
                    "not the schema",
                    auth,
                    path.to_owned(),
                    Some(r#"{"unexpected":[1,2,3]}"#.into()),
                ));
            }
            for (what, auth, uri, body) in tries {
                let uri = uri.replace(['{', '}'], "");
                let mut req = Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri);
                if let Some(a) = auth {
                    req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
                }
                let body = match body {
                    Some(b) => {
                        req = req.header(header::CONTENT_TYPE, "application/json");
                        Body::from(b)
                    }
                    None => Body::empty(),
                };
                let resp = app(env.state.clone())
                    .oneshot(req.body(body).unwrap())
                    .await
                    .unwrap();
                let status = resp.status();
                let ctype = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(
                    !status.is_server_error(),
                    "{method} {uri} ({what}): {status}"
                );
                if status.is_success() || status.is_redirection() {
                    continue;
                }
                checked += 1;
                assert!(
                    documented.contains(&status.as_u16()),
                    "{method} {path} ({what}): {status} is not in the document ({documented:?}): {}",
                    String::from_utf8_lossy(&bytes)
                );
                if path.starts_with("/api/") || path == "/metrics" {
                    let e: serde_json::Value =
                        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            panic!(
                                "{method} {uri} ({what}): {status} {ctype} is not JSON: {}",
                                String::from_utf8_lossy(&bytes)
                            )
                        });
                    assert!(
                        e["error"].is_string() && e["message"].is_string(),
                        "{method} {uri} ({what}): {e}"
                    );
                }
            }
        }
    }
    assert!(checked > 60, "{checked} refusals checked");
}
