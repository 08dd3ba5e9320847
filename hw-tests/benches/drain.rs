//! Draining 10,000 queued submissions to a local fleet server: submissions per second, and the
//! agent's peak memory while it drains.
//!
//! The agent queues N submissions while its network is down (a proxy refusing connections), is
//! restarted (so its peak memory counts only start-up and the drain), and the network comes back;
//! the clock runs until the server's database holds all N.
//!
//! ```text
//! cargo build --release --bins && cargo bench -p hw-tests --bench drain [-- N]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed set-up should fail loudly

use std::time::{Duration, Instant};

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, proc_status_kb, sample_submission, submit, wait_until,
};
use hw_tests::netsim::{Faults, Proxy};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let tmp = TempDir::new("drain");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt
        .block_on(Proxy::start(fleet.addr(), Faults::default()))
        .unwrap();
    let mut agent = Agent::start(
        &tmp.path().join("agent"),
        &format!("http://{}", proxy.addr()),
        &fleet.token("kiosk-drain"),
        "heartbeat_interval_s = 3600\n",
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));

    proxy.set_down(true);
    let queue_start = Instant::now();
    for i in 0..n {
        submit(
            &agent,
            &sample_submission(uuid::Uuid::new_v4(), &format!("drain{i:05}")),
        )
        .unwrap();
    }
    let queued_in = queue_start.elapsed();
    assert_eq!(agent.outbox_count("state = 'queued'"), n as i64);

    agent.restart();
    let pid = agent.pid().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = proc_status_kb(pid, "VmRSS:");
    proxy.set_down(false);
    let start = Instant::now();
    assert!(
        wait_until(Duration::from_secs(600), || fleet.submission_count()
            == n as i64),
        "server has {}",
        fleet.submission_count()
    );
    let drained_in = start.elapsed();
    let peak = proc_status_kb(pid, "VmHWM:");
    println!(
        "queued {n} submissions through the socket in {:.1} s",
        queued_in.as_secs_f64()
    );
    println!("drained {n} queued submissions to a local fleet server (batches of 50):");
    println!("  time              : {:>8.2} s", drained_in.as_secs_f64());
    println!(
        "  rate              : {:>8.0} submissions/s",
        n as f64 / drained_in.as_secs_f64()
    );
    println!(
        "  agent RSS before  : {:>8.1} MiB (restarted, {n} queued)",
        idle_rss as f64 / 1024.0
    );
    println!("  agent peak (HWM)  : {:>8.1} MiB", peak as f64 / 1024.0);
}
