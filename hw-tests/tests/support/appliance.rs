//! What the appliance's QEMU tests share: a run directory kept on failure, the fleet and the
//! simulators the VM is wired to, screen matching against the offscreen renderer, and a
//! citizen's taps through a service (positions read off the screenshots).

#![allow(dead_code)] // each test file uses its part

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hw_tests::cardsim::{CardReaderSim, SimFraming};
use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use hw_tests::harness::{Fleet, demo_catalog};
use hw_tests::vm::{self, Vm, VmOptions};

/// Boots under TCG take a minute or more.
pub const BOOT: Duration = Duration::from_secs(300);

/// A run's directory: kept when the test fails (the guard is dropped without `passed`).
pub struct RunDir {
    pub path: PathBuf,
    pub passed: bool,
}

impl RunDir {
    pub fn new(name: &str) -> RunDir {
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
pub struct Lab {
    pub fleet: Fleet,
    pub ca_pem: String,
    pub printer: PrinterSim,
    pub card: CardReaderSim,
}

pub fn lab(dir: &Path) -> Lab {
    lab_with(dir, "")
}

/// [`lab`] with more of the fleet's configuration (sections after `[alerts]`).
pub fn lab_with(dir: &Path, fleet_extra: &str) -> Lab {
    let (ca, cert, key) =
        super::tls::ca_and_cert_for(dir, "fleet", &[vm::FLEET_IP.parse().unwrap()]);
    // The server presents its whole chain, the CA included: the console's `enrol` pins the
    // CA by its fingerprint among the certificates the server sends.
    let chain = std::fs::read_to_string(&cert).unwrap() + &std::fs::read_to_string(&ca).unwrap();
    std::fs::write(&cert, chain).unwrap();
    let mut fleet = Fleet::start(
        &dir.join("fleet"),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\npublic_url = \"https://{}\"\n[alerts]\nhold_s = 5\n\
             {fleet_extra}",
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

pub fn options(lab: &Lab, disk: &Path) -> VmOptions {
    VmOptions {
        disk: disk.to_owned(),
        fleet_port: Some(lab.fleet.addr().port()),
        printer: Some(lab.printer.path().to_owned()),
        card_reader: Some(lab.card.path().to_owned()),
        credentials: vec![("okenko.lab_checks".into(), "1".into())],
        memory_mib: 1024,
    }
}

pub fn fresh_disk(dir: &Path) -> PathBuf {
    let image = vm::image_path().expect("the appliance image: run image/build.sh first");
    let disk = dir.join("disk.img");
    vm::copy_disk(&image, &disk).unwrap();
    disk
}

/// The offscreen render of `screen` at the VM's size (`kiosk-app --render-screens`).
pub fn offscreen(dir: &Path, screen: &str) -> Vec<u8> {
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
pub fn body(px: &[u8]) -> &[u8] {
    &px[(vm::SCREEN.0 * 100 * 3) as usize..]
}

/// Waits until the screen's body matches `want` (at most 1 % of pixels differ); saves it.
pub fn wait_screen(vm: &mut Vm, want: &[u8], name: &str, timeout: Duration) -> bool {
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
pub fn tap(vm: &mut Vm, x: u32, y: u32, name: &str) {
    vm.tap(x, y).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    vm.screendump(&vm.dir().join(format!("{name}.png")))
        .unwrap();
}

pub fn provisioning_file(lab: &Lab, token: &str) -> String {
    format!(
        "url = \"https://{}\"\nca_pem = \"\"\"{}\"\"\"\ntoken = \"{token}\"\ncard_key = \"{}\"\n",
        vm::FLEET_IP,
        lab.ca_pem,
        "5a".repeat(32)
    )
}

/// Puts a provisioning file for `kiosk` (with a fresh enrolment token) on `disk`'s ESP, as an
/// installer would.
pub fn provision(lab: &Lab, disk: &Path, kiosk: &str) {
    let token = lab.fleet.token(kiosk);
    vm::put_on_esp(
        disk,
        "okenko-provision.toml",
        provisioning_file(lab, &token).as_bytes(),
    )
    .unwrap();
}

/// Whether the fleet has had a heartbeat from `kiosk` (it enrolled and talks).
pub fn heard_from(fleet: &Fleet, kiosk: &str) -> bool {
    fleet
        .kiosk_now(kiosk)
        .is_some_and(|k| !k["heartbeat"].is_null())
}

pub fn console_code(fleet: &Fleet, kiosk: &str) -> String {
    let secret = fleet.console_secret(kiosk);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    protocol::totp::code(&secret, now).0
}

/// Signs in on the VM's console (ttyS0) with the fleet's one-time code for `kiosk`.
pub fn console_sign_in(vm: &mut Vm, fleet: &Fleet, kiosk: &str) {
    vm.console_send("\r").unwrap();
    vm.console_expect(0, "Code: ", Duration::from_secs(60))
        .unwrap();
    vm.console_command(
        &console_code(fleet, kiosk),
        "okenko> ",
        Duration::from_secs(30),
    )
    .unwrap();
}

/// Where things are on the 1280×800 screen (Czech, normal theme), read off the screenshots.
pub mod at {
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
pub fn citizen_to_review(vm: &mut Vm, keys: &[(u32, u32)], tag: &str) {
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

/// The on-screen keyboard's keys (Czech layout, as it opens on the form) for the text
/// "díra č<digit> ve zdi": a Czech letter, and at least the form's 10 characters.
pub fn keys_for(digit: u32) -> Vec<(u32, u32)> {
    let mut k = vec![kb::D, kb::I_ACUTE, kb::R, kb::A, kb::SPACE, kb::C_CARON];
    k.push(kb::digit(digit));
    k.extend([kb::SPACE, kb::V, kb::E, kb::SPACE, kb::Z, kb::D, kb::I]);
    k
}

/// The keyboard's keys on the form (read off the screenshots).
pub mod kb {
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
pub fn stored(lab: &Lab, marker: &str) -> Vec<(String, String)> {
    hw_tests::harness::fleet_rows(&lab.fleet)
        .into_iter()
        .filter(|(_, _, body)| body.contains(marker))
        .map(|(id, code, _)| (id, code))
        .collect()
}

/// The fleet's `[releases]` section trusting the key `image/build.sh` signed its releases with
/// (`target/image-keys/release-keys`).
pub fn release_keyring() -> String {
    let ring = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/image-keys/release-keys");
    assert!(
        ring.exists(),
        "{} is missing: run image/build.sh",
        ring.display()
    );
    format!("[releases]\nkeyring = \"{}\"\n", ring.display())
}

/// The image's release, from its file name (`okenko-<version>.img`).
pub fn image_version(image: &Path) -> String {
    let name = image.file_stem().unwrap().to_string_lossy().into_owned();
    name.strip_prefix("okenko-").unwrap().to_owned()
}

/// A release `image/build.sh --test-releases` made beside the image, the next minor version
/// with `suffix` (`""`, `"-crashes"`…): (version, bundle).
pub fn test_release(image: &Path, suffix: &str) -> (String, PathBuf) {
    let v = image_version(image);
    let mut parts = v.split('.');
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    let next = format!("{major}.{}.0{suffix}", minor.parse::<u32>().unwrap() + 1);
    let bundle = image
        .parent()
        .unwrap()
        .join("test-releases")
        .join(format!("okenko-{next}.raucb"));
    assert!(
        bundle.exists(),
        "{} is missing: run image/build.sh --test-releases",
        bundle.display()
    );
    (next, bundle)
}
