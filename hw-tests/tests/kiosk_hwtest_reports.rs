//! `kiosk-hwtest`: against the simulators it passes with a report in text and JSON; against
//! devices given by path it fails clearly when a printer has no paper, no card comes, or the
//! touchscreen is absent; a printer check that does not see the transitions it expects fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::process::Command;
use std::time::Duration;

use hw_tests::cardsim::{CardReaderSim, SimFraming};
use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};
use hw_tests::selftest;
use kiosk_agent::devices::printer::{Charset, Transport};

fn hwtest(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk-hwtest"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn against_the_simulators_everything_passes_in_text_and_json() {
    let (code, text) = hwtest(&[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("RESULT: PASS (3/3 passed)"), "{text}");
    assert!(
        text.contains("paper near end → offline, paper out"),
        "{text}"
    );

    let (code, json) = hwtest(&["--json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["mode"], "simulators");
    assert_eq!(report["passed"], true);
    let devices: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["printer", "card_reader", "touchscreen"]);
    assert!(!json.contains("04A1B2C3D4"), "card numbers are masked");
}

#[test]
fn real_device_failures_are_reported_and_fail_the_run() {
    let printer = PrinterSim::start(PrinterState {
        paper: Paper::Out,
        ..Default::default()
    })
    .unwrap();
    let reader = CardReaderSim::start(SimFraming::StxEtx).unwrap();
    let printer_path = printer.path().display().to_string();
    let reader_path = reader.path().display().to_string();
    let (code, json) = hwtest(&[
        "--json",
        "--printer",
        &printer_path,
        "--card-reader",
        &reader_path,
        "--touch",
        "/nonexistent/event9",
        "--timeout",
        "1",
    ]);
    assert_eq!(code, 1, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["mode"], "devices");
    let summary = |i: usize| report["checks"][i]["summary"].as_str().unwrap().to_owned();
    assert!(summary(0).contains("paper out"), "{}", summary(0));
    assert_eq!(summary(1), "no card within 1 s");
    assert!(summary(2).starts_with("cannot open /nonexistent/event9"));
    assert!(printer.jobs().is_empty(), "nothing printed without paper");

    let (code, _) = hwtest(&["--baud", "fast"]);
    assert_eq!(code, 2);
}

#[test]
fn a_printer_check_fails_when_an_expected_transition_is_not_reported() {
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    let t = Transport::Serial {
        path: sim.path().to_owned(),
        baud: 115_200,
    };
    let c = selftest::check_printer(
        &t,
        Charset::Pc852,
        Duration::from_millis(300),
        Some((Box::new(|| {}), vec!["ready", "paper near end"])),
    );
    assert!(!c.passed);
    assert!(c.summary.contains("paper near end"), "{}", c.summary);
}
