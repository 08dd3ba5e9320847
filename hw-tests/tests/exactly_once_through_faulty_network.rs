//! Proof 2: through a network that refuses, resets, delays and, worst of all, loses the server's
//! reply after the server committed, 1,000 submissions arrive exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, fleet_rows, sample_submission, submit, wait_until,
};
use hw_tests::netsim::{Faults, Proxy};

const N: usize = 1000;

#[test]
fn a_thousand_submissions_arrive_exactly_once_through_faults() {
    let tmp = TempDir::new("faulty-net");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt
        .block_on(Proxy::start(fleet.addr(), Faults::default()))
        .unwrap();
    let token = fleet.token("kiosk-net");
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &format!("http://{}", proxy.addr()),
        &token,
        "batch_size = 7\nrequest_timeout_s = 5\n",
    );
    assert!(agent.wait_ready(Duration::from_secs(20)));

    proxy.set_faults(Faults {
        refuse: 0.10,
        reset_early: 0.10,
        lose_reply: 0.25,
        max_delay: Duration::from_millis(15),
    });
    let mut sent = HashSet::new();
    for i in 0..N {
        let req = sample_submission(uuid::Uuid::new_v4(), &format!("net{i:04}"));
        let ack = submit(&agent, &req).expect("local submit works whatever the network does");
        sent.insert((
            req.submission_id.to_string(),
            ack.tracking_code.as_str().to_owned(),
        ));
    }
    assert!(
        wait_until(Duration::from_secs(240), || fleet.submission_count()
            == N as i64),
        "all arrive; server has {}",
        fleet.submission_count()
    );
    // Let in-flight retries land, then look for duplicates.
    assert!(wait_until(Duration::from_secs(30), || {
        agent.outbox_count("state = 'queued'") == 0
    }));
    let rows = fleet_rows(&fleet);
    assert_eq!(rows.len(), N, "no duplicates");
    let stored: HashSet<(String, String)> = rows
        .iter()
        .map(|(i, c, _)| (i.clone(), c.clone()))
        .collect();
    assert_eq!(stored, sent);

    let c = proxy.counters();
    let (lost, refused, reset) = (
        c.lost_replies.load(Ordering::Relaxed),
        c.refused.load(Ordering::Relaxed),
        c.reset_early.load(Ordering::Relaxed),
    );
    eprintln!(
        "faults injected: {lost} replies lost after commit, {refused} refused, {reset} reset early"
    );
    // Lost replies are the fault that matters (about 45 a run); refusals and early resets
    // together about 50. Separately, refusals alone are few enough (about 10) that a bound on
    // them would fail by chance now and then.
    assert!(lost >= 5, "the test exercised lost replies ({lost})");
    assert!(
        refused + reset >= 10,
        "the test exercised refusals and resets ({refused} + {reset})"
    );
    assert!(
        fleet.log().contains("batch ingested"),
        "the server saw the uploads"
    );
}
