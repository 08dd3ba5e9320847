//! After the fleet acknowledges a submission, the citizen's values are on the kiosk's disk
//! nowhere: not in the database file, not in its `-wal` (where the frames that first wrote them
//! would otherwise survive `secure_delete`), not in `-shm`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::Path;
use std::time::Duration;

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, sample_submission, submit, wait_until,
};

fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    ["agent.sqlite", "agent.sqlite-wal", "agent.sqlite-shm"]
        .iter()
        .filter(|name| {
            std::fs::read(dir.join(name))
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .map(|n| (*n).to_owned())
        .collect()
}

#[test]
fn acked_values_are_scrubbed_from_database_wal_and_shm() {
    let tmp = TempDir::new("scrub");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let token = fleet.token("kiosk-scrub");
    let agent = Agent::start(&tmp.path().join("agent"), &fleet.url(), &token, "");
    assert!(agent.wait_ready(Duration::from_secs(20)));
    let data = tmp.path().join("agent/data");

    let marker = "ScrubMe7Q4ZK";
    submit(&agent, &sample_submission(uuid::Uuid::new_v4(), marker)).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || agent
            .outbox_count("state = 'acked'")
            == 1),
        "the fleet acknowledges"
    );
    // A second ack: a checkpoint made busy by the test's own read above is retried then.
    submit(&agent, &sample_submission(uuid::Uuid::new_v4(), "second")).unwrap();
    assert!(wait_until(Duration::from_secs(30), || agent
        .outbox_count("state = 'acked'")
        == 2));
    let ok = wait_until(Duration::from_secs(10), || {
        files_holding(&data, marker).is_empty()
    });
    assert!(ok, "still on disk in {:?}", files_holding(&data, marker));
    assert_eq!(fleet.submission_count(), 2, "and the fleet has both");
}
