//! The touchscreen: decoding evdev touch events into finger positions, and the device's health.
//!
//! [`TouchDecoder`] understands the multi-touch protocol B (`ABS_MT_SLOT`,
//! `ABS_MT_TRACKING_ID`, `ABS_MT_POSITION_X/Y`) and single-touch panels (`BTN_TOUCH` with
//! `ABS_X/Y`). It reports a touch when a frame ends (`SYN_REPORT`); after `SYN_DROPPED` it lifts
//! every finger and ignores the rest of the broken frame. The agent uses it only for health and
//! the technician's touch test: the UI reads the touchscreen itself.

pub mod device;
use protocol::app::TouchPhase;

use super::input::{AxisRange, EV_ABS, EV_KEY, EV_SYN, InputRecord, SYN_DROPPED, SYN_REPORT};

/// `ABS_X`.
pub const ABS_X: u16 = 0x00;
/// `ABS_Y`.
pub const ABS_Y: u16 = 0x01;
/// `ABS_MT_SLOT`.
pub const ABS_MT_SLOT: u16 = 0x2f;
/// `ABS_MT_POSITION_X`.
pub const ABS_MT_POSITION_X: u16 = 0x35;
/// `ABS_MT_POSITION_Y`.
pub const ABS_MT_POSITION_Y: u16 = 0x36;
/// `ABS_MT_TRACKING_ID`.
pub const ABS_MT_TRACKING_ID: u16 = 0x39;
/// `BTN_TOUCH`.
pub const BTN_TOUCH: u16 = 0x14a;

/// Most fingers tracked; slots beyond are ignored.
pub const MAX_SLOTS: usize = 10;

/// A decoded touch, before it gets a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    /// Kernel time stamp, µs.
    pub time_us: i64,
    /// Finger.
    pub slot: u16,
    /// What it did.
    pub phase: TouchPhase,
    /// 0..=10,000 across.
    pub x: u16,
    /// 0..=10,000 down.
    pub y: u16,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    down: bool,
    was_down: bool,
    moved: bool,
    x: i32,
    y: i32,
}

/// Turns input records into touches.
#[derive(Debug)]
pub struct TouchDecoder {
    x_range: AxisRange,
    y_range: AxisRange,
    slots: [Slot; MAX_SLOTS],
    current: usize,
    dropping: bool,
}

impl TouchDecoder {
    /// A decoder for a panel whose axes report `x_range` and `y_range`.
    pub fn new(x_range: AxisRange, y_range: AxisRange) -> TouchDecoder {
        TouchDecoder {
            x_range,
            y_range,
            slots: [Slot::default(); MAX_SLOTS],
            current: 0,
            dropping: false,
        }
    }

    fn slot(&mut self) -> Option<&mut Slot> {
        self.slots.get_mut(self.current)
    }

    /// Feeds one record; returns the touches a finished frame produced.
    pub fn feed(&mut self, r: &InputRecord) -> Vec<Touch> {
        if r.kind == EV_SYN && r.code == SYN_DROPPED {
            self.dropping = true;
            return self.lift_all(r.time_us);
        }
        if self.dropping {
            if r.is_report() {
                self.dropping = false;
            }
            return Vec::new();
        }
        match (r.kind, r.code) {
            (EV_ABS, ABS_MT_SLOT) => self.current = usize::try_from(r.value).unwrap_or(usize::MAX),
            (EV_ABS, ABS_MT_TRACKING_ID) => {
                if let Some(s) = self.slot() {
                    s.down = r.value >= 0;
                }
            }
            (EV_ABS, ABS_MT_POSITION_X | ABS_X) => {
                let single = r.code == ABS_X;
                if let Some(s) = self.slot_for(single) {
                    s.x = r.value;
                    s.moved = true;
                }
            }
            (EV_ABS, ABS_MT_POSITION_Y | ABS_Y) => {
                let single = r.code == ABS_Y;
                if let Some(s) = self.slot_for(single) {
                    s.y = r.value;
                    s.moved = true;
                }
            }
            // Multi-touch panels send BTN_TOUCH too; only single-touch ones rely on it.
            (EV_KEY, BTN_TOUCH) if r.value == 0 => {
                for s in &mut self.slots {
                    s.down = false;
                }
            }
            (EV_KEY, BTN_TOUCH) if !self.slots.iter().any(|s| s.down) => self.slots[0].down = true,
            (EV_SYN, SYN_REPORT) => return self.report(r.time_us),
            _ => {}
        }
        Vec::new()
    }

    /// Single-touch axes always describe slot 0.
    fn slot_for(&mut self, single: bool) -> Option<&mut Slot> {
        if single {
            return self.slots.first_mut();
        }
        self.slot()
    }

    fn touch(&self, time_us: i64, i: usize, phase: TouchPhase) -> Touch {
        let s = &self.slots[i];
        Touch {
            time_us,
            slot: i as u16,
            phase,
            x: self.x_range.scale(s.x),
            y: self.y_range.scale(s.y),
        }
    }

    fn report(&mut self, time_us: i64) -> Vec<Touch> {
        let mut out = Vec::new();
        for i in 0..MAX_SLOTS {
            let s = self.slots[i];
            let phase = match (s.was_down, s.down) {
                (false, true) => Some(TouchPhase::Down),
                (true, false) => Some(TouchPhase::Up),
                (true, true) if s.moved => Some(TouchPhase::Move),
                _ => None,
            };
            if let Some(p) = phase {
                out.push(self.touch(time_us, i, p));
            }
            let s = &mut self.slots[i];
            s.was_down = s.down;
            s.moved = false;
        }
        out
    }

