//! Over HTTPS: an agent that trusts the fleet's CA enrols and delivers; an agent pinned to
//! another CA refuses to talk to the server at all, so its queue stays on the kiosk.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, sample_submission, submit, wait_until,
};

#[path = "support/tls.rs"]
mod tls;
use tls::ca_and_cert;

#[test]
fn agents_speak_https_only_to_a_server_their_ca_signed() {
    let tmp = TempDir::new("https");
    let (ca, cert, key) = ca_and_cert(tmp.path(), "fleet");
    let (other_ca, _, _) = ca_and_cert(tmp.path(), "other");
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    fleet.publish(&demo_catalog());
    let url = format!("https://{}", fleet.addr());

    let good = Agent::start(
        &tmp.path().join("good"),
        &url,
        &fleet.token("kiosk-tls"),
        &format!("ca_file = \"{}\"", ca.display()),
    );
    assert!(
        good.wait_ready(Duration::from_secs(20)),
        "enrolled over TLS"
    );
    submit(&good, &sample_submission(uuid::Uuid::new_v4(), "tls")).unwrap();
    assert!(wait_until(Duration::from_secs(20), || fleet
        .submission_count()
        == 1));

    let bad = Agent::start(
        &tmp.path().join("bad"),
        &url,
        &fleet.token("kiosk-mitm"),
        &format!("ca_file = \"{}\"", other_ca.display()),
    );
    assert!(
        wait_until(Duration::from_secs(10), || bad
            .log()
            .contains("certificate")),
        "{}",
        bad.log()
    );
    let kiosks = fleet
        .db()
        .query_row(
            "SELECT COUNT(*) FROM kiosks WHERE kiosk_id = 'kiosk-mitm' AND enrolled_at IS NOT NULL",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(
        kiosks, 0,
        "the agent never enrolled with a server it does not trust"
    );
}
