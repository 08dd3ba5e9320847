//! A bounded property run of the input decoders (the `input_events` fuzz target's property):
//! random `input_event` records, and random records mixed into a valid tap, never panic the
//! touch or keyboard-wedge decoders, positions stay within 0..=10,000, and a valid tap after
//! garbage and a `SYN_DROPPED` is still decoded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use hw_tests::touchsim::Recording;
use kiosk_agent::devices::card::wedge::KeyDecoder;
use kiosk_agent::devices::input::{AxisRange, InputRecord, parse_records};
use kiosk_agent::devices::touch::TouchDecoder;
use protocol::app::TouchPhase;

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

/// Random records biased toward the codes the decoders look at.
fn plausible(n: usize) -> Vec<InputRecord> {
    let b = random_bytes(n * 6);
    b.chunks(6)
        .map(|c| {
            let kind = [0u16, 1, 3, 4][usize::from(c[0] % 4)];
            let code =
                [0u16, 1, 3, 0x2f, 0x35, 0x36, 0x39, 0x14a, 42, 28, 30][usize::from(c[1] % 11)];
            let value = i32::from_le_bytes([c[2], c[3], c[4], c[5]]) >> (c[2] % 31);
            InputRecord::new(0, kind, code, value)
        })
        .collect()
}

#[test]
fn random_records_never_panic_and_positions_stay_in_range() {
    for round in 0..500 {
        let mut records = parse_records(&random_bytes(24 * (1 + round % 80)));
        records.extend(plausible(1 + round % 200));
        let mut touch = TouchDecoder::new(AxisRange::DEFAULT, AxisRange { min: -50, max: 50 });
        let mut keys = KeyDecoder::new();
        for r in &records {
            for t in touch.feed(r) {
                assert!(t.x <= 10_000 && t.y <= 10_000, "round {round}: {t:?}");
            }
            let _ = keys.feed(r);
        }
    }
}

#[test]
fn a_tap_after_garbage_and_dropped_events_is_decoded() {
    for _ in 0..100 {
        let mut touch = TouchDecoder::new(AxisRange::DEFAULT, AxisRange::DEFAULT);
        for r in plausible(300) {
            let _ = touch.feed(&r);
        }
        // The kernel's way of saying "start over": SYN_DROPPED, then the next full frame.
        let _ = touch.feed(&InputRecord::new(0, 0, 3, 0));
        let _ = touch.feed(&InputRecord::new(0, 0, 0, 0));
        let mut rec = Recording::new();
        rec.tap(4095, 0, 40);
        let taps: Vec<_> = parse_records(rec.bytes())
            .iter()
            .flat_map(|r| touch.feed(r))
            .collect();
        let down = taps
            .iter()
            .find(|t| t.phase == TouchPhase::Down)
            .expect("the tap is seen");
        assert_eq!((down.x, down.y), (10_000, 0));
        assert_eq!(taps.last().unwrap().phase, TouchPhase::Up);
    }
}