    fn lift_all(&mut self, time_us: i64) -> Vec<Touch> {
        let mut out = Vec::new();
        for i in 0..MAX_SLOTS {
            if self.slots[i].was_down {
                out.push(self.touch(time_us, i, TouchPhase::Up));
            }
            self.slots[i] = Slot::default();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::input::EV_SYN;

    fn rec(t: i64, kind: u16, code: u16, value: i32) -> InputRecord {
        InputRecord::new(t, kind, code, value)
    }

    fn decode(records: &[InputRecord]) -> Vec<Touch> {
        let mut d = TouchDecoder::new(AxisRange::DEFAULT, AxisRange { min: 0, max: 999 });
        records.iter().flat_map(|r| d.feed(r)).collect()
    }

    #[test]
    fn a_multitouch_tap_is_down_then_up_at_its_position() {
        let t = decode(&[
            rec(1, EV_ABS, ABS_MT_SLOT, 0),
            rec(1, EV_ABS, ABS_MT_TRACKING_ID, 17),
            rec(1, EV_ABS, ABS_MT_POSITION_X, 4095),
            rec(1, EV_ABS, ABS_MT_POSITION_Y, 0),
            rec(1, EV_KEY, BTN_TOUCH, 1),
            rec(1, EV_SYN, SYN_REPORT, 0),
            rec(2, EV_ABS, ABS_MT_TRACKING_ID, -1),
            rec(2, EV_KEY, BTN_TOUCH, 0),
            rec(2, EV_SYN, SYN_REPORT, 0),
        ]);
        let phases: Vec<_> = t.iter().map(|t| (t.phase, t.x, t.y)).collect();
        assert_eq!(
            phases,
            vec![(TouchPhase::Down, 10_000, 0), (TouchPhase::Up, 10_000, 0)]
        );
    }

    #[test]
    fn two_fingers_are_tracked_in_their_slots() {
        let t = decode(&[
            rec(1, EV_ABS, ABS_MT_SLOT, 0),
            rec(1, EV_ABS, ABS_MT_TRACKING_ID, 1),
            rec(1, EV_ABS, ABS_MT_POSITION_X, 0),
            rec(1, EV_ABS, ABS_MT_POSITION_Y, 0),
            rec(1, EV_ABS, ABS_MT_SLOT, 1),
            rec(1, EV_ABS, ABS_MT_TRACKING_ID, 2),
            rec(1, EV_ABS, ABS_MT_POSITION_X, 4095),
            rec(1, EV_ABS, ABS_MT_POSITION_Y, 999),
            rec(1, EV_SYN, SYN_REPORT, 0),
            rec(2, EV_ABS, ABS_MT_POSITION_X, 2048),
            rec(2, EV_SYN, SYN_REPORT, 0),
        ]);
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].slot, t[0].phase), (0, TouchPhase::Down));
        assert_eq!((t[1].slot, t[1].x, t[1].y), (1, 10_000, 10_000));
        assert_eq!(
            (t[2].slot, t[2].phase, t[2].y),
            (1, TouchPhase::Move, 10_000)
        );
    }

    #[test]
    fn a_single_touch_panel_works_through_btn_touch() {
        let t = decode(&[
            rec(1, EV_ABS, ABS_X, 1000),
            rec(1, EV_ABS, ABS_Y, 500),
            rec(1, EV_KEY, BTN_TOUCH, 1),
            rec(1, EV_SYN, SYN_REPORT, 0),
            rec(2, EV_KEY, BTN_TOUCH, 0),
            rec(2, EV_SYN, SYN_REPORT, 0),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].phase, t[0].y), (TouchPhase::Down, 5005));
        assert_eq!(t[1].phase, TouchPhase::Up);
    }

    #[test]
    fn dropped_events_lift_every_finger_and_skip_the_broken_frame() {
        let t = decode(&[
            rec(1, EV_ABS, ABS_MT_TRACKING_ID, 1),
            rec(1, EV_SYN, SYN_REPORT, 0),
            rec(2, EV_SYN, SYN_DROPPED, 0),
            rec(2, EV_ABS, ABS_MT_TRACKING_ID, 5),
            rec(2, EV_SYN, SYN_REPORT, 0),
        ]);
        let phases: Vec<_> = t.iter().map(|t| t.phase).collect();
        assert_eq!(phases, vec![TouchPhase::Down, TouchPhase::Up]);
    }

    #[test]
    fn hostile_values_do_not_panic() {
        let mut d = TouchDecoder::new(AxisRange { min: 9, max: 3 }, AxisRange::DEFAULT);
        for v in [i32::MIN, -1, 0, 10, 11, i32::MAX] {
            for code in [
                ABS_MT_SLOT,
                ABS_MT_TRACKING_ID,
                ABS_MT_POSITION_X,
                ABS_X,
                0xffff,
            ] {
                let _ = d.feed(&rec(0, EV_ABS, code, v));
                let _ = d.feed(&rec(0, EV_KEY, BTN_TOUCH, v));
                let _ = d.feed(&rec(0, EV_SYN, SYN_REPORT, v));
            }
        }
    }
}
