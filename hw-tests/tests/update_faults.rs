//! Updates that go wrong, with real agents (`dir` slots) and a real fleet on 127.0.0.1: an
//! unknown key, a bad signature, a corrupted download, a download cut off part-way, a key
//! rotation, and the agent killed at every state of an install. Each ends with the kiosk on
//! a working release and the reason reported to the fleet.

use std::path::Path;
use std::time::Duration;

use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog, wait_until};
use hw_tests::netsim::{Faults, Proxy};
use hw_tests::releases::{
    Kit, app_log, ctl_admin as ctl, fleetctl, fleetctl_admin, good_app, paused_then_abort,
    provision, report, roll, update_section, upload, wait_state,
};

/// Rolls `version` out to kiosk `id` alone, which must refuse it and stay on 1.0.0 with nothing
/// written to `slot_b`; the rollout must pause by itself, and is aborted. The kiosk's reason.
fn refused(fleet: &Fleet, id: &str, version: &str, slot_b: &Path, secs: u64) -> String {
    let r = roll(fleet, version, id);
    wait_state(fleet, id, "1.0.0", version, "failed", secs);
    let (_, _, _, why) = report(fleet, id);
    assert!(!slot_b.exists(), "nothing was written to a slot");
    paused_then_abort(fleet, &r);
    why
}

#[test]
fn refusals_and_broken_downloads_leave_the_kiosk_on_a_working_release() {
    let tmp = TempDir::new("update-faults");
    // The kiosk trusts `k1`; the fleet trusts `k1` and `k2`.
    let k1 = Kit::new(&tmp.path().join("kit"), "k1");
    let k2 = Kit::new(&tmp.path().join("kit2"), "k2");
    let fleet_ring = tmp.path().join("fleet-keyring");
    std::fs::write(&fleet_ring, format!("{}\n{}\n", k1.public, k2.public)).expect("keyring");
    let endorsements = tmp.path().join("endorsements.json");
    std::fs::write(&endorsements, "[]").expect("endorsements");
    let mut fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "[releases]\nkeyring = \"{}\"\nendorsements = \"{}\"\n",
            fleet_ring.display(),
            endorsements.display()
        ),
    );
    fleet.publish(&demo_catalog());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = rt
        .block_on(Proxy::start(fleet.addr(), Faults::default()))
        .expect("proxy");

    let v1 = k1.bundle("1.0.0", &good_app("1.0.0"));
    let id = "brno-01";
    let dir = tmp.path().join(id);
    provision(&dir, &v1, "1.0.0");
    let agent = Agent::start(
        &dir,
        &format!("http://{}", proxy.addr()),
        &fleet.token(id),
        &format!("heartbeat_interval_s = 1\n{}", update_section(&k1.keyring)),
    );
    wait_state(&fleet, id, "1.0.0", "", "idle", 30);
    let slot_b = dir.join("data/slots/b/.slot.json");

    // A release signed by a key the kiosk does not know.
    let unknown = k2.bundle("2.0.0", &good_app("2.0.0"));
    upload(&fleet, &unknown);
    let why = refused(&fleet, id, "2.0.0", &slot_b, 30);
    assert!(why.contains("signed by an unknown key"), "{why}");

    // A manifest whose signature does not match (changed after signing, on the server).
    let bad = k1.bundle("2.1.0", &good_app("2.1.0"));
    upload(&fleet, &bad);
    fleet.kill();
    {
        let db = rusqlite::Connection::open(tmp.path().join("fleet/data/fleet.sqlite"))
            .expect("fleet db");
        let body: String = db
            .query_row(
                "SELECT body FROM releases WHERE version = '2.1.0'",
                [],
                |r| r.get(0),
            )
            .expect("release row");
        let mut rel: serde_json::Value = serde_json::from_str(&body).expect("json");
        let sig = rel["manifest"]["signature"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let flipped = format!(
            "{}{}",
            if sig.starts_with('0') { "1" } else { "0" },
            &sig[1..]
        );
        rel["manifest"]["signature"] = flipped.into();
        db.execute(
            "UPDATE releases SET body = ?1 WHERE version = '2.1.0'",
            [rel.to_string()],
        )
        .expect("tampered");
    }
    fleet.restart();
    let why = refused(&fleet, id, "2.1.0", &slot_b, 30);
    assert!(why.contains("signature does not match"), "{why}");

    // A bundle corrupted on the way (here: on the server's disk after its upload).
    let corrupt = k1.bundle("2.2.0", &good_app("2.2.0"));
    upload(&fleet, &corrupt);
    let stored = tmp.path().join("fleet/data/releases/2.2.0.bundle");
    let mut bytes = std::fs::read(&stored).expect("stored bundle");
    bytes[600] ^= 0x55;
    std::fs::write(&stored, &bytes).expect("corrupted");
    let why = refused(&fleet, id, "2.2.0", &slot_b, 60);
    assert!(
        why.contains("downloaded 3 times, never right") && why.contains("SHA-256"),
        "{why}"
    );

    // A download cut off part-way resumes where it stopped.
    let big = k1.bundle_with_assets("2.3.0", &good_app("2.3.0"), 4_000_000);
    upload(&fleet, &big);
    let size = std::fs::metadata(&big).expect("size").len();
    let before = proxy
        .counters()
        .reply_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    proxy.cut_next_reply_after(3_000_000);
    let r = roll(&fleet, "2.3.0", id);
    wait_state(&fleet, id, "2.3.0", "2.3.0", "succeeded", 60);
    let c = proxy.counters();
    assert_eq!(c.cut_replies.load(std::sync::atomic::Ordering::Relaxed), 1);
    let sent = c.reply_bytes.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(
        sent < size + 500_000,
        "{sent} bytes crossed for a {size}-byte bundle: the download restarted"
    );
    let log = agent.log();
    let starts: Vec<u64> = log
        .split("downloading the bundle version=2.3.0 from=")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(starts.len(), 2, "{log}");
    assert_eq!(starts[0], 0);
    assert!(
        (2_900_000..3_000_000).contains(&starts[1]),
        "the second request resumed where the first was cut: {starts:?}"
    );
    assert!(app_log(&dir).contains("2.3.0 started"));
    // Another rollout cannot start while this one is open at less than 100 %.
    let (ok, _, err) = fleetctl_admin(&fleet, &["rollout", "create", "2.2.0", "--canary", id]);
    assert!(!ok && err.contains("abort it first"), "{err}");
    ctl(&fleet, &["rollout", "abort", &r]);

    // Key rotation: `k1` endorses `k2`; the fleet hands the endorsement out with the release.
    let (ok, endorsement, err) = fleetctl(
        &["key", "endorse", &k1.key.to_string_lossy(), &k2.public],
        "",
        &[],
    );
    assert!(ok, "{err}");
    std::fs::write(&endorsements, format!("[{endorsement}]")).expect("endorsements");
    fleet.restart();
    let rotated = k2.bundle("2.4.0", &good_app("2.4.0"));
    upload(&fleet, &rotated);
    roll(&fleet, "2.4.0", id);
    wait_state(&fleet, id, "2.4.0", "2.4.0", "succeeded", 60);
    let learned: String = agent
        .db()
        .query_row(
            "SELECT value FROM settings WHERE key = 'update_keys'",
            [],
            |r| r.get(0),
        )
        .expect("learned keys kept");
    assert!(learned.contains(&k2.public), "{learned}");
}

