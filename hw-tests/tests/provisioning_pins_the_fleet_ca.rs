//! Provisioning a kiosk from the appliance image, on the host: the console's CA pin against a
//! real fleet over TLS (the right fingerprint, a wrong one, a server that does not present its
//! CA), and an installer's file taken by a starting agent, which then enrols over HTTPS pinned to
//! that CA and deletes the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::process::{Command, Stdio};
use std::time::Duration;

use hw_tests::harness::{Fleet, TempDir, bin, demo_catalog, wait_until};
use kiosk_agent::provision;

#[path = "support/tls.rs"]
mod tls;

/// A fleet over TLS; with `full_chain` its certificate file also holds the CA.
fn tls_fleet(dir: &std::path::Path, full_chain: bool) -> (Fleet, String) {
    let (ca, cert, key) = tls::ca_and_cert(dir, "fleet");
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    if full_chain {
        let chain = std::fs::read_to_string(&cert).unwrap() + &ca_pem;
        std::fs::write(&cert, chain).unwrap();
    }
    let mut fleet = Fleet::start(
        &dir.join("fleet"),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    );
    fleet.trust(&ca);
    (fleet, ca_pem)
}

#[test]
fn the_console_pins_the_ca_the_fleet_presents_and_nothing_else() {
    let tmp = TempDir::new("pin");
    let (fleet, ca_pem) = tls_fleet(tmp.path(), true);
    let url = format!("https://localhost:{}", fleet.addr().port());
    let pin = protocol::sha256_hex(tls::first_cert_der(&ca_pem));
    let t = Duration::from_secs(10);

    let got = provision::pin_ca(&url, &pin, t).unwrap();
    assert_eq!(
        tls::first_cert_der(&got),
        tls::first_cert_der(&ca_pem),
        "the pinned certificate is the CA"
    );
    // With colons and in capitals, as openssl prints it.
    let colons: Vec<String> = pin
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert!(provision::pin_ca(&url, &colons.join(":"), t).is_ok());

    let e = provision::pin_ca(&url, &"ab".repeat(32), t)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no certificate it presented"), "{e}");
    let e = provision::pin_ca(&url, "1234", t).unwrap_err().to_string();
    assert!(e.contains("64 hex digits"), "{e}");
    let e = provision::pin_ca(&format!("https://127.0.0.1:{}", reserve_port()), &pin, t)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot connect"), "{e}");

    // A server that sends only its own certificate: the pin cannot be found, and the message
    // says what to change on the server.
    let tmp2 = TempDir::new("pin-leaf");
    let (leaf_only, ca2) = tls_fleet(tmp2.path(), false);
    let e = provision::pin_ca(
        &format!("https://localhost:{}", leaf_only.addr().port()),
        &protocol::sha256_hex(tls::first_cert_der(&ca2)),
        t,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("whole chain"), "{e}");
}

fn reserve_port() -> u16 {
    hw_tests::harness::reserve_addr().port()
}

#[test]
fn an_installers_file_provisions_a_starting_agent_which_enrols_and_deletes_it() {
    let tmp = TempDir::new("drop");
    let (fleet, ca_pem) = tls_fleet(tmp.path(), false);
    fleet.publish(&demo_catalog());
    let data = tmp.path().join("agent");
    let drop = tmp.path().join("okenko-provision.toml");
    std::fs::write(
        &drop,
        format!(
            "url = \"https://localhost:{}\"\nca_pem = \"\"\"{ca_pem}\"\"\"\ntoken = \"{}\"\ncard_key = \"{}\"\n",
            fleet.addr().port(),
            fleet.token("kiosk-drop"),
            "5a".repeat(16)
        ),
    )
    .unwrap();
    let config = tmp.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nsocket = \"{}\"\ndata_dir = \"{}\"\ndisk_used_max_percent = 100\n[provision]\nfiles = [\"{}\"]\n[card_reader]\npath = \"/nonexistent\"\nkey_file = \"{}\"\n",
            data.join("agent.sock").display(),
            data.display(),
            drop.display(),
            data.join("card-key").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(tmp.path().join("agent.log")).unwrap();
    let mut agent = Command::new(bin("kiosk-agent"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let enrolled = wait_until(Duration::from_secs(30), || {
        fleet
            .kiosk_now("kiosk-drop")
            .is_some_and(|k| !k["heartbeat"].is_null())
    });
    let _ = agent.kill();
    let _ = agent.wait();
    let log = std::fs::read_to_string(tmp.path().join("agent.log")).unwrap();
    assert!(enrolled, "enrolled over HTTPS with the pinned CA: {log}");
    assert!(!drop.exists(), "the installer's file is gone");
    assert_eq!(
        std::fs::read(data.join("card-key")).unwrap(),
        vec![0x5a; 16]
    );
    for f in [
        "provisioned.toml",
        "fleet-ca.pem",
        "bootstrap-token",
        "card-key",
    ] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(data.join(f)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "{f} is the agent's alone");
    }
    assert!(
        !log.contains(&"5a".repeat(16)),
        "the card key is not logged"
    );
}

#[test]
fn a_bad_installers_file_is_refused_and_left_for_the_installer() {
    let tmp = TempDir::new("drop-bad");
    let data = tmp.path().join("agent");
    let drop = tmp.path().join("okenko-provision.toml");
    std::fs::write(
        &drop,
        "url = \"http://fleet.example.cz\"\nca_pem = \"\"\ntoken = \"t\"\n",
    )
    .unwrap();
    let mut config = kiosk_agent::config::Config::from_toml(&format!(
        "[agent]\ndata_dir = \"{}\"\n[provision]\nfiles = [\"{}\"]\n",
        data.display(),
        drop.display()
    ))
    .unwrap();
    let e = provision::import_drop_file(&config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("url"), "{e}");
    assert!(drop.exists(), "left where it was");
    config.apply_provisioned().unwrap();
    assert!(!provision::is_provisioned(&config), "nothing was saved");
}
