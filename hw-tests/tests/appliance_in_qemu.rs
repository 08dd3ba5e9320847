//! The appliance image, booted in QEMU as the kiosk's hardware (see `hw_tests::vm`), used as a
//! citizen and as a technician would, against a real fleet server on 127.0.0.1 over HTTPS.
//!
//! Needs the image (`image/build.sh`; `scripts/test.sh` builds it first) and QEMU 8.1 or later
//! (`scripts/setup.sh`). Boots under TCG take a minute or more, so the time-outs are generous.
//! A failed run keeps its directory under `target/vm-runs/` (screenshots, console transcript,
//! journal, QEMU's log, the fleet's log); `OKENKO_KEEP_VM_RUNS=1` keeps it after a pass too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::harness::wait_until;
use hw_tests::vm::{self, Vm};

#[path = "support/appliance.rs"]
mod appliance;
#[path = "support/tls.rs"]
mod tls;
use appliance::*;

const KIOSK: &str = "vm-01";

/// A kiosk with nothing provisioned: the technician types `enrol` on ttyS0. A wrong
/// fingerprint is refused and changes nothing; the right one provisions the kiosk, which
/// restarts its agent, enrols with its own credential and opens the console to the fleet's code.
#[test]
fn a_technician_enrols_a_kiosk_on_its_serial_console() {
    let mut run = RunDir::new("enrol");
    let dir = run.path.clone();
    let lab = lab(&dir);
    let disk = fresh_disk(&dir);
    let token = lab.fleet.token("vm-02");
    let pin = protocol::sha256_hex(tls::first_cert_der(&lab.ca_pem));
    let mut vm = Vm::start(&dir.join("vm"), &options(&lab, &disk)).unwrap();
    assert!(
        vm.wait_journal("serial console ready", BOOT),
        "the agent opens ttyS0; journal:\n{}",
        vm.journal()
    );

    vm.console_send("\r").unwrap();
    let banner = vm
        .console_expect(0, "enrol> ", Duration::from_secs(60))
        .unwrap();
    assert!(banner.contains("not provisioned"), "{banner}");
    let url = format!("https://{}", vm::FLEET_IP);
    // As a technician would: look at the network first (DHCP may still be on its way).
    assert!(
        wait_until(Duration::from_secs(120), || vm
            .console_command("net", "enrol> ", Duration::from_secs(30))
            .is_ok_and(|n| n.contains("10.0.2.15"))),
        "the kiosk has an address: {}",
        vm.console_seen
    );

    let wrong = "ab".repeat(32);
    let out = vm
        .console_command(
            &format!("enrol {url} {wrong} {token}"),
            "enrol> ",
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(
        out.contains("Not provisioned") && out.contains("fingerprint"),
        "{out}"
    );
    assert!(!heard_from(&lab.fleet, "vm-02"), "nothing enrolled");

    let from = vm.console_seen.len();
    vm.console_send(&format!("enrol {url} {pin} {token} {}\r", "a5".repeat(16)))
        .unwrap();
    let out = vm
        .console_expect(from, "restarts now", Duration::from_secs(60))
        .unwrap();
    assert!(out.contains("Provisioned."), "{out}");
    assert!(
        wait_until(Duration::from_secs(120), || heard_from(&lab.fleet, "vm-02")),
        "the kiosk enrolled after its agent restarted; journal:\n{}",
        vm.journal()
    );

    // Now the console wants the fleet's one-time code, and the kiosk is connected.
    let from = vm.console_seen.len();
    vm.console_send("\r").unwrap();
    vm.console_expect(from, "Code: ", Duration::from_secs(60))
        .unwrap();
    let code = console_code(&lab.fleet, "vm-02");
    vm.console_command(&code, "okenko> ", Duration::from_secs(30))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(90), || vm
            .console_command("status", "okenko> ", Duration::from_secs(30))
            .is_ok_and(|s| s.contains("(connected)"))),
        "{}",
        vm.console_seen
    );
    run.passed = true;
}

