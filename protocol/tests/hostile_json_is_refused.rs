//! Malformed or hostile JSON is refused with a clear error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use protocol::app::{self, Request};
use protocol::fleet::{Catalog, SubmissionBatch};
use protocol::json::{DecodeError, decode, decode_versioned};

const MAX: usize = 1024 * 1024;

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = decode::<serde_json::Value>(deep.as_bytes(), MAX).unwrap_err();
    assert!(e.to_string().contains("recursion limit"), "{e}");
    let body = format!(
        r#"{{"v":1,"id":1,"body":{{"type":"submit","x":{}}}}}"#,
        "[".repeat(5000)
    );
    assert!(matches!(
        decode_versioned::<Request>(body.as_bytes(), MAX, app::VERSION),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn oversized_documents_are_refused_before_parsing() {
    let huge = format!(
        r#"{{"v":1,"id":1,"body":{{"type":"status","tracking_code":"{}"}}}}"#,
        "A".repeat(MAX)
    );
    assert_eq!(
        decode_versioned::<Request>(huge.as_bytes(), MAX, app::VERSION),
        Err(DecodeError::TooLarge {
            len: huge.len(),
            max: MAX
        })
    );
}

#[test]
fn wrong_types_and_unknown_requests_name_the_problem() {
    for (doc, needle) in [
        (
            r#"{"v":1,"id":"seven","body":{"type":"catalog"}}"#,
            "invalid type",
        ),
        (
            r#"{"v":1,"id":1,"body":{"type":"format_disk"}}"#,
            "unknown variant",
        ),
        (
            r#"{"v":1,"id":1,"body":{"type":"status"}}"#,
            "missing field `tracking_code`",
        ),
        (
            r#"{"v":1,"id":1,"body":{"type":"catalog"},"extra":1}"#,
            "unknown field `extra`",
        ),
        (r#"not json"#, "expected"),
        (r#""#, "EOF"),
    ] {
        let e = decode_versioned::<Request>(doc.as_bytes(), MAX, app::VERSION)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{doc}: {e}");
    }
}

#[test]
fn unknown_versions_are_reported_as_such() {
    let e = decode_versioned::<Request>(
        br#"{"v":2,"id":1,"body":{"type":"catalog"}}"#,
        MAX,
        app::VERSION,
    );
    assert_eq!(
        e,
        Err(DecodeError::UnsupportedVersion {
            got: 2,
            supported: 1
        })
    );
    let e =
        decode_versioned::<Request>(br#"{"id":1,"body":{"type":"catalog"}}"#, MAX, app::VERSION);
    assert!(e.unwrap_err().to_string().contains("missing field `v`"));
    let e = decode_versioned::<Request>(br#"{"v":"1","id":1}"#, MAX, app::VERSION);
    assert!(e.unwrap_err().to_string().contains("must be a number"));
}

#[test]
fn fleet_documents_reject_bad_tracking_codes_and_uuids() {
    let batch = r#"{"items":[{"id":"not-a-uuid","tracking_code":"001CX86BY","service_id":"s","form_version":1,"language":"cs","values":{},"created_at":0}]}"#;
    assert!(decode::<SubmissionBatch>(batch.as_bytes(), MAX).is_err());
    let batch = r#"{"items":[{"id":"6f1c2f4e-3b1a-4b5e-9c1d-0a1b2c3d4e5f","tracking_code":"001CX86BZ","service_id":"s","form_version":1,"language":"cs","values":{},"created_at":0}]}"#;
    let e = decode::<SubmissionBatch>(batch.as_bytes(), MAX)
        .unwrap_err()
        .to_string();
    assert!(e.contains("check character"), "{e}");
    let catalog = r#"{"version":1,"published_at":0,"categories":[],"services":[{"id":"x"}]}"#;
    assert!(decode::<Catalog>(catalog.as_bytes(), MAX).is_err());
}
