//! `escpos-sim decode --png`: the agent's receipt drawn as paper. The image is a valid PNG of
//! the paper's width; the QR code drawn decodes back... as far as this test can tell without a
//! QR reader: it has the finder patterns where a QR code has them; the tracking code's line
//! is drawn in double size (taller ink than normal lines); a cut is drawn.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::process::Command;

use hw_tests::escpos::render::{WIDTH_58MM, WIDTH_80MM, render};
use kiosk_agent::devices::printer::{Charset, receipt};

fn receipt_bytes() -> Vec<u8> {
    receipt::encode(&hw_tests::harness::sample_receipt(), Charset::Pc852).unwrap()
}

/// Rows that have any ink.
fn inked_rows(w: u32, pixels: &[u8]) -> Vec<bool> {
    pixels
        .chunks(w as usize)
        .map(|row| row.iter().any(|p| *p < 128))
        .collect()
}

#[test]
fn the_receipt_renders_as_paper_with_text_qr_and_cut() {
    let r = hw_tests::escpos::decode(&receipt_bytes());
    let (w, h, px) = render(&r, WIDTH_80MM);
    assert_eq!(w, WIDTH_80MM + 48);
    assert_eq!(px.len(), (w * h) as usize);
    assert!(h > 600, "a receipt is long: {h}");
    let ink = px.iter().filter(|p| **p < 128).count() as f64 / px.len() as f64;
    assert!((0.02..0.5).contains(&ink), "ink coverage {ink}");
    // Runs of inked rows: text lines and the QR code; the longest run is the QR code, which is
    // square: as tall as it is wide (module 6 × 29 modules for this URL = 174 dots).
    let rows = inked_rows(w, &px);
    let mut runs = Vec::new();
    let mut start = None;
    for (y, inked) in rows.iter().enumerate() {
        match (inked, start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                runs.push(y - s);
                start = None;
            }
            _ => {}
        }
    }
    let longest = *runs.iter().max().unwrap();
    assert!(
        (150..=200).contains(&longest),
        "QR height {longest}: {runs:?}"
    );
    // The tracking code in double size is taller than any normal line.
    let text_runs: Vec<_> = runs.iter().filter(|r| **r < 100).collect();
    let tallest_text = **text_runs.iter().max().unwrap();
    let typical = *text_runs[text_runs.len() / 2];
    assert!(tallest_text > typical * 3 / 2, "{runs:?}");
    // 58 mm paper is narrower.
    assert_eq!(render(&r, WIDTH_58MM).0, WIDTH_58MM + 48);
}

#[test]
fn the_cli_writes_a_png_beside_the_text() {
    let dir = std::env::temp_dir().join(format!("escpos-png-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("receipt.bin");
    let out = dir.join("receipt.png");
    std::fs::write(&input, receipt_bytes()).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_escpos-sim"))
        .args([
            "decode",
            input.to_str().unwrap(),
            "--png",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).unwrap();
    assert!(text.contains("Statutární město Ostrava") && text.contains("[CUT]"));
    let png = std::fs::read(&out).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    if let Some(keep) = std::env::var_os("OKENKO_KEEP_PNG") {
        std::fs::copy(&out, keep).unwrap();
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_escpos-sim"))
        .args(["decode", input.to_str().unwrap(), "--paper-width", "99"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
