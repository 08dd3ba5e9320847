//! Audio mode's figures: the latency from a key press to the start of speech, through the whole
//! path (the window's key event, the app's focus and text, the socket, the agent, espeak-ng),
//! and the memory the speech engine adds.
//!
//! `FONTCONFIG_FILE=$PWD/assets/fonts/fonts.conf cargo bench -p kiosk-app --bench speech` (needs
//! espeak-ng; `scripts/setup.sh` installs it).
//! The agent writes each utterance to a WAV file (`[speech] record_dir`) instead of a sound card,
//! so "first audio" is when the engine's first samples reach the file; "speech starts" adds the
//! silence the engine puts before the first word (a player starts playing at first audio).
//! Goal: speech starts under 150 ms after the key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

use kiosk_app::View;
use kiosk_app::app::Controller;
use kiosk_app::render::Offscreen;
use slint::ComponentHandle;
use slint::platform::{Key, WindowEvent};

fn press(c: &Controller, off: &Offscreen, text: &str) {
    let w = off.ui.window();
    w.dispatch_event(WindowEvent::KeyPressed { text: text.into() });
    w.dispatch_event(WindowEvent::KeyReleased { text: text.into() });
    c.pump();
}

/// What the WAV file `path` holds: samples, the index of the first sound (`usize::MAX` while
/// there is none) and the rate; `None` while it has no audio.
fn audio_in(path: &Path) -> Option<(usize, usize, u32)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() <= 44 {
        return None;
    }
    let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    let samples: Vec<i16> = bytes[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let first_sound = samples.iter().position(|s| s.unsigned_abs() > 256);
    Some((samples.len(), first_sound.unwrap_or(usize::MAX), rate))
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// The peak resident memory of espeak-ng saying `text` in `voice`, in MB.
fn engine_peak_mb(voice: &str, text: &str) -> f64 {
    let mut child = std::process::Command::new("espeak-ng")
        .args(["-v", voice, "--stdout", "--", text])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("espeak-ng (scripts/setup.sh installs it)");
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0.0f64;
    while child.try_wait().unwrap().is_none() {
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    peak_kb / 1024.0
}

fn main() {
    let k = common::Kiosk::start("bench-speech", |d| {
        format!(
            "[speech]\nrecord_dir = \"{}\"\n",
            d.join("spoken").display()
        )
    });
    let dir = k.agent_dir.join("spoken");
    let off = Offscreen::new(1920, 1080, true).unwrap();
    let c = Controller::new(&off.ui, k.app_config()).unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while off.ui.global::<View>().get_kiosk_name().is_empty() {
        assert!(Instant::now() < end, "the agent did not answer");
        c.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    press(&c, &off, "*");
    std::thread::sleep(Duration::from_millis(800));

    let down = char::from(Key::DownArrow).to_string();
    let (mut first_audio, mut speech_starts) = (Vec::new(), Vec::new());
    for _ in 0..40 {
        let n = c.spoken().len() + 1;
        let file = dir.join(format!("{n:06}-speaker.wav"));
        let t0 = Instant::now();
        press(&c, &off, &down);
        let (at, silence) = loop {
            if audio_in(&file).is_some() {
                let at = t0.elapsed().as_secs_f64() * 1000.0;
                // The engine writes the leading silence in one go with the first word: wait for
                // the sound to know how long the silence is.
                let silence = loop {
                    match audio_in(&file) {
                        Some((_, f, rate)) if f != usize::MAX => {
                            break f as f64 * 1000.0 / f64::from(rate);
                        }
                        _ if t0.elapsed() > Duration::from_secs(5) => break 0.0,
                        _ => std::thread::sleep(Duration::from_micros(200)),
                    }
                };
                break (at, silence);
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "no speech for key press {n}"
            );
            std::thread::sleep(Duration::from_micros(200));
        };
        first_audio.push(at);
        speech_starts.push(at + silence);
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "key press → speech, {} presses (median / p95 / max):",
        first_audio.len()
    );
    for (what, v) in [
        ("first audio", &mut first_audio),
        ("speech starts", &mut speech_starts),
    ] {
        let (m, p95, max) = (percentile(v, 0.5), percentile(v, 0.95), percentile(v, 1.0));
        println!("  {what:<14} {m:6.1} ms  {p95:6.1} ms  {max:6.1} ms");
    }
    let long =
        "Vítejte u samoobslužného kiosku města. Podejte žádost, dostanete potvrzení s kódem, \
                nebo zjistěte, jak se vaše žádost vyřizuje. "
            .repeat(4);
    println!("speech engine (espeak-ng), peak resident memory per utterance:");
    for voice in ["cs", "en", "uk"] {
        println!("  {voice}: {:.1} MB", engine_peak_mb(voice, &long));
    }
}
