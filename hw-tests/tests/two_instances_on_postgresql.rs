//! The fleet beyond one machine: two fleet-server instances on one real PostgreSQL (Debian's,
//! on 127.0.0.1), behind a real HAProxy, with 23 real agents and 40 `kiosk-sim` kiosks talking
//! to the balancer. Citizens submit at every kiosk while a release rolls out to the whole fleet;
//! meanwhile the instance that runs the alert sweeps is killed with SIGKILL while it delivers to
//! a slow agenda system (its deliveries go to the other instance; it is started again)
//! and the database is restarted once. Then: every submission a kiosk acknowledged reached the
//! agenda system exactly once, the rollout completed, an offline kiosk opened one alert (one
//! notification) although two instances watch it, and each instance's dashboard data agrees.
//!
//! A second test copies a populated SQLite fleet into PostgreSQL with `fleet-server copy` and
//! the same kiosks carry on against the PostgreSQL server; a third watches one instance's
//! dashboard in Chromium while the kiosk talks to the other.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hw_tests::agenda::{AgendaFaults, AgendaRef};
use hw_tests::harness::{
    Agent, Fleet, TempDir, bin, demo_catalog, reserve_addr, sample_submission, submit, submit_at,
    wait_until,
};
use hw_tests::postgres::PgServer;
use hw_tests::releases::{Kit, fleetctl, good_app, provision, update_section};
use hw_tests::sinks::WebhookSink;

const KIOSKS: usize = 23;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// HAProxy on `listen`, round robin over `backends`, each checked every 500 ms on `/healthz`; a
/// request that cannot connect is sent to the other.
fn haproxy(dir: &Path, listen: std::net::SocketAddr, backends: &[std::net::SocketAddr]) -> Killed {
    let mut cfg = format!(
        "global\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 2s\n  \
         timeout client 120s\n  timeout server 120s\n  retries 3\n  option redispatch\n\
         frontend fleet\n  bind {listen}\n  default_backend instances\n\
         backend instances\n  balance roundrobin\n  option httpchk GET /healthz\n"
    );
    for (i, b) in backends.iter().enumerate() {
        cfg.push_str(&format!(
            "  server i{i} {b} check inter 500 fall 2 rise 1\n"
        ));
    }
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let exe = ["/usr/sbin/haproxy", "haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("haproxy");
    let child = Command::new(exe)
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("haproxy.log")).unwrap())
        .spawn()
        .expect("haproxy starts (scripts/setup.sh installs it)");
    assert!(
        wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(
            listen
        )
        .is_ok()),
        "haproxy listens on {listen}"
    );
    Killed(child)
}

/// Each kiosk's (running release, update state) as an instance reports them.
fn updates(fleet: &Fleet) -> BTreeMap<String, (String, String)> {
    let mut m = BTreeMap::new();
    let Some(v) = fleet.admin_get("/api/admin/v1/updates") else {
        return m;
    };
    for k in v["kiosks"].as_array().into_iter().flatten() {
        let r = &k["update"]["report"];
        m.insert(
            k["kiosk_id"].as_str().unwrap_or("").to_owned(),
            (
                r["running"].as_str().unwrap_or("").to_owned(),
                r["state"].as_str().unwrap_or("").to_owned(),
            ),
        );
    }
    m
}

fn all_on(fleet: &Fleet, ids: &[String], version: &str, state: &str) -> bool {
    let v = updates(fleet);
    ids.iter()
        .all(|id| v.get(id).is_some_and(|(r, s)| r == version && s == state))
}

