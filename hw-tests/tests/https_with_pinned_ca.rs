//! Over HTTPS: an agent that trusts the fleet's CA enrols and delivers; an agent pinned to
//! another CA refuses to talk to the server at all, so its queue stays on the kiosk.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::harness::{
    Agent, Fleet, TempDir, demo_catalog, sample_submission, submit, wait_until,
};

fn ca_and_cert(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (ca_path, cert_path, key_path) = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

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
