//! Proof 3: the agent is killed with SIGKILL at random moments during a stream of submissions.
//! Every submission acknowledged to the client arrives exactly once after restart, and nothing
//! that was not acknowledged appears half-written: every stored row is whole and equals what the
//! client sent under that id. The client retries an unacknowledged submission with the same id,
//! as the kiosk app does, so each ends up acknowledged exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, fleet_rows, sample_submission, submit, wait_until,
};

const N: usize = 150;
const MIN_KILLS: usize = 5;
const MAX_SUBMISSIONS: usize = 20_000;

fn random_ms(lo: u64, hi: u64) -> Duration {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("OS random source");
    Duration::from_millis(lo + u64::from_le_bytes(b) % (hi - lo))
}

#[test]
fn acknowledged_submissions_survive_sigkill_exactly_once() {
    let tmp = TempDir::new("sigkill");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let token = fleet.token("kiosk-kill");
    let agent = Arc::new(Mutex::new(Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &token,
        "",
    )));
    assert!(agent.lock().unwrap().wait_ready(Duration::from_secs(20)));
    let socket = agent.lock().unwrap().socket.clone();

    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (agent, done, kills) = (Arc::clone(&agent), Arc::clone(&done), Arc::clone(&kills));
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(random_ms(30, 250));
                agent.lock().unwrap().restart();
                kills.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    // Sent values by id, and the acks the client received.
    let mut sent: HashMap<String, String> = HashMap::new();
    let mut acked: HashMap<String, String> = HashMap::new();
    let mut retries = 0;
    // At least N submissions, and on until the agent has been killed MIN_KILLS times (however
    // fast submits are), within a bound.
    let mut n = 0;
    while n < N || (kills.load(Ordering::SeqCst) < MIN_KILLS && n < MAX_SUBMISSIONS) {
        let i = n;
        n += 1;
        let req = sample_submission(uuid::Uuid::new_v4(), &format!("kill{i:04}"));
        let id = req.submission_id.to_string();
        sent.insert(id.clone(), serde_json::to_string(&req.values).unwrap());
        loop {
            let conn = agent_client::Client::connect(&socket, Duration::from_secs(5));
            let result = match conn {
                Ok(mut c) => c
                    .call(protocol::app::RequestBody::Submit(req.clone()))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match result {
                Ok(protocol::app::ResponseBody::Submitted(ack)) => {
                    assert_eq!(ack.submission_id, req.submission_id);
                    if let Some(prev) =
                        acked.insert(id.clone(), ack.tracking_code.as_str().to_owned())
                    {
                        assert_eq!(
                            prev,
                            ack.tracking_code.as_str(),
                            "a retry returns the same code"
                        );
                    }
                    break;
                }
                Ok(other) => panic!("unexpected reply {other:?}"),
                Err(_) => {
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    let kills = kills.load(Ordering::SeqCst);
    eprintln!("{n} submissions, {kills} SIGKILLs, {retries} client retries");
    assert!(
        kills >= MIN_KILLS,
        "the agent was killed during the stream ({kills})"
    );

    let agent = agent.lock().unwrap();
    // One more submission after the last restart proves the agent is healthy.
    submit(&agent, &sample_submission(uuid::Uuid::new_v4(), "after"))
        .expect("agent works after kills");
    assert!(
        wait_until(Duration::from_secs(60), || fleet.submission_count()
            == n as i64 + 1),
        "server has {}",
        fleet.submission_count()
    );
    std::thread::sleep(Duration::from_millis(300));
    let rows = fleet_rows(&fleet);
    assert_eq!(rows.len(), n + 1, "exactly once");
    for (id, code, body) in rows {
        let upload: protocol::fleet::SubmissionUpload =
            serde_json::from_str(&body).expect("whole row");
        if upload
            .values
            .get("text")
            .is_some_and(|v| format!("{v:?}").contains("after"))
        {
            continue;
        }
        assert_eq!(
            acked.get(&id),
            Some(&code),
            "stored {id} was acknowledged with this code"
        );
        assert_eq!(
            sent.get(&id),
            Some(&serde_json::to_string(&upload.values).unwrap()),
            "row {id} is whole"
        );
    }
    assert_eq!(acked.len(), n);
}
