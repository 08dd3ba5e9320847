//! Raw `input_event` records into the touch decoder and the keyboard-wedge decoder: never
//! panic, and touch positions stay within 0..=10,000.
#![no_main]

use kiosk_agent::devices::card::wedge::KeyDecoder;
use kiosk_agent::devices::input::{AxisRange, parse_records};
use kiosk_agent::devices::touch::TouchDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut touch = TouchDecoder::new(AxisRange::DEFAULT, AxisRange { min: -50, max: 50 });
    let mut keys = KeyDecoder::new();
    for r in parse_records(data) {
        for t in touch.feed(&r) {
            assert!(t.x <= 10_000 && t.y <= 10_000);
        }
        let _ = keys.feed(&r);
    }
});
