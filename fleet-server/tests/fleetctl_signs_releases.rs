//! `fleetctl` as a release manager uses it: a signing key (private file, never overwritten), a
//! signed manifest that verifies against a keyring, and refusals for a changed bundle, another
//! key and other hardware; an endorsement that lets a kiosk trust the next key.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn fleetctl(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetctl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_release_is_signed_verified_and_refused_when_anything_differs() {
    let dir = std::env::temp_dir().join(format!("okenko-fleetctl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let (ok, public) = fleetctl(&["key", "new", &p("old.key")]);
    assert!(ok, "{public}");
    let mode = std::fs::metadata(p("old.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !fleetctl(&["key", "new", &p("old.key")]).0,
        "never overwritten"
    );
    std::fs::write(p("keyring"), &public).unwrap();
    std::fs::write(p("bundle"), vec![7u8; 300_000]).unwrap();

    let (ok, out) = fleetctl(&[
        "release",
        "sign",
        &p("old.key"),
        &p("bundle"),
        "--version",
        "1.4.0",
        "--compatible",
        "okenko-x86_64",
    ]);
    assert!(ok && out.contains("300000 bytes"), "{out}");
    let verify = |hw: &str| {
        fleetctl(&[
            "release",
            "verify",
            &p("keyring"),
            &p("bundle"),
            "--hardware",
            hw,
        ])
    };
    let (ok, out) = verify("okenko-x86_64");
    assert!(ok && out.contains("ok: release 1.4.0"), "{out}");
    let (ok, out) = verify("okenko-arm64");
    assert!(!ok && out.contains("not for this hardware"), "{out}");

    // A changed bundle.
    let mut b = std::fs::read(p("bundle")).unwrap();
    b[1000] = 8;
    std::fs::write(p("bundle"), &b).unwrap();
    let (ok, out) = verify("okenko-x86_64");
    assert!(!ok && out.contains("SHA-256"), "{out}");
    b[1000] = 7;
    std::fs::write(p("bundle"), &b).unwrap();
    assert!(verify("okenko-x86_64").0);

    // Signed with a key the keyring does not hold.
    let (_, newer) = fleetctl(&["key", "new", &p("new.key")]);
    fleetctl(&[
        "release",
        "sign",
        &p("new.key"),
        &p("bundle"),
        "--version",
        "1.5.0",
        "--compatible",
        "okenko-x86_64",
    ]);
    let (ok, out) = verify("okenko-x86_64");
    assert!(!ok && out.contains("unknown key"), "{out}");

    // The old key vouches for the new one: a kiosk holding the old key then trusts it.
    let new_hex = newer.split_whitespace().next().unwrap();
    let (ok, e) = fleetctl(&["key", "endorse", &p("old.key"), new_hex]);
    assert!(ok, "{e}");
    let endorsement: protocol::release::KeyEndorsement = serde_json::from_str(&e).unwrap();
    let mut ring = protocol::release::Keyring::parse(&public).unwrap();
    ring.endorse(&endorsement).unwrap();
    let signed: protocol::release::SignedManifest =
        serde_json::from_slice(&std::fs::read(p("bundle.manifest.json")).unwrap()).unwrap();
    assert_eq!(
        ring.verify(&signed, "okenko-x86_64").unwrap().version,
        "1.5.0"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
