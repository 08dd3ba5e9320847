//! Keyboard-wedge card readers: readers that "type" the card's data as a USB keyboard, ended by
//! Enter. The agent grabs such a reader exclusively through evdev, so its keystrokes never reach
//! the UI, and turns key presses back into bytes (US layout, which is what these readers emit)
//! for the same line framing serial readers use.

use super::super::input::{EV_KEY, InputRecord};

/// The byte a key this decoder does not know becomes: a control byte, so that the frame parser
/// rejects the whole line as garbage instead of guessing.
pub const UNKNOWN_KEY: u8 = 0x1a;

const KEY_ENTER: u16 = 28;
const KEY_KPENTER: u16 = 96;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_CAPSLOCK: u16 = 58;

/// The US layout: (plain, shifted) for a key code.
fn us_layout(code: u16) -> Option<(u8, u8)> {
    const ROW_DIGITS: &[u8; 10] = b"1234567890";
    const ROW_DIGITS_SHIFT: &[u8; 10] = b"!@#$%^&*()";
    let pair = |a: u8, b: u8| Some((a, b));
    match code {
        2..=11 => {
            let i = usize::from(code - 2);
            pair(ROW_DIGITS[i], ROW_DIGITS_SHIFT[i])
        }
        12 => pair(b'-', b'_'),
        13 => pair(b'=', b'+'),
        16..=25 => letter(b"qwertyuiop", code - 16),
        26 => pair(b'[', b'{'),
        27 => pair(b']', b'}'),
        30..=38 => letter(b"asdfghjkl", code - 30),
        39 => pair(b';', b':'),
        40 => pair(b'\'', b'"'),
        41 => pair(b'`', b'~'),
        43 => pair(b'\\', b'|'),
        44..=50 => letter(b"zxcvbnm", code - 44),
        51 => pair(b',', b'<'),
        52 => pair(b'.', b'>'),
        53 => pair(b'/', b'?'),
        57 => pair(b' ', b' '),
        // Keypad.
        71 => pair(b'7', b'7'),
        72 => pair(b'8', b'8'),
        73 => pair(b'9', b'9'),
        74 => pair(b'-', b'-'),
        75 => pair(b'4', b'4'),
        76 => pair(b'5', b'5'),
        77 => pair(b'6', b'6'),
        78 => pair(b'+', b'+'),
        79 => pair(b'1', b'1'),
        80 => pair(b'2', b'2'),
        81 => pair(b'3', b'3'),
        82 => pair(b'0', b'0'),
        83 => pair(b'.', b'.'),
        98 => pair(b'/', b'/'),
        55 => pair(b'*', b'*'),
        _ => None,
    }
}

fn letter(row: &[u8], i: u16) -> Option<(u8, u8)> {
    let c = *row.get(usize::from(i))?;
    Some((c, c.to_ascii_uppercase()))
}

/// Turns key events into the bytes the reader meant.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    left_shift: bool,
    right_shift: bool,
    caps_lock: bool,
}

impl KeyDecoder {
    /// A decoder with no modifier held.
    pub fn new() -> KeyDecoder {
        KeyDecoder::default()
    }

    /// Feeds one record; returns the byte a key press produced (`\n` for Enter).
    pub fn feed(&mut self, r: &InputRecord) -> Option<u8> {
        if r.kind != EV_KEY {
            return None;
        }
        let pressed = r.value == 1;
        match r.code {
            KEY_LEFTSHIFT => self.left_shift = r.value != 0,
            KEY_RIGHTSHIFT => self.right_shift = r.value != 0,
            KEY_CAPSLOCK if pressed => self.caps_lock = !self.caps_lock,
            KEY_ENTER | KEY_KPENTER if pressed => return Some(b'\n'),
            code if pressed => {
                let shift = self.left_shift || self.right_shift;
                return Some(match us_layout(code) {
                    Some((plain, shifted)) => {
                        let c = if shift { shifted } else { plain };
                        if self.caps_lock && c.is_ascii_alphabetic() {
                            if shift {
                                c.to_ascii_lowercase()
                            } else {
                                c.to_ascii_uppercase()
                            }
                        } else {
                            c
                        }
                    }
                    None => UNKNOWN_KEY,
                });
            }
            _ => {}
        }
        None
    }
}

/// Key events that type `text` (US layout) and Enter: what a wedge reader sends for a card, for
/// recordings and simulators. Characters the layout lacks are skipped.
pub fn type_line(text: &str, start_us: i64) -> Vec<InputRecord> {
    let mut out = Vec::new();
    let mut t = start_us;
    let mut key = |code: u16, value: i32, out: &mut Vec<InputRecord>| {
        out.push(InputRecord::new(t, EV_KEY, code, value));
        out.push(InputRecord::new(t, 0, 0, 0));
        t += 1_000;
    };
    for b in text.bytes() {
        let Some((code, shift)) = (0..=98u16).find_map(|code| {
            let (plain, shifted) = us_layout(code)?;
            (plain == b)
                .then_some((code, false))
                .or((shifted == b && plain != b).then_some((code, true)))
        }) else {
            continue;
        };
        if shift {
            key(KEY_LEFTSHIFT, 1, &mut out);
        }
        key(code, 1, &mut out);
        key(code, 0, &mut out);
        if shift {
            key(KEY_LEFTSHIFT, 0, &mut out);
        }
    }
    key(KEY_ENTER, 1, &mut out);
    key(KEY_ENTER, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(records: &[InputRecord]) -> Vec<u8> {
        let mut d = KeyDecoder::new();
        records.iter().filter_map(|r| d.feed(r)).collect()
    }

    #[test]
    fn a_magnetic_track_typed_by_a_reader_decodes_to_its_text() {
        let track = "%B4111111111111111^NOVAK/JAN^2812101?;4111111111111111=2812101?";
        let bytes = decode(&type_line(track, 0));
        assert_eq!(bytes, format!("{track}\n").into_bytes());
    }

    #[test]
    fn repeats_and_releases_type_nothing_and_caps_lock_flips_case() {
        let r = |code, value| InputRecord::new(0, EV_KEY, code, value);
        let bytes = decode(&[
            r(30, 1),
            r(30, 2),
            r(30, 0),
            r(KEY_CAPSLOCK, 1),
            r(KEY_CAPSLOCK, 0),
            r(30, 1),
            r(KEY_RIGHTSHIFT, 1),
            r(30, 1),
            r(KEY_RIGHTSHIFT, 0),
            r(KEY_KPENTER, 1),
        ]);
        assert_eq!(bytes, b"aAa\n");
    }

    #[test]
    fn an_unknown_key_is_a_control_byte_not_a_guess() {
        let bytes = decode(&[
            InputRecord::new(0, EV_KEY, 125, 1),
            InputRecord::new(0, EV_KEY, u16::MAX, 1),
        ]);
        assert_eq!(bytes, vec![UNKNOWN_KEY, UNKNOWN_KEY]);
    }
}
