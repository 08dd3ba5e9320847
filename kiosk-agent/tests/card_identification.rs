//! Identification by card through the socket: the app gets an opaque token for the read and a
//! masked number, never the card data nor its keyed hash; "my requests" takes only a live token
//! (a forged one, or a hash, is refused); no card in time is `NoCard`; a missing or short key
//! stops the agent at start with an error naming the key.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use std::time::Duration;

use agent_client::Client;
use hw_tests::cardsim::{CardReaderSim, SimFraming};
use protocol::app::{RequestBody, ResponseBody};

#[test]
fn a_presented_card_gives_its_keyed_hash_and_a_masked_number() {
    let sim = CardReaderSim::start(SimFraming::StxEtx).unwrap();
    let dir = common::TestDir::new("card");
    let key = dir.0.join("card-key");
    std::fs::write(&key, "deployment-secret-key-0123456789\n").unwrap();
    let extra = format!(
        "[card_reader]\npath = \"{}\"\nkey_file = \"{}\"\n",
        sim.path().display(),
        key.display()
    );
    let (_agent, socket, _served) = common::serve_with(&dir.0, &extra);
    let mut client = Client::connect(&socket, Duration::from_secs(30)).unwrap();

    assert_eq!(
        client
            .call(RequestBody::ReadCard { timeout_ms: 200 })
            .unwrap(),
        ResponseBody::NoCard
    );
    let s2 = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        sim.send_raw(b"\xffgarbage").unwrap();
        sim.present("%B4111111111111111^DVORAKOVA/ZOFIE^2512101000000000000?")
            .unwrap();
        sim
    });
    let reply = client
        .call(RequestBody::ReadCard { timeout_ms: 5_000 })
        .unwrap();
    let _sim = s2.join().unwrap();
    let ResponseBody::Card { identity, masked } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(masked, "••••••••••••1111");
    assert!(!identity.contains("4111111111111111"));
    let hash = kiosk_agent::devices::card::Card::parse(";4111111111111111=2512?")
        .unwrap()
        .keyed_hash(b"deployment-secret-key-0123456789");
    assert!(identity.starts_with("card-"), "{identity}");
    assert!(
        !identity.contains(&hash),
        "the UI never sees the card's hash"
    );
    // The token works for "my requests" (answered from what the kiosk knows: it is offline).
    let mine = |client: &mut Client, identity: &str| {
        client.call(RequestBody::MyRequests {
            identity: identity.to_owned(),
        })
    };
    assert!(
        matches!(
            mine(&mut client, &identity),
            Ok(ResponseBody::MyRequests { .. })
        ),
        "a live token is taken"
    );
    // A forged token, the hash itself, or anything else is refused.
    for forged in [
        hash.as_str(),
        "card-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
        "",
    ] {
        match mine(&mut client, forged) {
            Err(agent_client::ClientError::Agent(e)) => {
                assert_eq!(e.code, protocol::app::ErrorCode::CardExpired, "{forged}");
            }
            other => panic!("{forged}: {other:?}"),
        }
    }
    let ResponseBody::Devices { devices } = client.call(RequestBody::Devices).unwrap() else {
        panic!()
    };
    assert_eq!(devices[1].state, protocol::app::DeviceState::Ok);
}

#[test]
fn a_missing_or_short_key_stops_the_agent_at_start() {
    let dir = common::TestDir::new("cardkey");
    let cfg = |key: &std::path::Path| {
        kiosk_agent::config::Config::from_toml(&format!(
            "[agent]\n[fleet]\nurl = \"https://fleet.example.cz\"\n[card_reader]\nkey_file = \"{}\"\n",
            key.display()
        ))
        .unwrap()
    };
    let missing = dir.0.join("nope");
    let e = cfg(&missing).devices().unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
    let short = dir.0.join("short");
    std::fs::write(&short, "tiny").unwrap();
    let e = cfg(&short).devices().unwrap_err().to_string();
    assert!(e.contains("card_reader.key_file"), "{e}");
}