/// A fleet whose keyring trusts `kit`, releases 1.0.0 (the kiosks' factory release) and 1.1.0
/// (uploaded), and kiosks started on demand.
struct Lab {
    tmp: TempDir,
    kit: Kit,
    fleet: Fleet,
    v1: std::path::PathBuf,
}

impl Lab {
    /// `fleet_extra`: more of the fleet's configuration, after `[releases]`'s keyring.
    fn new(label: &str, fleet_extra: &str) -> Lab {
        let tmp = TempDir::new(label);
        let kit = Kit::new(&tmp.path().join("kit"), "k");
        let fleet = Fleet::start(
            &tmp.path().join("fleet"),
            &format!(
                "[releases]\nkeyring = \"{}\"\n{fleet_extra}",
                kit.keyring.display()
            ),
        );
        fleet.publish(&demo_catalog());
        let v1 = kit.bundle("1.0.0", &good_app("1.0.0"));
        let v2 = kit.bundle("1.1.0", &good_app("1.1.0"));
        upload(&fleet, &v2);
        Lab {
            tmp,
            kit,
            fleet,
            v1,
        }
    }

    /// Kiosk `id` from the factory (1.0.0 in slot A) with `update` as its `[update]` section
    /// (and any tables after it) and `env`; its directory and agent.
    fn kiosk(&self, id: &str, update: &str, env: &[(&str, &str)]) -> (std::path::PathBuf, Agent) {
        let dir = self.tmp.path().join(id);
        provision(&dir, &self.v1, "1.0.0");
        let agent = Agent::start_env(
            &dir,
            &self.fleet.url(),
            &self.fleet.token(id),
            &format!("heartbeat_interval_s = 1\n{update}"),
            env,
        );
        (dir, agent)
    }
}

