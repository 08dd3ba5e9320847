//! The appliance image, booted in QEMU as the kiosk's hardware (see `hw_tests::vm`), used as a
//! citizen and as a technician would, against a real fleet server on 127.0.0.1 over HTTPS.
//!
//! Needs the image (`image/build.sh`; `scripts/test.sh` builds it first) and QEMU 8.1 or later
//! (`scripts/setup.sh`). Boots under TCG take a minute or more, so the time-outs are generous.
//! A failed run keeps its directory under `target/vm-runs/` (screenshots, console transcript,
//! journal, QEMU's log, the fleet's log); `OKENKO_KEEP_VM_RUNS=1` keeps it after a pass too.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hw_tests::cardsim::{CardReaderSim, SimFraming};
use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use hw_tests::harness::{Fleet, demo_catalog, wait_until};
use hw_tests::vm::{self, Vm, VmOptions};

#[path = "support/tls.rs"]
mod tls;

const BOOT: Duration = Duration::from_secs(300);
const KIOSK: &str = "vm-01";

/// A run's directory: kept when the test fails (the guard is dropped without `passed`).
struct RunDir {
    path: PathBuf,
    passed: bool,
}

impl RunDir {
    fn new(name: &str) -> RunDir {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/vm-runs")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        RunDir {
            path,
            passed: false,
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.passed && std::env::var_os("OKENKO_KEEP_VM_RUNS").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("kept for inspection: {}", self.path.display());
        }
    }
}

/// The fleet (HTTPS, a certificate for the VM's view of it), its CA and the simulators.
struct Lab {
    fleet: Fleet,
    ca_pem: String,
    printer: PrinterSim,
    card: CardReaderSim,
}

fn lab(dir: &Path) -> Lab {
    let (ca, cert, key) = tls::ca_and_cert_for(dir, "fleet", &[vm::FLEET_IP.parse().unwrap()]);
    // The server presents its whole chain, the CA included: the console's `enrol` pins the
    // CA by its fingerprint among the certificates the server sends.
    let chain = std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&ca).unwrap();
    std::fs::write(&cert, chain).unwrap();
    let mut fleet = Fleet::start(
        &dir.join("fleet"),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\npublic_url = \"https://{}\"\n[alerts]\nhold_s = 5\n",
            cert.display(),
            key.display(),
            vm::FLEET_IP
        ),
    );
    fleet.trust(&ca);
    fleet.publish(&demo_catalog());
    Lab {
        fleet,
        ca_pem: std::fs::read_to_string(&ca).unwrap(),
        printer: PrinterSim::start(PrinterState::default()).unwrap(),
        card: CardReaderSim::start(SimFraming::StxEtx).unwrap(),
    }
}

fn options(lab: &Lab, disk: &Path) -> VmOptions {
    VmOptions {
        disk: disk.to_owned(),
        fleet_port: Some(lab.fleet.addr().port()),
        printer: Some(lab.printer.path().to_owned()),
        card_reader: Some(lab.card.path().to_owned()),
        credentials: vec![("okenko.lab_checks".into(), "1".into())],
        memory_mib: 1024,
    }
}

fn fresh_disk(dir: &Path) -> PathBuf {
    let image = vm::image_path().expect("the appliance image: run image/build.sh first");
    let disk = dir.join("disk.img");
    vm::copy_disk(&image, &disk).unwrap();
    disk
}

/// The offscreen render of `screen` at the VM's size (`kiosk-app --render-screens`).
fn offscreen(dir: &Path, screen: &str) -> Vec<u8> {
    let out = dir.join("offscreen");
    let status = std::process::Command::new(hw_tests::harness::bin("kiosk-app"))
        .env(
            "FONTCONFIG_FILE",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/fonts/fonts.conf"),
        )
        .arg("--render-screens")
        .arg(&out)
        .args(["--only", &format!("landscape-normal-cs-{screen}.png")])
        .args(["--size", "1280x800"])
        .status()
        .unwrap();
    assert!(status.success());
    let (w, h, px) =
        vm::read_png_rgb(&out.join(format!("landscape-normal-cs-{screen}.png"))).unwrap();
    assert_eq!((w, h), vm::SCREEN);
    px
}

/// Below the title bar (which names the city and the kiosk, different in the render).
fn body(px: &[u8]) -> &[u8] {
    &px[(vm::SCREEN.0 * 100 * 3) as usize..]
}

