//! The ESC/POS driver against the printer simulator over a real pseudo-terminal: the decoded
//! receipt is the intended one, diacritics included; paper running out in the middle of a job
//! reports the job failed, never printed; a printer that is off is reported as not answering;
//! a printer with its cover open gets no job at all; a PC437-only printer gets readable ASCII.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::escpos::sim::{Paper as SimPaper, PrinterSim, PrinterState};
use kiosk_agent::devices::printer::{
    Charset, EscPosPrinter, Paper, PrinterError, ReceiptContent, Transport, receipt,
};
use protocol::Lang;
use protocol::tracking::TrackingCode;

fn content(lang: Lang) -> ReceiptContent {
    ReceiptContent {
        city: "Statutární město Ostrava".into(),
        service: match lang {
            Lang::Uk => "Паркувальна картка мешканця".into(),
            _ => "Rezidentní parkovací karta".into(),
        },
        // 23 November 2026 19:34 UTC = 20:34 in Ostrava.
        created_at: 1_795_462_440_000,
        kiosk: "Nová radnice, přízemí".into(),
        code: TrackingCode::from_parts(1, 0x1234).unwrap(),
        status_base: "https://fleet.ostrava.cz".into(),
        lang,
    }
}

fn open(sim: &PrinterSim) -> EscPosPrinter {
    let transport = Transport::Serial {
        path: sim.path().to_owned(),
        baud: 115_200,
    };
    EscPosPrinter::open(
        &transport,
        Duration::from_millis(500),
        Duration::from_secs(5),
    )
    .unwrap()
}

#[test]
fn a_czech_receipt_prints_as_intended() {
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    let mut printer = open(&sim);
    let job = receipt::encode(&content(Lang::Cs), Charset::Pc852).unwrap();
    let status = printer.print(&job).expect("printed");
    assert!(status.is_good());
    assert!(sim.wait_for_jobs(1, Duration::from_secs(5)));
    let printed = &sim.jobs()[0];
    assert!(!printed.paper_ran_out);
    assert!(
        printed.receipt.warnings.is_empty(),
        "{:?}",
        printed.receipt.warnings
    );
    let tracking = TrackingCode::from_parts(1, 0x1234).unwrap();
    let code = tracking.to_string();
    let expected = format!(
        "Statutární město Ostrava\nPotvrzení o podání žádosti\n\nSlužba: Rezidentní parkovací karta\n\
         Podáno: 23. 11. 2026 20:34\nKiosek: Nová radnice, přízemí\n\nKód vaší žádosti\n{code}\n\
         [QR] https://fleet.ostrava.cz/s/{}\n\
         Stav žádosti zjistíte na kterémkoli kiosku\nzadáním kódu, nebo naskenujte QR kód.\n\n\n\n[CUT]\n",
        tracking.as_str()
    );
    assert_eq!(printed.receipt.to_text(), expected);
    // The QR code leads to the status page of the code printed above it, and no other.
    let qr = printed.receipt.qr_payloads();
    let linked = qr[0].rsplit('/').next().unwrap();
    assert_eq!(TrackingCode::parse(linked).unwrap(), tracking, "{qr:?}");
    let big = printed.receipt.lines().find(|l| l.text() == code).unwrap();
    assert_eq!(
        (big.spans[0].style.width, big.spans[0].style.height),
        (2, 2)
    );

    // Reprint gives the same paper again.
    printer.reprint().unwrap();
    assert!(sim.wait_for_jobs(2, Duration::from_secs(5)));
    assert_eq!(sim.jobs()[1].receipt.to_text(), expected);
}

#[test]
fn paper_out_in_the_middle_of_a_job_is_a_failed_job() {
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    let mut printer = open(&sim);
    sim.set_state(|s| s.paper_out_after = Some(150));
    let job = receipt::encode(&content(Lang::Cs), Charset::Pc852).unwrap();
    match printer.print(&job) {
        Err(PrinterError::JobFailed(s)) => assert_eq!(s.paper, Paper::Out),
        other => panic!("expected a failed job, got {other:?}"),
    }
    assert!(sim.wait_for_jobs(1, Duration::from_secs(5)));
    assert!(sim.jobs()[0].paper_ran_out);
    // With the roll changed, the next job prints.
    sim.set_state(|s| s.paper = SimPaper::Ok);
    printer
        .print(&job)
        .expect("printed after the paper was refilled");
}

#[test]
fn a_printer_that_is_off_does_not_answer() {
    let sim = PrinterSim::start(PrinterState {
        off: true,
        ..Default::default()
    })
    .unwrap();
    let mut printer = open(&sim);
    assert!(matches!(printer.status(), Err(PrinterError::NoAnswer(_))));
    let job = receipt::encode(&content(Lang::Cs), Charset::Pc852).unwrap();
    assert!(matches!(
        printer.print(&job),
        Err(PrinterError::NoAnswer(_))
    ));
    assert!(sim.jobs().is_empty());
    // Switched on again, it answers; a late reply from before is not mistaken for a new one.
    sim.set_state(|s| s.off = false);
    assert!(printer.status().unwrap().is_good());
}

#[test]
fn a_cover_open_gets_no_job() {
    let sim = PrinterSim::start(PrinterState {
        cover_open: true,
        ..Default::default()
    })
    .unwrap();
    let mut printer = open(&sim);
    let job = receipt::encode(&content(Lang::Cs), Charset::Pc852).unwrap();
    match printer.print(&job) {
        Err(PrinterError::NotReady(s)) => assert!(s.cover_open && !s.online),
        other => panic!("expected not ready, got {other:?}"),
    }
    assert_eq!(
        sim.bytes_received(),
        9,
        "only the three status requests were sent"
    );
    sim.set_state(|s| s.paper = SimPaper::NearEnd);
    sim.set_state(|s| s.cover_open = false);
    let s = printer.print(&job).expect("near end still prints");
    assert_eq!(s.paper, Paper::NearEnd);
}

#[test]
fn ukrainian_and_pc437_printers_get_readable_latin() {
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    let mut printer = open(&sim);
    printer
        .print(&receipt::encode(&content(Lang::Uk), Charset::Pc852).unwrap())
        .unwrap();
    printer
        .print(&receipt::encode(&content(Lang::Cs), Charset::Ascii).unwrap())
        .unwrap();
    assert!(sim.wait_for_jobs(2, Duration::from_secs(5)));
    let uk = sim.jobs()[0].receipt.to_text();
    assert!(
        uk.contains("Posluha: Parkuvalna kartka meshkantsia"),
        "{uk}"
    );
    assert!(
        uk.contains("Statutární město Ostrava"),
        "Czech stays Czech in PC852: {uk}"
    );
    let ascii = sim.jobs()[1].receipt.to_text();
    assert!(
        ascii.contains("Statutarni mesto Ostrava")
            && ascii.contains("Sluzba: Rezidentni parkovaci karta"),
        "{ascii}"
    );
    assert!(ascii.is_ascii(), "{ascii}");
}
