//! Line editing for the serial console, as a byte-at-a-time state machine: what the terminal
//! sent goes in, the editor answers with what to echo and, at Enter, the line.
//!
//! - ANSI terminals (picocom, minicom, screen, PuTTY): insert anywhere, ←/→, Home/End (and
//!   their `ESC O` and `ESC [1~`/`[4~` forms), Backspace/Delete, ↑/↓ through the history,
//!   Ctrl-A/E/U/K/W, Tab completion, Ctrl-C (drops the line), Ctrl-D on an empty line (sign out).
//! - Dumb terminals: characters and Backspace only, no escape sequences in the echo.
//! - A line longer than [`MAX_LINE`] is dropped whole, whatever its length, with one notice;
//!   bytes that are not printable UTF-8 are ignored. Nothing makes the editor grow without bound.

/// The longest line kept.
pub const MAX_LINE: usize = 4096;
/// Lines remembered for ↑.
const HISTORY: usize = 100;

/// What a byte did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Nothing to act on (the echo may have changed).
    None,
    /// Enter: a whole line.
    Line(String),
    /// Enter after a line over [`MAX_LINE`].
    TooLong,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D on an empty line.
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    No,
    Start,
    Csi,
    Ss3,
}

/// The editor of one session.
#[derive(Debug)]
pub struct Editor {
    line: Vec<char>,
    cursor: usize,
    /// Whether the terminal understands ANSI sequences.
    pub ansi: bool,
    /// Echo `*` instead of the characters (codes).
    pub secret: bool,
    esc: Esc,
    csi: String,
    utf8: Vec<u8>,
    overflow: bool,
    last_cr: bool,
    history: Vec<String>,
    browsing: Option<usize>,
    /// Completion candidates.
    words: Vec<&'static str>,
    /// Set when the echo listed completions: the prompt and line need printing again.
    pub reprint: bool,
}

impl Editor {
    /// An editor completing `words` (the commands).
    pub fn new(words: Vec<&'static str>) -> Editor {
        Editor {
            line: Vec::new(),
            cursor: 0,
            ansi: true,
            secret: false,
            esc: Esc::No,
            csi: String::new(),
            utf8: Vec::new(),
            overflow: false,
            last_cr: false,
            history: Vec::new(),
            browsing: None,
            words,
            reprint: false,
        }
    }

