//! Provisioning a kiosk built from the shared appliance image: the fleet's address, the CA its
//! certificate is pinned to, the one-time bootstrap token and (optionally) the deployment's card
//! key. None of them is in the image; each kiosk gets them on its data partition, one of two ways:
//!
//! - an installer drops a file (`[provision] files`, e.g. on the ESP) that the agent takes on
//!   its start and deletes:
//!
//!   ```toml
//!   url = "https://fleet.mesto.cz"
//!   ca_pem = """-----BEGIN CERTIFICATE-----
//!   …"""
//!   token = "…"              # fleet-server token …
//!   card_key = "…"           # optional: the deployment's card key, hex (at least 16 bytes)
//!   ```
//! - a technician types `enrol URL CA-SHA256 TOKEN [CARD-KEY]` on the serial console of a kiosk
//!   that has none ([`pin_ca`] fetches the server's chain and keeps the certificate whose SHA-256
//!   is the one typed, then checks that it really signs the server's certificate).
//!
//! Either way the result is the same files in the data directory: `fleet-ca.pem`,
//! `bootstrap-token`, `card-key`, and last `provisioned.toml` (written whole and renamed into
//! place, so a power cut leaves a kiosk provisioned or not, never half). The agent then restarts
//! and [`Config::apply_provisioned`] puts them into its configuration; the sync loop enrols with
//! the token as on any kiosk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;

/// The file in the data directory that says the kiosk is provisioned.
pub const PROVISIONED: &str = "provisioned.toml";
/// The fleet's CA, pinned.
pub const CA_FILE: &str = "fleet-ca.pem";
/// The bootstrap token (used once, at enrolment).
pub const TOKEN_FILE: &str = "bootstrap-token";
/// The deployment's card key.
pub const CARD_KEY_FILE: &str = "card-key";

/// What went wrong; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// A value is missing or malformed.
    #[error("{what}: {problem}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The fleet could not be reached or did not prove itself.
    #[error("fleet {url}: {problem}")]
    Fleet {
        /// The address tried.
        url: String,
        /// What happened.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What a kiosk needs to find and join its fleet.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    /// The fleet server's base URL.
    pub url: String,
    /// The CA certificate(s) the fleet's certificate must chain to, PEM.
    pub ca_pem: String,
    /// The one-time bootstrap token.
    pub token: String,
    /// The deployment's card key, hex; without it the card reader stays off.
    #[serde(default)]
    pub card_key: Option<String>,
}

impl std::fmt::Debug for Provisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioning")
            .field("url", &self.url)
            .field("token", &"<secret>")
            .field("card_key", &self.card_key.as_ref().map(|_| "<secret>"))
            .finish_non_exhaustive()
    }
}

/// `provisioned.toml`: where the other files' contents belong.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Provisioned {
    url: String,
}

fn invalid(what: &'static str, problem: impl Into<String>) -> ProvisionError {
    ProvisionError::Invalid {
        what,
        problem: problem.into(),
    }
}

impl Provisioning {
    /// Checks every value before anything is written.
    pub fn validate(&self) -> Result<(), ProvisionError> {
        crate::config::check_fleet_url(&self.url).map_err(|p| invalid("url", p))?;
        if roots(&self.ca_pem)?.is_empty() {
            return Err(invalid("ca_pem", "holds no certificate"));
        }
        let t = self.token.trim();
        if t.is_empty() || t.len() > 256 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("token", "must be the token fleet-server printed"));
        }
        if let Some(k) = &self.card_key {
            let key = decode_hex(k).ok_or_else(|| invalid("card_key", "must be hex"))?;
            if key.len() < 16 {
                return Err(invalid(
                    "card_key",
                    "must be at least 16 bytes (32 hex digits)",
                ));
            }
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn roots(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ProvisionError> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("ca_pem", e.to_string()))
}

/// Whether this kiosk has been provisioned (or its configuration names the fleet itself).
pub fn is_provisioned(config: &Config) -> bool {
    !config.fleet.url.is_empty()
}

/// Writes `p` into `data_dir`, `provisioned.toml` last.
pub fn save(data_dir: &Path, p: &Provisioning) -> Result<(), ProvisionError> {
    p.validate()?;
    std::fs::create_dir_all(data_dir).map_err(|source| ProvisionError::Io {
        path: data_dir.to_owned(),
        source,
    })?;
    write_atomic(&data_dir.join(CA_FILE), p.ca_pem.as_bytes())?;
    write_atomic(&data_dir.join(TOKEN_FILE), p.token.trim().as_bytes())?;
    if let Some(k) = &p.card_key {
        let key = decode_hex(k).ok_or_else(|| invalid("card_key", "must be hex"))?;
        write_atomic(&data_dir.join(CARD_KEY_FILE), &key)?;
    }
    // A JSON string is a TOML basic string (the toml crate is built here without its writer).
    let text = format!(
        "url = {}\n",
        serde_json::to_string(&p.url).map_err(|e| invalid("url", e.to_string()))?
    );
    write_atomic(&data_dir.join(PROVISIONED), text.as_bytes())
}

/// Writes a file whole (mode 0600, fsynced) and renames it into place, then syncs the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProvisionError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| ProvisionError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("new");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

