//! Durable submits per second through the local socket, beside a bare rusqlite insert+commit
//! loop with the same pragmas on the same disk, in the same run. The ratio is the figure.
//!
//! `cargo bench -p kiosk-agent --bench submit [-- N]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use agent_client::Client;
use protocol::app::{RequestBody, ResponseBody};

fn sample(i: usize) -> protocol::app::SubmitRequest {
    let mut req = common::sample_submission(i);
    req.values.insert(
        "email".into(),
        protocol::validate::FieldValue::Text(format!("obcan{i}@example.cz")),
    );
    req
}

fn bare_loop(dir: &std::path::Path, n: usize) -> Duration {
    let c = rusqlite::Connection::open(dir.join("bare.sqlite")).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;
         CREATE TABLE t (id TEXT PRIMARY KEY, code TEXT UNIQUE, payload TEXT, created_at INTEGER);",
    )
    .unwrap();
    let payloads: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                uuid::Uuid::new_v4().to_string(),
                serde_json::to_string(&sample(i).values).unwrap(),
            )
        })
        .collect();
    let start = Instant::now();
    for (i, (id, p)) in payloads.iter().enumerate() {
        c.execute("BEGIN IMMEDIATE", []).unwrap();
        c.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![id, i.to_string(), p, i as i64],
        )
        .unwrap();
        c.execute("COMMIT", []).unwrap();
    }
    start.elapsed()
}

fn through_socket(dir: &std::path::Path, n: usize) -> Duration {
    let (_agent, socket, _rt) = common::serve(dir);
    let mut client = Client::connect(&socket, Duration::from_secs(30)).unwrap();
    let reqs: Vec<_> = (0..n).map(sample).collect();
    let start = Instant::now();
    for r in reqs {
        match client.call(RequestBody::Submit(r)) {
            Ok(ResponseBody::Submitted(_)) => {}
            other => panic!("submit failed: {other:?}"),
        }
    }
    start.elapsed()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = common::TestDir::new("bench");
    // Alternate the two measurements so disk noise hits both alike.
    let (mut bare, mut sock) = (Duration::ZERO, Duration::ZERO);
    for round in 0..3 {
        let d = dir.0.join(format!("round{round}"));
        std::fs::create_dir_all(&d).unwrap();
        bare += bare_loop(&d, n);
        sock += through_socket(&d, n);
    }
    let total = 3 * n;
    let bare_rate = total as f64 / bare.as_secs_f64();
    let sock_rate = total as f64 / sock.as_secs_f64();
    println!("durable submits, {total} each, WAL + synchronous=FULL, same disk, same run:");
    println!("  bare rusqlite insert+commit : {bare_rate:>8.0} /s");
    println!("  agent via local socket      : {sock_rate:>8.0} /s");
    println!(
        "  ratio                       : {:>8.2}  (goal >= 0.7)",
        sock_rate / bare_rate
    );
}
