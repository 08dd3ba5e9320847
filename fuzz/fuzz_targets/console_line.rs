//! The serial console's line editor on arbitrary bytes, on both terminal kinds (ANSI and dumb),
//! in plain and secret mode: never panic, and a clean line still comes through afterwards.
#![no_main]

use kiosk_agent::console::line::{Editor, Event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (ansi, secret) in [(true, false), (false, false), (true, true), (false, true)] {
        let mut e = Editor::new(vec!["status", "selftest", "net"]);
        e.ansi = ansi;
        e.secret = secret;
        let mut out = Vec::new();
        for &b in data {
            let _ = e.feed(b, &mut out);
            out.clear();
        }
        e.feed(0x03, &mut out);
        for &b in b"ok" {
            e.feed(b, &mut out);
        }
        assert_eq!(e.feed(b'\r', &mut out), Event::Line("ok".into()));
    }
});
