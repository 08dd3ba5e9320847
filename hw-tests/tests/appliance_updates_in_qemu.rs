//! Updates of the appliance image in QEMU: real RAUC bundles (`image/build.sh --test-releases`)
//! rolled out by a real fleet on 127.0.0.1 to a VM booted from the image, RAUC writing the
//! other root slot, systemd-boot counting the new slot's tries, the agent's health check
//! gating the boot's blessing. One VM lives through every case in turn, as a kiosk would:
//!
//! 1. two releases RAUC refuses before writing anything (another signer; other hardware);
//! 2. a release whose app crashes at start: the health check fails, back to the old slot;
//! 3. a release whose root cannot boot (init exits, the kernel panics): systemd-boot goes back
//!    by itself once the tries are used up;
//! 4. the next release, with a power cut during the RAUC install and another during the trial
//!    boot: installed, tried, blessed, `succeeded`;
//! 5. submissions queued offline before a power cut and during the trial are delivered exactly
//!    once; the data partition keeps its files through every update and rollback.
//!
//! Needs the image and its test releases (`scripts/test.sh` builds them). A failed run keeps its
//! directory under `target/vm-runs/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::{Path, PathBuf};
use std::time::Duration;

use hw_tests::harness::wait_until;
use hw_tests::releases::{paused_then_abort, report, roll, upload, wait_state};
use hw_tests::vm::{self, Vm};

#[path = "support/appliance.rs"]
mod appliance;
#[path = "support/tls.rs"]
mod tls;
use appliance::*;

const KIOSK: &str = "vm-upd";

/// A start that shows no boot for this long is recorded and power-cycled ([`Vm::start_booted`]).
const QUIET: Duration = Duration::from_secs(180);

/// The bytes of partition `n` of `disk`.
fn partition(disk: &Path, n: usize) -> Vec<u8> {
    use std::io::{Read, Seek};
    let out = std::process::Command::new("sfdisk")
        .arg("--json")
        .arg(disk)
        .output()
        .unwrap();
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &t["partitiontable"]["partitions"][n - 1];
    let (start, size) = (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap());
    let mut f = std::fs::File::open(disk).unwrap();
    f.seek(std::io::SeekFrom::Start(start * 512)).unwrap();
    let mut buf = vec![0; (size * 512) as usize];
    f.read_exact(&mut buf).unwrap();
    buf
}

/// `debugfs -R "ls -l DIR"` on the data partition: (inode, name) of each entry. The copy's
/// journal is replayed first (`e2fsck -fy`), as the next mount would after a power cut: the
/// blocks in place may lag the journal, and a directory block whose checksum no longer matches
/// its inode lists nothing.
fn data_listing(dir: &Path, disk: &Path, path: &str) -> Vec<(String, String)> {
    let data = dir.join("data.ext4");
    std::fs::write(&data, partition(disk, 4)).unwrap();
    let fsck = std::process::Command::new("e2fsck")
        .arg("-fy")
        .arg(&data)
        .output()
        .unwrap();
    // 0: clean, 1: errors corrected (a replayed journal counts); 4 and up: left uncorrected.
    assert!(
        fsck.status.code().is_some_and(|c| c < 4),
        "e2fsck on the data partition: {}\n{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let out = std::process::Command::new("debugfs")
        .args(["-R", &format!("ls -l {path}")])
        .arg(&data)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&data);
    let entries: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 9 && f[8] != "." && f[8] != "..").then(|| (f[0].into(), f[8].into()))
        })
        .collect();
    assert!(
        !entries.is_empty(),
        "debugfs listed nothing in {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    entries
}

/// Signs in on the console with the fleet's code and runs `command`.
fn console(vm: &mut Vm, lab: &Lab, command: &str) -> String {
    console_sign_in(vm, &lab.fleet, KIOSK);
    let out = vm
        .console_command(command, "okenko> ", Duration::from_secs(30))
        .unwrap();
    let _ = vm.console_command("exit", "", Duration::from_secs(5));
    out
}