impl Config {
    /// Puts what provisioning saved in the data directory into the configuration: the fleet's
    /// URL, its pinned CA, the bootstrap token and the card key. Only with a `[provision]`
    /// section; a kiosk whose configuration names its fleet is left as it is.
    pub fn apply_provisioned(&mut self) -> Result<(), ProvisionError> {
        if self.provision.is_none() || !self.fleet.url.is_empty() {
            return Ok(());
        }
        let dir = self.agent.data_dir.clone();
        let path = dir.join(PROVISIONED);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(ProvisionError::Io { path, source }),
        };
        let p: Provisioned = toml::from_str(&text).map_err(|e| ProvisionError::Invalid {
            what: "provisioned.toml",
            problem: e.to_string(),
        })?;
        crate::config::check_fleet_url(&p.url).map_err(|e| invalid("provisioned.toml url", e))?;
        self.fleet.url = p.url;
        self.fleet.ca_file = Some(dir.join(CA_FILE));
        self.fleet.bootstrap_token = None;
        self.fleet.bootstrap_token_file = Some(dir.join(TOKEN_FILE));
        if let Some(c) = &mut self.card_reader
            && dir.join(CARD_KEY_FILE).exists()
        {
            c.key_file = dir.join(CARD_KEY_FILE);
        }
        Ok(())
    }
}

/// Takes the first installer's file of `[provision] files` that exists, when the kiosk is not
/// provisioned yet: saves it and deletes it (the token is single-use and the card key is
/// secret; a file that cannot be deleted is left with a warning). A bad file is refused with
/// the reason and left in place for the installer to see. Returns whether one was taken.
pub fn import_drop_file(config: &Config) -> Result<bool, ProvisionError> {
    let Some(section) = &config.provision else {
        return Ok(false);
    };
    if is_provisioned(config) {
        return Ok(false);
    }
    for path in &section.files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ProvisionError::Io {
                    path: path.clone(),
                    source,
                });
            }
        };
        let p: Provisioning = toml::from_str(&text).map_err(|e| ProvisionError::Invalid {
            what: "provisioning file",
            problem: format!("{}: {e}", path.display()),
        })?;
        save(&config.agent.data_dir, &p)?;
        tracing::info!(file = %path.display(), url = %p.url, "provisioned from the installer's file");
        if let Err(e) = std::fs::remove_file(path) {
            tracing::warn!(file = %path.display(), error = %e, "could not delete the provisioning file; delete it by hand");
        }
        return Ok(true);
    }
    Ok(false)
}

/// The technician's way: fetches the certificate chain `url` presents, keeps the certificate
/// whose SHA-256 (of its DER bytes, hex, as `openssl x509 -fingerprint -sha256` prints it with
/// or without colons) is `pin`, and checks that the server's certificate is valid under it for
/// the URL's host. Returns that CA as PEM.
pub fn pin_ca(url: &str, pin: &str, timeout: Duration) -> Result<String, ProvisionError> {
    crate::config::check_fleet_url(url).map_err(|p| invalid("url", p))?;
    let pin: String = pin
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("CA fingerprint", "must be 64 hex digits (SHA-256)"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid("url", e.to_string()))?;
    let fleet = |problem: String| ProvisionError::Fleet {
        url: url.to_owned(),
        problem,
    };
    if parsed.scheme() != "https" {
        return Err(invalid("url", "a pinned CA needs an https:// URL"));
    }
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let server_name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
        .map_err(|e| invalid("url", e.to_string()))?
        .to_owned();
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    // First the chain, whatever it is: nothing is sent over this connection.
    let recorder = Arc::new(AcceptAny(Arc::clone(&provider)));
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| fleet(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    let chain = handshake(cfg, server_name.clone(), &host, port, timeout).map_err(fleet)?;
    let ca = chain
        .iter()
        .find(|c| protocol::sha256_hex(c.as_ref()) == pin)
        .ok_or_else(|| {
            fleet(format!(
                "no certificate it presented has the fingerprint {pin}; the server's tls_cert \
                 must hold its whole chain, the CA included (it sent {}: {})",
                chain.len(),
                chain
                    .iter()
                    .map(|c| protocol::sha256_hex(c.as_ref()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
        .clone();

    // Then a real check under that CA alone.
    let mut store = rustls::RootCertStore::empty();
    store
        .add(ca.clone())
        .map_err(|e| fleet(format!("the pinned certificate is not a CA: {e}")))?;
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fleet(e.to_string()))?
        .with_root_certificates(store)
        .with_no_client_auth();
    handshake(cfg, server_name, &host, port, timeout).map_err(|e| {
        fleet(format!(
            "its certificate is not valid under the pinned CA: {e}"
        ))
    })?;
    Ok(pem(ca.as_ref()))
}

fn handshake(
    cfg: rustls::ClientConfig,
    name: rustls::pki_types::ServerName<'static>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use std::net::ToSocketAddrs;
    let addr = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let mut sock = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    sock.set_read_timeout(Some(timeout))
        .and_then(|()| sock.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| format!("TLS handshake: {e}"))?;
    }
    Ok(conn
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default())
}

fn pem(der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Accepts any certificate: only for reading the chain in [`pin_ca`], whose result is checked
/// against the pin and then by a real verifier before anything is trusted.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_through_the_pem_reader() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = pem(&der);
        let back = roots(&text).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].as_ref(), &der[..]);
    }

    #[test]
    fn a_bad_provisioning_is_refused_before_anything_is_written() {
        let dir = tempdir();
        let p = Provisioning {
            url: "http://fleet.example.cz".into(),
            ca_pem: String::new(),
            token: "t".into(),
            card_key: None,
        };
        assert!(matches!(
            save(&dir, &p),
            Err(ProvisionError::Invalid { what: "url", .. })
        ));
        let p = Provisioning {
            url: "https://fleet.example.cz".into(),
            ca_pem: "not a pem".into(),
            token: "t".into(),
            card_key: None,
        };
        assert!(save(&dir, &p).is_err());
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "nothing written"
        );
    }

    #[test]
    fn card_keys_are_hex_of_at_least_16_bytes() {
        assert_eq!(decode_hex("0aff"), Some(vec![10, 255]));
        assert_eq!(decode_hex("0af"), None);
        assert_eq!(decode_hex("zz"), None);
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("okenko-prov-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