#[test]
fn a_kill_at_every_state_of_an_install_ends_on_a_working_release() {
    let lab = Lab::new("update-kills", "");
    let fleet = &lab.fleet;
    let states = [
        "downloading",
        "verifying",
        "waiting",
        "installing",
        "rebooting",
        "trial",
    ];
    let mut agents: Vec<(String, Agent)> = states
        .iter()
        .map(|state| {
            let id = format!("kill-{state}");
            let (_, a) = lab.kiosk(
                &id,
                &update_section(&lab.kit.keyring),
                &[("OKENKO_UPDATE_HOLD", state)],
            );
            (id, a)
        })
        .collect();
    for (id, _) in &agents {
        wait_state(fleet, id, "1.0.0", "", "idle", 30);
    }
    ctl(fleet, &["rollout", "create", "1.1.0", "--percent", "100"]);
    for ((id, agent), state) in agents.iter_mut().zip(states) {
        assert!(
            wait_until(Duration::from_secs(60), || agent
                .log()
                .contains("OKENKO_UPDATE_HOLD: holding here")),
            "{id} never reached {state}: {}",
            agent.log()
        );
        // Power cut.
        agent.kill();
        agent.env.clear();
        agent.restart();
    }
    for (id, _) in &agents {
        wait_state(fleet, id, "1.1.0", "1.1.0", "succeeded", 90);
        assert!(
            app_log(&lab.tmp.path().join(id)).contains("1.1.0 started"),
            "{id}"
        );
    }
    // Each stopped where it was told to.
    for ((id, agent), state) in agents.iter().zip(states) {
        assert!(
            agent
                .log()
                .contains(&format!("holding here state=\"{state}\"")),
            "{id}"
        );
    }
}

#[test]
fn outside_the_maintenance_window_a_kiosk_waits_unless_the_rollout_is_forced() {
    // Open round the clock: the default window (whenever the kiosks are closed) never opens.
    let lab = Lab::new(
        "update-window",
        "[alerts]\nopening_hours = \"Mo-Su 00:00-24:00\"\n",
    );
    let fleet = &lab.fleet;
    let id = "plzen-01";
    let (dir, _agent) = lab.kiosk(id, &update_section(&lab.kit.keyring), &[]);
    wait_state(fleet, id, "1.0.0", "", "idle", 30);
    ctl(fleet, &["rollout", "create", "1.1.0", "--canary", id]);
    // Downloaded and verified, then it waits.
    wait_state(fleet, id, "1.0.0", "1.1.0", "waiting", 30);
    std::thread::sleep(Duration::from_secs(3));
    let (running, _, state, why) = report(fleet, id);
    assert_eq!((running.as_str(), state.as_str()), ("1.0.0", "waiting"));
    assert!(why.contains("maintenance window"), "{why}");
    // Aborted, the kiosk drops the download; forced, it installs at once.
    ctl(fleet, &["rollout", "abort", "1"]);
    wait_state(fleet, id, "1.0.0", "", "idle", 30);
    assert!(!dir.join("data/update/1.1.0.bundle").exists());
    ctl(
        fleet,
        &["rollout", "create", "1.1.0", "--canary", id, "--force"],
    );
    wait_state(fleet, id, "1.1.0", "1.1.0", "succeeded", 60);
    // "Restart app" from the fleet restarts the slot's app, which the agent runs itself.
    let queued = fleet
        .admin_post(
            &format!("/api/admin/v1/kiosks/{id}/commands"),
            &serde_json::json!({ "action": { "kind": "restart_app" }, "by": "novak" }),
        )
        .expect("command queued");
    assert!(queued["id"].is_i64(), "{queued}");
    assert!(
        wait_until(Duration::from_secs(30), || app_log(&dir)
            .matches("1.1.0 started")
            .count()
            == 2),
        "{}",
        app_log(&dir)
    );
}

#[test]
fn without_its_keyring_a_kiosk_still_runs_its_release_and_says_why_it_takes_no_other() {
    let lab = Lab::new("update-nokeyring", "");
    let fleet = &lab.fleet;
    let id = "olomouc-01";
    let (dir, _agent) = lab.kiosk(
        id,
        &update_section(&lab.tmp.path().join("no-such-keyring")),
        &[],
    );
    wait_state(fleet, id, "1.0.0", "", "idle", 30);
    assert!(wait_until(Duration::from_secs(10), || app_log(&dir)
        .contains("1.0.0 started")));
    ctl(
        fleet,
        &["rollout", "create", "1.1.0", "--canary", id, "--force"],
    );
    wait_state(fleet, id, "1.0.0", "1.1.0", "failed", 30);
    let (_, _, _, why) = report(fleet, id);
    assert!(why.contains("updates are off: update.keyring"), "{why}");
}

