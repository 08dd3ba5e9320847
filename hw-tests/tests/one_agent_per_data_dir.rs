//! A second `kiosk-agent` on the same data directory refuses to start with a clear error while
//! the first holds it; the first keeps its socket and still stops promptly on SIGTERM; once it
//! is gone, an agent starts there again (a crashed agent leaves no stale lock).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hw_tests::harness::{Agent, TempDir, bin, wait_until};
use protocol::app::{RequestBody, ResponseBody};

#[test]
fn a_second_agent_on_one_data_directory_refuses_to_start() {
    let tmp = TempDir::new("one-agent");
    let dir = tmp.path().join("agent");
    // No fleet is needed: the agent works offline.
    let mut first = Agent::start(&dir, "http://127.0.0.1:9", "t", "");
    let first_pid = first.pid().unwrap();

    let second = Command::new(bin("kiosk-agent"))
        .arg("--config")
        .arg(dir.join("agent.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = second.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the second agent must not run: {err}"
    );
    assert!(
        err.contains("already running") && err.contains(&first_pid.to_string()),
        "the error names the holder: {err}"
    );

    // The first still owns its socket.
    let mut c = first.client().expect("the first agent's socket answers");
    assert!(matches!(
        c.call(RequestBody::KioskInfo),
        Ok(ResponseBody::KioskInfo(_))
    ));

    // And stops on SIGTERM as a lone agent does.
    let t = Instant::now();
    first.stop();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());

    // A killed agent leaves no stale lock: the kernel drops it with the process.
    let mut again = Agent::start(&dir, "http://127.0.0.1:9", "t", "");
    again.kill();
    let third = Agent::start(&dir, "http://127.0.0.1:9", "t", "");
    assert!(wait_until(Duration::from_secs(5), || third
        .client()
        .is_some()));
}