/// File provisioning, a citizen's submission with its receipt, the technician's console, a
/// crashed app, a printer that goes away, a power cut with the network down, and what the app
/// may touch: the whole kiosk in one VM, booted twice.
#[test]
fn a_citizen_and_a_technician_use_the_appliance() {
    let mut run = RunDir::new("citizen");
    let dir = run.path.clone();
    let lab = lab(&dir);
    let disk = fresh_disk(&dir);
    provision(&lab, &disk, KIOSK);
    let home = offscreen(&dir, "home");
    let mut vm = Vm::start(&dir.join("vm"), &options(&lab, &disk)).unwrap();

    // 1. Provisioned from the installer's file, enrolled; the home screen is the one the
    //    offscreen renderer draws.
    assert!(
        wait_until(BOOT, || heard_from(&lab.fleet, KIOSK)),
        "the kiosk enrolled; journal:\n{}",
        vm.journal()
    );
    assert!(
        wait_screen(&mut vm, &home, "0-home", BOOT),
        "the home screen; journal:\n{}",
        vm.journal()
    );
    let first_frame = vm.started.elapsed();
    eprintln!(
        "home screen {:.0} s after QEMU started",
        first_frame.as_secs_f64()
    );
    assert!(vm.wait_journal("serial console ready", Duration::from_secs(60)));

    // 2. A citizen taps through a service, types a Czech letter, submits: the receipt comes
    //    out of the host's printer simulator, the submission reaches the fleet.
    citizen_to_review(&mut vm, &keys_for(1), "a");
    tap(&mut vm, at::SUBMIT.0, at::SUBMIT.1, "a-6-done");
    assert!(
        lab.printer.wait_for_jobs(1, Duration::from_secs(90)),
        "a receipt was printed; journal:\n{}",
        vm.journal()
    );
    assert!(
        wait_until(Duration::from_secs(90), || stored(&lab, "díra č1 ve zdi")
            .len()
            == 1),
        "the fleet has the submission: {:?}",
        hw_tests::harness::fleet_rows(&lab.fleet)
    );
    let code = stored(&lab, "díra č1 ve zdi")[0].1.clone();
    let receipt = lab.printer.jobs()[0].receipt.to_text();
    assert!(receipt.contains(&code), "the receipt has {code}: {receipt}");

    // 2b. Audio mode on the image, started by the keypad's help key (`*`): the agent speaks
    //     (espeak-ng through ALSA) on the sound card, whose output QEMU writes to audio.wav.
    let wav = dir.join("vm/audio.wav");
    let before = std::fs::metadata(&wav).map_or(0, |m| m.len());
    let pressed = std::time::Instant::now();
    vm.key("kp_multiply").unwrap();
    assert!(
        wait_until(Duration::from_secs(90), || sound_after(&wav, before) > 0.2),
        "speech on the sound card after the help key; journal:\n{}",
        vm.journal()
    );
    let first = pressed.elapsed();
    // The help and the done screen are long: wait for the sound to stop growing.
    let mut heard = 0.0;
    while wait_until(Duration::from_secs(8), || {
        sound_after(&wav, before) > heard + 0.5
    }) {
        heard = sound_after(&wav, before);
    }
    eprintln!(
        "audio mode: sound {:.1} s after the key (TCG), {heard:.1} s of speech heard",
        first.as_secs_f64()
    );
    assert!(heard > 5.0, "the help was spoken: {heard:.1} s");
    // The keypad moves the focus ring (and says the next control).
    vm.key("kp_2").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    vm.screendump(&vm.dir().join("a-6-audio-focus.png"))
        .unwrap();
    tap(&mut vm, at::FINISH.0, at::FINISH.1, "a-7-home");

    // 3. The technician on ttyS0: the fleet's one-time code, status, devices, a test print,
    //    the network.
    console_sign_in(&mut vm, &lab.fleet, KIOSK);
    let status = vm
        .console_command("status", "okenko> ", Duration::from_secs(30))
        .unwrap();
    assert!(
        status.contains("read-only"),
        "the root is read-only: {status}"
    );
    assert!(status.contains("boot slot  A"), "{status}");
    assert!(status.contains("(connected)"), "{status}");
    let devices = vm
        .console_command("devices", "okenko> ", Duration::from_secs(30))
        .unwrap();
    assert!(devices.to_lowercase().contains("printer"), "{devices}");
    vm.console_command("printer test", "okenko> ", Duration::from_secs(60))
        .unwrap();
    assert!(
        lab.printer.wait_for_jobs(2, Duration::from_secs(30)),
        "test receipt"
    );
    let net = vm
        .console_command("net", "okenko> ", Duration::from_secs(60))
        .unwrap();
    assert!(net.contains("reachable, TLS handshake OK"), "{net}");
    // Nothing but the console ever wrote on ttyS0: no kernel or systemd messages in between.
    let transcript = std::fs::read_to_string(vm.dir().join("console.log")).unwrap_or_default();
    for noise in ["systemd", "kernel", "login:", "Started ", "[    "] {
        assert!(
            !transcript.contains(noise),
            "{noise:?} on the console: {transcript}"
        );
    }

    // 6. What the app's sandbox lets it reach (its own user, checked before it started).
    let journal = vm.journal();
    // The agent told systemd it was ready and has fed its watchdog (WatchdogSec=30) for minutes.
    assert!(
        journal.contains("Started okenko-agent.service"),
        "Type=notify: READY=1"
    );
    assert!(
        !journal.contains("Watchdog timeout"),
        "the watchdog was fed"
    );
    assert_eq!(
        journal.matches("kiosk-agent started").count(),
        1,
        "one agent all along"
    );
    for denied in [
        "read the card reader",
        "open the printer",
        "read the database",
        "read the card key",
        "write to the root",
    ] {
        assert!(
            journal.contains(&format!("okenko-lab: app cannot {denied}")),
            "the app must not {denied}"
        );
    }
    assert!(journal.contains("okenko-lab: app CAN open the screen"));
    assert!(journal.contains("okenko-lab: app CAN open the touchscreen"));
    let interfaces: Vec<&str> = journal
        .lines()
        .filter_map(|l| l.split("okenko-lab: app network interfaces:").nth(1))
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "the app has no network but loopback");

    // 5. The app is killed: systemd starts it again and it is back on the home screen.
    let starts = |j: &str| j.matches("kiosk-app: first frame shown").count();
    let before = starts(&vm.journal());
    let (_, _, home_now) = vm.screen().unwrap();
    let out = vm
        .console_command("app restart", "okenko> ", Duration::from_secs(30))
        .unwrap();
    assert!(!out.contains("not configured"), "{out}");
    assert!(
        wait_until(Duration::from_secs(120), || starts(&vm.journal()) > before),
        "the app came back; journal:\n{}",
        vm.journal()
    );
    assert!(wait_screen(
        &mut vm,
        &home_now,
        "b-home-after-kill",
        Duration::from_secs(60)
    ));

    //    The printer goes away: the fleet raises its alert and the review screen says there
    //    will be no receipt, before the citizen submits.
    lab.printer.set_state(|s| s.off = true);
    assert!(
        wait_until(Duration::from_secs(120), || {
            lab.fleet
                .admin_text("/api/admin/v1/alerts")
                .is_some_and(|a| a.contains("printer_missing") && a.contains(KIOSK))
        }),
        "the fleet's printer alert: {:?}",
        lab.fleet.admin_text("/api/admin/v1/alerts")
    );
    citizen_to_review(&mut vm, &keys_for(2), "c");
    let (_, _, review) = vm.screen().unwrap();
    let want = offscreen(&dir, "review-printer-down");
    let up = offscreen(&dir, "review");
    assert!(
        no_receipt_banner(&review, &want, &up),
        "the review screen warns that there will be no receipt (see c-5-review.png)"
    );
    lab.printer.set_state(|s| s.off = false);
    tap(&mut vm, 76, 738, "c-6-back");

    // 4. The network goes down; a citizen submits and gets a code; the power is cut at once.
    //    After the next boot, with the network back, the fleet has it exactly once.
    vm.set_link(false).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    tap(&mut vm, 1194, 50, "d-0-home");
    citizen_to_review(&mut vm, &keys_for(3), "d");
    tap(&mut vm, at::SUBMIT.0, at::SUBMIT.1, "d-6-done");
    assert!(
        vm.wait_journal("submission stored", Duration::from_secs(60)),
        "acknowledged to the citizen; journal:\n{}",
        vm.journal()
    );
    vm.power_cut();
    assert!(
        stored(&lab, "díra č3").is_empty(),
        "not delivered while offline"
    );
    let listing = vm::esp_listing(&disk).unwrap();
    assert!(
        !listing.to_lowercase().contains("okenko-provision"),
        "the provisioning file is gone from the ESP: {listing}"
    );

    // The kiosk comes back up with its cable still out; the submission waits on its disk.
    let mut vm = Vm::start(&dir.join("vm2"), &options(&lab, &disk)).unwrap();
    vm.set_link(false).unwrap();
    assert!(
        vm.wait_journal("kiosk-agent started", BOOT),
        "{}",
        vm.journal()
    );
    std::thread::sleep(Duration::from_secs(20));
    assert!(stored(&lab, "díra č3").is_empty(), "still offline");
    vm.set_link(true).unwrap();
    assert!(
        wait_until(Duration::from_secs(120), || stored(&lab, "díra č3").len()
            == 1),
        "delivered after the power cut; journal:\n{}",
        vm.journal()
    );
    std::thread::sleep(Duration::from_secs(40));
    assert_eq!(stored(&lab, "díra č3").len(), 1, "exactly once");
    assert_eq!(stored(&lab, "díra č1 ve zdi").len(), 1, "exactly once");
    drop(vm);
    run.passed = true;
}

