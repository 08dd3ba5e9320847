//! A 100 MB release from one fleet server:
//!
//! 1. **The download endpoint under load**: N kiosks (enrolled over the real protocol, then
//!    plain HTTP clients) fetch the bundle at once, N = 1, 2, 4, 8, 16, 23: the server's
//!    aggregate throughput, and its resident memory (peak during the downloads, and its growth
//!    over the idle server).
//! 2. **A whole rollout to 23 real agents** (`dir` slots, release builds): from
//!    `fleetctl rollout create --percent 100 --force` until all 23 report `succeeded`, with
//!    the bytes the server sent and its peak memory.
//!
//! ```text
//! cargo build --release --bins && cargo bench -p hw-tests --bench rollout_100mb [-- MB]
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a failed set-up should fail loudly

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, http_client, proc_status_kb, wait_until,
};
use hw_tests::releases::{Kit, ctl_admin, good_app, provision, update_section};

fn rss_kb(pid: u32) -> u64 {
    proc_status_kb(pid, "VmRSS:")
}

/// Samples the process's resident memory every 20 ms until stopped; the peak.
fn sample_peak(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_kb(pid));
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    })
}

fn main() {
    let mb: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let tmp = TempDir::new("rollout-bench");
    let kit = Kit::new(&tmp.path().join("kit"), "release");
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!("[releases]\nkeyring = \"{}\"\n", kit.keyring.display()),
    );
    fleet.publish(&demo_catalog());
    let pid = fleet.pid().unwrap();
    let v1 = kit.bundle("1.0.0", &good_app("1.0.0"));
    let big = kit.bundle_with_assets("2.0.0", &good_app("2.0.0"), mb * 1_000_000);
    let size = std::fs::metadata(&big).unwrap().len();
    let t = Instant::now();
    ctl_admin(&fleet, &["release", "upload", &big.to_string_lossy()]);
    println!(
        "bundle {:.1} MB, uploaded (streamed to disk, SHA-256 checked) in {:.2} s",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Part 1: N plain downloaders.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = http_client();
    let base = fleet.url();
    let creds: Vec<String> = (1..=23)
        .map(|i| {
            let id = format!("dl-{i:02}");
            let token = fleet.token(&id);
            let secret = format!("bench-secret-{i:02}-0123456789abcdefghijklmnop");
            rt.block_on(async {
                http.post(format!("{base}/api/kiosk/v1/enrol"))
                    .json(&protocol::fleet::EnrolRequest {
                        bootstrap_token: token,
                        credential: secret.clone(),
                        agent_version: "bench".into(),
                    })
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap();
            });
            format!("{id}:{secret}")
        })
        .collect();
    ctl_admin(
        &fleet,
        &["rollout", "create", "2.0.0", "--percent", "100", "--force"],
    );
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kb(pid);
    println!(
        "\nserver resident memory idle: {:.1} MiB",
        idle as f64 / 1024.0
    );
    println!(
        "{:>3}  {:>8}  {:>12}  {:>13}  {:>14}",
        "N", "time s", "server MB/s", "peak RSS MiB", "growth MiB"
    );
    for n in [1usize, 2, 4, 8, 16, 23] {
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = sample_peak(pid, Arc::clone(&stop));
        let got = Arc::new(AtomicU64::new(0));
        let t = Instant::now();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for cred in creds.iter().take(n) {
                let (http, got) = (http.clone(), Arc::clone(&got));
                let url = format!("{base}/api/kiosk/v1/releases/2.0.0");
                let auth = format!("Bearer {cred}");
                tasks.push(tokio::spawn(async move {
                    let mut r = http
                        .get(url)
                        .header("authorization", auth)
                        .timeout(Duration::from_secs(600))
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                    while let Some(c) = r.chunk().await.unwrap() {
                        got.fetch_add(c.len() as u64, Ordering::Relaxed);
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        let secs = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let peak = sampler.join().unwrap();
        let bytes = got.load(Ordering::Relaxed);
        assert_eq!(bytes, size * n as u64, "every byte of every download");
        println!(
            "{n:>3}  {secs:>8.2}  {:>12.0}  {:>13.1}  {:>14.1}",
            bytes as f64 / 1e6 / secs,
            peak as f64 / 1024.0,
            peak.saturating_sub(idle) as f64 / 1024.0
        );
    }
    ctl_admin(&fleet, &["rollout", "abort", "1"]);

    // Part 2: a rollout to 23 real agents.
    let agents: Vec<Agent> = (1..=23)
        .map(|i| {
            let id = format!("ostrava-{i:02}");
            let dir = tmp.path().join(&id);
            provision(&dir, &v1, "1.0.0");
            Agent::start(
                &dir,
                &fleet.url(),
                &fleet.token(&id),
                &format!("heartbeat_interval_s = 2\n{}", update_section(&kit.keyring)),
            )
        })
        .collect();
    let on = |version: &str, state: &str| {
        let v = fleet.admin_get("/api/admin/v1/updates").unwrap_or_default();
        v["kiosks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| {
                k["update"]["report"]["running"] == version
                    && k["update"]["report"]["state"] == state
            })
            .count()
    };
    assert!(wait_until(Duration::from_secs(60), || on("1.0.0", "idle") == 23));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_peak(pid, Arc::clone(&stop));
    let idle = rss_kb(pid);
    let t = Instant::now();
    ctl_admin(
        &fleet,
        &["rollout", "create", "2.0.0", "--percent", "100", "--force"],
    );
    assert!(
        wait_until(Duration::from_secs(900), || on("2.0.0", "succeeded") == 23),
        "the rollout did not finish"
    );
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    // Each agent logs where each download request started: one request from 0 per kiosk.
    let requests: usize = agents
        .iter()
        .map(|a| {
            a.log()
                .matches("downloading the bundle version=2.0.0")
                .count()
        })
        .sum();
    println!(
        "\nrollout of {:.1} MB to 23 agents: {secs:.1} s from create to 23 succeeded \
         (download, verify, install into slot B, reboot, health check); {requests} download \
         requests, {:.2} GB sent ({:.0} MB/s over the rollout); server RSS {:.1} MiB idle, \
         {:.1} MiB peak",
        size as f64 / 1e6,
        size as f64 * 23.0 / 1e9,
        size as f64 * 23.0 / 1e6 / secs,
        idle as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
