//! A city's morning backlog: 10,000 submissions wait on the fleet server while the agenda system
//! is down; it comes back struggling (one answer in five takes 2 s, one in twenty is a 500, one
//! in fifty never comes and times out), and the clock runs until it holds all of them, each
//! once. Run with the connector's concurrency as the second argument to compare (1 is the old
//! one-at-a-time connector).
//!
//! ```text
//! cargo build --release --bins && cargo bench -p hw-tests --bench agenda_drain [-- N [CONCURRENCY]]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed set-up should fail loudly

use std::time::{Duration, Instant};

use hw_tests::agenda::{AgendaFaults, AgendaRef};
use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, sample_submission, submit, wait_until,
};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(10_000) as usize;
    let concurrency = args.get(1).copied().unwrap_or(16);
    let tmp = TempDir::new("agenda-drain");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The agenda's address, taken now, served only later: until then every delivery fails.
    let agenda_addr = hw_tests::harness::reserve_addr();
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "[connector]\nurl = \"http://{agenda_addr}/submissions\"\nretry_max_s = 2\n\
             concurrency = {concurrency}\ntimeout_s = 3\n"
        ),
    );
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-backlog"),
        "heartbeat_interval_s = 3600\n",
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    for i in 0..n {
        submit(
            &agent,
            &sample_submission(uuid::Uuid::new_v4(), &format!("backlog{i:05}")),
        )
        .unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(600), || fleet.submission_count()
            == n as i64),
        "the fleet has the backlog"
    );
    let agenda = rt
        .block_on(AgendaRef::start(agenda_addr, None, None))
        .unwrap();
    agenda.set_faults(AgendaFaults {
        slow_every: 5,
        slow: Duration::from_secs(2),
        fail_every: 20,
        hang_every: 50,
    });
    let start = Instant::now();
    assert!(
        wait_until(Duration::from_secs(3600), || agenda.received().len() == n),
        "the agenda has {} of {n}",
        agenda.received().len()
    );
    let took = start.elapsed();
    println!(
        "drained {n} waiting submissions to an agenda system that answers one in five after 2 s,"
    );
    println!(
        "one in twenty with 500 and one in fifty never (connector concurrency {concurrency}, 3 s time-out):"
    );
    println!("  time                 : {:>8.1} s", took.as_secs_f64());
    println!(
        "  rate                 : {:>8.0} deliveries/s",
        n as f64 / took.as_secs_f64()
    );
    println!("  posts (with retries) : {:>8}", agenda.posts());
    println!("  most at once         : {:>8}", agenda.most_in_flight());
    println!("  distinct received    : {:>8}", agenda.received().len());
}
