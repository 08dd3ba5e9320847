//! A bounded property test of the ESC/POS decoder: random bytes, random cuts of a valid job and
//! valid jobs with garbage in between never panic, always finish, and a valid job that follows a
//! printer reset after garbage still decodes. (The cargo-fuzz target explores further.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use hw_tests::escpos::{Decoder, decode};

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

fn valid_job() -> Vec<u8> {
    let mut j = vec![0x1b, b'@', 0x1b, b't', 18];
    j.extend(b"TEST\n");
    let payload = b"https://fleet.example.cz/s/001CX86BY";
    let n = payload.len() + 3;
    j.extend([0x1d, b'(', b'k', n as u8, 0, 49, 80, 48]);
    j.extend(payload);
    j.extend([0x1d, b'(', b'k', 3, 0, 49, 81, 48]);
    j.extend([0x1d, b'V', 0]);
    j
}

#[test]
fn random_input_never_panics_and_always_finishes() {
    for round in 0..2_000 {
        let len = 1 + round % 700;
        let bytes = random_bytes(len);
        let r = decode(&bytes);
        assert!(r.warnings.len() <= 1000);
        // Whatever was decoded can be drawn (`escpos-sim decode --png`).
        if round % 10 == 0 {
            let (w, h, px) = hw_tests::escpos::render::render(&r, 384);
            assert_eq!(px.len(), (w * h) as usize);
        }
        // The same bytes fed one at a time give the same receipt.
        if round % 50 == 0 {
            let mut d = Decoder::new();
            for b in &bytes {
                d.feed(std::slice::from_ref(b));
            }
            assert_eq!(d.finish(), r, "round {round}");
        }
    }
}

#[test]
fn a_valid_job_after_garbage_and_a_reset_still_decodes() {
    let job = valid_job();
    for _ in 0..300 {
        // Garbage that ends the printer's pending command, then a fresh job after ESC @.
        let mut stream: Vec<u8> = random_bytes(64)
            .into_iter()
            .filter(|b| !matches!(b, 0x10 | 0x1b | 0x1c | 0x1d))
            .collect();
        stream.extend(&job);
        let r = decode(&stream);
        assert_eq!(
            r.qr_payloads(),
            vec!["https://fleet.example.cz/s/001CX86BY"]
        );
        assert_eq!(r.cuts(), 1);
        // Every prefix of the job decodes without panicking.
        let cut = job.len() * (stream.len() % 7) / 7;
        let _ = decode(&job[..cut]);
    }
}
