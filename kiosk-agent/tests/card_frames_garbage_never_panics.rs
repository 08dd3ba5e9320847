//! A bounded property run of the card-frame parser and card parser: random bytes in any framing
//! never panic, payloads are always printable ASCII of bounded length, and a valid frame after
//! garbage is still found. (A cargo-fuzz target would explore further; this runs in CI.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use kiosk_agent::devices::card::frame::MAX_PAYLOAD;
use kiosk_agent::devices::card::{Card, FrameEvent, FrameParser, Framing};

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

#[test]
fn random_bytes_never_panic_and_payloads_stay_sane() {
    for round in 0..3_000 {
        let framing = if round % 2 == 0 {
            Framing::StxEtx
        } else {
            Framing::Line
        };
        let mut p = FrameParser::new(framing);
        let bytes = random_bytes(1 + round % 400);
        for chunk in bytes.chunks(1 + round % 17) {
            for ev in p.push(chunk) {
                if let FrameEvent::Payload(s) = ev {
                    assert!(s.len() <= MAX_PAYLOAD && s.bytes().all(|b| (0x20..0x7f).contains(&b)));
                    let _ = Card::parse(&s);
                }
            }
        }
    }
}

#[test]
fn a_card_after_garbage_is_found() {
    for _ in 0..500 {
        let mut p = FrameParser::new(Framing::StxEtx);
        let mut stream: Vec<u8> = random_bytes(100);
        stream.extend(b"\x020A1B2C3D\r\n\x03");
        let payloads: Vec<String> = p
            .push(&stream)
            .into_iter()
            .filter_map(|e| match e {
                FrameEvent::Payload(s) => Some(s),
                FrameEvent::Garbage(_) => None,
            })
            .collect();
        assert_eq!(payloads.last().map(String::as_str), Some("0A1B2C3D"));
    }
}