#[test]
fn two_instances_lose_nothing_and_do_nothing_twice() {
    let tmp = TempDir::new("two-instances");
    let mut pg = PgServer::start(false).unwrap();
    let url = pg.create_database("fleet").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let agenda = rt
        .block_on(AgendaRef::start(reserve_addr(), None, None))
        .unwrap();
    let hook = WebhookSink::start().unwrap();
    let kit = Kit::new(&tmp.path().join("kit"), "release");
    let v1 = kit.bundle("1.0.0", &good_app("1.0.0"));
    let v2 = kit.bundle("1.1.0", &good_app("1.1.0"));

    // Two instances: one database, one directory of release bundles (shared storage).
    let shared = tmp.path().join("shared-data");
    let extra = format!(
        "[store]\nurl = \"{url}\"\ndelivery_claim_s = 15\n\
         [connector]\nurl = \"{}\"\ntimeout_s = 5\nretry_max_s = 2\n\
         [alerts]\nsweep_s = 1\nhold_s = 1\noffline_after_s = 6\nwebhook_url = \"{}\"\n\
         [releases]\nkeyring = \"{}\"\n",
        agenda.url(),
        hook.url(),
        kit.keyring.display()
    );
    let mut instances = [
        Fleet::start_in(&tmp.path().join("a"), &shared, &extra),
        Fleet::start_in(&tmp.path().join("b"), &shared, &extra),
    ];
    let lb = reserve_addr();
    let _haproxy = haproxy(tmp.path(), lb, &[instances[0].addr(), instances[1].addr()]);
    let lb_url = format!("http://{lb}");
    instances[0].publish(&demo_catalog());
    instances[0].add_user("rita", "release_manager", "rita-releases-2026");
    let session = tmp.path().join("fleetctl.json");
    let env = [(
        "OKENKO_FLEETCTL_SESSION",
        session.to_string_lossy().into_owned(),
    )];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ctl = |args: &[&str]| {
        let (ok, out, err) = fleetctl(args, "", &env);
        assert!(ok, "fleetctl {args:?}: {err}");
        out
    };
    let (ok, out, err) = fleetctl(&["login", &lb_url, "rita"], "rita-releases-2026\n", &env);
    assert!(ok, "{out}{err}");
    for b in [&v1, &v2] {
        let out = ctl(&["release", "upload", &b.to_string_lossy()]);
        assert!(out.starts_with("uploaded release"), "{out}");
    }

    // 23 real agents and 40 simulated kiosks, all through the balancer.
    let ids: Vec<String> = (1..=KIOSKS).map(|i| format!("brno-{i:02}")).collect();
    let mut agents: Vec<Agent> = ids
        .iter()
        .map(|id| {
            let dir = tmp.path().join(id);
            provision(&dir, &v1, "1.0.0");
            Agent::start(
                &dir,
                &lb_url,
                &instances[0].token(id),
                &format!("heartbeat_interval_s = 1\n{}", update_section(&kit.keyring)),
            )
        })
        .collect();
    let _sim = Killed(
        Command::new(bin("kiosk-sim"))
            .args([
                "--fleet",
                &lb_url,
                "--admin-token",
                &instances[0].admin_token,
            ])
            .args(["--count", "40", "--prefix", "brno-sim", "--interval", "2"])
            .args(["--state"])
            .arg(tmp.path().join("sim-state.json"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("sim.log")).unwrap())
            .spawn()
            .expect("kiosk-sim starts"),
    );
    assert!(
        wait_until(Duration::from_secs(90), || all_on(
            &instances[1],
            &ids,
            "1.0.0",
            "idle"
        )),
        "the kiosks report through either instance: {:?}",
        updates(&instances[1])
    );

    // Citizens submit at every kiosk, all through the run.
    let acked: Arc<Mutex<BTreeSet<uuid::Uuid>>> = Arc::default();
    let submitting = {
        let acked = Arc::clone(&acked);
        let sockets: Vec<std::path::PathBuf> = agents.iter().map(|a| a.socket.clone()).collect();
        std::thread::spawn(move || {
            for round in 0..12 {
                for (i, s) in sockets.iter().enumerate() {
                    let id = uuid::Uuid::new_v4();
                    let req = sample_submission(id, &format!("r{round}k{i}"));
                    if submit_at(s, &req).is_ok() {
                        acked.lock().unwrap().insert(id);
                    }
                }
                std::thread::sleep(Duration::from_millis(700));
            }
        })
    };

    // The whole fleet to 1.1.0 at once, from whichever instance the balancer picks.
    let out = ctl(&["rollout", "create", "1.1.0", "--percent", "100"]);
    assert!(out.contains("1.1.0"), "{out}");
    // Both instances know it soon: the one that made it told the other (a heartbeat never adds
    // a rollout to an instance's book; the wait is for a busy instance's answer).
    let knows = |f: &Fleet| {
        f.admin_text("/api/admin/v1/rollouts")
            .is_some_and(|t| t.contains("\"1.1.0\""))
    };
    assert!(
        wait_until(Duration::from_secs(20), || instances.iter().all(knows)),
        "the other instance did not hear of the rollout"
    );
    std::thread::sleep(Duration::from_secs(3));

    // The instance that sweeps alerts dies without a word, and comes back.
    let holder = pg
        .psql("fleet", "SELECT holder FROM leases WHERE name = 'alerts'")
        .unwrap();
    let victim = instances
        .iter()
        .position(|f| f.pid().is_some_and(|p| holder.contains(&format!("-{p}-"))))
        .unwrap_or_else(|| panic!("no instance holds the alert lease: {holder:?}"));
    // A slow agenda system: deliveries are in flight when it dies.
    agenda.set_faults(AgendaFaults {
        slow_every: 1,
        slow: Duration::from_secs(4),
        ..AgendaFaults::default()
    });
    std::thread::sleep(Duration::from_secs(2));
    let pid = instances[victim].pid().unwrap();
    instances[victim].kill();
    let orphans: u32 = pg
        .psql(
            "fleet",
            &format!(
                "SELECT COUNT(*) FROM deliveries
                 WHERE delivered_at IS NULL AND claimed_by LIKE '{pid}-%'"
            ),
        )
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        orphans > 0,
        "no delivery was in flight at the dead instance"
    );
    agenda.set_faults(AgendaFaults::default());
    std::thread::sleep(Duration::from_secs(3));
    instances[victim].restart();

    // The database restarts under load.
    std::thread::sleep(Duration::from_secs(2));
    pg.stop().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    pg.start_again().unwrap();

    submitting.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 200,
        "{} submissions acknowledged",
        acked.len()
    );

    // Every acknowledged submission reached the agenda system, once.
    let delivered =
        || -> BTreeSet<uuid::Uuid> { agenda.received().into_iter().map(|d| d.id).collect() };
    assert!(
        wait_until(Duration::from_secs(120), || acked.is_subset(&delivered())),
        "{} of {} acknowledged submissions delivered",
        acked.intersection(&delivered()).count(),
        acked.len()
    );
    let stored: usize = pg
        .psql(
            "fleet",
            "SELECT COUNT(*) FROM submissions WHERE kiosk_id LIKE 'brno-__'",
        )
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        stored,
        acked.len(),
        "each acknowledged submission stored once"
    );
    let undelivered = pg
        .psql(
            "fleet",
            "SELECT COUNT(*) FROM deliveries d JOIN submissions s ON s.id = d.submission_id
             WHERE s.kiosk_id LIKE 'brno-__' AND d.delivered_at IS NULL",
        )
        .unwrap();
    assert_eq!(undelivered, "0", "every delivery recorded as done");
    println!(
        "{orphans} deliveries handed over from the killed instance; {} acknowledged, {} delivered, {} posts to the agenda system (repeats are taken by the \
         Idempotency-Key)",
        acked.len(),
        delivered().len(),
        agenda.posts()
    );

    // The rollout completed, and both instances see it so.
    assert!(
        wait_until(Duration::from_secs(180), || all_on(
            &instances[0],
            &ids,
            "1.1.0",
            "succeeded"
        ) && all_on(
            &instances[1],
            &ids,
            "1.1.0",
            "succeeded"
        )),
        "a: {:?}\nb: {:?}",
        updates(&instances[0]),
        updates(&instances[1])
    );

    // A kiosk goes offline: one alert, one notification, whichever instance sweeps.
    agents[KIOSKS - 1].kill();
    let offline = |f: &Fleet| {
        f.admin_get("/api/admin/v1/alerts").is_some_and(|a| {
            a.as_array()
                .into_iter()
                .flatten()
                .any(|a| a["kiosk_id"] == ids[KIOSKS - 1].as_str() && a["kind"] == "offline")
        })
    };
    assert!(
        wait_until(Duration::from_secs(60), || offline(&instances[0])
            && offline(&instances[1])),
        "the offline alert shows on both instances"
    );
    std::thread::sleep(Duration::from_secs(5));
    let rows = pg
        .psql(
            "fleet",
            &format!(
                "SELECT COUNT(*) FROM alerts WHERE kiosk_id = '{}' AND kind = 'offline'",
                ids[KIOSKS - 1]
            ),
        )
        .unwrap();
    assert_eq!(rows, "1", "one offline alert");
    let notices = hook
        .bodies()
        .iter()
        .filter(|b| {
            b["event"] == "opened"
                && b["alert"]["kiosk_id"] == ids[KIOSKS - 1].as_str()
                && b["alert"]["kind"] == "offline"
        })
        .count();
    assert_eq!(notices, 1, "one notification of it");
    let doubled = pg
        .psql(
            "fleet",
            "SELECT COUNT(*) FROM (SELECT kiosk_id, kind FROM alerts WHERE resolved_at IS NULL
             GROUP BY kiosk_id, kind HAVING COUNT(*) > 1) d",
        )
        .unwrap();
    assert_eq!(doubled, "0", "no condition has two open alerts");
    // Stopped with SIGTERM, each instance gives its jobs up and writes what it held.
    let health = || -> u64 {
        pg.psql(
            "fleet",
            "SELECT COALESCE(SUM(samples), 0) FROM health_hourly WHERE kiosk_id LIKE 'brno-__'",
        )
        .unwrap()
        .parse()
        .unwrap()
    };
    let before = health();
    for f in &mut instances {
        f.stop();
    }
    let leases = pg
        .psql("fleet", "SELECT COUNT(*) FROM leases WHERE name = 'alerts'")
        .unwrap();
    assert_eq!(leases, "0", "the alert sweeps' lease was given up");
    // What they held written behind (the hourly health) is in the database now.
    let after = health();
    assert!(
        after > before,
        "no hourly health written at the stop ({before} → {after})"
    );
    drop(agents);
}

