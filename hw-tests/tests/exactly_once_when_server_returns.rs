//! Proof 1: submissions made while the fleet server is down are queued on the kiosk, and arrive
//! exactly once when it returns; their personal data then leaves the kiosk.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::collections::HashSet;
use std::time::Duration;

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, fleet_rows, sample_submission, submit, wait_until,
};

#[test]
fn queued_while_the_server_is_down_arrive_exactly_once() {
    let tmp = TempDir::new("server-down");
    let mut fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let token = fleet.token("kiosk-a");
    let agent = Agent::start(&tmp.path().join("agent"), &fleet.url(), &token, "");
    assert!(
        agent.wait_ready(Duration::from_secs(20)),
        "agent enrolled and fetched the catalog"
    );

    fleet.kill();
    let mut acked = Vec::new();
    for i in 0..40 {
        let req = sample_submission(uuid::Uuid::new_v4(), &format!("down{i:03}"));
        let ack = submit(&agent, &req).expect("the kiosk accepts submissions while offline");
        acked.push((
            req.submission_id.to_string(),
            ack.tracking_code.as_str().to_owned(),
        ));
    }
    assert_eq!(
        agent.outbox_count("state = 'queued'"),
        40,
        "all 40 wait in the outbox"
    );

    fleet.restart();
    assert!(
        wait_until(Duration::from_secs(60), || fleet.submission_count() == 40),
        "all queued submissions arrive; server has {}",
        fleet.submission_count()
    );
    // Give retries a moment to (wrongly) duplicate anything, then check exactly-once.
    std::thread::sleep(Duration::from_millis(500));
    let rows = fleet_rows(&fleet);
    assert_eq!(rows.len(), 40);
    let stored: HashSet<(String, String)> = rows
        .iter()
        .map(|(id, code, _)| (id.clone(), code.clone()))
        .collect();
    let sent: HashSet<(String, String)> = acked.into_iter().collect();
    assert_eq!(
        stored, sent,
        "the server holds exactly the acknowledged submissions"
    );

    assert!(wait_until(Duration::from_secs(10), || {
        agent.outbox_count("state = 'acked' AND payload IS NULL") == 40
    }));
    assert_eq!(
        agent.outbox_count("payload LIKE '%down0%'"),
        0,
        "personal data is deleted from the kiosk after the ack"
    );
    let log = agent.log() + &fleet.log();
    assert!(
        !log.contains("down00"),
        "personal data never appears in the logs"
    );
}
