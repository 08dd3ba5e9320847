//! `kiosk-sim` against a real fleet server: five simulated kiosks enrol and send heartbeats, one
//! runs out of paper and gets an alert, one goes offline for a while and its offline alert opens
//! and resolves, a command sent to a simulated kiosk gets its result, and the metrics count
//! them all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::process::{Command, Stdio};
use std::time::Duration;

use hw_tests::harness::{Fleet, TempDir, bin, demo_catalog, http_client, wait_until};
use serde_json::Value;

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn simulated_kiosks_live_fail_and_recover() {
    let tmp = TempDir::new("kiosk-sim");
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        "[alerts]\nsweep_s = 1\nhold_s = 1\noffline_after_s = 3\n",
    );
    fleet.publish(&demo_catalog());
    let _sim = Killed(
        Command::new(bin("kiosk-sim"))
            .args(["--fleet", &fleet.url(), "--admin-token", &fleet.admin_token])
            .args(["--count", "5", "--prefix", "t-sim", "--interval", "1"])
            .args(["--faults", "paper_out@2:t-sim-03,offline@2+6:t-sim-04"])
            .args(["--state"])
            .arg(tmp.path().join("sim-state.json"))
            .stdout(Stdio::null())
            .spawn()
            .expect("kiosk-sim starts (is it built?)"),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let get = |path: &str| -> Value {
        rt.block_on(async {
            http_client()
                .get(format!("{}{path}", fleet.url()))
                .bearer_auth(&fleet.admin_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null)
        })
    };
    let settle = Duration::from_secs(40);
    assert!(
        wait_until(settle, || get("/api/admin/v1/kiosks")
            .as_array()
            .is_some_and(
                |k| k.len() == 5 && k.iter().all(|k| k["last_seen"].is_i64())
            )),
        "five kiosks enrolled and alive"
    );
    let open = || -> Vec<(String, String)> {
        get("/api/admin/v1/alerts")
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|a| {
                        (
                            a["kiosk_id"].as_str().unwrap_or("").to_owned(),
                            a["kind"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let paper = ("t-sim-03".to_owned(), "printer_paper_out".to_owned());
    let offline = ("t-sim-04".to_owned(), "offline".to_owned());
    assert!(
        wait_until(settle, || {
            let o = open();
            o.contains(&paper) && o.contains(&offline)
        }),
        "{:?}",
        open()
    );
    // The offline kiosk comes back after 6 s; the paper stays out.
    assert!(
        wait_until(settle, || !open().contains(&offline)),
        "{:?}",
        open()
    );
    assert!(open().contains(&paper));
    let history = get("/api/admin/v1/alerts?open=false");
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "offline" && a["resolved_at"].is_i64())
    );

    // A command to a simulated kiosk gets its answer.
    let queued: Value = rt.block_on(async {
        http_client()
            .post(format!(
                "{}/api/admin/v1/kiosks/t-sim-01/commands",
                fleet.url()
            ))
            .bearer_auth(&fleet.admin_token)
            .json(&serde_json::json!({ "action": { "kind": "self_test" }, "by": "test" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let id = queued["id"].as_i64().unwrap();
    assert!(wait_until(settle, || get(
        "/api/admin/v1/kiosks/t-sim-01/commands"
    )
    .as_array()
    .is_some_and(|c| c
        .iter()
        .any(|c| c["id"] == id && c["ok"] == true))));

    let metrics = rt.block_on(async {
        http_client()
            .get(format!("{}/metrics", fleet.url()))
            .bearer_auth(&fleet.admin_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(metrics.contains("okenko_kiosks 5"), "{metrics}");
    assert!(
        metrics.contains("okenko_printer_paper{kiosk=\"t-sim-03\",state=\"out\"} 1"),
        "{metrics}"
    );
}
