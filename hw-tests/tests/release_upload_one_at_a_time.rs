//! Two uploads of one release's bundle at once do not race on one file: the second is refused
//! (409) while the first is in progress, each upload writes a file of its own, and the first
//! completes whole.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hw_tests::harness::{Fleet, TempDir};
use hw_tests::releases::Kit;

fn put_head(fleet: &Fleet, version: &str, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(fleet.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "PUT /api/admin/v1/releases/{version}/bundle HTTP/1.1\r\nHost: fleet\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n",
        fleet.admin_token
    )
    .unwrap();
    s
}

fn answer(mut s: TcpStream) -> String {
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text
}

#[test]
fn a_second_upload_of_a_version_waits_for_the_first() {
    let tmp = TempDir::new("upload-race");
    let kit = Kit::new(&tmp.path().join("kit"), "rm");
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!("\n[releases]\nkeyring = \"{}\"\n", kit.keyring.display()),
    );
    let bundle = kit.bundle_with_assets("3.1.0", "#!/bin/sh\nexit 0\n", 200_000);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.manifest.json", bundle.display())).unwrap(),
    )
    .unwrap();
    assert!(
        fleet
            .admin_post("/api/admin/v1/releases", &manifest)
            .is_some(),
        "manifest accepted"
    );
    let bytes = std::fs::read(&bundle).unwrap();

    // The first upload sends half its bundle and pauses.
    let mut first = put_head(&fleet, "3.1.0", bytes.len());
    first.write_all(&bytes[..bytes.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // The second, whole, is refused meanwhile.
    let mut second = put_head(&fleet, "3.1.0", bytes.len());
    let _ = second.write_all(&bytes);
    let refused = answer(second);
    assert!(refused.starts_with("HTTP/1.1 409"), "{refused}");
    assert!(refused.contains("being uploaded"), "{refused}");
    // The first finishes and is whole.
    first.write_all(&bytes[bytes.len() / 2..]).unwrap();
    let done = answer(first);
    assert!(done.starts_with("HTTP/1.1 200"), "{done}");
    let releases = tmp.path().join("fleet/data/releases");
    assert_eq!(std::fs::read(releases.join("3.1.0.bundle")).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(&releases)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Now it is there, a further upload is a conflict of another kind.
    let mut again = put_head(&fleet, "3.1.0", bytes.len());
    let _ = again.write_all(&bytes);
    assert!(answer(again).contains("is here already"));
}
