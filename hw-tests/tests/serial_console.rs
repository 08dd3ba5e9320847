//! The technician's serial console over a real pseudo-terminal, scripted expect-style: the agent
//! serves `[console]` on the pty's slave side, the test is the technician's terminal on the
//! master side. Sign-in with the kiosk's one-time code (computed as the fleet's dashboard does,
//! from the credential hash the fleet stores), every command against the simulated printer,
//! card reader and touchscreen, line editing, history and Tab completion, `logs -f` stopped with
//! Ctrl-C, a line of random bytes and a 1 MB line, the idle time-out, a dumb terminal, and the
//! lock after five wrong codes that holds even for the right one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use hw_tests::cardsim::{CardReaderSim, SimFraming};
use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog};
use hw_tests::touchsim::{InputFifo, Recording};
use serialport::{SerialPort, TTYPort};

/// The technician's end of the line.
struct Terminal {
    master: TTYPort,
    /// Everything received since the last `expect` matched.
    seen: Vec<u8>,
    /// Answer the console's cursor-position query (an ANSI terminal) or not (a dumb one).
    ansi: bool,
}

impl Terminal {
    /// Writes `bytes`, draining the echo meanwhile so that a long line never fills the pty
    /// both ways. A write that times out (the agent is slow to read, on a loaded machine) is
    /// tried again; only a console that reads nothing for a minute fails the test.
    fn send(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        let mut stalled_since = Instant::now();
        while !rest.is_empty() {
            match self.master.write(&rest[..rest.len().min(4096)]) {
                Ok(n) => {
                    rest = &rest[n..];
                    stalled_since = Instant::now();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    assert!(
                        stalled_since.elapsed() < Duration::from_secs(60),
                        "the console read nothing for a minute"
                    );
                }
                Err(e) => panic!("writing to the console: {e}"),
            }
            self.pump();
        }
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.master.read(&mut buf) {
            if n == 0 {
                break;
            }
            self.seen.extend_from_slice(&buf[..n]);
            if self.ansi && self.seen.ends_with(b"\x1b[6n") {
                self.master.write_all(b"\x1b[24;80R").unwrap();
            }
        }
    }

    /// Waits until `what` arrives; returns the text up to and including it.
    fn expect(&mut self, what: &str) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            self.pump();
            let text = String::from_utf8_lossy(&self.seen).into_owned();
            if let Some(i) = text.find(what) {
                let upto = i + what.len();
                let got = text[..upto].to_owned();
                self.seen = text.as_bytes()[upto..].to_vec();
                return got;
            }
            assert!(
                Instant::now() < end,
                "waited 30 s for {what:?}; the console said: {text:?}"
            );
        }
    }

    /// Runs a command at the prompt; its output up to the next prompt.
    fn run(&mut self, line: &str) -> String {
        self.send(format!("{line}\r").as_bytes());
        self.expect("okenko> ")
    }
}

fn code(fleet: &Fleet, kiosk: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    protocol::totp::code(&fleet.console_secret(kiosk), now).0
}

