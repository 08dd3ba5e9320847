//! A decoded receipt drawn as the paper would look: 203 dpi dots, font A 12×24 dots per
//! character (48 per line on 80 mm paper, 32 on 58 mm), the print modes (bold, underline, double
//! width and height, inverse, font B), alignment, QR codes with their real modules, barcodes,
//! images and 2D symbols as labelled blocks, and cuts as dashed lines. Text uses the project's
//! own DejaVu Sans Mono (`assets/fonts`), so the rendering is the same on every machine.

use std::sync::OnceLock;

use fontdue::{Font, FontSettings};

use super::model::{Align, Block, Line, Receipt, Style};

/// Printable width of 80 mm paper, dots.
pub const WIDTH_80MM: u32 = 576;
/// Printable width of 58 mm paper, dots.
pub const WIDTH_58MM: u32 = 384;

const MARGIN: u32 = 24;
const LINE_GAP: u32 = 6;

static REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");
static BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono-Bold.ttf");

fn fonts() -> Option<&'static (Font, Font)> {
    static FONTS: OnceLock<Option<(Font, Font)>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let load = |b: &'static [u8]| Font::from_bytes(b, FontSettings::default()).ok();
            Some((load(REGULAR)?, load(BOLD)?))
        })
        .as_ref()
}

/// A greyscale canvas, 0 = black, 255 = white.
struct Canvas {
    width: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32) -> Canvas {
        Canvas {
            width,
            pixels: Vec::new(),
        }
    }

    fn height(&self) -> u32 {
        (self.pixels.len() / self.width as usize) as u32
    }

    fn grow_to(&mut self, h: u32) {
        let want = h as usize * self.width as usize;
        if self.pixels.len() < want {
            self.pixels.resize(want, 255);
        }
    }

    fn set(&mut self, x: i64, y: i64, v: u8) {
        if x < 0 || y < 0 || x >= i64::from(self.width) {
            return;
        }
        self.grow_to(y as u32 + 1);
        let i = y as usize * self.width as usize + x as usize;
        self.pixels[i] = v;
    }

    fn fill(&mut self, x: i64, y: i64, w: u32, h: u32, v: u8) {
        for dy in 0..i64::from(h) {
            for dx in 0..i64::from(w) {
                self.set(x + dx, y + dy, v);
            }
        }
    }
}

fn cell(style: &Style) -> (u32, u32) {
    let (w, h) = if style.font_b { (9, 17) } else { (12, 24) };
    (
        w * u32::from(style.width.clamp(1, 8)),
        h * u32::from(style.height.clamp(1, 8)),
    )
}

fn x_for(align: Align, content: u32, paper: u32) -> i64 {
    let room = paper.saturating_sub(content);
    i64::from(match align {
        Align::Left => 0,
        Align::Center => room / 2,
        Align::Right => room,
    })
}

/// Draws a printed line, wrapped at the paper's width as a printer wraps it; returns the height
/// used.
fn draw_line(c: &mut Canvas, line: &Line, y: u32, paper: u32) -> u32 {
    let chars: Vec<(char, Style)> = line
        .spans
        .iter()
        .flat_map(|s| s.text.chars().map(move |ch| (ch, s.style)))
        .collect();
    // `ESC 3 n` sets the advance per line; a line never advances less than its characters.
    let spacing = line.spacing.map_or(0, u32::from);
    if chars.is_empty() {
        return if line.spacing.is_some() {
            spacing
        } else {
            24 + LINE_GAP
        };
    }
    let mut rows: Vec<&[(char, Style)]> = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, (_, style)) in chars.iter().enumerate() {
        let w = cell(style).0;
        if used + w > paper && i > start {
            rows.push(&chars[start..i]);
            start = i;
            used = 0;
        }
        used += w;
    }
    rows.push(&chars[start..]);
    let mut h = 0;
    for row in rows {
        h += draw_row(c, row, line.align, y + h, paper).max(spacing);
    }
    h
}

fn draw_row(c: &mut Canvas, row: &[(char, Style)], align: Align, y: u32, paper: u32) -> u32 {
    let Some((regular, bold)) = fonts() else {
        return 24 + LINE_GAP;
    };
    let height = row.iter().map(|(_, s)| cell(s).1).max().unwrap_or(24);
    let content: u32 = row.iter().map(|(_, s)| cell(s).0).sum();
    let mut x = i64::from(MARGIN) + x_for(align, content, paper);
    let base_y = i64::from(y + height);
    for (chr, style) in row {
        let (cw, ch) = cell(style);
        let font = if style.bold { bold } else { regular };
        // Glyphs drawn at the cell's height, stretched to its width; thermal dots are on or off.
        let px = ch as f32 * 0.8;
        let stretch = cw as f32 / (px * 0.6).max(1.0);
        if style.invert {
            c.fill(x, base_y - i64::from(ch), cw, ch, 0);
        }
        let (m, bitmap) = font.rasterize(*chr, px);
        let gw = (m.width as f32 * stretch).ceil() as i64;
        let left = x
            + ((cw as f32 - m.advance_width * stretch) / 2.0) as i64
            + (m.xmin as f32 * stretch) as i64;
        let top = base_y - i64::from(ch) / 5 - i64::from(m.ymin) - m.height as i64;
        for gy in 0..m.height {
            for gx in 0..gw {
                let sx = ((gx as f32 / stretch) as usize).min(m.width.saturating_sub(1));
                if bitmap.get(gy * m.width + sx).is_some_and(|cov| *cov >= 110) {
                    let v = if style.invert { 255 } else { 0 };
                    c.set(left + gx, top + gy as i64, v);
                }
            }
        }
        if style.underline > 0 {
            c.fill(x, base_y - 2, cw, u32::from(style.underline.min(2)), 0);
        }
        x += i64::from(cw);
    }
    height + LINE_GAP
}

