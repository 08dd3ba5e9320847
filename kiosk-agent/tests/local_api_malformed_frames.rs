//! Malformed frames on the local socket get clear error replies, never disturb another client,
//! and change no stored data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use std::time::Duration;

use agent_client::{Client, ClientError};
use protocol::app::{ErrorCode, RequestBody, ResponseBody};

fn outbox_rows(agent: &kiosk_agent::agent::Agent) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(agent.store.run(|s| s.outbox_stats()))
        .unwrap()
        .queued
}

fn frame(payload: &[u8]) -> Vec<u8> {
    protocol::frame::encode(payload)
}

fn error_code(c: &mut Client) -> ErrorCode {
    match c.read_reply().unwrap().body {
        ResponseBody::Error(e) => {
            assert!(!e.message.is_empty());
            e.code
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn garbage_gets_errors_and_changes_nothing() {
    let dir = common::TestDir::new("frames");
    let (agent, socket, _rt) = common::serve(&dir.0);
    let mut good = Client::connect(&socket, Duration::from_secs(5)).unwrap();
    let before = outbox_rows(&agent);

    let mut bad = Client::connect(&socket, Duration::from_secs(5)).unwrap();
    let cases: Vec<(Vec<u8>, ErrorCode)> = vec![
        (frame(b"\x00\xff garbage \xfe"), ErrorCode::BadRequest),
        (
            frame(b"{\"v\":1,\"id\":3,\"body\":{\"type\":\"nope\"}}"),
            ErrorCode::BadRequest,
        ),
        (
            frame(b"{\"v\":99,\"id\":4,\"body\":{\"type\":\"catalog\"}}"),
            ErrorCode::UnsupportedVersion,
        ),
        (
            frame(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes()),
            ErrorCode::BadRequest,
        ),
        (
            frame(b"{\"v\":1,\"id\":5,\"body\":{\"type\":\"submit\",\"submission_id\":7}}"),
            ErrorCode::BadRequest,
        ),
    ];
    for (bytes, expected) in cases {
        bad.send_raw(&bytes).unwrap();
        assert_eq!(error_code(&mut bad), expected);
    }
    // The same connection still works after garbage.
    assert!(matches!(
        bad.call(RequestBody::Devices),
        Ok(ResponseBody::Devices { .. })
    ));

    // A frame announced over the limit: error reply, then the connection is closed.
    let mut big = Client::connect(&socket, Duration::from_secs(5)).unwrap();
    big.send_raw(&(10_000_000u32).to_be_bytes()).unwrap();
    assert_eq!(error_code(&mut big), ErrorCode::TooLarge);
    assert!(big.read_reply().is_err(), "closed after an oversized frame");

    // A half frame followed by a hang-up disturbs nobody.
    let mut half = Client::connect(&socket, Duration::from_secs(5)).unwrap();
    half.send_raw(&[0, 0, 1, 0, b'{']).unwrap();
    drop(half);

    // Invalid submissions are refused with field errors and store nothing.
    let mut req = common::sample_submission(0);
    req.values.insert(
        "text".into(),
        protocol::validate::FieldValue::Text("short".into()),
    );
    match good.call(RequestBody::Submit(req)) {
        Err(ClientError::Agent(e)) => {
            assert_eq!(e.code, ErrorCode::Invalid);
            assert_eq!(e.field_errors[0].field, "text");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let mut unknown = common::sample_submission(0);
    unknown.service_id = "nope".into();
    assert!(
        matches!(good.call(RequestBody::Submit(unknown)), Err(ClientError::Agent(e)) if e.code == ErrorCode::UnknownService)
    );
    // An address for notices that is none: refused with the reason, nothing stored.
    for (channel, to) in [
        (protocol::fleet::NoticeChannel::Sms, "12 34"),
        (protocol::fleet::NoticeChannel::Email, "jana at example"),
    ] {
        let mut bad_address = common::sample_submission(0);
        bad_address.notify = Some(protocol::fleet::NoticeRequest {
            channel,
            to: to.into(),
        });
        match good.call(RequestBody::Submit(bad_address)) {
            Err(ClientError::Agent(e)) => {
                assert_eq!(e.code, ErrorCode::Invalid);
                assert!(e.message.contains("address for notices"), "{}", e.message);
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }
    assert_eq!(outbox_rows(&agent), before, "nothing was stored");

    // The well-behaved client was never disturbed, and a valid submission still works.
    let ok = common::sample_submission(0);
    let first = match good.call(RequestBody::Submit(ok.clone())).unwrap() {
        ResponseBody::Submitted(a) => a,
        other => panic!("{other:?}"),
    };
    assert_eq!(first.tracking_code.kiosk_number(), 7);
    // A retry with the same id returns the same code and stores nothing new.
    match good.call(RequestBody::Submit(ok.clone())).unwrap() {
        ResponseBody::Submitted(a) => assert_eq!(a.tracking_code, first.tracking_code),
        other => panic!("{other:?}"),
    }
    // The same id with other content is a conflict.
    let mut other = ok;
    other.values.insert(
        "email".into(),
        protocol::validate::FieldValue::Text("x@example.cz".into()),
    );
    assert!(
        matches!(good.call(RequestBody::Submit(other)), Err(ClientError::Agent(e)) if e.code == ErrorCode::Conflict)
    );
    assert_eq!(outbox_rows(&agent), before + 1);

    // Status of the queued code works offline and says so.
    match good
        .call(RequestBody::Status {
            tracking_code: first.tracking_code.to_string(),
        })
        .unwrap()
    {
        ResponseBody::Status(s) => {
            assert!(s.offline);
            assert_eq!(s.state, protocol::fleet::RequestState::Queued);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        good.call(RequestBody::Status { tracking_code: "0000-0000-1".into() }),
        Err(ClientError::Agent(e)) if e.code == ErrorCode::BadTrackingCode
    ));
}

#[test]
fn the_socket_is_group_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::TestDir::new("perm");
    let (_agent, socket, _rt) = common::serve(&dir.0);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
}