#[test]
fn a_technician_signs_in_and_works_every_command_over_a_pty() {
    let tmp = TempDir::new("console");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let reader = CardReaderSim::start(SimFraming::StxEtx).unwrap();
    let key = tmp.path().join("card-key");
    std::fs::write(&key, "deployment-secret-key-0123456789\n").unwrap();
    let mut fifo = InputFifo::create(&tmp.path().join("touch")).unwrap();
    let (mut master, slave) = TTYPort::pair().unwrap();
    master.set_timeout(Duration::from_millis(50)).unwrap();
    let restarted = tmp.path().join("restarted");
    let rebooted = tmp.path().join("rebooted");
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("ostrava-09"),
        &format!(
            "heartbeat_interval_s = 1\n[printer]\npath = \"{}\"\n\
             [card_reader]\npath = \"{}\"\nkey_file = \"{}\"\n\
             [touchscreen]\npath = \"{}\"\n\
             [commands]\nrestart_app = [\"sh\", \"-c\", \"echo restarted > {}\"]\n\
             reboot = [\"sh\", \"-c\", \"echo rebooted > {}\"]\n\
             [console]\npath = \"{}\"\nidle_timeout_s = 3\n",
            printer.path().display(),
            reader.path().display(),
            key.display(),
            fifo.path().display(),
            restarted.display(),
            rebooted.display(),
            slave.name().unwrap(),
        ),
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    let mut t = Terminal {
        master,
        seen: Vec::new(),
        ansi: true,
    };

    // A key wakes the console; a wrong code, then the right one.
    t.send(b"\r");
    let banner = t.expect("Code: ");
    assert!(banner.contains("ostrava-09"), "{banner:?}");
    let right = code(&fleet, "ostrava-09");
    let wrong: String = right
        .chars()
        .map(|c| char::from(b'0' + (c as u8 - b'0' + 5) % 10))
        .collect();
    t.send(format!("{wrong}\r").as_bytes());
    let echo = t.expect("Wrong code.");
    assert!(
        echo.contains("******") && !echo.contains(&wrong),
        "{echo:?}"
    );
    t.expect("Code: ");
    t.send(format!("{right}\r").as_bytes());
    t.expect("Signed in.");
    t.expect("okenko> ");

    let help = t.run("help");
    for c in [
        "status",
        "printer test",
        "card read",
        "logs [-n N] [-f]",
        "selftest",
    ] {
        assert!(help.contains(c), "{c} in {help:?}");
    }
    let status = t.run("status");
    for w in [
        "agent",
        "boot slot",
        "fleet",
        "connected",
        "heartbeat",
        "outbox     0 waiting",
    ] {
        assert!(status.contains(w), "{w} in {status:?}");
    }
    let devices = t.run("devices");
    for w in ["printer", "card reader", "touchscreen"] {
        assert!(devices.contains(w), "{w} in {devices:?}");
    }
    // States in words, not Rust's enum names.
    assert!(devices.contains(" ok"), "{devices:?}");
    for name in ["Ok", "NotConfigured", "Missing", "CardReader"] {
        assert!(
            !devices.split_whitespace().any(|w| w == name),
            "{name} in {devices:?}"
        );
    }
    assert!(t.run("printer status").contains("printer ok"));
    assert!(t.run("printer test").contains("test receipt printed"));
    assert!(printer.wait_for_jobs(1, Duration::from_secs(10)));
    assert!(t.run("printer feed").contains("fed 5 lines"));

    // A card, shown masked.
    t.send(b"card read\r");
    t.expect("present a card");
    reader
        .present("%B4111111111111111^DVORAKOVA/ZOFIE^2512101000000000000?")
        .unwrap();
    let card = t.expect("okenko> ");
    assert!(card.contains("card ••••••••••••1111"), "{card:?}");
    assert!(!card.contains("4111111111111111") && !card.contains("DVORAKOVA"));

    // Taps stream with their coordinates until Ctrl-C.
    t.send(b"touch test\r");
    t.expect("Ctrl-C stops");
    fifo.send(Recording::new().tap(2048, 1024, 50)).unwrap();
    let taps = t.expect("up slot 0");
    assert!(taps.contains("down slot 0 at"), "{taps:?}");
    t.send(b"\x03");
    t.expect("stopped");
    t.expect("okenko> ");

    let net = t.run("net");
    for w in [
        "links",
        "addresses",
        "dns",
        "resolve    127.0.0.1",
        "reachable, answered in",
        "time",
    ] {
        assert!(net.contains(w), "{w} in {net:?}");
    }
    let logs = t.run("logs -n 5");
    assert!(logs.lines().count() >= 5, "{logs:?}");
    assert!(t.run("logs -n 0").contains("-n takes 1 to 2000"));

    // `logs -f` follows until Ctrl-C.
    t.send(b"logs -f\r");
    std::thread::sleep(Duration::from_millis(1500));
    t.send(b"\x03");
    t.expect("okenko> ");

    assert!(
        t.run("update status")
            .contains("updates are not configured on this kiosk")
    );
    t.run("app restart");
    assert!(restarted.exists(), "the configured program ran");
    t.send(b"reboot\r");
    t.expect("[y/N] ");
    assert!(t.run("n").contains("not rebooted"));
    assert!(!rebooted.exists());
    t.send(b"reboot\r");
    t.expect("[y/N] ");
    assert!(t.run("y").contains("rebooting"));
    assert!(rebooted.exists(), "the configured reboot program ran");
    assert!(t.run("term dumb").contains("plain text"));
    let r = t.run("status");
    assert!(!r.contains('\x1b'), "no escape sequences: {r:?}");
    assert!(t.run("term ansi").contains("line editing on"));
    let selftest = t.run("selftest");
    assert!(
        selftest.contains("PASS printer") && selftest.contains("self-test"),
        "{selftest:?}"
    );

    // Tab completes, ↑ repeats, ← edits.
    let r = t.run("upd\t status");
    assert!(r.contains("updates are not configured"), "{r:?}");
    let r = t.run("\x1b[A");
    assert!(r.contains("updates are not configured"), "{r:?}");
    let r = t.run("devies\x1b[D\x1b[Dc");
    assert!(r.contains("touchscreen"), "{r:?}");
    assert!(t.run("frobnicate").contains("unknown command"));

    // Random bytes, then a 1 MB line: answered, and the console still works.
    let mut x: u32 = 99;
    let noise: Vec<u8> = (0..4000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .filter(|b| !matches!(b, b'\r' | b'\n' | 3 | 4 | 0x1b))
        .collect();
    t.send(&noise);
    t.send(b"\r");
    t.expect("okenko> ");
    t.send(&vec![b'x'; 1 << 20]);
    t.send(b"\r");
    t.expect("Line ignored: too long.");
    t.expect("okenko> ");
    assert!(t.run("status").contains("agent"));

    // Quiet for longer than the idle time-out: signed out.
    t.expect("Session timed out.");

    // A dumb terminal (no answer to the cursor query) gets plain text; five wrong codes lock
    // the console, and then even the right code is refused.
    t.ansi = false;
    t.send(b"\r");
    t.expect("Code: ");
    for _ in 0..4 {
        t.send(format!("{wrong}\r").as_bytes());
        t.expect("Wrong code.");
        let prompt = t.expect("Code: ");
        assert!(!prompt.contains('\x1b'), "plain text: {prompt:?}");
    }
    t.send(format!("{wrong}\r").as_bytes());
    t.expect("Locked for 5 min.");
    t.send(b"\r");
    t.expect("try again in 5 min");
    t.send(format!("{}\r", code(&fleet, "ostrava-09")).as_bytes());
    std::thread::sleep(Duration::from_millis(500));
    t.pump();
    assert!(
        !String::from_utf8_lossy(&t.seen).contains("Signed in"),
        "locked: {:?}",
        String::from_utf8_lossy(&t.seen)
    );
    // The fleet's audit log has the console's sessions, codes and commands.
    let audit = |what: &str| {
        fleet
            .admin_get("/api/admin/v1/audit?limit=500")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .any(|e| {
                e["actor"] == "console@ostrava-09"
                    && e["action"] == "kiosk.console"
                    && e["detail"] == format!("reported by the kiosk: {what}")
            })
    };
    for what in [
        "session opened",
        "wrong code",
        "command: printer test",
        "session closed (idle time-out)",
        "locked for 5 min after 5 wrong codes",
    ] {
        assert!(
            hw_tests::harness::wait_until(Duration::from_secs(20), || audit(what)),
            "{what} in the fleet's audit log"
        );
    }
    // Restarting the agent (a power cut) does not lift the lock.
    let mut agent = agent;
    agent.restart();
    assert!(agent.wait_ready(Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(1));
    t.pump();
    t.seen.clear();
    t.send(b"\r");
    t.expect("try again in 5 min");
    let log = agent.log();
    assert!(log.contains("console session opened") && log.contains("console command"));
    assert!(log.contains("console locked"));
    drop(slave);
}

/// A one-time code works once, also across a restart of the agent (or a power cut): the last
/// used step is kept in the agent's database.
#[test]
fn a_used_code_stays_spent_after_a_restart() {
    let tmp = TempDir::new("console-replay");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let (mut master, slave) = TTYPort::pair().unwrap();
    master.set_timeout(Duration::from_millis(50)).unwrap();
    let mut agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("ostrava-11"),
        &format!(
            "[console]\npath = \"{}\"\nidle_timeout_s = 30\n",
            slave.name().unwrap()
        ),
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    let mut t = Terminal {
        master,
        seen: Vec::new(),
        ansi: true,
    };
    t.send(b"\r");
    t.expect("Code: ");
    let used = code(&fleet, "ostrava-11");
    t.send(format!("{used}\r").as_bytes());
    t.expect("okenko> ");
    t.send(b"exit\r");
    std::thread::sleep(Duration::from_millis(300));
    agent.kill();
    agent.restart();
    assert!(agent.wait_ready(Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(1));
    t.pump();
    t.seen.clear();
    t.send(b"\r");
    t.expect("Code: ");
    t.send(format!("{used}\r").as_bytes());
    t.expect("Wrong code.");
    drop(slave);
}
