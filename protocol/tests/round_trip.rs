//! Every wire type survives a round trip through JSON unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use protocol::Lang;
use protocol::app::{self, Request, RequestBody, Response, ResponseBody, SubmitAck, SubmitRequest};
use protocol::fleet::{BatchAck, Catalog, ItemAck, ItemOutcome, SubmissionBatch, SubmissionUpload};
use protocol::tracking::TrackingCode;
use protocol::validate::{FieldValue, FormValues};

fn demo_catalog() -> Catalog {
    let text = include_str!("../../fleet-server/data/demo-catalog.json");
    serde_json::from_str(text).expect("the demo catalog parses")
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: &T,
) {
    let json = serde_json::to_string(v).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, v, "{json}");
}

fn values() -> FormValues {
    let mut v = FormValues::new();
    v.insert("jmeno".into(), FieldValue::Text("Žofie Dvořáková".into()));
    v.insert("mesice".into(), FieldValue::Number(6.0));
    v.insert("souhlas".into(), FieldValue::Bool(true));
    v.insert(
        "druhy".into(),
        FieldValue::List(vec!["nabytek".into(), "zelen".into()]),
    );
    v
}

#[test]
fn app_protocol_round_trips() {
    let id = uuid::Uuid::new_v4();
    let code = TrackingCode::from_parts(23, 777).unwrap();
    round_trip(&Request {
        v: app::VERSION,
        id: 9,
        body: RequestBody::Submit(SubmitRequest {
            submission_id: id,
            service_id: "parkovaci-karta".into(),
            form_version: 1,
            language: Lang::Uk,
            values: values(),
            identity: Some("abc".into()),
            notify: None,
        }),
    });
    round_trip(&Request {
        v: 1,
        id: 1,
        body: RequestBody::Status {
            tracking_code: code.to_string(),
        },
    });
    round_trip(&Response {
        v: 1,
        id: 9,
        body: ResponseBody::Submitted(SubmitAck {
            submission_id: id,
            tracking_code: code,
            stored_at: 5,
            status_url: "https://fleet.example.cz/s/001CX86BY".into(),
        }),
    });
}

#[test]
fn fleet_protocol_round_trips() {
    let catalog = demo_catalog();
    round_trip(&catalog);
    for s in &catalog.services {
        s.check().unwrap();
    }
    let item = SubmissionUpload {
        id: uuid::Uuid::new_v4(),
        tracking_code: TrackingCode::from_parts(1, 2).unwrap(),
        service_id: "podnet".into(),
        form_version: 1,
        language: Lang::Cs,
        values: values(),
        identity: None,
        created_at: 1,
        notify: None,
    };
    round_trip(&SubmissionBatch {
        items: vec![item.clone()],
    });
    round_trip(&BatchAck {
        items: vec![
            ItemAck {
                id: item.id,
                outcome: ItemOutcome::Accepted { received_at: 3 },
            },
            ItemAck {
                id: item.id,
                outcome: ItemOutcome::Duplicate { received_at: 3 },
            },
            ItemAck {
                id: item.id,
                outcome: ItemOutcome::Rejected { reason: "x".into() },
            },
        ],
    });
}