/// A citizen files "díra č<digit> ve zdi" on the touch screen; the receipt comes out.
fn citizen_files(vm: &mut Vm, lab: &Lab, digit: u32, jobs_before: usize, tag: &str) {
    citizen_to_review(vm, &keys_for(digit), tag);
    tap(vm, at::SUBMIT.0, at::SUBMIT.1, &format!("{tag}-6-done"));
    assert!(
        lab.printer
            .wait_for_jobs(jobs_before + 1, Duration::from_secs(90)),
        "a receipt was printed; journal:\n{}",
        vm.journal()
    );
}

#[test]
fn rollouts_update_the_appliance_and_a_bad_release_comes_back_by_itself() {
    let mut run = RunDir::new("updates");
    let dir = run.path.clone();
    let lab = lab_with(&dir, &release_keyring());
    let image = vm::image_path().expect("the appliance image: run image/build.sh first");
    let factory = image_version(&image);
    let disk = fresh_disk(&dir);
    let slot_b_before = protocol::sha256_hex(partition(&disk, 3));
    provision(&lab, &disk, KIOSK);
    let home = offscreen(&dir, "home");
    let releases: Vec<(String, PathBuf)> = ["-stranger", "-otherhw", "-crashes", "-noboot", ""]
        .iter()
        .map(|s| test_release(&image, s))
        .collect();
    for (_, bundle) in &releases {
        upload(&lab.fleet, bundle);
    }
    let [stranger, otherhw, crashes, noboot, next] = [0, 1, 2, 3, 4].map(|i| releases[i].0.clone());
    let opts = options(&lab, &disk);
    let mut vm = Vm::start_booted(&dir.join("vm1"), &opts, QUIET).unwrap();
    assert!(
        wait_until(BOOT, || heard_from(&lab.fleet, KIOSK)),
        "the kiosk enrolled; journal:\n{}",
        vm.journal()
    );
    wait_state(&lab.fleet, KIOSK, &factory, "", "idle", 120);

    // 1. Signed by the fleet's key, but not by the image's RAUC keyring; signed by both, but
    //    for other hardware: RAUC refuses both before it writes anything.
    let r = roll(&lab.fleet, &stranger, KIOSK);
    wait_state(&lab.fleet, KIOSK, &factory, &stranger, "failed", 300);
    let why = report(&lab.fleet, KIOSK).3;
    assert!(why.contains("install failed"), "{why}");
    assert!(why.to_lowercase().contains("signature"), "{why}");
    paused_then_abort(&lab.fleet, &r);
    let r = roll(&lab.fleet, &otherhw, KIOSK);
    wait_state(&lab.fleet, KIOSK, &factory, &otherhw, "failed", 300);
    let why = report(&lab.fleet, KIOSK).3;
    assert!(why.to_lowercase().contains("compatible"), "{why}");
    paused_then_abort(&lab.fleet, &r);

    // A citizen files a request with the network down: acknowledged, queued; then the power
    // goes. Slot B is still exactly as the image left it.
    assert!(wait_screen(&mut vm, &home, "1-home", BOOT));
    vm.set_link(false).unwrap();
    citizen_files(&mut vm, &lab, 3, 0, "a");
    tap(&mut vm, at::FINISH.0, at::FINISH.1, "a-7-home");
    std::thread::sleep(Duration::from_secs(3));
    vm.power_cut();
    assert!(stored(&lab, "díra č3 ve zdi").is_empty());
    assert_eq!(
        protocol::sha256_hex(partition(&disk, 3)),
        slot_b_before,
        "RAUC wrote nothing to slot B for the refused bundles"
    );
    let data_before = data_listing(&dir, &disk, "/okenko");
    assert!(
        data_before.iter().any(|(_, n)| n.ends_with(".sqlite")),
        "{data_before:?}"
    );

    // 2. The release whose app crashes: installed into B, booted on trial, the app restarts
    //    and restarts, the health check fails, the kiosk is back on the factory slot and says
    //    why. The queued request went out once meanwhile.
    let mut vm = Vm::start_booted(&dir.join("vm2"), &opts, QUIET).unwrap();
    assert!(
        wait_until(BOOT, || stored(&lab, "díra č3 ve zdi").len() == 1),
        "the queued request reached the fleet; journal:\n{}",
        vm.journal()
    );
    let r = roll(&lab.fleet, &crashes, KIOSK);
    wait_state(&lab.fleet, KIOSK, &factory, &crashes, "rolled_back", 1200);
    let why = report(&lab.fleet, KIOSK).3;
    assert!(
        why.contains("failed its health check") && why.contains("okenko-app.service restarted"),
        "{why}"
    );
    assert!(vm.journal().contains("this test release crashes"));
    paused_then_abort(&lab.fleet, &r);

    // 3. The release that cannot boot: B's init exits and the kernel panics, three times; then
    //    systemd-boot starts A with no help from anyone, and the agent tells the fleet.
    let r = roll(&lab.fleet, &noboot, KIOSK);
    wait_state(&lab.fleet, KIOSK, &factory, &noboot, "rolled_back", 1500);
    let why = report(&lab.fleet, KIOSK).3;
    assert!(why.contains("did not come up within 3 boots"), "{why}");
    assert!(
        vm.journal().matches("Linux version").count() >= 2,
        "the boots are in the journal"
    );
    paused_then_abort(&lab.fleet, &r);

    // 4. The next release. The power goes while RAUC writes slot B ...
    let _r = roll(&lab.fleet, &next, KIOSK);
    wait_state(&lab.fleet, KIOSK, &factory, &next, "installing", 900);
    assert!(
        wait_until(Duration::from_secs(60), || vm
            .journal()
            .matches("installing the release into the other slot")
            .count()
            == 3),
        "the install began; journal:\n{}",
        vm.journal()
    );
    std::thread::sleep(Duration::from_secs(4));
    vm.power_cut();
    // ... the kiosk comes up on A, installs again, and reboots into B on trial, where (with
    // the network down, so the trial cannot pass yet) a citizen files a request, and the
    // power goes again.
    let mut vm = Vm::start_booted(&dir.join("vm3"), &opts, QUIET).unwrap();
    assert!(
        vm.wait_journal("installing the release into the other slot", BOOT),
        "the install resumed; journal:\n{}",
        vm.journal()
    );
    vm.set_link(false).unwrap();
    assert!(
        vm.wait_journal("\"trial\"", Duration::from_secs(900)),
        "B booted on trial; journal:\n{}",
        vm.journal()
    );
    assert!(wait_screen(&mut vm, &home, "3-home-trial", BOOT));
    citizen_files(&mut vm, &lab, 4, lab.printer.jobs().len(), "b");
    std::thread::sleep(Duration::from_secs(2));
    vm.power_cut();
    assert!(stored(&lab, "díra č4 ve zdi").is_empty());
    // The next boot is B's second try; with the network back the health check passes, the
    // boot is blessed, the fleet hears `succeeded`.
    let mut vm = Vm::start_booted(&dir.join("vm4"), &opts, QUIET).unwrap();
    wait_state(&lab.fleet, KIOSK, &next, &next, "succeeded", 900);
    assert!(vm.wait_journal("the boot is blessed", Duration::from_secs(60)));
    let status = console(&mut vm, &lab, "update status");
    assert!(
        status.contains(&format!("release: {next} (slot B)")) && status.contains("succeeded"),
        "{status}"
    );

    // 5. Each request reached the fleet once; the data partition kept its files.
    assert!(
        wait_until(Duration::from_secs(120), || stored(&lab, "díra č4 ve zdi")
            .len()
            == 1),
        "the request filed during the trial reached the fleet"
    );
    assert_eq!(stored(&lab, "díra č3 ve zdi").len(), 1);
    vm.power_cut();
    let data_after = data_listing(&dir, &disk, "/okenko");
    for (inode, name) in data_before.iter().filter(|(_, n)| n.ends_with(".sqlite")) {
        assert!(
            data_after.contains(&(inode.clone(), name.clone())),
            "{name} is the same file (inode {inode}) after every update: {data_after:?}"
        );
    }
    // RAUC keeps its status on the data partition (data_listing fails on an empty directory).
    data_listing(&dir, &disk, "/rauc");
    run.passed = true;
}
