//! Offscreen rendering figures of the form screen at 1920×1080 with the software renderer: a full
//! redraw, the partial redraw after one key press, and the process's resident memory.
//! `cargo bench -p kiosk-app --bench render`; goals: full ≤ 16 ms, key ≤ 2 ms (median),
//! RSS ≤ 60 MB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use kiosk_app::render::{Offscreen, demo_catalog};
use kiosk_app::session::Session;
use kiosk_app::ui::{self, Chrome};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let catalog = demo_catalog();
    let mut off = Offscreen::new(1920, 1080, true).unwrap();
    let mut s = Session::new();
    s.start();
    s.pick_service(&catalog, 0);
    let chrome = Chrome {
        city: "Statutární město Ostrava".into(),
        kiosk_name: "Nová radnice, přízemí".into(),
        touch_px: 76.0,
        ..Chrome::default()
    };
    ui::show(&off.ui, &s, Some(&catalog), &chrome);
    off.render_full();
    let rounds = 60;
    // A full redraw: the theme switches, so every pixel changes.
    let mut full = Vec::new();
    for _ in 0..rounds {
        s.high_contrast = !s.high_contrast;
        ui::show(&off.ui, &s, Some(&catalog), &chrome);
        let t = Instant::now();
        off.render();
        full.push(t.elapsed());
    }
    s.high_contrast = false;
    ui::show(&off.ui, &s, Some(&catalog), &chrome);
    off.render();
    // One key press: the session types a letter, the window shows it, the frame redraws what
    // changed (the field and its cursor).
    // The name is half typed and already valid: a key changes only the text.
    for k in ["J", "a", "n", "a", "space", "N", "o", "v"] {
        s.key(k);
    }
    ui::show(&off.ui, &s, Some(&catalog), &chrome);
    off.render();
    let mut key = Vec::new();
    for i in 0..rounds {
        s.key(if i % 2 == 0 { "á" } else { "backspace" });
        ui::show(&off.ui, &s, Some(&catalog), &chrome);
        let t = Instant::now();
        off.render();
        key.push(t.elapsed());
        if i < 2 {
            println!("  key press {i} repaints (x, y, w, h): {:?}", off.dirty());
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("form screen 1920x1080, software renderer, {rounds} frames each:");
    println!(
        "  full redraw, median          : {:6.2} ms  (goal <= 16)",
        ms(median(full))
    );
    println!(
        "  after one key press, median  : {:6.2} ms  (goal <= 2)",
        ms(median(key))
    );
    println!(
        "  resident memory (VmRSS)      : {:6.1} MB  (goal <= 60)",
        rss_mb()
    );
}