    /// Feeds one byte; appends the echo to `out`.
    pub fn feed(&mut self, b: u8, out: &mut Vec<u8>) -> Event {
        // CR LF and LF CR count as one Enter.
        let was_cr = std::mem::replace(&mut self.last_cr, b == b'\r');
        if b == b'\n' && was_cr {
            return Event::None;
        }
        // A control byte inside an escape sequence ends the sequence and counts as itself
        // (Ctrl-C in the middle of an arrow key still interrupts); an ASCII byte ends an
        // unfinished UTF-8 character and counts as itself.
        let control = b < 0x20 || b == 0x7f;
        match self.esc {
            Esc::Start if !control => {
                self.esc = match b {
                    b'[' => Esc::Csi,
                    b'O' => Esc::Ss3,
                    _ => Esc::No,
                };
                self.csi.clear();
                return Event::None;
            }
            Esc::Csi if !control => {
                if (0x40..=0x7e).contains(&b) {
                    self.esc = Esc::No;
                    let params = std::mem::take(&mut self.csi);
                    self.sequence(&params, b, out);
                } else if self.csi.len() < 16 {
                    self.csi.push(b as char);
                } else {
                    self.esc = Esc::No;
                }
                return Event::None;
            }
            Esc::Ss3 if !control => {
                self.esc = Esc::No;
                self.sequence("", b, out);
                return Event::None;
            }
            Esc::No => {}
            Esc::Start | Esc::Csi | Esc::Ss3 => {
                self.esc = Esc::No;
                self.csi.clear();
            }
        }
        if b < 0x80 {
            self.utf8.clear();
        }
        match b {
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                self.utf8.clear();
                let line: String = self.line.drain(..).collect();
                self.cursor = 0;
                self.browsing = None;
                if std::mem::take(&mut self.overflow) {
                    return Event::TooLong;
                }
                if !self.secret && !line.trim().is_empty() {
                    if self.history.last() != Some(&line) {
                        self.history.push(line.clone());
                    }
                    if self.history.len() > HISTORY {
                        self.history.remove(0);
                    }
                }
                Event::Line(line)
            }
            0x1b => {
                if self.ansi {
                    self.esc = Esc::Start;
                }
                Event::None
            }
            0x03 => {
                out.extend_from_slice(b"^C\r\n");
                self.line.clear();
                self.cursor = 0;
                self.overflow = false;
                Event::Interrupt
            }
            0x04 if self.line.is_empty() => Event::Eof,
            0x7f | 0x08 => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.line.remove(self.cursor);
                    if self.ansi {
                        out.push(0x08);
                        self.redraw_tail(out);
                    } else {
                        out.extend_from_slice(b"\x08 \x08");
                    }
                }
                Event::None
            }
            0x09 if self.ansi && !self.secret => {
                self.complete(out);
                Event::None
            }
            0x01 if self.ansi => {
                self.move_to(0, out);
                Event::None
            }
            0x05 if self.ansi => {
                self.move_to(self.line.len(), out);
                Event::None
            }
            0x15 => {
                // Ctrl-U: the whole line goes.
                self.move_to(0, out);
                let n = self.line.len();
                self.line.clear();
                if self.ansi {
                    self.redraw_tail(out);
                } else {
                    for _ in 0..n {
                        out.extend_from_slice(b"\x08 \x08");
                    }
                }
                Event::None
            }
            0x0b if self.ansi => {
                self.line.truncate(self.cursor);
                self.redraw_tail(out);
                Event::None
            }
            0x17 if self.ansi => {
                // Ctrl-W: the word before the cursor.
                let mut start = self.cursor;
                while start > 0 && self.line[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.line[start - 1] != ' ' {
                    start -= 1;
                }
                let n = self.cursor - start;
                self.move_to(start, out);
                self.line.drain(start..start + n);
                self.redraw_tail(out);
                Event::None
            }
            0x20..=0x7e | 0x80..=0xff => {
                self.utf8.push(b);
                match std::str::from_utf8(&self.utf8) {
                    Ok(s) => {
                        let c = s.chars().next().unwrap_or(' ');
                        self.utf8.clear();
                        self.insert(c, out);
                    }
                    Err(e) if e.error_len().is_some() || self.utf8.len() >= 4 => {
                        self.utf8.clear();
                    }
                    Err(_) => {}
                }
                Event::None
            }
            _ => Event::None,
        }
    }

    fn insert(&mut self, c: char, out: &mut Vec<u8>) {
        if self.overflow || self.line.len() >= MAX_LINE {
            if !self.overflow {
                self.overflow = true;
                out.extend_from_slice(
                    format!("\r\n[line over {MAX_LINE} characters: it will be ignored]\r\n")
                        .as_bytes(),
                );
            }
            return;
        }
        self.line.insert(self.cursor, c);
        self.cursor += 1;
        let shown = if self.secret { '*' } else { c };
        let mut buf = [0u8; 4];
        out.extend_from_slice(shown.encode_utf8(&mut buf).as_bytes());
        if self.ansi && self.cursor < self.line.len() {
            self.redraw_tail(out);
        }
    }

    /// Rewrites from the cursor to the end of the line and puts the cursor back.
    fn redraw_tail(&self, out: &mut Vec<u8>) {
        if !self.ansi {
            return;
        }
        let tail: String = if self.secret {
            "*".repeat(self.line.len() - self.cursor)
        } else {
            self.line[self.cursor..].iter().collect()
        };
        // Erase to the end of the line, write the tail, go back.
        out.extend_from_slice(b"\x1b[K");
        out.extend_from_slice(tail.as_bytes());
        let back = self.line.len() - self.cursor;
        if back > 0 {
            out.extend_from_slice(format!("\x1b[{back}D").as_bytes());
        }
    }

    /// Moves the cursor; only an ANSI terminal is told (a dumb one only ever edits at the end).
    fn move_to(&mut self, to: usize, out: &mut Vec<u8>) {
        if !self.ansi {
            self.cursor = to;
            return;
        }
        if to < self.cursor {
            out.extend_from_slice(format!("\x1b[{}D", self.cursor - to).as_bytes());
        } else if to > self.cursor {
            out.extend_from_slice(format!("\x1b[{}C", to - self.cursor).as_bytes());
        }
        self.cursor = to;
    }

    fn replace(&mut self, text: &str, out: &mut Vec<u8>) {
        self.move_to(0, out);
        self.line = text.chars().collect();
        self.cursor = self.line.len();
        out.extend_from_slice(b"\x1b[K");
        out.extend_from_slice(text.as_bytes());
    }

    fn sequence(&mut self, params: &str, fin: u8, out: &mut Vec<u8>) {
        match (params, fin) {
            ("", b'D') if self.cursor > 0 => self.move_to(self.cursor - 1, out),
            ("", b'C') if self.cursor < self.line.len() => self.move_to(self.cursor + 1, out),
            ("", b'H') | ("1", b'~') | ("7", b'~') => self.move_to(0, out),
            ("", b'F') | ("4", b'~') | ("8", b'~') => self.move_to(self.line.len(), out),
            ("3", b'~') if self.cursor < self.line.len() => {
                self.line.remove(self.cursor);
                self.redraw_tail(out);
            }
            ("", b'A') if !self.secret && !self.history.is_empty() => {
                let i = match self.browsing {
                    None => self.history.len() - 1,
                    Some(i) => i.saturating_sub(1),
                };
                self.browsing = Some(i);
                let text = self.history[i].clone();
                self.replace(&text, out);
            }
            ("", b'B') if !self.secret => match self.browsing {
                Some(i) if i + 1 < self.history.len() => {
                    self.browsing = Some(i + 1);
                    let text = self.history[i + 1].clone();
                    self.replace(&text, out);
                }
                Some(_) => {
                    self.browsing = None;
                    self.replace("", out);
                }
                None => {}
            },
            _ => {}
        }
    }

    /// Tab: completes the first word to the commands it can start; lists them when several.
    fn complete(&mut self, out: &mut Vec<u8>) {
        let text: String = self.line.iter().collect();
        if text.contains(' ') || self.cursor != self.line.len() {
            return;
        }
        let matches: Vec<&str> = self
            .words
            .iter()
            .copied()
            .filter(|w| w.starts_with(text.as_str()))
            .collect();
        match matches.as_slice() {
            [] => out.push(0x07),
            [one] => {
                let rest = format!("{} ", &one[text.len()..]);
                for c in rest.chars() {
                    self.insert(c, out);
                }
            }
            many => {
                // The longest common prefix, then the list.
                let mut common = many[0].to_owned();
                for m in &many[1..] {
                    let n = common
                        .chars()
                        .zip(m.chars())
                        .take_while(|(a, b)| a == b)
                        .count();
                    common.truncate(n);
                }
                if common.len() > text.len() {
                    for c in common[text.len()..].chars() {
                        self.insert(c, out);
                    }
                } else {
                    out.extend_from_slice(format!("\r\n{}\r\n", many.join("  ")).as_bytes());
                    self.reprint = true;
                }
            }
        }
    }

    /// The line as typed so far (for reprinting after a listing).
    pub fn current(&self) -> String {
        self.line.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(e: &mut Editor, s: &[u8]) -> (Vec<Event>, String) {
        let mut out = Vec::new();
        let ev = s
            .iter()
            .map(|b| e.feed(*b, &mut out))
            .filter(|e| *e != Event::None)
            .collect();
        (ev, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn edits_with_arrows_home_end_and_delete() {
        let mut e = Editor::new(vec!["status"]);
        let (ev, _) = typed(&mut e, b"sttus\x1b[D\x1b[D\x1b[Da\r");
        assert_eq!(ev, [Event::Line("status".into())]);
        let (ev, _) = typed(&mut e, b"xlogs\x1b[H\x1b[3~\x1b[F -f\r\n");
        assert_eq!(ev, [Event::Line("logs -f".into())]);
        let (ev, _) = typed(&mut e, b"abc\x7f\x7fx\r");
        assert_eq!(ev, [Event::Line("ax".into())]);
        let (ev, _) = typed(&mut e, b"one two\x17\x15net\r");
        assert_eq!(ev, [Event::Line("net".into())]);
    }

    #[test]
    fn history_and_completion() {
        let mut e = Editor::new(vec!["status", "selftest", "net"]);
        typed(&mut e, b"net\rstatus\r");
        let (ev, _) = typed(&mut e, b"\x1b[A\x1b[A\r");
        assert_eq!(ev, [Event::Line("net".into())]);
        let (ev, _) = typed(&mut e, b"\x1b[A\x1b[B\x1b[B\r");
        assert_eq!(ev, [Event::Line(String::new())]);
        let (ev, _) = typed(&mut e, b"st\t\r");
        assert_eq!(ev, [Event::Line("status ".into())]);
        let (ev, out) = typed(&mut e, b"s\t");
        assert!(ev.is_empty() && out.contains("status  selftest"), "{out:?}");
        let (ev, _) = typed(&mut e, b"e\t\r");
        assert_eq!(ev, [Event::Line("selftest ".into())]);
    }

    #[test]
    fn long_lines_random_bytes_and_controls() {
        let mut e = Editor::new(vec![]);
        let mut out = Vec::new();
        for _ in 0..1_000_000 {
            e.feed(b'a', &mut out);
        }
        assert!(out.len() < MAX_LINE + 200, "the echo stops at the limit");
        assert_eq!(e.feed(b'\r', &mut out), Event::TooLong);
        assert_eq!(typed(&mut e, b"ok\r").0, [Event::Line("ok".into())]);
        let mut x: u32 = 7;
        let noise: Vec<u8> = (0..10_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .filter(|b| !matches!(b, b'\r' | b'\n' | 3 | 4))
            .collect();
        let (ev, _) = typed(&mut e, &noise);
        assert!(
            ev.iter()
                .all(|e| *e == Event::TooLong || matches!(e, Event::Line(_)))
        );
        assert!(e.current().chars().count() <= MAX_LINE);
        let _ = typed(&mut e, b"\x03");
        assert_eq!(typed(&mut e, b"h\xc3\xa9\r").0, [Event::Line("hé".into())]);
        assert_eq!(typed(&mut e, b"x\x03").0, [Event::Interrupt]);
        assert_eq!(typed(&mut e, b"\x04").0, [Event::Eof]);
    }

    #[test]
    fn ctrl_u_on_a_dumb_terminal_clears_the_line_without_panicking() {
        let mut e = Editor::new(vec![]);
        e.ansi = false;
        let (ev, out) = typed(&mut e, b"abc\x15xy\r");
        assert_eq!(ev, [Event::Line("xy".into())]);
        assert!(out.contains("\x08 \x08\x08 \x08\x08 \x08"), "{out:?}");
    }

    /// Every control byte (and DEL, and ESC sequences) after every short prefix, on both
    /// terminal kinds and in secret mode: no panic, the cursor stays inside the line, and the
    /// editor still takes a clean line afterwards.
    #[test]
    fn every_control_byte_keeps_the_editor_consistent() {
        let controls: Vec<u8> = (0u8..0x20).chain([0x7f]).collect();
        let prefixes: [&[u8]; 5] = [b"", b"a", b"ab c", b"x\x1b[D", b"\xc3"];
        for ansi in [true, false] {
            for secret in [false, true] {
                for p in prefixes {
                    for &a in &controls {
                        for &b in &controls {
                            let mut e = Editor::new(vec!["status", "selftest"]);
                            e.ansi = ansi;
                            e.secret = secret;
                            let mut out = Vec::new();
                            for &byte in p.iter().chain([a, b'q', b, b'z'].iter()) {
                                e.feed(byte, &mut out);
                                assert!(e.cursor <= e.line.len(), "{ansi} {p:?} {a:#x} {b:#x}");
                            }
                            let _ = typed(&mut e, b"\x03");
                            assert_eq!(typed(&mut e, b"ok\r").0, [Event::Line("ok".into())]);
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// Any byte string, on either terminal kind: no panic, the cursor stays in the line,
        /// the line never outgrows the limit, and the editor recovers after Ctrl-C.
        #[test]
        fn any_bytes_keep_the_editor_consistent(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
            ansi in proptest::bool::ANY,
            secret in proptest::bool::ANY,
        ) {
            let mut e = Editor::new(vec!["status", "selftest", "net"]);
            e.ansi = ansi;
            e.secret = secret;
            let mut out = Vec::new();
            for b in bytes {
                e.feed(b, &mut out);
                proptest::prop_assert!(e.cursor <= e.line.len());
                proptest::prop_assert!(e.line.len() <= MAX_LINE);
            }
            let _ = typed(&mut e, b"\x03");
            proptest::prop_assert_eq!(typed(&mut e, b"ok\r").0, [Event::Line("ok".into())]);
        }
    }

    #[test]
    fn dumb_and_secret_echo() {
        let mut e = Editor::new(vec!["status"]);
        e.ansi = false;
        let (ev, out) = typed(&mut e, b"stx\x7fa\x1b[A\r");
        assert_eq!(ev, [Event::Line("sta[A".into())]);
        assert!(!out.contains('\x1b'), "{out:?}");
        e.secret = true;
        let (ev, out) = typed(&mut e, b"123456\r");
        assert_eq!(ev, [Event::Line("123456".into())]);
        assert!(out.starts_with("******"), "{out:?}");
    }
}