/// Whether `shot` shows the review screen's "no receipt" banner: in the region where the
/// printer-down render (`down`) differs from the normal one (`up`), `shot` looks like `down`.
fn no_receipt_banner(shot: &[u8], down: &[u8], up: &[u8]) -> bool {
    let mut differing = 0usize;
    let mut matching = 0usize;
    for ((s, d), u) in shot.chunks(3).zip(down.chunks(3)).zip(up.chunks(3)) {
        let far = |a: &[u8], b: &[u8]| a.iter().zip(b).any(|(x, y)| x.abs_diff(*y) > 40);
        if far(d, u) {
            differing += 1;
            if !far(s, d) {
                matching += 1;
            }
        }
    }
    eprintln!("banner: {matching} of {differing} pixels as in the printer-down render");
    differing > 1000 && matching * 10 >= differing * 6
}

/// Seconds of sound (not silence) QEMU wrote to the WAV file `path` past byte `from`.
fn sound_after(path: &std::path::Path, from: u64) -> f64 {
    let Ok(bytes) = std::fs::read(path) else {
        return 0.0;
    };
    if bytes.len() < 44 || &bytes[0..4] != b"RIFF" {
        return 0.0;
    }
    let channels = usize::from(u16::from_le_bytes([bytes[22], bytes[23]])).max(1);
    let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]).max(1);
    let start = (from as usize).max(44);
    let Some(data) = bytes.get(start..) else {
        return 0.0;
    };
    // 16-bit frames; a 10 ms window is sound when its loudest sample passes 1/64 of full scale.
    let frame = 2 * channels;
    let window = (rate as usize / 100) * frame;
    let loud = data
        .chunks(window.max(frame))
        .filter(|w| {
            w.chunks_exact(2)
                .any(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 512)
        })
        .count();
    loud as f64 / 100.0
}
