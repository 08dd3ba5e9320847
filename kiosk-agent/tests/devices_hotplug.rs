//! Devices as the running agent watches them, against simulators: the touchscreen's recorded
//! event stream (through a FIFO standing in for the evdev node) becomes touches and health; a
//! touchscreen unplugged and plugged back is reopened; a keyboard-wedge card reader's keystrokes
//! become a card only when one is asked for; a printer that runs out of paper, is unplugged and
//! comes back produces one state-change event each, which the app reads by long poll; a USB
//! printer-class node prints like a serial printer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use agent_client::Client;
use common::{TestDir, serve_watched};
use hw_tests::escpos::sim::{Paper as SimPaper, PrinterSim, PrinterState};
use hw_tests::touchsim::{InputFifo, Recording};
use protocol::app::{
    DeviceEvent, DeviceKind, DeviceState, DeviceStatus, RequestBody, ResponseBody, TouchPhase,
    TouchPoint,
};

fn client(socket: &Path) -> Client {
    Client::connect(socket, Duration::from_secs(40)).unwrap()
}

fn device(c: &mut Client, kind: DeviceKind) -> DeviceStatus {
    match c.call(RequestBody::Devices).unwrap() {
        ResponseBody::Devices { devices } => {
            devices.into_iter().find(|d| d.device == kind).unwrap()
        }
        other => panic!("{other:?}"),
    }
}

/// Reads device events after `*after` until one for `kind` has `state`; returns it.
fn wait_event(
    c: &mut Client,
    after: &mut u64,
    kind: DeviceKind,
    state: DeviceState,
) -> DeviceEvent {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        let ResponseBody::DeviceEvents { events, last } = c
            .call(RequestBody::DeviceEvents {
                after: *after,
                wait_ms: 2_000,
            })
            .unwrap()
        else {
            panic!("not device events");
        };
        *after = last;
        if let Some(e) = events
            .into_iter()
            .find(|e| e.status.device == kind && e.status.state == state)
        {
            return e;
        }
    }
    panic!("no {kind:?} event with state {state:?}");
}

fn touches(c: &mut Client, after: &mut u64, n: usize) -> Vec<TouchPoint> {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(20);
    while got.len() < n && Instant::now() < end {
        match c
            .call(RequestBody::TouchEvents {
                after: *after,
                wait_ms: 2_000,
            })
            .unwrap()
        {
            ResponseBody::TouchEvents { events, last } => {
                *after = last;
                got.extend(events);
            }
            other => panic!("{other:?}"),
        }
    }
    got
}

#[test]
fn touchscreen_stream_becomes_touches_health_and_survives_replugging() {
    let dir = TestDir::new("touch");
    let mut fifo = InputFifo::create(&dir.0.join("touch")).unwrap();
    let (_agent, socket, _served) = serve_watched(
        &dir.0,
        &format!("[touchscreen]\npath = \"{}\"\n", fifo.path().display()),
    );
    let mut c = client(&socket);
    let mut seen = 0;

    fifo.send(Recording::new().corners()).unwrap();
    let t = touches(&mut c, &mut seen, 8);
    let downs: Vec<(u16, u16)> = t
        .iter()
        .filter(|t| t.phase == TouchPhase::Down)
        .map(|t| (t.x, t.y))
        .collect();
    assert_eq!(t.len(), 8, "4 taps, down and up: {t:?}");
    let corner = |(x, y): (u16, u16)| (x > 5_000, y > 5_000);
    assert_eq!(
        downs.iter().copied().map(corner).collect::<Vec<_>>(),
        vec![(false, false), (true, false), (true, true), (false, true)],
        "{downs:?}"
    );
    assert!(downs.iter().all(|(x, y)| {
        let edge = |v: &u16| *v < 300 || *v > 9_700;
        edge(x) && edge(y)
    }));
    let health = device(&mut c, DeviceKind::Touchscreen);
    assert_eq!(health.state, DeviceState::Ok);
    assert_eq!(health.events_per_minute, Some(4));
    assert!(health.last_event_at.is_some());

    // Unplugged: the device goes missing, and is reopened when it comes back.
    let mut events = 0;
    fifo.unplug();
    wait_event(
        &mut c,
        &mut events,
        DeviceKind::Touchscreen,
        DeviceState::Missing,
    );
    fifo.send(Recording::new().tap(2048, 2048, 50)).unwrap();
    wait_event(
        &mut c,
        &mut events,
        DeviceKind::Touchscreen,
        DeviceState::Ok,
    );
    let t = touches(&mut c, &mut seen, 2);
    assert_eq!(t.len(), 2);
    assert!(t[0].seq > 8, "numbering goes on across reconnects");
    assert!((4_900..5_100).contains(&t[0].x));
}