#[test]
fn a_kiosk_in_use_installs_only_once_nobody_has_touched_it_for_a_while() {
    use hw_tests::touchsim::{InputFifo, Recording};
    let lab = Lab::new("update-idle", "");
    let fleet = &lab.fleet;
    let mut fifo = InputFifo::create(&lab.tmp.path().join("touch")).expect("touch fifo");
    let id = "brno-02";
    let (_, _agent) = lab.kiosk(
        id,
        &format!(
            "{}[touchscreen]\npath = \"{}\"\n",
            update_section(&lab.kit.keyring).replace("idle_s = 0", "idle_s = 5"),
            fifo.path().display()
        ),
        &[],
    );
    wait_state(fleet, id, "1.0.0", "", "idle", 30);
    // A citizen at the screen: a tap a second.
    let tap = |fifo: &mut InputFifo| {
        fifo.send(Recording::new().tap(4000, 3000, 40))
            .expect("tap sent");
    };
    tap(&mut fifo);
    ctl(fleet, &["rollout", "create", "1.1.0", "--canary", id]);
    let until = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < until {
        tap(&mut fifo);
        std::thread::sleep(Duration::from_secs(1));
    }
    let (running, _, state, why) = report(fleet, id);
    assert_eq!(
        (running.as_str(), state.as_str()),
        ("1.0.0", "waiting"),
        "{why}"
    );
    assert!(why.contains("nobody has used the kiosk for 5 s"), "{why}");
    // The citizen leaves: five quiet seconds later it installs.
    wait_state(fleet, id, "1.1.0", "1.1.0", "succeeded", 60);
}

/// TUF's rule on the kiosk: no release older than the one it runs without a signed rollback
/// that names it; and a key the fleet revoked (a leaked one) signs nothing any more, on the
/// fleet and on the kiosk, which keeps the revocation.
#[test]
fn a_downgrade_needs_a_signed_rollback_and_a_revoked_key_signs_nothing() {
    let tmp_revocations =
        std::env::temp_dir().join(format!("okenko-revocations-{}.json", std::process::id()));
    std::fs::write(&tmp_revocations, "[]").expect("revocations");
    let lab = Lab::new(
        "update-downgrade",
        &format!("revocations = \"{}\"\n", tmp_revocations.display()),
    );
    let fleet = &lab.fleet;
    let older = lab.kit.bundle("0.9.0", &good_app("0.9.0"));
    upload(fleet, &older);
    let later = lab.kit.bundle("1.2.0", &good_app("1.2.0"));
    upload(fleet, &later);
    let id = "downgrade-01";
    let (dir, agent) = lab.kiosk(id, &update_section(&lab.kit.keyring), &[]);
    wait_state(fleet, id, "1.0.0", "", "idle", 30);
    let r = roll(fleet, "1.1.0", id);
    wait_state(fleet, id, "1.1.0", "1.1.0", "succeeded", 60);
    ctl(fleet, &["rollout", "abort", &r]);

    // An older release, unsigned for going back: refused with the reason, nothing installed.
    let r = roll(fleet, "0.9.0", id);
    wait_state(fleet, id, "1.1.0", "0.9.0", "failed", 30);
    let (_, _, _, why) = report(fleet, id);
    assert!(why.contains("older than the running 1.1.0"), "{why}");
    paused_then_abort(fleet, &r);
    assert!(!app_log(&dir).contains("0.9.0 started"));

    // The release key is revoked (it leaked): the fleet hands the revocation out, and the
    // kiosk refuses what that key signed from then on, and remembers.
    let (ok, revocation, err) = fleetctl(
        &[
            "key",
            "revoke",
            &lab.kit.key.to_string_lossy(),
            &lab.kit.public_id(),
        ],
        "",
        &[],
    );
    assert!(ok, "{err}");
    std::fs::write(&tmp_revocations, format!("[{revocation}]")).expect("revocations");
    let mut fleet = lab.fleet;
    fleet.restart();
    let r = roll(&fleet, "1.2.0", id);
    wait_state(&fleet, id, "1.1.0", "1.2.0", "failed", 30);
    let (_, _, _, why) = report(&fleet, id);
    assert!(why.contains("revoked"), "{why}");
    paused_then_abort(&fleet, &r);
    let kept: String = agent
        .db()
        .query_row(
            "SELECT value FROM settings WHERE key = 'update_revoked'",
            [],
            |row| row.get(0),
        )
        .expect("the revocation is kept");
    assert!(kept.contains(&lab.kit.public_id()), "{kept}");
    // The fleet refuses new releases signed with it too.
    let newer = lab.kit.bundle("1.3.0", &good_app("1.3.0"));
    let (ok, _, err) = fleetctl_admin(&fleet, &["release", "upload", &newer.to_string_lossy()]);
    assert!(!ok && err.contains("revoked"), "{err}");
    let _ = std::fs::remove_file(&tmp_revocations);
}
