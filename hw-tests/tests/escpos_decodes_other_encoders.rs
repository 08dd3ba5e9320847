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
    assert!(receipt.blocks.iter().any(|b| matches!(b, Block::Barcode { kind: "EAN13", data } if data.starts_with("123456789012"))), "{:?}", receipt.blocks);
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
