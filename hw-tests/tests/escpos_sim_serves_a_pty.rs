//! `escpos-sim serve` opens a pty, prints its path, and prints each job it receives as text.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn serve_prints_received_jobs() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_escpos-sim"))
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let path = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut port = serialport::new(path, 115_200)
        .timeout(Duration::from_secs(1))
        .open_native()
        .unwrap();
    port.write_all(b"\x1b@\x1bt\x12P\xfd\xa1klad\n\x1dV\x00")
        .unwrap();
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("[CUT]") {
        lines.push(
            rx.recv_timeout(Duration::from_secs(10))
                .expect("the job is printed"),
        );
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(lines, vec!["--- job 1 ---", "Příklad", "[CUT]"]);
}
