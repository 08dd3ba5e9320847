//! The console of a kiosk that is not provisioned yet ([`crate::provision`]): before sign-in
//! there is no code to sign in with (the code comes from the fleet), and nothing on the kiosk
//! to protect, so it offers only `enrol`, `net` and `help`. A wrong `enrol` changes nothing.

use std::time::Duration;

use super::{Console, Port, say};
use crate::provision::{self, Provisioning};

/// What the unprovisioned console offers.
pub const HELP: &str = "\
enrol URL CA-SHA256 TOKEN [CARD-KEY]
                     joins the fleet at URL: CA-SHA256 is the fingerprint of the fleet's CA
                     certificate, TOKEN the one-time token from `fleet-server token`, CARD-KEY
                     the deployment's card key in hex (optional; the card reader stays off
                     without it)
status               versions, uptime, root, memory
net                  links, addresses, time sync
help                 this list";

impl Console<'_> {
    /// Serves the unprovisioned console until a line times out, or the kiosk is provisioned
    /// (then the agent restarts and the console with it).
    pub(super) fn unprovisioned(&mut self, port: &mut dyn Port) -> std::io::Result<()> {
        say(
            port,
            "This kiosk is not provisioned. Type `enrol URL CA-SHA256 TOKEN [CARD-KEY]`, or help.",
        )?;
        loop {
            port.write_all(b"enrol> ")?;
            let Some(line) = self.read_line(port)? else {
                return Ok(());
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["help" | "?"] => say(port, HELP)?,
                ["net"] => say(port, &self.net())?,
                ["status"] => say(port, &self.status())?,
                ["enrol" | "enroll", url, pin, token, rest @ ..] if rest.len() <= 1 => {
                    tracing::info!(target: "console", url, "console: enrol");
                    say(port, &format!("fetching the certificate chain of {url}…"))?;
                    match enrol(self.agent, url, pin, token, rest.first().copied()) {
                        Ok(()) => {
                            say(
                                port,
                                "Provisioned. The agent restarts now and enrols with the fleet; \
                                 sign in with the code from the dashboard in a minute.",
                            )?;
                            self.agent.restart.notify_one();
                            return Ok(());
                        }
                        Err(e) => {
                            tracing::warn!(target: "console", error = %e, "console: enrol refused");
                            say(port, &format!("Not provisioned: {e}"))?;
                        }
                    }
                }
                ["enrol" | "enroll", ..] => {
                    say(port, "usage: enrol URL CA-SHA256 TOKEN [CARD-KEY]")?
                }
                [other, ..] => say(
                    port,
                    &format!(
                        "unknown command {:?}; this kiosk is not provisioned (type help)",
                        other.chars().take(40).collect::<String>()
                    ),
                )?,
            }
        }
    }
}

fn enrol(
    agent: &crate::agent::Agent,
    url: &str,
    pin: &str,
    token: &str,
    card_key: Option<&str>,
) -> Result<(), provision::ProvisionError> {
    let url = url.trim_end_matches('/');
    let ca_pem = provision::pin_ca(url, pin, Duration::from_secs(10))?;
    provision::save(
        &agent.config.agent.data_dir,
        &Provisioning {
            url: url.to_owned(),
            ca_pem,
            token: token.to_owned(),
            card_key: card_key.map(str::to_owned),
        },
    )?;
    tracing::info!(%url, "provisioned from the serial console");
    Ok(())
}
