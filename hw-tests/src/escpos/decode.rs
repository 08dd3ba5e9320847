//! The streaming ESC/POS decoder.

use super::codepage::CodePage;
use super::model::{Align, Block, Line, Receipt, Span, Style};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const DLE: u8 = 0x10;

/// Something the printer must react to while the stream goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `DLE EOT n`: real-time status request, `n` = 1 printer, 2 offline cause, 3 error cause,
    /// 4 paper sensor.
    StatusRequest(u8),
    /// A cut was printed: the end of a job.
    Cut,
    /// `GS r n`: transmit status, answered when the printer reaches it in the stream (unlike
    /// `DLE EOT`), so it proves everything before it was processed. `n` 1 = paper sensor.
    TransmitStatus(u8),
}

/// How the next command in the buffer parses.
enum Step {
    /// It needs more bytes.
    Incomplete,
    /// It is `len` bytes long.
    Done(usize),
}

/// Decodes ESC/POS bytes as they arrive.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    receipt: Receipt,
    line: Vec<Span>,
    style: Style,
    align: Align,
    line_align: Align,
    codepage: CodePage,
    qr_data: Option<Vec<u8>>,
    qr_module: u8,
    qr_ec: char,
    symbol_data: Option<(u8, String)>,
    graphics: Option<(u32, u32)>,
    events: Vec<Event>,
    /// `ESC 3 n`, while set.
    spacing: Option<u8>,
    /// `ESC D` tab stops, in characters (empty: every 8).
    tabs: Vec<u8>,
    /// The last block was an `ESC *` column image strip: the line feed after it advances the
    /// paper by the strip, it prints no blank line.
    after_strip: bool,
    /// The last block is an image made of `ESC *` strips (the next strip joins it).
    strip_run: bool,
}

fn u16le(lo: u8, hi: u8) -> usize {
    usize::from(lo) | usize::from(hi) << 8
}

fn barcode_kind(m: u8) -> &'static str {
    match m {
        0 | 65 => "UPC-A",
        1 | 66 => "UPC-E",
        2 | 67 => "EAN13",
        3 | 68 => "EAN8",
        4 | 69 => "CODE39",
        5 | 70 => "ITF",
        6 | 71 => "CODABAR",
        72 => "CODE93",
        73 => "CODE128",
        74 => "GS1-128",
        _ => "OTHER",
    }
}

impl Decoder {
    /// A decoder in the printer's power-on state.
    pub fn new() -> Decoder {
        Decoder {
            qr_module: 3,
            qr_ec: 'L',
            ..Default::default()
        }
    }

