//! The image's RAUC boot loader backend (`image/rootfs/usr/lib/okenko/rauc-boot`), run on a
//! directory standing in for the ESP: which slot systemd-boot would boot as its entries are
//! written, counted down (as systemd-boot renames them), marked bad and blessed. The QEMU test
//! (`appliance_updates_in_qemu.rs`) runs the same script against a real systemd-boot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::{Path, PathBuf};
use std::process::Command;

use hw_tests::harness::TempDir;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../image/rootfs/usr/lib/okenko/rauc-boot")
}

struct Esp {
    tmp: TempDir,
}

impl Esp {
    /// An ESP as the image build leaves it (slot A's entry), slot B's root holding release
    /// `0.2.0`, and a kernel command line booted from `booted`.
    fn new(booted: &str) -> Esp {
        let tmp = TempDir::new("rauc-boot");
        let esp = tmp.path().join("esp");
        std::fs::create_dir_all(esp.join("loader/entries")).unwrap();
        std::fs::write(
            esp.join("loader/entries/okenko-a.conf"),
            "title Okénko 0.1.0 (slot A)\nsort-key okenko\nversion 1\nlinux /okenko/a/vmlinuz\n",
        )
        .unwrap();
        let root = tmp.path().join("root-b");
        for d in ["boot", "usr/lib/okenko", "etc/okenko"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("boot/vmlinuz-6.12.0-1-amd64"), "kernel of B").unwrap();
        std::fs::write(root.join("boot/initrd.img-6.12.0-1-amd64"), "initrd of B").unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../image/rootfs/usr/lib/okenko/boot-options"),
            root.join("usr/lib/okenko/boot-options"),
        )
        .unwrap();
        std::fs::write(root.join("etc/okenko/release"), "0.2.0\n").unwrap();
        let e = Esp { tmp };
        e.boot(booted);
        e
    }

    fn esp(&self) -> PathBuf {
        self.tmp.path().join("esp")
    }

    /// The kernel command line of a boot of `slot`.
    fn boot(&self, slot: &str) {
        std::fs::write(
            self.tmp.path().join("cmdline"),
            format!("root=PARTLABEL=okenko-root-x rauc.slot={slot} ro quiet\n"),
        )
        .unwrap();
    }

    /// Runs the backend: (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("sh")
            .arg(script())
            .args(args)
            .env("OKENKO_ESP", self.esp())
            .env("OKENKO_CMDLINE", self.tmp.path().join("cmdline"))
            .env("OKENKO_SLOT_ROOT", self.tmp.path().join("root-b"))
            // Only ever used booted from B here (A's root is never read).
            .env("OKENKO_RUNNING_ROOT", self.tmp.path().join("root-b"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "rauc-boot {args:?}: {err}");
        out
    }

    /// The entries' file names, sorted.
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.esp().join("loader/entries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Renames entry `from` to `to`, as systemd-boot (counting a try) or systemd-bless-boot do.
    fn rename(&self, from: &str, to: &str) {
        let d = self.esp().join("loader/entries");
        std::fs::rename(d.join(from), d.join(to)).unwrap();
    }
}

