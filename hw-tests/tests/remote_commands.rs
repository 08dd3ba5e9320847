//! Remote commands end to end, with real processes on 127.0.0.1: staff queue commands for a
//! kiosk, the next heartbeat reply carries them, the agent runs each once and reports back:
//! a test receipt comes out of the simulated printer, the last log lines arrive (without the
//! citizen's data), the self-test reports each device, "restart app" runs the configured program,
//! and "reboot" is refused where no program is configured.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, http_client, sample_submission, submit, wait_until,
};
use serde_json::{Value, json};

struct Admin {
    rt: tokio::runtime::Runtime,
    url: String,
    token: String,
}

impl Admin {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.rt.block_on(async {
            let http = http_client();
            let url = format!("{}{path}", self.url);
            let req = match method {
                "POST" => http.post(url).json(&body.unwrap_or(Value::Null)),
                _ => http.get(url),
            };
            let r = req.bearer_auth(&self.token).send().await.unwrap();
            (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
        })
    }

    fn cancel(&self, id: i64) -> u16 {
        self.call(
            "POST",
            &format!("/api/admin/v1/kiosks/ostrava-03/commands/{id}/cancel"),
            Some(json!({ "by": "novak" })),
        )
        .0
    }

    fn queue(&self, action: Value) -> i64 {
        let (s, r) = self.call(
            "POST",
            "/api/admin/v1/kiosks/ostrava-03/commands",
            Some(json!({ "action": action, "by": "novak" })),
        );
        assert_eq!(s, 200, "{r}");
        r["id"].as_i64().unwrap()
    }

    /// Waits for command `id`'s result.
    fn result(&self, id: i64) -> Value {
        let mut found = Value::Null;
        let done = wait_until(Duration::from_secs(30), || {
            let (_, list) = self.call("GET", "/api/admin/v1/kiosks/ostrava-03/commands", None);
            found = list
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .cloned()
                .unwrap_or(Value::Null);
            found["finished_at"].is_i64()
        });
        assert!(done, "command {id} never finished: {found}");
        found
    }
}

#[test]
fn commands_reach_the_kiosk_run_once_and_report_back() {
    let tmp = TempDir::new("commands");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let marker_file = tmp.path().join("restarted");
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("ostrava-03"),
        &format!(
            "heartbeat_interval_s = 1\n[printer]\npath = \"{}\"\n[commands]\n\
             restart_app = [\"sh\", \"-c\", \"echo restarted >> {}\"]\n",
            printer.path().display(),
            marker_file.display()
        ),
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    let admin = Admin {
        rt: tokio::runtime::Runtime::new().unwrap(),
        url: fleet.url(),
        token: fleet.admin_token.clone(),
    };
    // A citizen's submission: its values must never appear in what the kiosk uploads.
    submit(
        &agent,
        &sample_submission(uuid::Uuid::new_v4(), "private-marker-77"),
    )
    .unwrap();

    let print = admin.queue(json!({ "kind": "print_test_receipt" }));
    let r = admin.result(print);
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["output"]
            .as_str()
            .unwrap()
            .contains("test receipt printed"),
        "{r}"
    );
    assert_eq!(r["issued_by"], "novak");
    assert!(r["delivered_at"].is_i64());
    assert!(printer.wait_for_jobs(1, Duration::from_secs(10)));
    assert!(
        printer
            .jobs()
            .iter()
            .any(|j| j.receipt.to_text().contains("Test print")),
        "the test receipt came out"
    );

    let logs = admin.queue(json!({ "kind": "upload_logs", "lines": 40 }));
    let r = admin.result(logs);
    assert_eq!(r["ok"], true);
    let text = r["output"].as_str().unwrap();
    let lines = text.lines().count();
    assert!((1..=40).contains(&lines), "{lines} lines");
    assert!(text.contains("running a fleet command"), "{text}");
    assert!(
        !text.contains("private-marker-77"),
        "no citizen's data in the logs"
    );

    let test = admin.queue(json!({ "kind": "self_test" }));
    let r = admin.result(test);
    let report = r["output"].as_str().unwrap();
    assert!(report.contains("PASS printer: ok"), "{report}");
    assert!(report.contains("PASS fleet: reachable"), "{report}");
    assert_eq!(r["ok"], true, "{report}");

    let restart = admin.queue(json!({ "kind": "restart_app" }));
    assert_eq!(admin.result(restart)["ok"], true);
    let reboot = admin.queue(json!({ "kind": "reboot" }));
    let r = admin.result(reboot);
    assert_eq!(r["ok"], false);
    assert!(
        r["output"].as_str().unwrap().contains("not configured"),
        "{r}"
    );
    // Several heartbeats later, each command ran once.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        std::fs::read_to_string(&marker_file).unwrap(),
        "restarted\n",
        "restart_app ran once"
    );
    assert_eq!(printer.jobs().len(), 1, "one test receipt");

    // Refused: a bad line count, an unknown action, an unknown kiosk.
    let (s, _) = admin.call(
        "POST",
        "/api/admin/v1/kiosks/ostrava-03/commands",
        Some(json!({ "action": { "kind": "upload_logs", "lines": 0 }, "by": "novak" })),
    );
    assert_eq!(s, 400);
    let (s, _) = admin.call(
        "POST",
        "/api/admin/v1/kiosks/ostrava-03/commands",
        Some(json!({ "action": { "kind": "format_disk" }, "by": "novak" })),
    );
    assert!(s == 400 || s == 422, "{s}");
    let (s, _) = admin.call(
        "POST",
        "/api/admin/v1/kiosks/nowhere/commands",
        Some(json!({ "action": { "kind": "self_test" }, "by": "novak" })),
    );
    assert_eq!(s, 404);
}

