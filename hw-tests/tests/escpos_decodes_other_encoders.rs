//! The printer simulator decodes what common ESC/POS encoders produce, not only ours: here the
//! output of the `escpos` crate (its own PC852 table, its QR, barcode, size and cut commands)
//! decodes to the receipt that was meant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::sync::{Arc, Mutex};

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, PageCode, Protocol};
use hw_tests::escpos::{Align, Block};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Driver for Capture {
    fn name(&self) -> String {
        "capture".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

#[test]
fn the_escpos_crate_output_decodes_to_the_intended_receipt() {
    let capture = Capture::default();
    Printer::new(capture.clone(), Protocol::default(), None)
        .init()
        .unwrap()
        .page_code(PageCode::PC852)
        .unwrap()
        .justify(JustifyMode::CENTER)
        .unwrap()
        .bold(true)
        .unwrap()
        .writeln("Statutární město Ostrava")
        .unwrap()
        .bold(false)
        .unwrap()
        .justify(JustifyMode::LEFT)
        .unwrap()
        .writeln("Žádost: Rezidentní parkovací karta")
        .unwrap()
        .size(2, 2)
        .unwrap()
        .writeln("001C-X86B-Y")
        .unwrap()
        .size(1, 1)
        .unwrap()
        .qrcode("https://fleet.example.cz/s/001CX86BY")
        .unwrap()
        .ean13("1234567890128")
        .unwrap()
        .feed()
        .unwrap()
        .partial_cut()
        .unwrap()
        .print()
        .unwrap();
    let bytes = capture.0.lock().unwrap().clone();
    let receipt = hw_tests::escpos::decode(&bytes);
    assert!(receipt.warnings.is_empty(), "{:?}", receipt.warnings);

    let lines: Vec<String> = receipt.lines().map(|l| l.text()).collect();
    assert!(
        lines.contains(&"Statutární město Ostrava".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"Žádost: Rezidentní parkovací karta".to_owned()),
        "{lines:?}"
    );
    assert!(lines.contains(&"001C-X86B-Y".to_owned()), "{lines:?}");
    assert_eq!(
        receipt.qr_payloads(),
        vec!["https://fleet.example.cz/s/001CX86BY"]
    );
    assert!(receipt.blocks.iter().any(|b| matches!(b, Block::Barcode { kind: "EAN13", data, .. } if data.starts_with("123456789012"))), "{:?}", receipt.blocks);
    assert_eq!(receipt.cuts(), 1);

    let title = receipt
        .lines()
        .find(|l| l.text() == "Statutární město Ostrava")
        .unwrap();
    assert_eq!(title.align, Align::Center);
    assert!(title.spans[0].style.bold);
    let code = receipt.lines().find(|l| l.text() == "001C-X86B-Y").unwrap();
    assert_eq!(
        (code.spans[0].style.width, code.spans[0].style.height),
        (2, 2)
    );
}

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;

fn qr_bytes(payload: &[u8]) -> Vec<u8> {
    let n = payload.len() + 3;
    let mut v = vec![GS, b'(', b'k', (n & 0xff) as u8, (n >> 8) as u8, 49, 80, 48];
    v.extend(payload);
    v.extend([GS, b'(', b'k', 3, 0, 49, 81, 48]);
    v
}

/// What other encoders send that the simulator once got wrong: `GS ( L` sizes, QR payloads that
/// are not UTF-8, code pages beyond the five it knew, alignment of codes and images, `ESC *`
/// strips, `ESC 3` spacing, `ESC D` tab stops, italic and upside-down, and commands whose
/// parameters must not print as text.
#[test]
fn quirks_of_other_encoders_decode_right() {
    // GS ( L: store a 16×2 raster (m fn a bx by c xL xH yL yH d…), then print it.
    let mut job = vec![ESC, b'@'];
    let raster = [48u8, 112, 48, 1, 1, 49, 16, 0, 2, 0, 0xFF, 0x00, 0xFF, 0x00];
    job.extend([GS, b'(', b'L', raster.len() as u8, 0]);
    job.extend(raster);
    job.extend([GS, b'(', b'L', 2, 0, 48, 50]);
    // A QR whose payload is ISO-8859-1, centred; a barcode on the right.
    job.extend([ESC, b'a', 1]);
    job.extend(qr_bytes(b"caf\xe9"));
    job.extend([ESC, b'a', 2]);
    job.extend([GS, b'k', 73, 5, b'{', b'B', b'A', b'B', b'C']);
    job.extend([ESC, b'a', 0]);
    // Code pages: ISO 8859-15 (ESC t 40) for €, PC866 (ESC t 17) for Cyrillic, PC857 (13).
    job.extend([ESC, b't', 40, 0xA4, b'\n', ESC, b't', 17, 0x80, 0xA0, b'\n']);
    job.extend([ESC, b't', 13, b'x', b'\n', ESC, b't', 0]);
    // ESC * column strips, each followed by its line feed: one image, no blank lines.
    for _ in 0..3 {
        job.extend([ESC, b'*', 33, 4, 0]);
        job.extend([0u8; 12]);
        job.push(b'\n');
    }
    // ESC 3 spacing, then ESC 2 back to the default; ESC D tab stops.
    job.extend([ESC, b'3', 40]);
    job.extend(b"spaced\n");
    job.extend([ESC, b'2']);
    job.extend([ESC, b'D', 4, 10, 0]);
    job.extend(b"a\tb\tc\n");
    // Italic and upside-down (their parameter bytes are not text); ESC ( A is skipped whole.
    job.extend([ESC, b'4', 1]);
    job.extend(b"italic\n");
    job.extend([ESC, b'4', 0, ESC, b'{', 1]);
    job.extend(b"turned\n");
    job.extend([ESC, b'{', 0, ESC, b'(', b'A', 4, 0, 48, 55, 1, 10]);
    job.extend(b"after\n");
    let r = hw_tests::escpos::decode(&job);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let text = r.to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "[IMAGE 16x2]", "{text}");
    assert_eq!(lines[1], "[QR] café");
    let Block::Qr { bytes, align, .. } = &r.blocks[1] else {
        panic!("{:?}", r.blocks[1])
    };
    assert_eq!(
        bytes.as_slice(),
        b"caf\xe9",
        "the code holds the bytes as sent"
    );
    assert_eq!(*align, Align::Center);
    assert!(matches!(
        &r.blocks[2],
        Block::Barcode {
            align: Align::Right,
            ..
        }
    ));
    assert_eq!(lines[3], "€");
    assert_eq!(lines[4], "Аа");
    assert_eq!(lines[5], "x");
    assert_eq!(
        lines[6], "[IMAGE 4x72]",
        "three strips make one image: {text}"
    );
    assert_eq!(lines[7], "spaced");
    let spaced = r.lines().find(|l| l.text() == "spaced").unwrap();
    assert_eq!(spaced.spacing, Some(40));
    assert_eq!(lines[8], "a   b     c");
    assert!(
        r.lines()
            .any(|l| l.text() == "italic" && l.spans[0].style.italic)
    );
    assert!(
        r.lines()
            .any(|l| l.text() == "turned" && l.spans[0].style.upside_down)
    );
    assert_eq!(lines[11], "after");
    // The PNG draws the QR from the bytes (a U+FFFD would make another code) and places it.
    let png = hw_tests::escpos::render::to_png(&r, 384).unwrap();
    assert!(png.len() > 1000);
}