#[test]
fn a_city_copied_from_sqlite_carries_on_on_postgresql() {
    let tmp = TempDir::new("copy-to-pg");
    let pg = PgServer::start(false).unwrap();
    let url = pg.create_database("city").unwrap();

    // A city on SQLite: kiosks, submissions (delivered or not: no agenda system yet), a catalog,
    // staff, audit, history.
    let mut fleet = Fleet::start(&tmp.path().join("fleet"), "[alerts]\nsweep_s = 1\n");
    fleet.publish(&demo_catalog());
    fleet.add_user("jana", "admin", "jana-admin-2026");
    let ids: Vec<String> = (1..=3).map(|i| format!("zlin-{i:02}")).collect();
    let mut agents: Vec<Agent> = ids
        .iter()
        .map(|id| {
            Agent::start(
                &tmp.path().join(id),
                &fleet.url(),
                &fleet.token(id),
                "heartbeat_interval_s = 1\n",
            )
        })
        .collect();
    let mut before = BTreeSet::new();
    for (i, a) in agents.iter().enumerate() {
        assert!(a.wait_ready(Duration::from_secs(30)));
        let id = uuid::Uuid::new_v4();
        submit(a, &sample_submission(id, &format!("before{i}"))).unwrap();
        before.insert(id);
    }
    assert!(
        wait_until(Duration::from_secs(30), || fleet.submission_count() == 3),
        "the city's submissions reached the SQLite fleet"
    );
    fleet.stop();
    for a in &mut agents {
        a.stop();
    }

    // The copy, with its counts.
    let db = tmp.path().join("fleet/data/fleet.sqlite");
    let out = Command::new(bin("fleet-server"))
        .args(["copy", "--from", &format!("sqlite://{}", db.display())])
        .args(["--to", &url])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("verified:"), "{report}");
    let line = |table: &str| {
        report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("submissions"), "3 3", "{report}");
    assert_eq!(line("kiosks"), "3 3", "{report}");
    assert_eq!(line("staff"), "1 1", "{report}");
    // A second copy into the now populated database is refused, and changes nothing.
    let again = Command::new(bin("fleet-server"))
        .args(["copy", "--from", &format!("sqlite://{}", db.display())])
        .args(["--to", &url])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The same fleet, now on PostgreSQL at the same address: the kiosks carry on with their
    // credentials, and a new submission joins the copied ones.
    fleet.reconfigure(&format!(
        "[alerts]\nsweep_s = 1\n[store]\nurl = \"{url}\"\n"
    ));
    assert!(fleet.log().contains("store=postgres://"), "{}", fleet.log());
    let migrated = fleet.command(&["migrate"]);
    assert!(
        migrated.starts_with("postgres://") && migrated.ends_with("schema up to date"),
        "{migrated}"
    );
    for a in &mut agents {
        a.restart();
        assert!(a.wait_ready(Duration::from_secs(30)));
    }
    let id = uuid::Uuid::new_v4();
    submit(&agents[0], &sample_submission(id, "after")).unwrap();
    let count = || {
        pg.psql("city", "SELECT COUNT(*) FROM submissions")
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(30), || count() == "4"),
        "{} submissions on PostgreSQL",
        count()
    );
    assert!(
        wait_until(Duration::from_secs(30), || ids.iter().all(|id| fleet
            .kiosk_now(id)
            .is_some_and(|k| k["kiosk"]["last_seen"].as_i64().unwrap_or(0)
                > protocol::time::now_ms() - 10_000))),
        "every copied kiosk heartbeats to the PostgreSQL fleet"
    );
}