/// Fills the agent's in-memory log with `n` long lines: malformed requests on its socket, each
/// logged with the decoder's message (which names the unknown kind).
fn long_log_lines(agent: &Agent, n: usize) {
    use std::io::{Read, Write};
    let mut sock = std::os::unix::net::UnixStream::connect(&agent.socket).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for i in 0..n {
        let kind = format!("no-such-request-{i:05}-{}", "x".repeat(150));
        let body =
            json!({ "v": protocol::app::VERSION, "id": i, "body": { "type": kind } }).to_string();
        sock.write_all(&protocol::frame::encode(body.as_bytes()))
            .unwrap();
        let mut len = [0u8; 4];
        sock.read_exact(&mut len).unwrap();
        let mut reply = vec![0u8; u32::from_be_bytes(len) as usize];
        sock.read_exact(&mut reply).unwrap();
    }
}

/// 2000 log lines over the fleet's 256 KiB: the kiosk sends the newest lines that fit, marked as
/// cut, and its sync round goes on (later commands run); staff can cancel a command the kiosk
/// has not answered, and it is never delivered.
#[test]
fn a_long_log_upload_arrives_cut_and_never_stalls_the_kiosk() {
    let tmp = TempDir::new("long-logs");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let mut agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("ostrava-03"),
        "heartbeat_interval_s = 1\n",
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    let admin = Admin {
        rt: tokio::runtime::Runtime::new().unwrap(),
        url: fleet.url(),
        token: fleet.admin_token.clone(),
    };
    long_log_lines(&agent, 2100);

    let logs = admin.queue(json!({ "kind": "upload_logs", "lines": 2000 }));
    let r = admin.result(logs);
    assert_eq!(r["ok"], true, "{r}");
    let text = r["output"].as_str().unwrap();
    assert!(
        text.len() <= protocol::fleet::MAX_COMMAND_OUTPUT,
        "{}",
        text.len()
    );
    assert!(
        text.starts_with("[truncated: ") && text.lines().count() < 2000,
        "{}",
        &text[..200]
    );
    // The newest lines are the ones kept.
    assert!(
        text.contains("no-such-request-02099"),
        "the newest line is there: {}",
        &text[text.len().saturating_sub(1500)..]
    );
    assert!(
        !text.contains("no-such-request-00100-"),
        "the oldest are cut"
    );

    // The round goes on: a later command runs.
    let test = admin.queue(json!({ "kind": "self_test" }));
    assert!(admin.result(test)["output"].is_string());

    // A command queued while the kiosk is away can be cancelled and is never delivered.
    agent.stop();
    let reboot = admin.queue(json!({ "kind": "reboot" }));
    assert_eq!(admin.cancel(reboot), 204);
    assert_eq!(admin.cancel(reboot), 404, "only a pending command");
    agent.restart();
    let after = admin.queue(json!({ "kind": "self_test" }));
    admin.result(after);
    let (_, list) = admin.call("GET", "/api/admin/v1/kiosks/ostrava-03/commands", None);
    let cancelled = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == reboot)
        .cloned()
        .unwrap();
    assert_eq!(cancelled["ok"], false, "{cancelled}");
    assert_eq!(cancelled["output"], "cancelled by novak");
    assert!(cancelled["delivered_at"].is_null(), "{cancelled}");
    let log = admin.call("GET", "/api/admin/v1/audit?limit=50", None).1;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "command.cancel" && e["actor"] == "novak"),
        "{log}"
    );
}
