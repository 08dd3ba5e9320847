//! The card reader's frame parser (both framings) and card parser on arbitrary bytes: never
//! panic; payloads are printable ASCII of bounded length; a parsed card masks its number.
#![no_main]

use kiosk_agent::devices::card::{Card, FrameEvent, FrameParser, Framing, frame::MAX_PAYLOAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for framing in [Framing::StxEtx, Framing::Line] {
        let mut p = FrameParser::new(framing);
        for event in p.push(data) {
            if let FrameEvent::Payload(payload) = event {
                assert!(payload.len() <= MAX_PAYLOAD);
                assert!(payload.bytes().all(|b| (0x20..0x7f).contains(&b)));
                if let Ok(card) = Card::parse(&payload) {
                    let _ = card.masked();
                    assert_eq!(card.keyed_hash(b"fuzz-key-0123456").len(), 64);
                }
            }
        }
    }
});
