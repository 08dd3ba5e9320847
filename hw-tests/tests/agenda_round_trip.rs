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
    let agenda_addr = hw_tests::harness::reserve_addr();
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

    // Once the agenda system has it, the server keeps no form values nor the card's hash in
    // the submission's body (keep_delivered_s = 0, the default): code, state and times stay.
    let (body, purged, code, received_at): (String, bool, String, i64) = fleet
        .db()
        .query_row(
            "SELECT body, purged, tracking_code, received_at FROM submissions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert!(purged, "{body}");
    assert!(!body.contains("agenda-marker"), "{body}");
    // Nor anywhere in its files: the database overwrote them, and the log was emptied.
    let data = tmp.path().join("fleet/data");
    let on_disk = |name: &str| {
        std::fs::read(data.join(name)).is_ok_and(|b| {
            b.windows(b"agenda-marker".len())
                .any(|w| w == b"agenda-marker")
        })
    };
    for name in ["fleet.sqlite", "fleet.sqlite-wal"] {
        assert!(!on_disk(name), "the citizen's value is still in {name}");
    }
    assert_eq!(code, ack.tracking_code.as_str());
    assert!(received_at > 0);

    // Offline, the kiosk answers from what it last knew, marked as such.
    drop(fleet);
    let s = state().unwrap();
    assert!(s.offline);
    assert_eq!(s.state, RequestState::InProgress);
}

/// A slow agenda system does not hold the queue: deliveries run side by side (up to
/// `connector.concurrency`), and each still arrives once.
#[test]
fn deliveries_run_side_by_side_when_the_agenda_is_slow() {
    let tmp = TempDir::new("agenda-parallel");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let agenda = rt
        .block_on(AgendaRef::start("127.0.0.1:0".parse().unwrap(), None, None))
        .unwrap();
    agenda.set_faults(hw_tests::agenda::AgendaFaults {
        slow_every: 1,
        slow: Duration::from_secs(2),
        fail_every: 0,
        hang_every: 0,
    });
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "[connector]\nurl = \"{}\"\nconcurrency = 8\ntimeout_s = 5\nretry_max_s = 1\n",
            agenda.url()
        ),
    );
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-par"),
        "",
    );
    assert!(agent.wait_ready(Duration::from_secs(20)));
    for i in 0..24 {
        submit(
            &agent,
            &sample_submission(uuid::Uuid::new_v4(), &format!("par{i}")),
        )
        .unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(60), || agenda.received().len() == 24),
        "delivered: {}",
        agenda.received().len()
    );
    assert!(
        agenda.most_in_flight() >= 4,
        "side by side: {}",
        agenda.most_in_flight()
    );
    assert!(
        agenda.most_in_flight() <= 8,
        "never more than the concurrency"
    );
    assert_eq!(agenda.posts(), 24, "each once");
}
