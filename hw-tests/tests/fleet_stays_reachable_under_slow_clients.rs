//! Slow and half-open clients cannot take the fleet server down: with hundreds of sockets that
//! sent nothing, half a request head, or half a body, `/healthz`, a kiosk's heartbeats and the
//! dashboard still answer at once, and the server closes the half-open sockets after its
//! time-outs, over plain HTTP and over TLS alike.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog, http_client, wait_until};

#[path = "support/tls.rs"]
mod tls;

const HEADER_TIMEOUT_S: u64 = 3;
const BODY_TIMEOUT_S: u64 = 2;

/// What each slow socket sends before it stops.
fn half_request(kind: usize, admin_token: &str) -> Vec<u8> {
    match kind % 3 {
        // Nothing at all (a connection that never asks).
        0 => Vec::new(),
        // Half a request head.
        1 => b"GET /healthz HTTP/1.1\r\nHost: fleet\r\nX-Slow: aaaa".to_vec(),
        // A whole head and a tenth of the body it announced.
        _ => format!(
            "POST /api/admin/v1/bootstrap-tokens HTTP/1.1\r\nHost: fleet\r\n\
             Authorization: Bearer {admin_token}\r\nContent-Type: application/json\r\n\
             Content-Length: 1000\r\n\r\n{{\"kiosk_id\":"
        )
        .into_bytes(),
    }
}

/// Opens `n` slow sockets to `addr`.
fn slow_sockets(addr: SocketAddr, n: usize, admin_token: &str) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&half_request(i, admin_token)).unwrap();
            s
        })
        .collect()
}

/// Waits until the server has closed every socket (EOF or reset), at most `limit`; how many
/// are still open then.
fn still_open_after(sockets: Vec<TcpStream>, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let mut open = 0;
    for mut s in sockets {
        let mut buf = [0u8; 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                open += 1;
                break;
            }
            s.set_read_timeout(Some(left)).unwrap();
            match s.read(&mut buf) {
                Ok(0) => break,
                // A 408 (the stalled bodies) before the close.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(_) => {
                    open += 1;
                    break;
                }
            }
        }
    }
    open
}

/// Heartbeats the server has taken since it started (`/metrics` at `url`).
fn heartbeats(http: &reqwest::Client, url: &str, fleet: &Fleet) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = http
            .get(format!("{url}/metrics"))
            .bearer_auth(&fleet.admin_token)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let text = r.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("okenko_heartbeats_total ")?.parse().ok())
    })
    .unwrap_or(0)
}

fn limits() -> String {
    format!(
        "\n[limits]\nheader_timeout_s = {HEADER_TIMEOUT_S}\nbody_read_timeout_s = {BODY_TIMEOUT_S}\n"
    )
}

#[test]
fn slow_clients_over_plain_http_hold_nothing() {
    let tmp = TempDir::new("slow-http");
    let fleet = Fleet::start(&tmp.path().join("fleet"), &limits());
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-slow"),
        "heartbeat_interval_s = 1\n",
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));

    let sockets = slow_sockets(fleet.addr(), 300, &fleet.admin_token);
    let opened = Instant::now();
    // A body that stalls is answered 408 once it has not moved for the body time-out.
    let mut stalled = TcpStream::connect(fleet.addr()).unwrap();
    stalled
        .write_all(&half_request(2, &fleet.admin_token))
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = http_client();
    // While they hang: the health check, the dashboard and the kiosk's heartbeats answer.
    for _ in 0..5 {
        let t = Instant::now();
        let (health, login) = rt.block_on(async {
            let h = http
                .get(format!("{}/healthz", fleet.url()))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map(|r| r.status().as_u16());
            let l = http
                .get(format!("{}/login", fleet.url()))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map(|r| r.status().as_u16());
            (h, l)
        });
        assert_eq!(health.unwrap(), 200);
        assert_eq!(login.unwrap(), 200);
        assert!(t.elapsed() < Duration::from_secs(5));
    }
    let before = heartbeats(&http, &fleet.url(), &fleet);
    assert!(
        wait_until(Duration::from_secs(10), || heartbeats(
            &http,
            &fleet.url(),
            &fleet
        ) > before),
        "heartbeats arrive"
    );
    assert!(
        opened.elapsed() < Duration::from_secs(HEADER_TIMEOUT_S),
        "all checked while the slow sockets were open"
    );
    stalled
        .set_read_timeout(Some(Duration::from_secs(BODY_TIMEOUT_S + 10)))
        .unwrap();
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"timeout\""), "{answer}");
    // The server closes them after its time-outs.
    let open = still_open_after(sockets, Duration::from_secs(HEADER_TIMEOUT_S + 10));
    assert_eq!(open, 0, "half-open sockets the server did not close");
}

#[test]
fn slow_clients_over_tls_hold_nothing() {
    let tmp = TempDir::new("slow-tls");
    let (ca, cert, key) = tls::ca_and_cert(tmp.path(), "fleet");
    let fleet = Fleet::start(
        &tmp.path().join("fleet"),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n{}",
            cert.display(),
            key.display(),
            limits()
        ),
    );
    fleet.publish(&demo_catalog());
    let url = format!("https://{}", fleet.addr());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &url,
        &fleet.token("kiosk-slow-tls"),
        &format!("heartbeat_interval_s = 1\nca_file = \"{}\"\n", ca.display()),
    );
    assert!(agent.wait_ready(Duration::from_secs(30)));
    // Sockets that never finish (or never start) their TLS handshake: half a ClientHello, or
    // nothing.
    let sockets: Vec<TcpStream> = (0..300)
        .map(|i| {
            let mut s = TcpStream::connect(fleet.addr()).unwrap();
            if i % 2 == 1 {
                s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            }
            s
        })
        .collect();
    // The kiosk keeps talking to the fleet meanwhile: a status look-up goes through at once.
    let mut c = agent.client().unwrap();
    let t = Instant::now();
    let r = c.call(protocol::app::RequestBody::Status {
        tracking_code: "AAAA-AAAA-AA".into(),
    });
    assert!(r.is_ok() || matches!(r, Err(agent_client::ClientError::Agent(_))));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Health and metrics over TLS answer too.
    let _ = http_client();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    let before = heartbeats(&https, &url, &fleet);
    assert!(before > 0, "metrics over TLS");
    assert!(wait_until(Duration::from_secs(10), || heartbeats(
        &https, &url, &fleet
    ) > before));
    let open = still_open_after(sockets, Duration::from_secs(HEADER_TIMEOUT_S + 10));
    assert_eq!(open, 0, "half-open TLS sockets the server did not close");
}
