//! A release rolled out to the city with `fleetctl`, over 23 real agents on 127.0.0.1 with the
//! `dir` slot backend (each kiosk runs its slot's app as a supervised child): one canary, then
//! a quarter, then everybody; a roll back to the previous release; then a release whose app
//! crashes: each kiosk of that wave goes back by itself, says why, and the rollout pauses.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog, wait_until};
use hw_tests::releases::{
    Kit, app_log, crashing_app, fleetctl, good_app, provision, update_section,
};

const KIOSKS: usize = 23;

/// Each kiosk's (running release, slot, update state, reason) as the fleet reports them.
fn fleet_view(fleet: &Fleet) -> BTreeMap<String, (String, String, String, String)> {
    let mut m = BTreeMap::new();
    let Some(v) = fleet.admin_get("/api/admin/v1/updates") else {
        return m;
    };
    for k in v["kiosks"].as_array().into_iter().flatten() {
        let r = &k["update"]["report"];
        let s = |key: &str| r[key].as_str().unwrap_or("").to_owned();
        m.insert(
            k["kiosk_id"].as_str().unwrap_or("").to_owned(),
            (s("running"), s("slot"), s("state"), s("reason")),
        );
    }
    m
}

/// Whether every kiosk in `ids` runs `version`, its update settled as `state`.
fn all_on(fleet: &Fleet, ids: &[String], version: &str, state: &str) -> bool {
    let v = fleet_view(fleet);
    ids.iter().all(|id| {
        v.get(id)
            .is_some_and(|(running, _, st, _)| running == version && st == state)
    })
}

/// The kiosk's place in every percentage, as the fleet computes it (a hash of its id).
fn bucket(id: &str) -> u64 {
    let d = protocol::sha256_hex(format!("okenko-rollout:{id}"));
    u64::from_str_radix(&d[..16], 16).expect("hex") % 10_000
}

fn ctl(session: &Path, args: &[&str]) -> String {
    let (ok, out, err) = fleetctl(
        args,
        "",
        &[("OKENKO_FLEETCTL_SESSION", &session.to_string_lossy())],
    );
    assert!(ok, "fleetctl {args:?}: {err}");
    out
}

