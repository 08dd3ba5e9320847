//! Time from a rollout's start to `succeeded` for one appliance VM (QEMU TCG, 2 vCPUs, 1 GiB),
//! split into its phases as the fleet sees them: the heartbeat that picks the rollout up,
//! download (with verifying), install (`rauc install` into slot B), reboot into B, and the
//! health check up to the blessed boot. The next minor release of `image/build.sh
//! --test-releases`, over the VM's user networking to the fleet on 127.0.0.1.
//!
//! `cargo bench -p hw-tests --bench appliance_update`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a failed set-up should fail loudly

use std::time::{Duration, Instant};

use hw_tests::harness::wait_until;
use hw_tests::releases::{report, roll, upload};
use hw_tests::vm::{self, Vm};

#[path = "../tests/support/appliance.rs"]
mod appliance;
#[path = "../tests/support/tls.rs"]
mod tls;
use appliance::*;

const KIOSK: &str = "vm-bench";

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/vm-bench-update");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lab = lab_with(&dir, &release_keyring());
    let image = vm::image_path().expect("build the image first: image/build.sh --test-releases");
    let version = image_version(&image);
    let (next, bundle) = test_release(&image, "");
    let bundle_mib = std::fs::metadata(&bundle).unwrap().len() as f64 / 1048576.0;
    upload(&lab.fleet, &bundle);
    let disk = fresh_disk(&dir);
    provision(&lab, &disk, KIOSK);
    let vm = Vm::start(&dir.join("vm"), &options(&lab, &disk)).unwrap();
    assert!(wait_until(BOOT, || report(&lab.fleet, KIOSK).2 == "idle"));

    let start = Instant::now();
    roll(&lab.fleet, &next, KIOSK);
    let mut seen: Vec<(String, f64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(1800);
    while Instant::now() < deadline {
        let (running, _, state, reason) = report(&lab.fleet, KIOSK);
        if seen.last().is_none_or(|(s, _)| *s != state) && !state.is_empty() {
            seen.push((state.clone(), start.elapsed().as_secs_f64()));
        }
        if state == "succeeded" && running == next {
            break;
        }
        assert!(
            !matches!(state.as_str(), "failed" | "rolled_back"),
            "{state}: {reason}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let at = |s: &str| seen.iter().find(|(x, _)| x == s).map(|(_, t)| *t);
    let journal = vm.journal();
    drop(vm);
    println!("appliance update under QEMU TCG: {version} -> {next}, bundle {bundle_mib:.0} MiB");
    println!("states as the fleet saw them (s after the rollout started): {seen:?}");
    let phase = |name: &str, from: Option<f64>, to: Option<f64>| match (from, to) {
        (Some(a), Some(b)) => println!("  {name:<28} {:>6.1} s", b - a),
        _ => println!("  {name:<28}      ? (a state not seen)"),
    };
    phase("rollout to the kiosk", Some(0.0), at("downloading"));
    phase(
        "download + verify",
        at("downloading"),
        at("waiting").or(at("installing")),
    );
    phase(
        "install (rauc)",
        at("installing"),
        at("rebooting").or(at("trial")),
    );
    phase(
        "reboot into B (to trial)",
        at("rebooting").or(at("installing")),
        at("trial"),
    );
    phase("health check to blessed", at("trial"), at("succeeded"));
    phase("total", Some(0.0), at("succeeded"));
    println!(
        "  journal: {} lines kept in {}",
        journal.lines().count(),
        dir.display()
    );
}
