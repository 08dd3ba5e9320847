//! The ESC/POS decoder on arbitrary bytes: never panics, decodes the same whether the bytes
//! come at once or split anywhere, and its receipt can always be drawn.
#![no_main]

use hw_tests::escpos::{Decoder, decode, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = decode(data);
    let split = usize::from(data.first().copied().unwrap_or(0)) % (data.len() + 1);
    let mut d = Decoder::new();
    d.feed(&data[..split]);
    d.feed(&data[split..]);
    assert_eq!(d.finish(), whole);
    if data.len() < 4096 {
        let (w, h, px) = render::render(&whole, render::WIDTH_58MM);
        assert_eq!(px.len(), (w * h) as usize);
    }
});
