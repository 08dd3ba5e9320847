//! Regression: `kioskctl … | head` panicked ("failed printing to stdout: Broken pipe") when the
//! reader closed the pipe. It must end quietly instead.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly
#![allow(clippy::disallowed_methods)] // the test starts the program it tests

mod common;

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_kioskctl_quietly() {
    let dir = common::TestDir::new("pipe");
    let (_agent, socket, _served) = common::serve(&dir.0);
    for cmd in ["catalog", "info", "devices"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kioskctl"))
            .arg("--socket")
            .arg(&socket)
            .arg(cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before anything is printed
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{cmd}: {stderr}");
        assert!(out.status.success(), "{cmd}: {:?} {stderr}", out.status);
    }
}