#[test]
fn the_new_slot_gets_three_tries_and_the_old_one_comes_back_when_it_is_marked_bad() {
    let e = Esp::new("A");
    assert_eq!(e.ok(&["get-current"]), "A");
    assert_eq!(e.ok(&["get-primary"]), "A");
    assert_eq!(e.ok(&["get-state", "A"]), "good");
    assert_eq!(e.ok(&["get-state", "B"]), "bad", "no entry: not bootable");

    // RAUC wrote B and makes it primary: its kernel on the ESP, then its entry, on trial.
    e.ok(&["set-primary", "B"]);
    assert_eq!(e.entries(), ["okenko-a.conf", "okenko-b+3.conf"]);
    let entry = std::fs::read_to_string(e.esp().join("loader/entries/okenko-b+3.conf")).unwrap();
    assert!(entry.contains("title Okénko 0.2.0 (slot B)"), "{entry}");
    assert!(entry.contains("sort-key okenko\nversion 2\n"), "{entry}");
    assert!(entry.contains("linux /okenko/b/vmlinuz"), "{entry}");
    assert!(
        entry.contains("root=PARTLABEL=okenko-root-b rauc.slot=B") && entry.contains("panic="),
        "{entry}"
    );
    assert_eq!(
        std::fs::read_to_string(e.esp().join("okenko/b/vmlinuz")).unwrap(),
        "kernel of B"
    );
    assert_eq!(
        std::fs::read_to_string(e.esp().join("okenko/b/initrd.img")).unwrap(),
        "initrd of B"
    );
    assert_eq!(e.ok(&["get-primary"]), "B");

    // systemd-boot counts a try as it boots B; B is still the one to boot.
    e.rename("okenko-b+3.conf", "okenko-b+2-1.conf");
    e.boot("B");
    assert_eq!(e.ok(&["get-primary"]), "B");
    assert_eq!(e.ok(&["get-state", "B"]), "good");

    // The health check failed: B is bad, A boots next.
    e.ok(&["set-state", "B", "bad"]);
    assert_eq!(e.entries(), ["okenko-a.conf", "okenko-b+0.conf"]);
    assert_eq!(e.ok(&["get-primary"]), "A");
    assert_eq!(e.ok(&["get-state", "B"]), "bad");

    // Tries used up by systemd-boot alone (+0-3) are bad as well.
    e.rename("okenko-b+0.conf", "okenko-b+0-3.conf");
    assert_eq!(e.ok(&["get-state", "B"]), "bad");
    assert_eq!(e.ok(&["get-primary"]), "A");
}

#[test]
fn a_blessed_slot_stays_primary_and_the_next_update_goes_above_it() {
    let e = Esp::new("A");
    e.ok(&["set-primary", "B"]);
    // systemd-bless-boot's rename, once the health check passed.
    e.rename("okenko-b+3.conf", "okenko-b.conf");
    e.boot("B");
    assert_eq!(e.ok(&["get-primary"]), "B");
    assert_eq!(e.ok(&["get-state", "B"]), "good");
    // Marking a good slot good again changes nothing.
    e.ok(&["set-state", "B", "good"]);
    assert_eq!(e.entries(), ["okenko-a.conf", "okenko-b.conf"]);
    // Making the running slot primary again needs no try counter and no new kernel.
    e.ok(&["set-primary", "B"]);
    assert_eq!(e.entries(), ["okenko-a.conf", "okenko-b.conf"]);
    let entry = std::fs::read_to_string(e.esp().join("loader/entries/okenko-b.conf")).unwrap();
    assert!(entry.contains("version 3"), "{entry}");
    // A slot with its counter cut short by a power cut mid-rename is still found.
    e.rename("okenko-b.conf", "okenko-b+1-2.conf");
    assert_eq!(e.ok(&["get-primary"]), "B");
}

#[test]
fn the_backend_refuses_what_it_does_not_know() {
    let e = Esp::new("A");
    for args in [
        &["set-primary", "C"][..],
        &["get-state"][..],
        &["set-state", "A", "maybe"][..],
        &["set-state", "B", "good"][..],
        &["frobnicate"][..],
        &[][..],
    ] {
        let (ok, _, err) = e.run(args);
        assert!(!ok, "{args:?} was accepted");
        assert!(err.starts_with("rauc-boot: "), "{args:?}: {err}");
    }
    assert_eq!(e.entries(), ["okenko-a.conf"], "nothing was written");
    // RAUC marks the slot it is about to write bad first: with no entry, nothing to do.
    e.ok(&["set-state", "B", "bad"]);
    assert_eq!(e.entries(), ["okenko-a.conf"]);
    // No bootable entry at all: an error, not a guess.
    e.ok(&["set-state", "A", "bad"]);
    let (ok, _, err) = e.run(&["get-primary"]);
    assert!(!ok && err.contains("no slot"), "{err}");
}