/// Waits until the screen's body matches `want` (at most 1 % of pixels differ); saves it.
fn wait_screen(vm: &mut Vm, want: &[u8], name: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut last = 1.0;
    while Instant::now() < deadline {
        if let Ok((_, _, px)) = vm.screen() {
            last = vm::pixel_difference(body(&px), body(want), 40);
            if last < 0.01 {
                let _ = vm.screendump(&vm.dir().join(format!("{name}.png")));
                return true;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = vm.screendump(&vm.dir().join(format!("{name}-mismatch.png")));
    eprintln!("{name}: {:.1} % of pixels differ", last * 100.0);
    false
}

/// Taps `(x, y)`, waits for the UI to settle and saves the screen as `name`.
fn tap(vm: &mut Vm, x: u32, y: u32, name: &str) {
    vm.tap(x, y).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    vm.screendump(&vm.dir().join(format!("{name}.png")))
        .unwrap();
}

fn provisioning_file(lab: &Lab, token: &str) -> String {
    format!(
        "url = \"https://{}\"\nca_pem = \"\"\"{}\"\"\"\ntoken = \"{token}\"\ncard_key = \"{}\"\n",
        vm::FLEET_IP,
        lab.ca_pem,
        "5a".repeat(32)
    )
}

/// Whether the fleet has had a heartbeat from `kiosk` (it enrolled and talks).
fn heard_from(fleet: &Fleet, kiosk: &str) -> bool {
    fleet
        .kiosk_now(kiosk)
        .is_some_and(|k| !k["heartbeat"].is_null())
}

fn console_code(fleet: &Fleet, kiosk: &str) -> String {
    let secret = fleet.console_secret(kiosk);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    protocol::totp::code(&secret, now).0
}

/// Where things are on the 1280×800 screen (Czech, normal theme), read off the screenshots.
mod at {
    pub const START: (u32, u32) = (418, 650);
    pub const PODNET: (u32, u32) = (300, 650);
    /// "Zkontrolovat", below the open keyboard.
    pub const REVIEW: (u32, u32) = (1125, 792);
    pub const SUBMIT: (u32, u32) = (1125, 738);
    /// "Ukončit" on the done screen.
    pub const FINISH: (u32, u32) = (640, 774);
}

/// Taps through the "Podnět nebo stížnost" service, typing `keys` (screen positions of the
/// on-screen keyboard's keys), up to the review screen.
fn citizen_to_review(vm: &mut Vm, keys: &[(u32, u32)], tag: &str) {
    tap(vm, at::START.0, at::START.1, &format!("{tag}-1-catalog"));
    // The form opens with its first field focused and the keyboard up.
    tap(vm, at::PODNET.0, at::PODNET.1, &format!("{tag}-2-form"));
    for (i, (x, y)) in keys.iter().enumerate() {
        vm.tap(*x, *y).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        if i + 1 == keys.len() {
            std::thread::sleep(Duration::from_millis(800));
            vm.screendump(&vm.dir().join(format!("{tag}-4-typed.png")))
                .unwrap();
        }
    }
    tap(vm, at::REVIEW.0, at::REVIEW.1, &format!("{tag}-5-review"));
}

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

/// The on-screen keyboard's keys (Czech layout, as it opens on the form) for the text
/// "díra č<digit> ve zdi": a Czech letter, and at least the form's 10 characters.
fn keys_for(digit: u32) -> Vec<(u32, u32)> {
    let mut k = vec![kb::D, kb::I_ACUTE, kb::R, kb::A, kb::SPACE, kb::C_CARON];
    k.push(kb::digit(digit));
    k.extend([kb::SPACE, kb::V, kb::E, kb::SPACE, kb::Z, kb::D, kb::I]);
    k
}

/// The keyboard's keys on the form (read off the screenshots).
mod kb {
    pub const C_CARON: (u32, u32) = (401, 381);
    pub const I_ACUTE: (u32, u32) = (821, 381);
    pub const E: (u32, u32) = (443, 465);
    pub const R: (u32, u32) = (527, 465);
    pub const Z: (u32, u32) = (695, 465);
    pub const I: (u32, u32) = (863, 465);
    pub const A: (u32, u32) = (233, 549);
    pub const D: (u32, u32) = (401, 549);
    pub const V: (u32, u32) = (611, 633);
    pub const SPACE: (u32, u32) = (738, 717);
    pub fn digit(d: u32) -> (u32, u32) {
        let i = if d == 0 { 9 } else { d - 1 };
        (275 + 84 * i, 297)
    }
}

/// What the fleet stored for the submissions whose text has `marker`: (id, code).
fn stored(lab: &Lab, marker: &str) -> Vec<(String, String)> {
    hw_tests::harness::fleet_rows(&lab.fleet)
        .into_iter()
        .filter(|(_, _, body)| body.contains(marker))
        .map(|(id, code, _)| (id, code))
        .collect()
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
    let token = lab.fleet.token(KIOSK);
    vm::put_on_esp(
        &disk,
        "okenko-provision.toml",
        provisioning_file(&lab, &token).as_bytes(),
    )
    .unwrap();
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
    tap(&mut vm, at::FINISH.0, at::FINISH.1, "a-7-home");

    // 3. The technician on ttyS0: the fleet's one-time code, status, devices, a test print,
    //    the network.
    vm.console_send("\r").unwrap();
    vm.console_expect(0, "Code: ", Duration::from_secs(30))
        .unwrap();
    vm.console_command(
        &console_code(&lab.fleet, KIOSK),
        "okenko> ",
        Duration::from_secs(30),
    )
    .unwrap();
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
