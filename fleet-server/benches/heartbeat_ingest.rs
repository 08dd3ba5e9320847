//! Heartbeat ingest at saturation: 10,000 enrolled kiosks on loopback, many concurrent
//! connections posting heartbeats for a while, against the real `fleet-server` (release build,
//! its own process) with SQLite on disk, then with PostgreSQL (Debian's, started here, `fsync`
//! on) on one instance and on two instances sharing the database (the connections split between
//! them), and, in the same run, against a minimal axum handler that only parses the heartbeat
//! and answers (the ceiling: HTTP, JSON and the load generator). Prints heartbeats per second,
//! p50/p99 latency, the ratio, and each instance's memory.
//!
//! `cargo bench -p fleet-server --bench heartbeat_ingest` (env: OKENKO_BENCH_KIOSKS,
//! OKENKO_BENCH_SECONDS, OKENKO_BENCH_CONNECTIONS; OKENKO_BENCH_STORES=sqlite or postgres for
//! one of them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../hw-tests/src/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocol::app::{DeviceKind, DeviceState, DeviceStatus};
use protocol::fleet::{Heartbeat, HeartbeatReply, SystemHealth};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args…` and waits for its "listening on URL" line.
fn start(program: &std::path::Path, args: &[&str]) -> Server {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, url }
}

fn heartbeat(now: i64) -> Heartbeat {
    let dev = |device| DeviceStatus {
        device,
        state: DeviceState::Ok,
        detail: None,
        since: now - 3_600_000,
        last_event_at: Some(now - 20_000),
        events_per_minute: Some(12),
    };
    Heartbeat {
        sampled_at: now,
        agent_version: "0.1.0".into(),
        outbox_len: 0,
        outbox_oldest_age_s: None,
        devices: vec![
            dev(DeviceKind::Printer),
            dev(DeviceKind::CardReader),
            dev(DeviceKind::Touchscreen),
        ],
        catalog_version: 1,
        system: Some(SystemHealth {
            temperature_c: Some(47.5),
            mem_total_kb: Some(4_000_000),
            mem_available_kb: Some(2_700_000),
            uptime_s: Some(86_400),
            load1: Some(0.3),
            disk_total_kb: Some(8_000_000),
            disk_free_kb: Some(6_000_000),
            links_up: vec!["eth0".into()],
            links_down: Vec::new(),
        }),
        last_interaction_at: Some(now - 20_000),
        sent_at: Some(now),
        console: Vec::new(),
        update: None,
    }
}

struct Load {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// `connections` workers post heartbeats of `creds` round-robin for `seconds`, worker `w` to
/// `urls[w % urls.len()]`.
async fn load(urls: &[String], creds: Arc<Vec<String>>, connections: usize, seconds: u64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..connections {
        let url = urls[w % urls.len()].clone();
        let (creds, stop) = (Arc::clone(&creds), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let cred = &creds[i % creds.len()];
                i += connections;
                let body = serde_json::to_vec(&heartbeat(fleet_server::now_ms())).unwrap();
                let t = Instant::now();
                let r = http
                    .post(format!("{url}/api/kiosk/v1/heartbeat"))
                    .header("authorization", format!("Bearer {cred}"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _: HeartbeatReply = r.json().await.unwrap();
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    Load {
        per_second: all.len() as f64 / seconds as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

/// The ceiling: parse the heartbeat, answer; nothing else.
async fn ceiling() {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/api/kiosk/v1/heartbeat",
        post(|axum::Json(hb): axum::Json<Heartbeat>| async move {
            axum::Json(HeartbeatReply {
                server_time: hb.sampled_at,
                catalog_version: 1,
                commands: Vec::new(),
                release: None,
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}

/// One run against real fleet-server instances.
struct Run {
    label: String,
    load: Load,
    /// Each instance's resident memory: empty, with the kiosks enrolled, after the load (KB).
    rss: Vec<(u64, u64, u64)>,
    enrol_s: f64,
}

/// Starts `instances` fleet-servers on `store` (`None`: SQLite in a fresh directory), enrols
/// `kiosks` through the first, and loads them all.
fn run(
    rt: &tokio::runtime::Runtime,
    label: &str,
    store: Option<&str>,
    instances: usize,
    (kiosks, connections, seconds): (usize, usize, u64),
) -> Run {
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(|d| d.parent()).unwrap().to_owned();
    let dir = std::env::temp_dir()
        .join(format!("okenko-bench-{}-{label}", std::process::id()))
        .to_string_lossy()
        .replace([' ', ','], "-");
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let admin = "bench-admin-token-0123456789";
    let servers: Vec<Server> = (0..instances)
        .map(|i| {
            let config = dir.join(format!("fleet-{i}.toml"));
            let store = store
                .map(|u| format!("[store]\nurl = \"{u}\"\n"))
                .unwrap_or_default();
            std::fs::write(
                &config,
                format!(
                    "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nadmin_token = \"{admin}\"\n\
                     [limits]\npublic_per_minute = 1000000\n[log]\nfilter = \"warn\"\n{store}",
                    dir.join("data").display()
                ),
            )
            .unwrap();
            start(
                &release.join("fleet-server"),
                &["--config", config.to_str().unwrap(), "serve"],
            )
        })
        .collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let empty: Vec<u64> = pids.iter().map(|p| rss_kb(*p)).collect();
    let first = servers[0].url.clone();

    // Enrol the kiosks through the real API.
    let t = Instant::now();
    let creds: Vec<String> = rt.block_on(async {
        let http = fleet_server::connector::http_client();
        let mut out = Vec::new();
        for chunk in (0..kiosks).collect::<Vec<_>>().chunks(64) {
            let mut tasks = Vec::new();
            for &n in chunk {
                let (http, url) = (http.clone(), first.clone());
                tasks.push(tokio::spawn(async move {
                    let id = format!("bench-{n:05}");
                    let tok: serde_json::Value = http
                        .post(format!("{url}/api/admin/v1/bootstrap-tokens"))
                        .bearer_auth(admin)
                        .json(&serde_json::json!({ "kiosk_id": id, "name": id }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let secret = format!("bench-secret-{n:05}-0123456789-0123456789-0123456789");
                    let r = http
                        .post(format!("{url}/api/kiosk/v1/enrol"))
                        .json(&serde_json::json!({
                            "bootstrap_token": tok["token"],
                            "credential": secret,
                            "agent_version": "0.1.0"
                        }))
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "enrol {id}: {}", r.status());
                    format!("{id}:{secret}")
                }));
            }
            for t in tasks {
                out.push(t.await.unwrap());
            }
        }
        out
    });
    let enrol_s = t.elapsed().as_secs_f64();
    let enrolled: Vec<u64> = pids.iter().map(|p| rss_kb(*p)).collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let load = rt.block_on(load(&urls, Arc::new(creds), connections, seconds));
    let loaded: Vec<u64> = pids.iter().map(|p| rss_kb(*p)).collect();
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        label: label.to_owned(),
        load,
        rss: (0..instances)
            .map(|i| (empty[i], enrolled[i], loaded[i]))
            .collect(),
        enrol_s,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--ceiling-server") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(ceiling());
    }
    // `cargo bench` passes `--bench`; nothing else to read.
    let kiosks = env_num("OKENKO_BENCH_KIOSKS", 10_000) as usize;
    let seconds = env_num("OKENKO_BENCH_SECONDS", 10);
    let connections = env_num("OKENKO_BENCH_CONNECTIONS", 64) as usize;
    let shape = (kiosks, connections, seconds);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();

    let stores = std::env::var("OKENKO_BENCH_STORES").unwrap_or_default();
    let mut runs = Vec::new();
    if stores != "postgres" {
        runs.push(run(&rt, "SQLite, one instance", None, 1, shape));
    }
    let only_sqlite = stores == "sqlite";
    let pg = if only_sqlite {
        None
    } else {
        match postgres::PgServer::start(true) {
            Ok(pg) => Some(pg),
            Err(e) => {
                println!("PostgreSQL skipped: {e}");
                None
            }
        }
    };
    if let Some(pg) = &pg {
        let one = pg.create_database("one").unwrap();
        runs.push(run(&rt, "PostgreSQL, one instance", Some(&one), 1, shape));
        let two = pg.create_database("two").unwrap();
        runs.push(run(&rt, "PostgreSQL, two instances", Some(&two), 2, shape));
    }
    let exe = std::env::current_exe().unwrap();
    let ceiling_server = start(&exe, &["--ceiling-server"]);
    let ceil = rt.block_on(load(
        std::slice::from_ref(&ceiling_server.url),
        Arc::new(
            (0..kiosks)
                .map(|n| format!("bench-{n:05}:secret"))
                .collect(),
        ),
        connections,
        seconds,
    ));
    drop(ceiling_server);

    println!(
        "heartbeat ingest, {kiosks} kiosks, {connections} connections, {seconds} s each, loopback:"
    );
    for r in &runs {
        println!(
            "  {:<27}: {:8.0} heartbeats/s  p50 {:6.2} ms  p99 {:6.2} ms  errors {}  ratio {:.2}  (enrolling took {:.1} s)",
            r.label,
            r.load.per_second,
            r.load.p50_ms,
            r.load.p99_ms,
            r.load.errors,
            r.load.per_second / ceil.per_second.max(1.0),
            r.enrol_s
        );
        for (i, (empty, enrolled, loaded)) in r.rss.iter().enumerate() {
            println!(
                "      instance {i} memory: {:.1} MB empty, {:.1} MB with the kiosks enrolled, {:.1} MB after the load",
                *empty as f64 / 1024.0,
                *enrolled as f64 / 1024.0,
                *loaded as f64 / 1024.0,
            );
        }
        let need = 100_000.0 / 30.0;
        println!(
            "      kiosks carried at a 30 s heartbeat: {:.0} (100,000 need {need:.0}/s: {})",
            r.load.per_second * 30.0,
            if r.load.per_second >= need {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    println!(
        "  {:<27}: {:8.0} heartbeats/s  p50 {:6.2} ms  p99 {:6.2} ms  errors {}",
        "minimal axum (ceiling)", ceil.per_second, ceil.p50_ms, ceil.p99_ms, ceil.errors
    );
}