fn draw_label_box(
    c: &mut Canvas,
    y: u32,
    (w, h): (u32, u32),
    align: Align,
    label: &str,
    paper: u32,
) -> u32 {
    let x = i64::from(MARGIN) + x_for(align, w, paper);
    c.fill(x, i64::from(y), w, h, 225);
    c.fill(x, i64::from(y), w, 2, 0);
    c.fill(x, i64::from(y + h - 2), w, 2, 0);
    c.fill(x, i64::from(y), 2, h, 0);
    c.fill(x + i64::from(w) - 2, i64::from(y), 2, h, 0);
    let line = Line {
        spans: vec![super::model::Span {
            text: label.chars().take((w / 12) as usize).collect(),
            style: Style::default(),
        }],
        align,
        spacing: None,
    };
    draw_line(c, &line, y + h / 2 - 14, paper);
    h + LINE_GAP * 2
}

fn draw_qr(
    c: &mut Canvas,
    y: u32,
    (bytes, module, ec): (&[u8], u8, char),
    align: Align,
    paper: u32,
) -> u32 {
    use qrcode::{Color, EcLevel, QrCode};
    let level = match ec {
        'L' => EcLevel::L,
        'Q' => EcLevel::Q,
        'H' => EcLevel::H,
        _ => EcLevel::M,
    };
    let Ok(code) = QrCode::with_error_correction_level(bytes, level) else {
        return draw_label_box(c, y, (240, 80), align, "QR too long", paper);
    };
    let n = code.width() as u32;
    let size = u32::from(module.clamp(1, 16));
    let quiet = 4 * size;
    let side = n * size + 2 * quiet;
    let x0 = i64::from(MARGIN) + x_for(align, side, paper) + i64::from(quiet);
    let y0 = i64::from(y + quiet);
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (mx, my) = ((i as u32 % n) as i64, (i as u32 / n) as i64);
            c.fill(
                x0 + mx * i64::from(size),
                y0 + my * i64::from(size),
                size,
                size,
                0,
            );
        }
    }
    side
}

fn draw_cut(c: &mut Canvas, y: u32, partial: bool) -> u32 {
    let mid = i64::from(y + 16);
    let end = if partial {
        c.width.saturating_sub(40)
    } else {
        c.width
    };
    for x in (0..i64::from(end)).step_by(16) {
        c.fill(x, mid, 10, 2, 90);
    }
    36
}

/// Draws `receipt` on paper `paper` dots wide (printable; margins are added).
pub fn render(receipt: &Receipt, paper: u32) -> (u32, u32, Vec<u8>) {
    let paper = paper.clamp(128, 1024);
    let mut c = Canvas::new(paper + 2 * MARGIN);
    let mut y = MARGIN;
    for b in &receipt.blocks {
        y += match b {
            Block::Line(l) => draw_line(&mut c, l, y, paper),
            Block::Qr {
                bytes,
                module,
                ec,
                align,
                ..
            } => draw_qr(&mut c, y, (bytes, *module, *ec), *align, paper),
            Block::Symbol2d { cn, payload } => draw_label_box(
                &mut c,
                y,
                (paper.min(360), 90),
                Align::Center,
                &format!("2D symbol {cn}: {payload}"),
                paper,
            ),
            Block::Barcode { kind, data, align } => draw_label_box(
                &mut c,
                y,
                (paper.min(360), 90),
                *align,
                &format!("{kind} {data}"),
                paper,
            ),
            Block::Image {
                width,
                height,
                align,
            } => draw_label_box(
                &mut c,
                y,
                ((*width).clamp(24, paper), (*height).clamp(24, 2_000)),
                *align,
                &format!("image {width}×{height}"),
                paper,
            ),
            Block::Cut { partial } => draw_cut(&mut c, y, *partial),
        };
    }
    c.grow_to(y + MARGIN);
    (c.width, c.height(), c.pixels)
}

/// The receipt as a PNG image of the paper.
pub fn to_png(receipt: &Receipt, paper: u32) -> Result<Vec<u8>, png::EncodingError> {
    let (w, h, pixels) = render(receipt, paper);
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}
