//! The serial card reader against the simulator over a real pty: garbage and frames cut short
//! are skipped with a warning and the next card is read, in both framings; no card within the
//! time-out is `None`, not an error; card data never appears in the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::cardsim::{CardReaderSim, SimFraming};
use kiosk_agent::devices::card::{CardKind, Framing, SerialCardReader};

#[test]
fn garbage_is_skipped_and_the_next_card_is_read() {
    let sim = CardReaderSim::start(SimFraming::StxEtx).unwrap();
    let mut reader = SerialCardReader::open(sim.path(), 9600, Framing::StxEtx).unwrap();
    assert!(
        reader
            .read_card(Duration::from_millis(200))
            .unwrap()
            .is_none(),
        "no card presented"
    );

    sim.send_raw(b"\xff\xfe\x00noise\x02\x01\x02\x03").unwrap(); // noise, a binary frame
    sim.send_raw(b"\x0204A1B2").unwrap(); // a frame cut short by the next one
    sim.present("04A1B2C3D4E5F6").unwrap();
    let card = reader
        .read_card(Duration::from_secs(2))
        .unwrap()
        .expect("the card after the garbage");
    assert_eq!(card.kind, CardKind::Uid);
    assert_eq!(card.masked(), "••••••••••E5F6");

    sim.present("%B4111111111111111^DVORAKOVA/ZOFIE^2512101000000000000?")
        .unwrap();
    let card = reader.read_card(Duration::from_secs(2)).unwrap().unwrap();
    assert_eq!(card.kind, CardKind::Track1);
    assert_eq!(card.keyed_hash(b"key").len(), 64);
}

#[test]
fn line_framed_readers_and_unreadable_payloads() {
    let sim = CardReaderSim::start(SimFraming::Line).unwrap();
    let mut reader = SerialCardReader::open(sim.path(), 9600, Framing::Line).unwrap();
    sim.present("not a card").unwrap();
    sim.present(";4111111111111111=25121010000000000000?")
        .unwrap();
    let card = reader.read_card(Duration::from_secs(2)).unwrap().unwrap();
    assert_eq!(card.kind, CardKind::Track2);
    assert!(
        !format!("{card:?}").contains("4111111111111111"),
        "Debug is masked"
    );
}
