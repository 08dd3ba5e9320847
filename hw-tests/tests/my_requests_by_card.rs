//! "My requests": a citizen presents their card and sees the requests they submitted with it, at
//! this kiosk and at any other of the fleet, with their states; another card's requests never
//! show; offline, the kiosk answers from what it last knew, marked with that time, including a
//! request still waiting in its outbox. The app holds only the token of a card read (the
//! card's hash stays in the agent): a forged token is refused for "my requests" and for a
//! submission.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::cardsim::{CardReaderSim, SimFraming};
use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, sample_submission, submit, wait_until,
};
use protocol::app::{ErrorCode, RequestBody, ResponseBody, StatusAnswer};
use protocol::fleet::RequestState;

fn my_requests(
    agent: &Agent,
    identity: &str,
) -> Result<Vec<StatusAnswer>, protocol::app::ApiError> {
    let mut c = agent.client().unwrap();
    match c.call(RequestBody::MyRequests {
        identity: identity.to_owned(),
    }) {
        Ok(ResponseBody::MyRequests { requests }) => Ok(requests),
        Err(agent_client::ClientError::Agent(e)) => Err(e),
        other => panic!("{other:?}"),
    }
}

/// The kiosks' card readers and the deployment's card key.
fn reader_config(sim: &CardReaderSim, key: &std::path::Path) -> String {
    format!(
        "[card_reader]\npath = \"{}\"\nkey_file = \"{}\"\n",
        sim.path().display(),
        key.display()
    )
}

/// Presents a card at `agent`'s reader; the token the app gets for it.
fn read_card(agent: &Agent, sim: &CardReaderSim, number: &str) -> String {
    let mut c = agent.client().unwrap();
    let track = format!(";{number}=2512?");
    let presented = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            sim.present(&track).unwrap();
        });
        c.call(RequestBody::ReadCard { timeout_ms: 10_000 })
    });
    match presented {
        Ok(ResponseBody::Card { identity, .. }) => identity,
        other => panic!("{other:?}"),
    }
}

fn with_card(marker: &str, identity: &str) -> protocol::app::SubmitRequest {
    let mut req = sample_submission(uuid::Uuid::new_v4(), marker);
    req.identity = Some(identity.to_owned());
    req
}

#[test]
fn a_card_lists_its_requests_from_every_kiosk_and_offline_from_what_was_known() {
    let tmp = TempDir::new("my-requests");
    let mut fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let key = tmp.path().join("card-key");
    std::fs::write(&key, "deployment-secret-key-0123456789\n").unwrap();
    let (reader_a, reader_b) = (
        CardReaderSim::start(SimFraming::StxEtx).unwrap(),
        CardReaderSim::start(SimFraming::StxEtx).unwrap(),
    );
    let a = Agent::start(
        &tmp.path().join("a"),
        &fleet.url(),
        &fleet.token("kiosk-a"),
        &reader_config(&reader_a, &key),
    );
    let b = Agent::start(
        &tmp.path().join("b"),
        &fleet.url(),
        &fleet.token("kiosk-b"),
        &reader_config(&reader_b, &key),
    );
    assert!(a.wait_ready(Duration::from_secs(30)) && b.wait_ready(Duration::from_secs(30)));

    // Jana presents her card at both kiosks, Petr his at kiosk A.
    let (jana_card, petr_card) = ("4111111111111111", "5500000000000004");
    let jana = read_card(&a, &reader_a, jana_card);
    let jana_at_b = read_card(&b, &reader_b, jana_card);
    let petr = read_card(&a, &reader_a, petr_card);
    assert_ne!(jana, jana_at_b, "each read gets its own token");
    let at_a = submit(&a, &with_card("first", &jana)).unwrap();
    let at_b = submit(&b, &with_card("second", &jana_at_b)).unwrap();
    let petrs = submit(&a, &with_card("other", &petr)).unwrap();
    let anonymous = submit(&a, &sample_submission(uuid::Uuid::new_v4(), "anon")).unwrap();
    assert!(wait_until(Duration::from_secs(30), || fleet
        .submission_count()
        == 4));

    let list = my_requests(&a, &jana).unwrap();
    let codes: Vec<_> = list.iter().map(|r| r.tracking_code.clone()).collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert!(codes.contains(&at_a.tracking_code) && codes.contains(&at_b.tracking_code));
    assert!(!codes.contains(&petrs.tracking_code) && !codes.contains(&anonymous.tracking_code));
    for r in &list {
        assert!(!r.offline);
        assert!(matches!(
            r.state,
            RequestState::Submitted | RequestState::Received
        ));
        assert_eq!(r.service_name.as_ref().unwrap().cs, "Podnět nebo stížnost");
    }
    let petr_at_b = read_card(&b, &reader_b, petr_card);
    let theirs = my_requests(&b, &petr_at_b).unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].tracking_code, petrs.tracking_code);
    let unknown = read_card(&a, &reader_a, "4000000000000002");
    assert!(
        my_requests(&a, &unknown).unwrap().is_empty(),
        "an unknown card has none"
    );

    // Not a token this agent issued (a card's hash, another kiosk's token, a guess): refused,
    // for "my requests" and for a submission, and nothing is asked of the fleet or stored.
    let hash = kiosk_agent::devices::card::Card::parse(&format!(";{jana_card}=2512?"))
        .unwrap()
        .keyed_hash(b"deployment-secret-key-0123456789");
    for bad in [
        "",
        jana_card,
        hash.as_str(),
        jana_at_b.as_str(),
        "card-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            my_requests(&a, bad).unwrap_err().code,
            ErrorCode::CardExpired,
            "{bad}"
        );
        let refused = submit(&a, &with_card("forged", bad)).unwrap_err();
        assert!(refused.contains("presented again"), "{bad}: {refused}");
    }
    // The fleet goes away; a new request with the card waits in the outbox.
    fleet.kill();
    let queued = submit(&a, &with_card("while-offline", &jana)).unwrap();
    let list = my_requests(&a, &jana).unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(
        list.iter().all(|r| r.offline),
        "every answer is marked offline"
    );
    let waiting = list
        .iter()
        .find(|r| r.tracking_code == queued.tracking_code)
        .unwrap();
    assert_eq!(waiting.state, RequestState::Queued);
    let from_b = list
        .iter()
        .find(|r| r.tracking_code == at_b.tracking_code)
        .unwrap();
    assert!(from_b.known_at > 0, "with the time it was last known");

    // Back online: the queued request is uploaded and listed by the fleet itself.
    fleet.restart();
    assert!(wait_until(Duration::from_secs(30), || fleet
        .submission_count()
        == 5));
    assert!(wait_until(Duration::from_secs(10), || {
        my_requests(&a, &jana).is_ok_and(|l| l.len() == 3 && l.iter().all(|r| !r.offline))
    }));
}
