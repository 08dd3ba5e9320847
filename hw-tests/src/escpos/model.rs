//! The receipt model the decoder produces.

use std::fmt::Write;

/// Horizontal alignment of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Left (the default).
    #[default]
    Left,
    /// Centred.
    Center,
    /// Right.
    Right,
}

/// How a piece of text is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Emphasised (or double-strike).
    pub bold: bool,
    /// Underline thickness, 0-2.
    pub underline: u8,
    /// Width multiplier, 1-8.
    pub width: u8,
    /// Height multiplier, 1-8.
    pub height: u8,
    /// White on black.
    pub invert: bool,
    /// The smaller font B.
    pub font_b: bool,
    /// Italic (`ESC 4`).
    pub italic: bool,
    /// Upside down (`ESC {`).
    pub upside_down: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            bold: false,
            underline: 0,
            width: 1,
            height: 1,
            invert: false,
            font_b: false,
            italic: false,
            upside_down: false,
        }
    }
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The text, decoded from the code page.
    pub text: String,
    /// Its style.
    pub style: Style,
}

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// Its runs of text.
    pub spans: Vec<Span>,
    /// Its alignment (the one in force when the line was printed).
    pub align: Align,
    /// The line spacing in force (`ESC 3 n`, dots); `None` for the printer's default.
    pub spacing: Option<u8>,
}

impl Line {
    /// The line's text without styles.
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }
}

/// What the paper shows, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A line of text (possibly empty: a blank line).
    Line(Line),
    /// A QR code.
    Qr {
        /// The encoded payload, as text (Latin-1 where the bytes are not UTF-8).
        payload: String,
        /// The payload's bytes as sent (what the QR code holds).
        bytes: Vec<u8>,
        /// Alignment in force.
        align: Align,
        /// Module size in dots.
        module: u8,
        /// Error-correction level, `L`, `M`, `Q` or `H`.
        ec: char,
    },
    /// Another 2D symbol (PDF417, MaxiCode, …).
    Symbol2d {
        /// Its `GS ( k` symbol number.
        cn: u8,
        /// The payload.
        payload: String,
    },
    /// A 1D barcode.
    Barcode {
        /// The symbology, e.g. `CODE128`.
        kind: &'static str,
        /// The data.
        data: String,
        /// Alignment in force.
        align: Align,
    },
    /// A bitmap, seen only as a block of its size.
    Image {
        /// Width in dots.
        width: u32,
        /// Height in dots.
        height: u32,
        /// Alignment in force.
        align: Align,
    },
    /// A paper cut.
    Cut {
        /// Partial (one point left uncut).
        partial: bool,
    },
}

/// A decoded receipt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// Everything printed, in order.
    pub blocks: Vec<Block>,
    /// What the decoder skipped or could not interpret.
    pub warnings: Vec<String>,
}

impl Receipt {
    /// The printed text lines only.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Line(l) => Some(l),
            _ => None,
        })
    }

    /// Every QR payload, in order.
    pub fn qr_payloads(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Qr { payload, .. } => Some(payload.as_str()),
                _ => None,
            })
            .collect()
    }

    /// How many cuts.
    pub fn cuts(&self) -> usize {
        self.blocks
            .iter()
            .filter(|b| matches!(b, Block::Cut { .. }))
            .count()
    }

    /// The receipt as text: one line per printed line, `[QR] <payload>`, `[BARCODE <kind>]
    /// <data>`, `[IMAGE <w>x<h>]` and `[CUT]` lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            // Writing to a String cannot fail.
            let _ = match b {
                Block::Line(l) => writeln!(out, "{}", l.text().trim_end()),
                Block::Qr { payload, .. } => writeln!(out, "[QR] {payload}"),
                Block::Symbol2d { cn, payload } => writeln!(out, "[2D {cn}] {payload}"),
                Block::Barcode { kind, data, .. } => writeln!(out, "[BARCODE {kind}] {data}"),
                Block::Image { width, height, .. } => writeln!(out, "[IMAGE {width}x{height}]"),
                Block::Cut { .. } => writeln!(out, "[CUT]"),
            };
        }
        out
    }
}
