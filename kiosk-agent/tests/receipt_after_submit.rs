//! The kiosk path through the socket: submit, then print the receipt on the (simulated) printer.
//! Without paper, or without a printer, the submission stands and the app is told to show the
//! code large instead; codes this kiosk did not issue print nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use std::time::Duration;

use agent_client::{Client, ClientError};
use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};
use protocol::app::{DeviceKind, DeviceState, ErrorCode, RequestBody, ResponseBody};

fn submit(client: &mut Client) -> protocol::tracking::TrackingCode {
    match client
        .call(RequestBody::Submit(common::sample_submission(1)))
        .unwrap()
    {
        ResponseBody::Submitted(ack) => ack.tracking_code,
        other => panic!("{other:?}"),
    }
}

fn printer_state(client: &mut Client) -> DeviceState {
    let ResponseBody::Devices { devices } = client.call(RequestBody::Devices).unwrap() else {
        panic!()
    };
    devices
        .iter()
        .find(|d| d.device == DeviceKind::Printer)
        .unwrap()
        .state
}

#[test]
fn submit_then_print_the_receipt() {
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    let dir = common::TestDir::new("receipt");
    let extra = format!(
        "[printer]\npath = \"{}\"\nstatus_timeout_ms = 500\n[receipt]\nheader = \"Statutární město Ostrava\"\nstatus_url_base = \"https://fleet.ostrava.cz\"\n",
        sim.path().display()
    );
    let (_agent, socket, _served) = common::serve_with(&dir.0, &extra);
    let mut client = Client::connect(&socket, Duration::from_secs(30)).unwrap();

    let code = submit(&mut client);
    match client
        .call(RequestBody::PrintReceipt {
            tracking_code: code.to_string(),
        })
        .unwrap()
    {
        ResponseBody::Printed { printer } => assert_eq!(printer.state, DeviceState::Ok),
        other => panic!("{other:?}"),
    }
    assert!(sim.wait_for_jobs(1, Duration::from_secs(5)));
    let text = sim.jobs()[0].receipt.to_text();
    assert!(
        text.starts_with("Statutární město Ostrava\nPotvrzení o podání žádosti\n"),
        "{text}"
    );
    assert!(text.contains("Služba: Podnět nebo stížnost"), "{text}");
    assert!(text.contains("Kiosek: Test"), "{text}");
    assert!(text.contains(&code.to_string()), "{text}");
    assert_eq!(
        sim.jobs()[0].receipt.qr_payloads(),
        vec![format!("https://fleet.ostrava.cz/s/{}", code.as_str())]
    );
    assert_eq!(printer_state(&mut client), DeviceState::Ok);

    // Paper out: the submission stands, the app is told, the state says why.
    sim.set_state(|s| s.paper = Paper::Out);
    let code2 = submit(&mut client);
    match client.call(RequestBody::PrintReceipt {
        tracking_code: code2.to_string(),
    }) {
        Err(ClientError::Agent(e)) => {
            assert_eq!(e.code, ErrorCode::PrinterUnavailable);
            assert!(e.message.contains("paper out"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(printer_state(&mut client), DeviceState::Fault);
    assert_eq!(
        sim.jobs().len(),
        1,
        "nothing was sent to a printer without paper"
    );

    // A code this kiosk did not issue prints nothing.
    let foreign = protocol::tracking::TrackingCode::from_parts(8, 5).unwrap();
    match client.call(RequestBody::PrintReceipt {
        tracking_code: foreign.to_string(),
    }) {
        Err(ClientError::Agent(e)) => assert_eq!(e.code, ErrorCode::NotFound),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_printer_the_app_is_told_to_show_the_code() {
    let dir = common::TestDir::new("noprinter");
    let (_agent, socket, _served) = common::serve(&dir.0);
    let mut client = Client::connect(&socket, Duration::from_secs(30)).unwrap();
    let code = submit(&mut client);
    match client.call(RequestBody::PrintReceipt {
        tracking_code: code.to_string(),
    }) {
        Err(ClientError::Agent(e)) => assert_eq!(e.code, ErrorCode::PrinterUnavailable),
        other => panic!("{other:?}"),
    }
    assert_eq!(printer_state(&mut client), DeviceState::NotConfigured);
}
