//! Input devices without `/dev/uinput`: evdev event streams (kernel `struct input_event`
//! records) for a multi-touch panel and a keyboard-wedge card reader, written to a FIFO the
//! agent opens in place of an evdev node. The agent decodes them with the same decoder it uses
//! on a real device.
//!
//! The streams follow what real panels send (multi-touch protocol B with `BTN_TOUCH` and the
//! single-touch `ABS_X/Y` mirror, a `SYN_REPORT` after each frame, 12-bit axes) and what wedge
//! readers type (US layout, shift for upper case, Enter at the end). This encoder is written
//! separately from the agent's, so that a mistake in one shows up against the other.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest axis value of the simulated panel (12 bits).
pub const AXIS_MAX: i32 = 4095;

const EV_SYN: u16 = 0;
const EV_KEY: u16 = 1;
const EV_ABS: u16 = 3;
const EV_MSC: u16 = 4;
const MSC_TIMESTAMP: u16 = 5;
const BTN_TOUCH: u16 = 0x14a;
const ABS_X: u16 = 0;
const ABS_Y: u16 = 1;
const ABS_MT_SLOT: u16 = 0x2f;
const ABS_MT_POSITION_X: u16 = 0x35;
const ABS_MT_POSITION_Y: u16 = 0x36;
const ABS_MT_TRACKING_ID: u16 = 0x39;

/// A stream of input events being recorded.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    bytes: Vec<u8>,
    time_us: i64,
    tracking_id: i32,
}

impl Recording {
    /// An empty recording starting now.
    pub fn new() -> Recording {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Recording {
            bytes: Vec::new(),
            time_us: now,
            tracking_id: 100,
        }
    }

