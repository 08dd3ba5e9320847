//! Durable submits per second through the local socket, beside a bare rusqlite insert+commit
//! loop with the same pragmas on the same disk, in the same run. The ratio is the figure.
//!
//! The three paths (bare loop, the agent's store called directly, the agent through its socket)
//! are measured in interleaved chunks of 100, so that the disk's drift during the run (large on
//! shared machines) falls on all of them alike.
//!
//! `cargo bench -p kiosk-agent --bench submit [-- TOTAL]` (default 6,000 per path)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use agent_client::Client;
use kiosk_agent::store::{NewSubmission, Store};
use protocol::app::{RequestBody, ResponseBody, SubmitRequest};

const CHUNK: usize = 100;

fn sample(i: usize) -> SubmitRequest {
    let mut req = common::sample_submission(i);
    req.values.insert(
        "email".into(),
        protocol::validate::FieldValue::Text(format!("obcan{i}@example.cz")),
    );
    req
}

/// The bare loop: one table keyed by id with a unique code, same pragmas.
struct Bare(rusqlite::Connection);

impl Bare {
    fn open(path: &std::path::Path) -> Bare {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;
             CREATE TABLE t (id TEXT PRIMARY KEY, code TEXT UNIQUE, payload TEXT, created_at INTEGER);",
        )
        .unwrap();
        Bare(c)
    }

    fn run(&self, reqs: &[SubmitRequest]) -> Duration {
        let rows: Vec<(String, String)> = reqs
            .iter()
            .map(|r| {
                (
                    r.submission_id.to_string(),
                    serde_json::to_string(&r.values).unwrap(),
                )
            })
            .collect();
        let start = Instant::now();
        for (id, payload) in &rows {
            self.0.execute("BEGIN IMMEDIATE", []).unwrap();
            self.0
                .execute(
                    "INSERT INTO t VALUES (?1, ?1, ?2, 0)",
                    rusqlite::params![id, payload],
                )
                .unwrap();
            self.0.execute("COMMIT", []).unwrap();
        }
        start.elapsed()
    }
}

fn direct(store: &mut Store, reqs: &[SubmitRequest]) -> Duration {
    let start = Instant::now();
    for r in reqs {
        store
            .store_submission(&NewSubmission {
                id: r.submission_id,
                service_id: &r.service_id,
                form_version: r.form_version,
                language: r.language,
                values: &r.values,
                identity: None,
                notify: None,
            })
            .unwrap();
    }
    start.elapsed()
}

fn socket(client: &mut Client, reqs: Vec<SubmitRequest>) -> Duration {
    let start = Instant::now();
    for r in reqs {
        match client.call(RequestBody::Submit(r)) {
            Ok(ResponseBody::Submitted(_)) => {}
            other => panic!("submit failed: {other:?}"),
        }
    }
    start.elapsed()
}

fn per_call(client: &mut Client, body: RequestBody, n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        client.call(body.clone()).unwrap();
    }
    start.elapsed() / n as u32
}

fn main() {
    let total: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(6000);
    let dir = common::TestDir::new("bench");
    let bare = Bare::open(&dir.0.join("bare.sqlite"));
    let mut store = common::ready_store(&dir.0.join("direct.sqlite"));
    let (_agent, socket_path, _served) = common::serve(&dir.0);
    let mut client = Client::connect(&socket_path, Duration::from_secs(30)).unwrap();

    let (mut t_bare, mut t_direct, mut t_socket) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut i = 0;
    for _ in 0..total.div_ceil(CHUNK) {
        let mut chunk = || {
            let v: Vec<_> = (i..i + CHUNK).map(sample).collect();
            i += CHUNK;
            v
        };
        t_bare += bare.run(&chunk());
        t_direct += direct(&mut store, &chunk());
        t_socket += socket(&mut client, chunk());
    }
    let n = total.div_ceil(CHUNK) * CHUNK;
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "durable submits, {n} per path in interleaved chunks of {CHUNK}, WAL + synchronous=FULL:"
    );
    println!("  bare rusqlite insert+commit : {:>8.0} /s", rate(t_bare));
    println!("  agent store, no socket      : {:>8.0} /s", rate(t_direct));
    println!("  agent via local socket      : {:>8.0} /s", rate(t_socket));
    let devices = per_call(&mut client, RequestBody::Devices, 2000);
    let info = per_call(&mut client, RequestBody::KioskInfo, 2000);
    let mut invalid = sample(0);
    invalid.values.clear();
    let start = Instant::now();
    for _ in 0..2000 {
        let _ = client.call(RequestBody::Submit(invalid.clone()));
    }
    let refused = start.elapsed() / 2000;
    println!(
        "  socket round trip, no store : {:>8.1} µs",
        devices.as_secs_f64() * 1e6
    );
    println!(
        "  round trip, one store read  : {:>8.1} µs",
        info.as_secs_f64() * 1e6
    );
    println!(
        "  submit refused by validation: {:>8.1} µs",
        refused.as_secs_f64() * 1e6
    );
    println!(
        "  ratio socket / bare         : {:>8.2}  (goal >= 0.7)",
        rate(t_socket) / rate(t_bare)
    );
}
