//! Golden images: screens rendered offscreen with the software renderer and the project's own
//! fonts match the reviewed images in `tests/golden` within a tolerance (anti-aliasing may differ
//! by a shade; a moved widget, clipped text or a changed translation does not pass).
//! `OKENKO_UPDATE_GOLDEN=1` rewrites them after a deliberate change: look at every one first.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::Path;

const SCREENS: [&str; 10] = [
    "landscape-normal-cs-home",
    "landscape-contrast-uk-form-errors",
    "portrait-normal-en-done-no-receipt",
    "landscape-normal-cs-review",
    "landscape-normal-cs-review-printer-down",
    "landscape-normal-cs-review-sms",
    "landscape-normal-cs-review-email-typing",
    // The keypad's focus ring, on a key, on a field in error, around the tracking code.
    "landscape-normal-en-review-email-typing-focus",
    "landscape-contrast-uk-form-errors-focus",
    "portrait-normal-cs-done-focus",
];

fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn screens_match_their_golden_images() {
    let out = std::env::temp_dir().join(format!("okenko-golden-{}", std::process::id()));
    // Whole names: "…-home" alone would also take "…-home-focus".
    let only: Vec<String> = SCREENS.iter().map(|s| format!("{s}.png")).collect();
    let written = kiosk_app::render::render_screens(&out, Some(&only.join(",")), None).unwrap();
    assert_eq!(written.len(), SCREENS.len(), "{written:?}");
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("OKENKO_UPDATE_GOLDEN").is_some();
    for name in SCREENS {
        let file = format!("{name}.png");
        let new = std::fs::read(out.join(&file)).unwrap();
        if update {
            std::fs::write(golden.join(&file), &new).unwrap();
            continue;
        }
        let old = std::fs::read(golden.join(&file))
            .unwrap_or_else(|e| panic!("{file}: {e} (OKENKO_UPDATE_GOLDEN=1 creates it)"));
        let (w1, h1, a) = decode(&new);
        let (w2, h2, b) = decode(&old);
        assert_eq!((w1, h1), (w2, h2), "{file}: size");
        let differing = a
            .chunks(3)
            .zip(b.chunks(3))
            .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 40))
            .count();
        let share = differing as f64 / f64::from(w1 * h1);
        assert!(
            share < 0.002,
            "{file}: {:.3} % of the pixels differ (new image in {})",
            share * 100.0,
            out.display()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
