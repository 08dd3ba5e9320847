//! What `scripts/run-local.sh` gives a newcomer to try the technician's console: `console-pty`
//! joins two pseudo-terminals, the agent serves the console on one end, a terminal program on
//! the other signs in with the code `fleet-server console-code` prints (and that look is in the
//! audit log).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hw_tests::harness::{Agent, Fleet, TempDir, bin, demo_catalog};

fn expect(port: &mut dyn serialport::SerialPort, what: &str) -> String {
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        if let Ok(n) = port.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
            // Answer the console's cursor-position probe, as an ANSI terminal does.
            if seen.ends_with(b"\x1b[6n") {
                port.write_all(b"\x1b[24;80R").unwrap();
            }
        }
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains(what) {
            return text;
        }
        assert!(Instant::now() < end, "waited for {what:?}; got {text:?}");
    }
}

#[test]
fn a_newcomer_signs_in_through_the_null_modem() {
    let tmp = TempDir::new("null-modem");
    let mut cable = Cable(
        Command::new(bin("console-pty"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(cable.0.stdout.take().unwrap()).lines();
    let mut path = |side: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(&format!("{side} ")).unwrap().to_owned()
    };
    let (kiosk_end, technician_end) = (path("kiosk"), path("technician"));

    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("ostrava-01"),
        &format!("[console]\npath = \"{kiosk_end}\"\n"),
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));

    let mut port = serialport::new(&technician_end, 115_200)
        .timeout(Duration::from_millis(100))
        .open()
        .unwrap();
    port.write_all(b"\r").unwrap();
    expect(port.as_mut(), "Code: ");
    let out = fleet.command(&["console-code", "ostrava-01"]);
    let code = out.split_whitespace().next().unwrap().to_owned();
    assert_eq!(code.len(), 6, "{out}");
    port.write_all(format!("{code}\r").as_bytes()).unwrap();
    expect(port.as_mut(), "okenko> ");
    port.write_all(b"status\r").unwrap();
    let status = expect(port.as_mut(), "okenko> ");
    assert!(
        status.contains("agent") && status.contains("uptime"),
        "{status}"
    );
    assert!(
        fleet
            .admin_get("/api/admin/v1/audit?limit=20")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "kiosk.console_code" && e["actor"] == "cli"),
        "the look at the code is audited"
    );
}

/// The `console-pty` process, stopped when the test ends however it ends.
struct Cable(std::process::Child);

impl Drop for Cable {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