#[test]
fn a_release_goes_canary_quarter_all_and_a_crashing_one_comes_back_and_pauses() {
    let tmp = TempDir::new("rollout-23");
    let kit = Kit::new(&tmp.path().join("kit"), "release");
    let v1 = kit.bundle("1.0.0", &good_app("1.0.0"));
    let v2 = kit.bundle("1.1.0", &good_app("1.1.0"));
    let v3 = kit.bundle("1.2.0", &crashing_app("1.2.0"));
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!("[releases]\nkeyring = \"{}\"\n", kit.keyring.display()),
    );
    fleet.publish(&demo_catalog());

    // A release manager signs in and uploads the releases.
    fleet.add_user("rita", "release_manager", "rita-releases-2026");
    let session = tmp.path().join("fleetctl.json");
    let (ok, out, err) = fleetctl(
        &["login", &fleet.url(), "rita"],
        "rita-releases-2026\n",
        &[("OKENKO_FLEETCTL_SESSION", &session.to_string_lossy())],
    );
    assert!(ok && out.contains("rita (release_manager)"), "{out}{err}");
    for b in [&v1, &v2, &v3] {
        let out = ctl(&session, &["release", "upload", &b.to_string_lossy()]);
        assert!(out.starts_with("uploaded release"), "{out}");
    }
    let listed = ctl(&session, &["release", "list"]);
    assert!(
        ["1.0.0", "1.1.0", "1.2.0"]
            .iter()
            .all(|v| listed.contains(v)),
        "{listed}"
    );

    // 23 kiosks from the factory with 1.0.0 in slot A.
    let ids: Vec<String> = (1..=KIOSKS).map(|i| format!("ostrava-{i:02}")).collect();
    let _agents: Vec<Agent> = ids
        .iter()
        .map(|id| {
            let dir = tmp.path().join(id);
            provision(&dir, &v1, "1.0.0");
            Agent::start(
                &dir,
                &fleet.url(),
                &fleet.token(id),
                &format!("heartbeat_interval_s = 1\n{}", update_section(&kit.keyring)),
            )
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(60), || all_on(
            &fleet, &ids, "1.0.0", "idle"
        )),
        "{:?}",
        fleet_view(&fleet)
    );

    // The canary.
    let canary = "ostrava-07".to_owned();
    let out = ctl(
        &session,
        &["rollout", "create", "1.1.0", "--canary", &canary],
    );
    assert!(out.contains("rollout 1 of 1.1.0: active at 0 %"), "{out}");
    assert!(
        wait_until(Duration::from_secs(60), || all_on(
            &fleet,
            std::slice::from_ref(&canary),
            "1.1.0",
            "succeeded"
        )),
        "{:?}",
        fleet_view(&fleet).get(&canary)
    );
    assert_eq!(
        fleet_view(&fleet)[&canary].1,
        "B",
        "the canary booted its slot B"
    );
    let metrics = fleet.admin_text("/metrics").expect("metrics");
    assert!(
        metrics.contains(
            "okenko_kiosk_release_info{kiosk=\"ostrava-07\",release=\"1.1.0\",slot=\"B\"} 1"
        ) && metrics
            .contains("okenko_kiosk_update_state{kiosk=\"ostrava-07\",state=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(app_log(&tmp.path().join(&canary)).contains("1.1.0 started"));
    let others: Vec<String> = ids.iter().filter(|i| **i != canary).cloned().collect();
    assert!(
        all_on(&fleet, &others, "1.0.0", "idle"),
        "only the canary moved"
    );

    // A quarter: the kiosks whose place is under 25 %, and the canary.
    let quarter: Vec<String> = ids
        .iter()
        .filter(|i| **i == canary || bucket(i) < 2500)
        .cloned()
        .collect();
    let rest: Vec<String> = ids
        .iter()
        .filter(|i| !quarter.contains(i))
        .cloned()
        .collect();
    assert!(quarter.len() > 2 && !rest.is_empty(), "{quarter:?}");
    let out = ctl(&session, &["rollout", "expand", "1", "--percent", "25"]);
    assert!(out.contains("active at 25 %"), "{out}");
    assert!(
        wait_until(Duration::from_secs(90), || all_on(
            &fleet,
            &quarter,
            "1.1.0",
            "succeeded"
        )),
        "{:?}",
        fleet_view(&fleet)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        all_on(&fleet, &rest, "1.0.0", "idle"),
        "{:?}",
        fleet_view(&fleet)
    );
    let status = ctl(&session, &["status"]);
    assert!(
        status.contains(&format!("1.1.0          {}", quarter.len())),
        "{status}"
    );

    // Everybody.
    ctl(&session, &["rollout", "expand", "1", "--percent", "100"]);
    assert!(
        wait_until(Duration::from_secs(120), || all_on(
            &fleet,
            &ids,
            "1.1.0",
            "succeeded"
        )),
        "{:?}",
        fleet_view(&fleet)
    );
    let json: serde_json::Value =
        serde_json::from_str(&ctl(&session, &["status", "--json"])).expect("status --json");
    assert_eq!(json["by_version"]["1.1.0"], 23, "{json}");
    let shown = ctl(&session, &["rollout", "show", "1"]);
    assert!(
        shown.contains("23 kiosks targeted (23 succeeded)"),
        "{shown}"
    );

    // Roll back: every kiosk returns to 1.0.0, which its other slot still holds; the release
    // manager signs the rollback (kiosks refuse an older release without it).
    ctl(
        &session,
        &[
            "rollback",
            "1",
            "--key",
            &kit.key.to_string_lossy(),
            "--to",
            "1.0.0",
        ],
    );
    assert!(
        wait_until(Duration::from_secs(120), || all_on(
            &fleet,
            &ids,
            "1.0.0",
            "succeeded"
        )),
        "{:?}",
        fleet_view(&fleet)
    );
    assert!(
        fleet_view(&fleet)
            .values()
            .all(|(_, slot, _, _)| slot == "A")
    );
    for id in &ids {
        let log =
            std::fs::read_to_string(tmp.path().join(id).join("agent.log")).unwrap_or_default();
        assert!(log.contains("downloading the bundle version=1.1.0"), "{id}");
        assert!(
            !log.contains("downloading the bundle version=1.0.0"),
            "{id}: 1.0.0 came from the other slot, not a download"
        );
    }

    // A release whose app crashes, to the canary and a quarter, pausing above 20 % failures.
    let out = ctl(
        &session,
        &[
            "rollout",
            "create",
            "1.2.0",
            "--canary",
            &canary,
            "--percent",
            "25",
            "--max-failures",
            "20",
        ],
    );
    assert!(out.contains("rollout 2 of 1.2.0"), "{out}");
    assert!(
        wait_until(Duration::from_secs(120), || {
            let v = fleet_view(&fleet);
            let r = fleet.admin_get("/api/admin/v1/rollouts/2");
            r.is_some_and(|r| r["state"] == "paused")
                && quarter.iter().all(|id| {
                    v.get(id).is_some_and(|(running, _, st, _)| {
                        // Rolled back, or never started (still as the roll back left it).
                        running == "1.0.0" && (st == "rolled_back" || st == "succeeded")
                    })
                })
                && quarter
                    .iter()
                    .filter(|id| v[id.as_str()].2 == "rolled_back")
                    .count()
                    * 100
                    > quarter.len() * 20
        }),
        "{:?} {:?}",
        fleet_view(&fleet),
        fleet.admin_get("/api/admin/v1/rollouts/2")
    );
    let v = fleet_view(&fleet);
    for id in &quarter {
        let (running, slot, state, reason) = &v[id];
        assert_eq!((running.as_str(), slot.as_str()), ("1.0.0", "A"), "{id}");
        if state == "rolled_back" {
            assert!(
                reason.contains("1.2.0 failed its health check")
                    && reason.contains("exited 3 times"),
                "{id}: {reason}"
            );
            assert!(app_log(&tmp.path().join(id)).contains("1.2.0 crashed"));
        }
    }
    for id in &rest {
        assert!(
            !app_log(&tmp.path().join(id)).contains("1.2.0"),
            "{id} was outside the wave"
        );
    }
    let r = fleet
        .admin_get("/api/admin/v1/rollouts/2")
        .expect("rollout 2");
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or("")
            .contains("paused by itself"),
        "{r}"
    );
    let audit = fleet.admin_get("/api/admin/v1/audit").expect("audit");
    assert!(audit.to_string().contains("paused by itself"), "{audit}");
    ctl(&session, &["rollout", "abort", "2"]);
    let shown = ctl(&session, &["rollout", "show", "2"]);
    assert!(shown.contains("aborted"), "{shown}");
}