#[test]
fn keyboard_wedge_cards_count_only_when_asked_for() {
    let dir = TestDir::new("wedge");
    let key = dir.0.join("card.key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let mut fifo = InputFifo::create(&dir.0.join("wedge")).unwrap();
    let (agent, socket, _served) = serve_watched(
        &dir.0,
        &format!(
            "[card_reader]\nkind = \"keyboard\"\npath = \"{}\"\nkey_file = \"{}\"\n",
            fifo.path().display(),
            key.display()
        ),
    );
    let mut c = client(&socket);

    // A card swiped while nobody asks is not used later.
    fifo.send(Recording::new().typed_line(";4111111111111111=2812101?"))
        .unwrap();
    let t0 = Instant::now();
    while device(&mut c, DeviceKind::CardReader)
        .last_event_at
        .is_none()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the reader never read"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        c.call(RequestBody::ReadCard { timeout_ms: 300 }).unwrap(),
        ResponseBody::NoCard
    );

    // Garbage (a line that is no card, a key the decoder does not know), then the card.
    let reader = std::thread::spawn(move || {
        client(&socket)
            .call(RequestBody::ReadCard { timeout_ms: 10_000 })
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut rec = Recording::new();
    rec.typed_line("hello")
        .event(1, 125, 1)
        .report(2)
        .typed_line("");
    rec.typed_line("%B5555444433332222^NOVAKOVA/EVA^2812101000?");
    fifo.send(&rec).unwrap();
    match reader.join().unwrap() {
        ResponseBody::Card { identity, masked } => {
            assert!(
                identity.starts_with("card-"),
                "a token, not the card's hash"
            );
            assert!(masked.ends_with("2222") && !masked.contains("5555444433"));
        }
        other => panic!("{other:?}"),
    }
    // Grabbed for the agent only: nothing of the card reached anyone else, and its health
    // counts the card.
    let reader = agent.devices.card_reader.as_ref().unwrap().status();
    assert_eq!(reader.state, DeviceState::Ok);
    assert_eq!(reader.events_per_minute, Some(1));
}

#[test]
fn printer_state_changes_are_events_and_a_replugged_printer_is_reopened() {
    let dir = TestDir::new("printer-hotplug");
    let link = dir.0.join("printer");
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    std::os::unix::fs::symlink(sim.path(), &link).unwrap();
    let (_agent, socket, _served) = serve_watched(
        &dir.0,
        &format!(
            "[printer]\npath = \"{}\"\nstatus_timeout_ms = 300\n",
            link.display()
        ),
    );
    let mut c = client(&socket);
    let mut after = 0;
    wait_event(&mut c, &mut after, DeviceKind::Printer, DeviceState::Ok);

    sim.set_state(|s| s.paper = SimPaper::NearEnd);
    let e = wait_event(
        &mut c,
        &mut after,
        DeviceKind::Printer,
        DeviceState::Warning,
    );
    assert!(e.status.detail.unwrap().contains("near"));
    sim.set_state(|s| s.paper = SimPaper::Out);
    wait_event(&mut c, &mut after, DeviceKind::Printer, DeviceState::Fault);

    // Unplugged: the pty goes away; a new printer appears under the same name.
    drop(sim);
    std::fs::remove_file(&link).unwrap();
    wait_event(
        &mut c,
        &mut after,
        DeviceKind::Printer,
        DeviceState::Missing,
    );
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    std::os::unix::fs::symlink(sim.path(), &link).unwrap();
    let back = wait_event(&mut c, &mut after, DeviceKind::Printer, DeviceState::Ok);
    assert!(back.seq > 3);

    // With nothing changing, a long poll returns empty after its wait.
    let t0 = Instant::now();
    let ResponseBody::DeviceEvents { events, last } = c
        .call(RequestBody::DeviceEvents {
            after,
            wait_ms: 300,
        })
        .unwrap()
    else {
        panic!()
    };
    assert!(events.is_empty() && last == after);
    assert!(t0.elapsed() >= Duration::from_millis(250));
}

#[test]
fn a_usb_printer_class_node_prints_and_reports_like_a_serial_one() {
    use kiosk_agent::devices::printer::{EscPosPrinter, PrinterError, Transport};
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    let usb = Transport::UsbLp {
        path: sim.path().to_owned(),
    };
    let mut p =
        EscPosPrinter::open(&usb, Duration::from_millis(500), Duration::from_secs(5)).unwrap();
    let job = b"\x1b@Tisk p\xf8es USB\n\x1dV\x00".to_vec();
    p.print(&job).unwrap();
    assert!(sim.wait_for_jobs(1, Duration::from_secs(5)));
    let printed = &sim.jobs()[0];
    assert!(printed.receipt.to_text().contains("Tisk"));

    sim.set_state(|s| s.paper_out_after = Some(150));
    let long = kiosk_agent::devices::printer::receipt::encode(
        &hw_tests::harness::sample_receipt(),
        kiosk_agent::devices::printer::Charset::Pc852,
    )
    .unwrap();
    match p.print(&long) {
        Err(PrinterError::JobFailed(_)) => {}
        other => panic!("paper ran out mid-job: {other:?}"),
    }
    sim.set_state(|s| {
        s.paper = SimPaper::Ok;
        s.paper_out_after = None;
        s.off = true;
    });
    let t0 = Instant::now();
    assert!(matches!(p.status(), Err(PrinterError::NoAnswer(_))));
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "the time-out was honoured"
    );
    // Detection: a path under /dev/usb is a USB node, anything else serial.
    assert!(matches!(
        Transport::detect("/dev/usb/lp0".into(), 9600),
        Transport::UsbLp { .. }
    ));
    assert!(matches!(
        Transport::detect(sim.path().to_owned(), 9600),
        Transport::Serial { .. }
    ));
}
