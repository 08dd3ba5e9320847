//! The connector's round trip with the reference agenda system: a kiosk's submission is delivered
//! to the agenda system exactly once (even when it is down at first), the agenda system pushes a
//! state back, and both the kiosk's status look-up and the public status page show it, without
//! personal data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::agenda::{AgendaRef, push};
use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, sample_submission, submit, wait_until,
};
use protocol::app::{RequestBody, ResponseBody};
use protocol::fleet::RequestState;

const INBOUND: &str = "agenda-inbound-token-0123";

#[test]
fn submission_reaches_the_agenda_and_its_state_comes_back() {
    let tmp = TempDir::new("agenda");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Reserve the agenda's address, but start it only later: the first deliveries fail.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let agenda_addr = probe.local_addr().unwrap();
    drop(probe);
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "[connector]\nurl = \"http://{agenda_addr}/submissions\"\noutbound_token = \"out-token\"\n\
             inbound_token = \"{INBOUND}\"\nretry_max_s = 1\n"
        ),
    );
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-ag"),
        "",
    );
    assert!(agent.wait_ready(Duration::from_secs(20)));

    let req = sample_submission(uuid::Uuid::new_v4(), "agenda-marker");
    let ack = submit(&agent, &req).unwrap();
    assert!(wait_until(Duration::from_secs(20), || fleet
        .submission_count()
        == 1));
    std::thread::sleep(Duration::from_millis(1500)); // a few failed deliveries

    let agenda = rt
        .block_on(AgendaRef::start(
            agenda_addr,
            Some("out-token".into()),
            None,
        ))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || agenda.received().len() == 1),
        "delivered"
    );
    std::thread::sleep(Duration::from_millis(500));
    let got = agenda.received();
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert_eq!(got[0].tracking_code, ack.tracking_code);
    assert_eq!(
        got[0].values, req.values,
        "the office receives the citizen's values"
    );
    assert_eq!(got[0].kiosk_id, "kiosk-ag");

    // Delivery moved it to `received`; the agenda now reports progress.
    let state = || {
        let mut c = agent.client().unwrap();
        match c.call(RequestBody::Status {
            tracking_code: ack.tracking_code.to_string(),
        }) {
            Ok(ResponseBody::Status(s)) => Some(s),
            _ => None,
        }
    };
    assert!(wait_until(Duration::from_secs(10), || state()
        .is_some_and(|s| s.state == RequestState::Received)));
    let note = protocol::Text::new(
        "Předáno odboru dopravy.",
        "Passed to the transport department.",
        "Передано відділу транспорту.",
    );
    rt.block_on(push(
        &fleet.url(),
        INBOUND,
        &ack.tracking_code,
        RequestState::InProgress,
        Some(note),
    ))
    .unwrap();
    let s = state().unwrap();
    assert_eq!(s.state, RequestState::InProgress);
    assert!(!s.offline);
    assert_eq!(s.note.unwrap().cs, "Předáno odboru dopravy.");

    // The public page shows the state and no personal data; a wrong token cannot push.
    let page = rt
        .block_on(async {
            reqwest::get(format!("{}/s/{}?lang=en", fleet.url(), ack.tracking_code))
                .await?
                .text()
                .await
        })
        .unwrap();
    assert!(
        page.contains("In progress") && page.contains("Suggestion or complaint"),
        "{page}"
    );
    assert!(!page.contains("agenda-marker"));
    assert!(
        rt.block_on(push(
            &fleet.url(),
            "wrong-token-0123456789",
            &ack.tracking_code,
            RequestState::Resolved,
            None
        ))
        .is_err()
    );

    // Offline, the kiosk answers from what it last knew, marked as such.
    drop(fleet);
    let s = state().unwrap();
    assert!(s.offline);
    assert_eq!(s.state, RequestState::InProgress);
}
