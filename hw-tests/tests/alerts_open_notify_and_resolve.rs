//! Alerts end to end, with real processes on 127.0.0.1: a kiosk's printer runs out of paper, the
//! fleet opens an alert, posts it to the webhook and mails it through an SMTP relay; staff
//! acknowledge it with a comment; paper is back and the alert resolves by itself. The kiosk's
//! agent dies and an offline alert opens, visible in the metrics; it restarts and the alert
//! resolves.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};
use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog, wait_until};
use hw_tests::sinks::{SmtpSink, WebhookSink};
use serde_json::Value;

struct Admin {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Admin {
    fn get(&self, path: &str) -> (u16, String) {
        self.rt.block_on(async {
            let r = self
                .http
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.rt.block_on(async {
            let r = self
                .http
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
        })
    }

    fn alerts(&self, open: bool) -> Vec<Value> {
        let (s, body) = self.get(&format!("/api/admin/v1/alerts?open={open}"));
        assert_eq!(s, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn open_kinds(&self) -> Vec<String> {
        self.alerts(true)
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[test]
fn alerts_open_notify_are_acknowledged_and_resolve_by_themselves() {
    let tmp = TempDir::new("alerts");
    let hook = WebhookSink::start().unwrap();
    let smtp = SmtpSink::start().unwrap();
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "[alerts]\nsweep_s = 1\nhold_s = 1\noffline_after_s = 4\nwebhook_url = \"{}\"\n\
             smtp_server = \"{}\"\nmail_from = \"okenko@ostrava.example\"\n\
             mail_to = [\"duty@ostrava.example\"]\n",
            hook.url(),
            smtp.addr()
        ),
    );
    fleet.publish(&demo_catalog());
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let mut agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("ostrava-07"),
        &format!(
            "[agent]\ndevice_poll_ms = 200\n[printer]\npath = \"{}\"\n",
            printer.path().display()
        ),
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    let admin = Admin {
        rt: tokio::runtime::Runtime::new().unwrap(),
        http: hw_tests::harness::http_client(),
        url: fleet.url(),
        token: fleet.admin_token.clone(),
    };
    let settle = Duration::from_secs(30);
    assert!(wait_until(settle, || fleet
        .kiosk_now("ostrava-07")
        .is_some_and(|k| !k["heartbeat"].is_null())));
    assert!(admin.open_kinds().is_empty(), "a healthy kiosk has none");

    // Paper out: an alert, a webhook call and an e-mail.
    printer.set_state(|s| s.paper = Paper::Out);
    assert!(
        wait_until(settle, || admin.open_kinds() == ["printer_paper_out"]),
        "{:?}",
        admin.alerts(true)
    );
    let alert = admin.alerts(true).remove(0);
    assert_eq!(alert["kiosk_id"], "ostrava-07");
    assert!(alert["detail"].as_str().unwrap().contains("paper out"));
    assert!(wait_until(settle, || hook.bodies().iter().any(
        |b| b["event"] == "opened" && b["alert"]["kind"] == "printer_paper_out"
    )));
    assert!(
        wait_until(settle, || smtp
            .subjects()
            .iter()
            .any(|s| s == "[Okénko] ostrava-07 alert: printer_paper_out")),
        "{:?}",
        smtp.subjects()
    );
    let mail = smtp.messages().remove(0);
    assert!(mail.contains("To: duty@ostrava.example"), "{mail}");

    // Acknowledged with a comment; a blank comment or an unknown alert is refused.
    let id = alert["id"].as_i64().unwrap();
    let ack = |by: &str, comment: &str, id: i64| {
        admin.post(
            &format!("/api/admin/v1/alerts/{id}/ack"),
            serde_json::json!({ "by": by, "comment": comment }),
        )
    };
    assert_eq!(ack("novak", "  ", id).0, 400);
    assert_eq!(ack("novak", "on my way", id + 1000).0, 404);
    assert_eq!(ack("novak", "Jedu tam s rolí papíru.", id).0, 200);
    let acked = admin.alerts(true).remove(0);
    assert_eq!(acked["acked_by"], "novak");
    assert_eq!(acked["ack_comment"], "Jedu tam s rolí papíru.");
    assert!(
        acked["resolved_at"].is_null(),
        "acknowledged is not resolved"
    );
    let (_, audit) = admin.get("/api/admin/v1/audit");
    let audit: Vec<Value> = serde_json::from_str(&audit).unwrap();
    assert_eq!(audit[0]["action"], "alert.ack");
    assert_eq!(audit[0]["actor"], "novak");
    assert_eq!(audit[0]["target"], id.to_string());
    assert_eq!(audit[0]["detail"], "Jedu tam s rolí papíru.");

    // Paper back: the alert resolves by itself and the webhook hears of it.
    printer.set_state(|s| s.paper = Paper::Ok);
    assert!(wait_until(settle, || admin.open_kinds().is_empty()));
    let history = admin.alerts(false);
    assert!(history[0]["resolved_at"].is_i64(), "{history:?}");
    assert!(wait_until(settle, || hook
        .bodies()
        .iter()
        .any(|b| b["event"] == "resolved" && b["alert"]["id"] == id)));

    // The agent dies: offline after 4 s, shown in the metrics; back: resolved.
    agent.kill();
    assert!(wait_until(settle, || admin.open_kinds() == ["offline"]));
    let (s, metrics) = admin.get("/metrics");
    assert_eq!(s, 200);
    assert!(
        metrics.contains("okenko_alerts_open{kind=\"offline\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("okenko_kiosk_up{kiosk=\"ostrava-07\"} 0"),
        "{metrics}"
    );
    agent.restart();
    assert!(wait_until(settle, || admin.open_kinds().is_empty()));
    // Each opening and resolution was notified exactly once. On a loaded machine the agent may
    // be silent past the 4 s threshold more than once (each time is an alert of its own), so
    // what is counted is the notifications per alert.
    let per_alert = |kind: &str| {
        let bodies = hook.bodies();
        let ids: std::collections::BTreeSet<i64> = bodies
            .iter()
            .filter(|b| b["alert"]["kind"] == kind)
            .filter_map(|b| b["alert"]["id"].as_i64())
            .collect();
        ids.into_iter()
            .map(|id| {
                let n = |event: &str| {
                    bodies
                        .iter()
                        .filter(|b| b["event"] == event && b["alert"]["id"] == id)
                        .count()
                };
                (n("opened"), n("resolved"))
            })
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(settle, || {
            let offline = per_alert("offline");
            !offline.is_empty() && offline.iter().all(|&(_, resolved)| resolved >= 1)
        }),
        "{:?}",
        hook.bodies()
    );
    for kind in ["printer_paper_out", "offline"] {
        let alerts = per_alert(kind);
        assert!(!alerts.is_empty(), "{kind}: {:?}", hook.bodies());
        assert!(
            alerts.iter().all(|&counts| counts == (1, 1)),
            "{kind}: {alerts:?} {:?}",
            hook.bodies()
        );
    }
    assert_eq!(per_alert("printer_paper_out").len(), 1);
}