    /// One raw event.
    pub fn event(&mut self, kind: u16, code: u16, value: i32) -> &mut Self {
        let (sec, usec) = (self.time_us / 1_000_000, self.time_us % 1_000_000);
        self.bytes.extend_from_slice(&sec.to_le_bytes());
        self.bytes.extend_from_slice(&usec.to_le_bytes());
        self.bytes.extend_from_slice(&kind.to_le_bytes());
        self.bytes.extend_from_slice(&code.to_le_bytes());
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Ends a frame and lets `ms` pass.
    pub fn report(&mut self, ms: i64) -> &mut Self {
        self.event(EV_MSC, MSC_TIMESTAMP, (self.time_us % 1_000_000) as i32);
        self.event(EV_SYN, 0, 0);
        self.time_us += ms * 1000;
        self
    }

    /// A finger put down at (`x`, `y`) in axis units, held for `hold_ms` and lifted.
    pub fn tap(&mut self, x: i32, y: i32, hold_ms: i64) -> &mut Self {
        self.tracking_id += 1;
        let id = self.tracking_id;
        self.event(EV_ABS, ABS_MT_SLOT, 0)
            .event(EV_ABS, ABS_MT_TRACKING_ID, id)
            .event(EV_ABS, ABS_MT_POSITION_X, x)
            .event(EV_ABS, ABS_MT_POSITION_Y, y)
            .event(EV_KEY, BTN_TOUCH, 1)
            .event(EV_ABS, ABS_X, x)
            .event(EV_ABS, ABS_Y, y)
            .report(hold_ms)
            .event(EV_ABS, ABS_MT_TRACKING_ID, -1)
            .event(EV_KEY, BTN_TOUCH, 0)
            .report(80)
    }

    /// A finger drawn from one point to another in `steps` frames.
    pub fn swipe(&mut self, from: (i32, i32), to: (i32, i32), steps: i32) -> &mut Self {
        self.tracking_id += 1;
        let id = self.tracking_id;
        self.event(EV_ABS, ABS_MT_SLOT, 0)
            .event(EV_ABS, ABS_MT_TRACKING_ID, id)
            .event(EV_KEY, BTN_TOUCH, 1);
        let steps = steps.max(1);
        for i in 0..=steps {
            let x = from.0 + (to.0 - from.0) * i / steps;
            let y = from.1 + (to.1 - from.1) * i / steps;
            self.event(EV_ABS, ABS_MT_POSITION_X, x)
                .event(EV_ABS, ABS_MT_POSITION_Y, y)
                .event(EV_ABS, ABS_X, x)
                .event(EV_ABS, ABS_Y, y)
                .report(16);
        }
        self.event(EV_ABS, ABS_MT_TRACKING_ID, -1)
            .event(EV_KEY, BTN_TOUCH, 0)
            .report(80)
    }

    /// Taps near the four corners (2 % in from each edge): top left, top right, bottom right,
    /// bottom left — the technician's touch test.
    pub fn corners(&mut self) -> &mut Self {
        let (lo, hi) = (AXIS_MAX * 2 / 100, AXIS_MAX * 98 / 100);
        self.tap(lo, lo, 60)
            .tap(hi, lo, 60)
            .tap(hi, hi, 60)
            .tap(lo, hi, 60)
    }

    /// A keyboard-wedge reader typing `text` (US layout) and Enter.
    pub fn typed_line(&mut self, text: &str) -> &mut Self {
        for c in text.chars().chain(['\n']) {
            let Some((code, shift)) = us_key(c) else {
                continue;
            };
            if shift {
                self.event(EV_KEY, 42, 1).report(1);
            }
            self.event(EV_KEY, code, 1).report(2);
            self.event(EV_KEY, code, 0).report(2);
            if shift {
                self.event(EV_KEY, 42, 0).report(1);
            }
        }
        self
    }

    /// The recorded bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Key code and shift for a character on a US keyboard.
fn us_key(c: char) -> Option<(u16, bool)> {
    const ROWS: [(&str, &str, u16); 4] = [
        ("1234567890-=", "!@#$%^&*()_+", 2),
        ("qwertyuiop[]", "QWERTYUIOP{}", 16),
        ("asdfghjkl;'`", "ASDFGHJKL:\"~", 30),
        ("zxcvbnm,./", "ZXCVBNM<>?", 44),
    ];
    match c {
        '\n' => return Some((28, false)),
        ' ' => return Some((57, false)),
        '\\' => return Some((43, false)),
        '|' => return Some((43, true)),
        _ => {}
    }
    for (plain, shifted, first) in ROWS {
        if let Some(i) = plain.chars().position(|p| p == c) {
            return Some((first + i as u16, false));
        }
        if let Some(i) = shifted.chars().position(|p| p == c) {
            return Some((first + i as u16, true));
        }
    }
    None
}

/// A FIFO standing in for an evdev node.
#[derive(Debug)]
pub struct InputFifo {
    path: PathBuf,
    writer: Option<File>,
}

impl InputFifo {
    /// Creates the FIFO at `path` (replacing a stale one).
    pub fn create(path: &Path) -> std::io::Result<InputFifo> {
        let _ = std::fs::remove_file(path);
        let status = std::process::Command::new("mkfifo")
            .arg("-m")
            .arg("0600")
            .arg(path)
            .status()?;
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "mkfifo {} failed",
                path.display()
            )));
        }
        Ok(InputFifo {
            path: path.to_owned(),
            writer: None,
        })
    }

    /// The path the agent opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Plugs the device in: opens the writing end (blocks until the agent opens the reading
    /// end).
    pub fn plug(&mut self) -> std::io::Result<()> {
        if self.writer.is_none() {
            self.writer = Some(std::fs::OpenOptions::new().write(true).open(&self.path)?);
        }
        Ok(())
    }

    /// Unplugs the device: the agent's read ends.
    pub fn unplug(&mut self) {
        self.writer = None;
    }

    /// Sends events (plugging in first).
    pub fn send(&mut self, rec: &Recording) -> std::io::Result<()> {
        self.plug()?;
        match self.writer.as_mut() {
            Some(w) => {
                w.write_all(rec.bytes())?;
                w.flush()
            }
            None => Err(std::io::Error::other("not plugged")),
        }
    }
}

impl Drop for InputFifo {
    fn drop(&mut self) {
        self.writer = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_is_whole_records_ending_in_a_report() {
        let mut r = Recording::new();
        r.tap(10, 20, 50);
        assert_eq!(r.bytes().len() % 24, 0);
        let last = &r.bytes()[r.bytes().len() - 24..];
        assert_eq!(&last[16..24], &[0u8; 8], "SYN_REPORT last");
    }

    #[test]
    fn every_character_of_a_magnetic_track_has_a_key() {
        for c in "%B4111111111111111^NOVAK/JAN^2812101?;=0123456789abcXYZ".chars() {
            assert!(us_key(c).is_some(), "{c}");
        }
    }
}
