//! Framing of serial card readers: `STX payload ETX` or one payload per line (`CR` and/or
//! `LF`). Bytes outside a frame, frames that are too long or carry control bytes are reported
//! as garbage and skipped; the parser then waits for the next frame.

/// How a reader frames what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// `0x02 payload 0x03` (most RFID/Mifare readers).
    #[default]
    StxEtx,
    /// A payload per line, ended by CR and/or LF.
    Line,
}

/// Longest payload accepted; an ISO 7813 track 1 is at most 79 characters.
pub const MAX_PAYLOAD: usize = 128;

const STX: u8 = 0x02;
const ETX: u8 = 0x03;

/// What the parser found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete payload (printable ASCII).
    Payload(String),
    /// Bytes that were skipped, and why.
    Garbage(String),
}

/// Splits a byte stream into payloads.
#[derive(Debug)]
pub struct FrameParser {
    framing: Framing,
    buf: Vec<u8>,
    in_frame: bool,
    skipped: usize,
}

impl FrameParser {
    /// A parser for `framing`.
    pub fn new(framing: Framing) -> FrameParser {
        FrameParser {
            framing,
            buf: Vec::new(),
            in_frame: false,
            skipped: 0,
        }
    }

    fn flush_skipped(&mut self, out: &mut Vec<FrameEvent>) {
        if self.skipped > 0 {
            out.push(FrameEvent::Garbage(format!(
                "{} bytes outside a frame",
                self.skipped
            )));
            self.skipped = 0;
        }
    }

    fn finish_payload(&mut self, out: &mut Vec<FrameEvent>) {
        let payload = std::mem::take(&mut self.buf);
        if payload.is_empty() {
            return;
        }
        match String::from_utf8(payload) {
            Ok(s) if s.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
                out.push(FrameEvent::Payload(s))
            }
            _ => out.push(FrameEvent::Garbage(
                "a frame with bytes that are not printable ASCII".into(),
            )),
        }
    }

    /// Feeds bytes; returns what they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<FrameEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            match self.framing {
                Framing::StxEtx => match (self.in_frame, b) {
                    (_, STX) => {
                        if self.in_frame && !self.buf.is_empty() {
                            out.push(FrameEvent::Garbage("a frame cut short by a new one".into()));
                        }
                        self.flush_skipped(&mut out);
                        self.buf.clear();
                        self.in_frame = true;
                    }
                    (true, ETX) => {
                        self.in_frame = false;
                        // Readers often end the payload with CR LF inside the frame.
                        while matches!(self.buf.last(), Some(b'\r' | b'\n')) {
                            self.buf.pop();
                        }
                        self.finish_payload(&mut out);
                    }
                    (true, _) => self.push_byte(b, &mut out),
                    (false, _) => self.skipped += 1,
                },
                Framing::Line => match b {
                    b'\r' | b'\n' => {
                        self.flush_skipped(&mut out);
                        self.finish_payload(&mut out);
                    }
                    _ => self.push_byte(b, &mut out),
                },
            }
        }
        out
    }

    fn push_byte(&mut self, b: u8, out: &mut Vec<FrameEvent>) {
        if self.buf.len() >= MAX_PAYLOAD {
            out.push(FrameEvent::Garbage(format!(
                "a frame longer than {MAX_PAYLOAD} bytes"
            )));
            self.buf.clear();
            self.in_frame = false;
            return;
        }
        self.buf.push(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stx_etx_frames_with_garbage_around_them() {
        let mut p = FrameParser::new(Framing::StxEtx);
        let mut ev = p.push(b"\xff\x00junk\x020A1B2C3D\r\n\x03");
        ev.extend(p.push(b"\x02DEAD"));
        ev.extend(p.push(b"BEEF\x03"));
        assert_eq!(
            ev,
            vec![
                FrameEvent::Garbage("6 bytes outside a frame".into()),
                FrameEvent::Payload("0A1B2C3D".into()),
                FrameEvent::Payload("DEADBEEF".into()),
            ]
        );
        // A frame cut short by a new one, and one with binary inside.
        let ev = p.push(b"\x02AB\x02CD\x03\x02\x01\x03");
        assert_eq!(
            ev[0],
            FrameEvent::Garbage("a frame cut short by a new one".into())
        );
        assert_eq!(ev[1], FrameEvent::Payload("CD".into()));
        assert!(matches!(ev[2], FrameEvent::Garbage(_)));
    }

    #[test]
    fn line_frames_and_overlong_payloads() {
        let mut p = FrameParser::new(Framing::Line);
        assert_eq!(
            p.push(b"1234\r\n\r\n;4111=2512?\n"),
            vec![
                FrameEvent::Payload("1234".into()),
                FrameEvent::Payload(";4111=2512?".into())
            ]
        );
        let long = vec![b'7'; MAX_PAYLOAD + 10];
        let ev = p.push(&long);
        assert!(matches!(ev[0], FrameEvent::Garbage(_)));
    }
}
