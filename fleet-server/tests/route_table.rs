//! Through the router (`oneshot`, a real SQLite file). The route table is what the router serves and what the OpenAPI document describes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "support/api.rs"]
mod api;
use api::*;

#[tokio::test]
async fn openapi_documents_every_route_and_no_other() {
    let env = env();
    let (s, doc) = call(&env, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let mut served = std::collections::BTreeSet::new();
    for r in fleet_server::routes::ROUTES.iter().filter(|r| r.api) {
        for m in r.methods {
            served.insert((r.path.to_owned(), m.to_string()));
        }
    }
    let mut documented = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        for m in ops.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&m.as_str()) {
                documented.insert((path.clone(), m.clone()));
            }
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served, not in the document: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in the document, not served: {unserved:?}"
    );
    assert_eq!(
        call(&env, "GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    let (s, e) = call(&env, "GET", "/nope", None, None).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

/// The table's methods are the router's: each listed method reaches a handler (whatever it
/// then answers), and a method the table does not list is refused with 405.
#[tokio::test]
async fn the_route_table_lists_exactly_the_methods_served() {
    let env = env();
    for r in fleet_server::routes::ROUTES {
        let uri: String = r
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let uri = if uri.is_empty() { "/".to_owned() } else { uri };
        for m in ["get", "put", "post", "delete", "patch"] {
            let resp = app(env.state.clone())
                .oneshot(
                    Request::builder()
                        .method(m.to_uppercase().as_str())
                        .uri(&uri)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let refused = resp.status() == StatusCode::METHOD_NOT_ALLOWED;
            assert_eq!(
                refused,
                !r.methods.contains(&m),
                "{m} {} answered {}",
                r.path,
                resp.status()
            );
        }
    }
}
