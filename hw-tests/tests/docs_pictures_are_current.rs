//! The pictures in `docs/screenshots/` that come from the code alone are what the code renders
//! today: the kiosk's screens and the receipt (whose QR code once led to another tracking code
//! than the one printed above it). `scripts/render-docs.sh` makes them again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::Path;
use std::process::Command;

use hw_tests::harness::{TempDir, bin};

fn docs(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/screenshots")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_receipt_and_the_kiosk_screens_in_the_docs_are_current() {
    let dir = TempDir::new("docs-pictures");
    let receipt = dir.path().join("receipt.png");
    run(Command::new(bin("escpos-sim"))
        .args(["sample", "--png"])
        .arg(&receipt));
    assert!(
        std::fs::read(&receipt).unwrap() == docs("receipt-cs.png"),
        "docs/screenshots/receipt-cs.png is stale: run scripts/render-docs.sh"
    );
    for (doc, screen) in [
        ("kiosk-home-cs.png", "landscape-normal-cs-home"),
        (
            "kiosk-my-requests-cs.png",
            "landscape-normal-cs-status-card",
        ),
        (
            "kiosk-form-contrast-uk.png",
            "landscape-contrast-uk-form-errors",
        ),
        ("kiosk-review-sms-en.png", "landscape-normal-en-review-sms"),
        (
            "kiosk-keypad-focus-en.png",
            "landscape-normal-en-review-email-typing-focus",
        ),
    ] {
        run(Command::new(bin("kiosk-app"))
            .arg("--render-screens")
            .arg(dir.path())
            .args(["--size", "1920x1080", "--only", screen]));
        let rendered = dir.path().join(format!("{screen}.png"));
        assert!(
            std::fs::read(rendered).unwrap() == docs(doc),
            "docs/screenshots/{doc} is stale: run scripts/render-docs.sh"
        );
    }
}