    /// Feeds bytes; returns the events they raised. An incomplete command waits for more.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        while pos < self.buf.len() {
            match self.step(pos) {
                Step::Incomplete => break,
                Step::Done(n) => pos += n.max(1),
            }
        }
        self.buf.drain(..pos);
        std::mem::take(&mut self.events)
    }

    /// The receipt so far, with an unfinished line printed and an unfinished command reported.
    pub fn finish(mut self) -> Receipt {
        if !self.buf.is_empty() {
            let head: Vec<String> = self
                .buf
                .iter()
                .take(4)
                .map(|b| format!("{b:02X}"))
                .collect();
            self.warn(format!(
                "stream ends inside a command ({} bytes: {} …)",
                self.buf.len(),
                head.join(" ")
            ));
        }
        if !self.line.is_empty() {
            self.end_line();
        }
        self.receipt
    }

    /// The receipt so far (lines still in the buffer are not in it).
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }

    /// Takes the receipt so far and starts a new one, keeping the printer's mode.
    pub fn take_receipt(&mut self) -> Receipt {
        std::mem::take(&mut self.receipt)
    }

    fn warn(&mut self, w: String) {
        tracing::warn!(target: "escpos", "{w}");
        if self.receipt.warnings.len() < 1000 {
            self.receipt.warnings.push(w);
        }
    }

    fn push_char(&mut self, c: char) {
        if self.line.is_empty() {
            self.line_align = self.align;
        }
        match self.line.last_mut() {
            Some(span) if span.style == self.style => span.text.push(c),
            _ => self.line.push(Span {
                text: c.to_string(),
                style: self.style,
            }),
        }
    }

    fn end_line(&mut self) {
        let align = if self.line.is_empty() {
            self.align
        } else {
            self.line_align
        };
        self.strip_run = false;
        let spans = std::mem::take(&mut self.line);
        self.receipt.blocks.push(Block::Line(Line {
            spans,
            align,
            spacing: self.spacing,
        }));
    }

    fn flush_if_pending(&mut self) {
        if !self.line.is_empty() {
            self.end_line();
        }
    }

    /// Whether the last block is an image of `ESC *` strips nothing came after.
    fn after_strip_run(&self) -> bool {
        self.strip_run && matches!(self.receipt.blocks.last(), Some(Block::Image { .. }))
    }

    fn reset(&mut self) {
        self.style = Style::default();
        self.align = Align::Left;
        self.codepage = CodePage::default();
        self.spacing = None;
        self.tabs.clear();
    }

    /// Bytes available from `pos`, or `None` when fewer than `n`.
    fn need(&self, pos: usize, n: usize) -> Option<&[u8]> {
        self.buf.get(pos..pos + n)
    }

    fn step(&mut self, pos: usize) -> Step {
        let b = self.buf[pos];
        match b {
            0x0A | 0x0C => {
                if std::mem::take(&mut self.after_strip) && self.line.is_empty() {
                    return Step::Done(1);
                }
                self.end_line();
                Step::Done(1)
            }
            0x0D | 0x00 => Step::Done(1),
            0x09 => {
                let col: usize = self.line.iter().map(|s| s.text.chars().count()).sum();
                let next = self
                    .tabs
                    .iter()
                    .map(|&t| usize::from(t))
                    .find(|&t| t > col)
                    .unwrap_or(if self.tabs.is_empty() {
                        col + 8 - col % 8
                    } else {
                        col
                    });
                for _ in col..next {
                    self.push_char(' ');
                }
                Step::Done(1)
            }
            ESC => self.esc(pos),
            GS => self.gs(pos),
            FS => self.fs(pos),
            DLE => self.dle(pos),
            0x01..=0x1F => {
                self.warn(format!("skipped control byte {b:02X}"));
                Step::Done(1)
            }
            _ => {
                self.after_strip = false;
                let c = self.codepage.decode(b);
                self.push_char(c);
                Step::Done(1)
            }
        }
    }

    fn dle(&mut self, pos: usize) -> Step {
        let Some(&[_, f]) = self.need(pos, 2) else {
            return Step::Incomplete;
        };
        match f {
            0x04 | 0x05 => {
                let Some(&[_, _, n]) = self.need(pos, 3) else {
                    return Step::Incomplete;
                };
                if f == 0x04 {
                    self.events.push(Event::StatusRequest(n));
                }
                Step::Done(3)
            }
            0x14 => {
                if self.need(pos, 5).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(5)
            }
            _ => {
                self.warn(format!("skipped unknown command DLE {f:02X}"));
                Step::Done(1)
            }
        }
    }

    fn esc(&mut self, pos: usize) -> Step {
        let Some(&[_, c]) = self.need(pos, 2) else {
            return Step::Incomplete;
        };
        // Commands with one parameter byte.
        let one = |s: &Self| s.need(pos, 3).map(|v| v[2]);
        match c {
            b'@' => {
                self.reset();
                Step::Done(2)
            }
            b'2' => {
                self.spacing = None;
                Step::Done(2)
            }
            b'i' | b'm' | b'<' | b'L' | b'S' | b'F' | b'\x0c' => Step::Done(2),
            b'!' | b'E' | b'G' | b'-' | b'a' | b'd' | b'J' | b't' | b'M' | b'R' | b'{' | b'3'
            | b'V' | b' ' | b'=' | b'r' | b'U' | b'T' | b'K' | b'e' | b'u' | b'v' | b'I' | b'%'
            | b'?' | b'4' | b'A' | b'O' | b'n' | b'N' | b'x' | b'Z' | b'y' => {
                let Some(n) = one(self) else {
                    return Step::Incomplete;
                };
                self.esc_one(c, n);
                Step::Done(3)
            }
            b'$' | b'\\' => {
                if self.need(pos, 4).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(4)
            }
            b'c' => {
                if self.need(pos, 4).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(4)
            }
            b'p' => {
                if self.need(pos, 5).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(5)
            }
            b'W' => {
                if self.need(pos, 10).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(10)
            }
            b'&' => {
                // User-defined characters: y c1 c2, then for each character x and y*x bytes.
                let Some(&[_, _, y, c1, c2]) = self.need(pos, 5) else {
                    return Step::Incomplete;
                };
                let mut len = 5;
                for _ in c1..=c2.max(c1) {
                    let Some(&[x]) = self.need(pos + len, 1) else {
                        return Step::Incomplete;
                    };
                    len += 1 + usize::from(y) * usize::from(x);
                }
                if self.need(pos, len).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(len)
            }
            b'(' => {
                // ESC ( A/Y/…: a length-prefixed body.
                let Some(&[_, _, _, pl, ph]) = self.need(pos, 5) else {
                    return Step::Incomplete;
                };
                let len = 5 + u16le(pl, ph);
                if self.need(pos, len).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(len)
            }
            b'D' => {
                // Tab positions: up to 32 bytes, NUL-terminated.
                match self.buf[pos + 2..].iter().take(33).position(|&b| b == 0) {
                    Some(i) => {
                        let mut stops: Vec<u8> = self.buf[pos + 2..pos + 2 + i].to_vec();
                        stops.dedup();
                        self.tabs = stops;
                        Step::Done(2 + i + 1)
                    }
                    None if self.buf.len() - pos - 2 > 32 => {
                        self.warn("ESC D without its NUL terminator".into());
                        Step::Done(2)
                    }
                    None => Step::Incomplete,
                }
            }
            b'*' => {
                let Some(&[_, _, m, nl, nh]) = self.need(pos, 5) else {
                    return Step::Incomplete;
                };
                let columns = u16le(nl, nh);
                let per_column = if m >= 32 { 3 } else { 1 };
                let len = 5 + columns * per_column;
                if self.need(pos, len).is_none() {
                    return Step::Incomplete;
                }
                self.flush_if_pending();
                let height = if m >= 32 { 24 } else { 8 };
                // Strips printed one under another make one image.
                let joins = self.after_strip_run();
                match self.receipt.blocks.last_mut() {
                    Some(Block::Image {
                        width, height: h, ..
                    }) if joins && *width == columns as u32 => {
                        *h += height;
                    }
                    _ => self.receipt.blocks.push(Block::Image {
                        width: columns as u32,
                        height,
                        align: self.align,
                    }),
                }
                self.after_strip = true;
                self.strip_run = true;
                Step::Done(len)
            }
            _ => {
                self.warn(format!("skipped unknown command ESC {c:02X}"));
                Step::Done(2)
            }
        }
    }

    fn esc_one(&mut self, c: u8, n: u8) {
        let on = n & 1 == 1;
        match c {
            b'!' => {
                self.style.font_b = n & 0x01 != 0;
                self.style.bold = n & 0x08 != 0;
                self.style.height = if n & 0x10 != 0 { 2 } else { 1 };
                self.style.width = if n & 0x20 != 0 { 2 } else { 1 };
                self.style.underline = if n & 0x80 != 0 { 1 } else { 0 };
            }
            b'E' | b'G' => self.style.bold = on,
            b'4' => self.style.italic = on,
            b'{' => self.style.upside_down = on,
            b'3' => self.spacing = Some(n),
            b'-' => self.style.underline = n % 48 % 3,
            b'M' => self.style.font_b = n % 48 == 1,
            b'a' => {
                self.align = match n % 48 {
                    1 => Align::Center,
                    2 => Align::Right,
                    _ => Align::Left,
                }
            }
            b'd' => {
                let blank = if self.line.is_empty() {
                    n
                } else {
                    n.saturating_sub(1)
                };
                self.flush_if_pending();
                for _ in 0..blank {
                    self.end_line();
                }
            }
            b'J' => self.flush_if_pending(),
            b't' => match CodePage::from_esc_t(n) {
                Some(cp) => self.codepage = cp,
                None => self.warn(format!(
                    "code page ESC t {n} is not known; kept {:?}",
                    self.codepage
                )),
            },
            _ => {}
        }
    }

    fn gs(&mut self, pos: usize) -> Step {
        let Some(&[_, c]) = self.need(pos, 2) else {
            return Step::Incomplete;
        };
        match c {
            b'!' => {
                let Some(&[_, _, n]) = self.need(pos, 3) else {
                    return Step::Incomplete;
                };
                self.style.width = (n >> 4 & 7) + 1;
                self.style.height = (n & 7) + 1;
                Step::Done(3)
            }
            b'B' => {
                let Some(&[_, _, n]) = self.need(pos, 3) else {
                    return Step::Incomplete;
                };
                self.style.invert = n & 1 == 1;
                Step::Done(3)
            }
            b'V' => {
                let Some(&[_, _, m]) = self.need(pos, 3) else {
                    return Step::Incomplete;
                };
                let len = if matches!(m, 0 | 1 | 48 | 49) { 3 } else { 4 };
                if self.need(pos, len).is_none() {
                    return Step::Incomplete;
                }
                self.flush_if_pending();
                self.receipt.blocks.push(Block::Cut {
                    partial: matches!(m, 1 | 49 | 66 | 98 | 104),
                });
                self.events.push(Event::Cut);
                Step::Done(len)
            }
            b'h' | b'w' | b'H' | b'f' | b'a' | b'r' | b'I' | b'b' | b'E' | b'T' | b'/' | b'j' => {
                let Some(&[_, _, n]) = self.need(pos, 3) else {
                    return Step::Incomplete;
                };
                if c == b'r' {
                    self.events.push(Event::TransmitStatus(n % 48));
                }
                if c == b'/' {
                    self.flush_if_pending();
                    self.strip_run = false;
                    self.receipt.blocks.push(Block::Image {
                        width: 0,
                        height: 0,
                        align: self.align,
                    });
                }
                Step::Done(3)
            }
            b'L' | b'W' | b'P' | b'$' | b'\\' => {
                if self.need(pos, 4).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(4)
            }
            b'*' => {
                let Some(&[_, _, x, y]) = self.need(pos, 4) else {
                    return Step::Incomplete;
                };
                let len = 4 + usize::from(x) * usize::from(y) * 8;
                if self.need(pos, len).is_none() {
                    return Step::Incomplete;
                }
                Step::Done(len)
            }
            b'v' => {
                let Some(&[_, _, _, _, xl, xh, yl, yh]) = self.need(pos, 8) else {
                    return Step::Incomplete;
                };
                let (wb, h) = (u16le(xl, xh), u16le(yl, yh));
                let len = 8 + wb * h;
                if self.need(pos, len).is_none() {
                    return Step::Incomplete;
                }
                self.flush_if_pending();
                self.strip_run = false;
                self.receipt.blocks.push(Block::Image {
                    width: (wb * 8) as u32,
                    height: h as u32,
                    align: self.align,
                });
                Step::Done(len)
            }
            b'k' => self.barcode(pos),
            b'(' => self.gs_paren(pos),
            _ => {
                self.warn(format!("skipped unknown command GS {c:02X}"));
                Step::Done(2)
            }
        }
    }

    fn fs(&mut self, pos: usize) -> Step {
        let Some(&[_, c]) = self.need(pos, 2) else {
            return Step::Incomplete;
        };
        let len = match c {
            b'&' | b'.' => 2,
            b'!' | b'-' | b'C' | b'W' => 3,
            b'S' | b'p' => 4,
            _ => {
                self.warn(format!("skipped unknown command FS {c:02X}"));
                return Step::Done(2);
            }
        };
        if self.need(pos, len).is_none() {
            return Step::Incomplete;
        }
        if c == b'p' {
            // Print a stored (NV) bit image.
            self.flush_if_pending();
            self.strip_run = false;
            self.receipt.blocks.push(Block::Image {
                width: 0,
                height: 0,
                align: self.align,
            });
        }
        Step::Done(len)
    }

    fn barcode(&mut self, pos: usize) -> Step {
        let Some(&[_, _, m]) = self.need(pos, 3) else {
            return Step::Incomplete;
        };
        let (data, len) = if m <= 6 {
            match self.buf[pos + 3..].iter().take(256).position(|&b| b == 0) {
                Some(i) => (&self.buf[pos + 3..pos + 3 + i], 3 + i + 1),
                None if self.buf.len() - pos - 3 > 255 => {
                    self.warn("barcode without its NUL terminator".into());
                    return Step::Done(3);
                }
                None => return Step::Incomplete,
            }
        } else {
            let Some(&[_, _, _, n]) = self.need(pos, 4) else {
                return Step::Incomplete;
            };
            let len = 4 + usize::from(n);
            let Some(d) = self.need(pos, len) else {
                return Step::Incomplete;
            };
            (&d[4..], len)
        };
        let mut data = String::from_utf8_lossy(data).into_owned();
        // CODE128 data starts with a code-set selector such as "{B".
        if m == 73 && data.starts_with('{') && data.len() >= 2 {
            data.drain(..2);
        }
        self.flush_if_pending();
        self.strip_run = false;
        self.receipt.blocks.push(Block::Barcode {
            kind: barcode_kind(m),
            data,
            align: self.align,
        });
        Step::Done(len)
    }

    fn gs_paren(&mut self, pos: usize) -> Step {
        let Some(&[_, _, fnc, pl, ph]) = self.need(pos, 5) else {
            return Step::Incomplete;
        };
        let body_len = u16le(pl, ph);
        let len = 5 + body_len;
        let Some(all) = self.need(pos, len) else {
            return Step::Incomplete;
        };
        let body = all[5..].to_vec();
        match fnc {
            b'k' => self.symbol(&body),
            b'L' => self.graphics(&body),
            _ => {}
        }
        Step::Done(len)
    }

    /// `GS ( k`: 2D symbols. `cn` 49 is QR.
    fn symbol(&mut self, body: &[u8]) {
        let (Some(&cn), Some(&f)) = (body.first(), body.get(1)) else {
            self.warn("GS ( k too short".into());
            return;
        };
        match (cn, f) {
            (49, 67) => self.qr_module = body.get(2).copied().unwrap_or(3),
            (49, 69) => {
                self.qr_ec = match body.get(2) {
                    Some(49) => 'M',
                    Some(50) => 'Q',
                    Some(51) => 'H',
                    _ => 'L',
                }
            }
            (49, 80) => self.qr_data = Some(body.get(3..).unwrap_or(&[]).to_vec()),
            (49, 81) => match self.qr_data.clone() {
                Some(bytes) => {
                    self.flush_if_pending();
                    self.strip_run = false;
                    // Text for people: UTF-8 when it is, else Latin-1 (an encoder that sends
                    // ISO-8859-1); the code itself holds the bytes as sent.
                    let payload = String::from_utf8(bytes.clone())
                        .unwrap_or_else(|_| bytes.iter().map(|&b| char::from(b)).collect());
                    self.receipt.blocks.push(Block::Qr {
                        payload,
                        bytes,
                        module: self.qr_module,
                        ec: self.qr_ec,
                        align: self.align,
                    });
                }
                None => self.warn("QR print without stored data".into()),
            },
            (cn, 80) => {
                self.symbol_data = Some((
                    cn,
                    String::from_utf8_lossy(body.get(3..).unwrap_or(&[])).into_owned(),
                ))
            }
            (cn, 81) => match self.symbol_data.clone() {
                Some((stored, payload)) if stored == cn => {
                    self.flush_if_pending();
                    self.receipt.blocks.push(Block::Symbol2d { cn, payload });
                }
                _ => self.warn(format!("2D symbol {cn} printed without stored data")),
            },
            _ => {}
        }
    }

    /// `GS ( L`: graphics; fn 112 stores a raster, fn 50 prints it.
    fn graphics(&mut self, body: &[u8]) {
        match body.get(1) {
            Some(112) => {
                // m fn a bx by c xL xH yL yH d…
                if let Some(&[_, _, _, _, _, _, xl, xh, yl, yh]) = body.get(..10) {
                    self.graphics = Some((u16le(xl, xh) as u32, u16le(yl, yh) as u32));
                }
            }
            Some(50) => {
                let (width, height) = self.graphics.unwrap_or((0, 0));
                self.flush_if_pending();
                self.strip_run = false;
                self.receipt.blocks.push(Block::Image {
                    width,
                    height,
                    align: self.align,
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qr(payload: &str) -> Vec<u8> {
        let mut v = vec![GS, b'(', b'k', 3, 0, 49, 67, 6];
        let n = payload.len() + 3;
        v.extend([GS, b'(', b'k', (n & 0xff) as u8, (n >> 8) as u8, 49, 80, 48]);
        v.extend(payload.as_bytes());
        v.extend([GS, b'(', b'k', 3, 0, 49, 81, 48]);
        v
    }

    #[test]
    fn text_styles_codepage_qr_barcode_cut() {
        let mut job = vec![ESC, b'@', ESC, b't', 18, ESC, b'a', 1, ESC, b'E', 1];
        job.extend(cp852("MĚSTO OSTRAVA\n"));
        job.extend([ESC, b'E', 0, ESC, b'a', 0]);
        job.extend(cp852("Kód:\n"));
        job.extend([GS, b'!', 0x11]);
        job.extend(b"001C-X86B-Y\n");
        job.extend([GS, b'!', 0]);
        job.extend(qr("https://fleet.example.cz/s/001CX86BY"));
        job.extend([GS, b'k', 73, 5, b'{', b'B', b'A', b'B', b'C']);
        job.extend([ESC, b'd', 3, GS, b'V', 66, 0]);
        let r = super::super::decode(&job);
        let text = r.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "MĚSTO OSTRAVA");
        assert_eq!(lines[1], "Kód:");
        assert_eq!(lines[2], "001C-X86B-Y");
        assert_eq!(lines[3], "[QR] https://fleet.example.cz/s/001CX86BY");
        assert_eq!(lines[4], "[BARCODE CODE128] ABC");
        assert_eq!(&lines[5..], &["", "", "", "[CUT]"]);
        let Block::Line(title) = &r.blocks[0] else {
            panic!()
        };
        assert_eq!(title.align, Align::Center);
        assert!(title.spans[0].style.bold);
        let Block::Line(code) = &r.blocks[2] else {
            panic!()
        };
        assert_eq!(
            (code.spans[0].style.width, code.spans[0].style.height),
            (2, 2)
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    fn cp852(s: &str) -> Vec<u8> {
        oem_cp::encode_string_checked(s, &oem_cp::code_table::ENCODING_TABLE_CP852)
            .expect("the text is in CP852")
    }

    #[test]
    fn czech_diacritics_in_cp852() {
        // Known CP852 positions, checked independently of the table the decoder uses.
        for (c, b) in [
            ('Ž', 0xA6),
            ('č', 0x9F),
            ('ě', 0xD8),
            ('ř', 0xFD),
            ('ů', 0x85),
        ] {
            assert_eq!(cp852(&c.to_string()), vec![b], "{c}");
            assert_eq!(CodePage::Pc852.decode(b), c);
        }
        let sentence = "Příliš žluťoučký kůň úpěl ďábelské ódy: ĚŠČŘŽÝÁÍÉŮÚŤĎŇ\n";
        let mut job = vec![ESC, b't', 18];
        job.extend(cp852(sentence));
        let r = super::super::decode(&job);
        assert_eq!(r.to_text(), sentence);
        // The same bytes under the default PC437 are not Czech: the code page matters.
        let r = super::super::decode(&cp852(sentence));
        assert_ne!(r.to_text(), sentence);
    }

    #[test]
    fn commands_split_across_feeds_and_status_requests() {
        let mut d = Decoder::new();
        let job = qr("split");
        let mut events = Vec::new();
        for chunk in job.chunks(3) {
            events.extend(d.feed(chunk));
        }
        events.extend(d.feed(&[GS, b'r']));
        events.extend(d.feed(&[1]));
        events.extend(d.feed(&[DLE]));
        events.extend(d.feed(&[0x04, 4, GS, b'V']));
        events.extend(d.feed(&[0]));
        assert_eq!(
            events,
            vec![
                Event::TransmitStatus(1),
                Event::StatusRequest(4),
                Event::Cut
            ]
        );
        let r = d.finish();
        assert_eq!(r.qr_payloads(), vec!["split"]);
        assert_eq!(r.cuts(), 1);
    }

    #[test]
    fn unknown_and_truncated_commands_are_warnings() {
        let r = super::super::decode(&[
            ESC, 0x7f, b'A', 0x07, b'\n', GS, b'v', b'0', 0, 0xff, 0xff, 0xff, 0xff,
        ]);
        assert_eq!(r.to_text(), "A\n");
        assert_eq!(r.warnings.len(), 3, "{:?}", r.warnings);
        assert!(r.warnings[2].contains("ends inside a command"));
    }
}