/// The dashboard's live pages on every instance: a kiosk talks to one instance only; an operator
/// watches the overview on the other, in Chromium; the kiosk's printer runs out of paper and the
/// tile turns red there by itself (no reload). The other instance reads the kiosk's newest
/// state from the database (written in the heartbeat's batch, not behind) and renders it when
/// the bus tells it or at the page's own refresh (15 s), whichever comes first: that the bus
/// carries the change is shown in `fleet-server/tests/store_keeps_the_contract.rs`.
#[test]
fn a_page_on_one_instance_shows_what_the_other_heard() {
    use hw_tests::browser::Browser;
    use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};

    assert!(
        hw_tests::browser::chromium().is_some(),
        "Chromium is needed (scripts/setup.sh installs Debian's chromium)"
    );
    let wait = Duration::from_secs(30);
    let tmp = TempDir::new("live-across");
    let pg = PgServer::start(false).unwrap();
    let url = pg.create_database("fleet").unwrap();
    let shared = tmp.path().join("shared-data");
    let extra = format!("[store]\nurl = \"{url}\"\n[alerts]\nsweep_s = 1\nhold_s = 1\n");
    let heard = Fleet::start_in(&tmp.path().join("a"), &shared, &extra);
    let watched = Fleet::start_in(&tmp.path().join("b"), &shared, &extra);
    heard.publish(&demo_catalog());
    heard.add_user("olga", "operator", "olga-operates-2026");
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &heard.url(),
        &heard.token("brno-05"),
        &format!(
            "heartbeat_interval_s = 1\n[agent]\ndevice_poll_ms = 200\n[printer]\npath = \"{}\"\n",
            printer.path().display()
        ),
    );
    assert!(agent.wait_ready(wait));

    let b = Browser::start(1366, 768).unwrap();
    b.sign_in(&watched.url(), "olga", "olga-operates-2026")
        .unwrap();
    b.wait_for(
        "location.pathname === '/dashboard' && document.getElementById('live').textContent === 'live'",
        wait,
    )
    .unwrap();
    let tile = || {
        b.eval("(document.getElementById('tile-brno-05') || {dataset: {}}).dataset.state || ''")
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(wait_until(wait, || tile() == "ok"), "tile: {:?}", tile());
    let loaded_at = b.eval("performance.timeOrigin").unwrap();
    printer.set_state(|s| s.paper = Paper::Out);
    assert!(wait_until(wait, || tile() == "bad"), "tile: {:?}", tile());
    assert_eq!(
        b.eval("performance.timeOrigin").unwrap(),
        loaded_at,
        "the page changed without a reload"
    );
    let enrolled = "kiosk enrolled kiosk=brno-05";
    assert!(
        heard.log().contains(enrolled) && !watched.log().contains(enrolled),
        "the kiosk talks to the other instance only"
    );
}
