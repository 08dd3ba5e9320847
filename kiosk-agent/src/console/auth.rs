//! Signing in: the one-time code or the lab PIN, and the lock after wrong codes.

use std::time::{Duration, Instant};

use crate::agent::Agent;

use super::{Console, Port};

/// Wrong codes before the console locks.
const MAX_FAILURES: u32 = 5;
/// How long it stays locked.
const LOCK: Duration = Duration::from_secs(300);

/// Failed sign-ins. Kept in the agent's database too, so that restarting the agent (or
/// cutting the kiosk's power) neither clears a lock nor the count of wrong codes.
#[derive(Debug, Default)]
pub(super) struct Lock {
    failures: u32,
    until: Option<Instant>,
    /// The last one-time code's step (a code works once).
    used_step: Option<i64>,
}

impl Lock {
    /// The lock as the database has it.
    pub(super) fn restore(agent: &Agent) -> Lock {
        let get = |k: &str| {
            agent
                .store
                .now(|s| s.get_setting(k))
                .ok()
                .flatten()
                .and_then(|v| v.parse::<i64>().ok())
        };
        let now = crate::store::now_ms();
        let until = get("console_locked_until")
            .filter(|&u| u > now)
            .map(|u| Instant::now() + Duration::from_millis((u - now) as u64));
        Lock {
            failures: get("console_failures").unwrap_or(0).clamp(0, 100) as u32,
            until,
            used_step: get("console_used_step"),
        }
    }

    /// Writes the count and the lock's end (a failure to write is logged; the lock in memory
    /// holds anyway).
    pub(super) fn save(&self, agent: &Agent) {
        let until = self.until.map_or(0, |u| {
            crate::store::now_ms() + u.saturating_duration_since(Instant::now()).as_millis() as i64
        });
        let r = agent.store.now(|s| {
            s.set_setting("console_failures", &self.failures.to_string())?;
            s.set_setting("console_locked_until", &until.to_string())
        });
        if let Err(e) = r {
            tracing::error!(target: "console", error = %e, "console lock not saved");
        }
    }
}

impl Console<'_> {
    /// Asks for the code until one is right (true) or the line goes quiet (false).
    pub(super) fn sign_in(&mut self, port: &mut dyn Port) -> std::io::Result<bool> {
        port.write_all(self.banner().as_bytes())?;
        loop {
            if let Some(until) = self.lock.until {
                let now = Instant::now();
                if until > now {
                    let left = (until - now).as_secs().div_ceil(60);
                    port.write_all(
                        format!(
                            "Locked after {MAX_FAILURES} wrong codes; try again in {left} min.\r\n"
                        )
                        .as_bytes(),
                    )?;
                    return Ok(false);
                }
                self.lock.until = None;
                self.lock.failures = 0;
            }
            port.write_all(b"Code: ")?;
            self.ed.secret = true;
            let got = self.read_line(port)?;
            self.ed.secret = false;
            let Some(code) = got else {
                return Ok(false);
            };
            let code = code.trim().to_owned();
            if code.is_empty() {
                continue;
            }
            if self.check_code(&code) {
                if self.lock.failures > 0 {
                    self.lock.failures = 0;
                    self.lock.save(self.agent);
                }
                port.write_all(b"Signed in. Type help for the commands.\r\n")?;
                return Ok(true);
            }
            self.lock.failures += 1;
            tracing::warn!(target: "console", failures = self.lock.failures, "wrong console code");
            self.agent.console.push("wrong code");
            if self.lock.failures >= MAX_FAILURES {
                self.lock.until = Some(Instant::now() + LOCK);
                self.lock.save(self.agent);
                tracing::warn!(target: "console", "console locked for 5 min after wrong codes");
                self.agent
                    .console
                    .push("locked for 5 min after 5 wrong codes");
                port.write_all(
                    format!("Wrong code. Locked for {} min.\r\n", LOCK.as_secs() / 60).as_bytes(),
                )?;
                return Ok(false);
            }
            self.lock.save(self.agent);
            port.write_all(b"Wrong code.\r\n")?;
        }
    }

    pub(super) fn check_code(&mut self, code: &str) -> bool {
        if let Some(pin) = &self.cfg.pin
            && protocol::constant_time_eq(pin.as_bytes(), code.as_bytes())
        {
            return true;
        }
        let Ok(Some(id)) = self.agent.store.now(|s| s.identity()) else {
            return false;
        };
        let secret = protocol::totp::secret(&protocol::sha256_hex(&id.credential));
        let now = crate::store::now_ms() / 1000;
        match protocol::totp::verify(&secret, code, now) {
            Some(step) if self.lock.used_step.is_none_or(|u| step > u) => {
                // Kept in the database before the code opens anything: after a restart (or a
                // power cut) the same code is still spent. If it cannot be kept, it is refused.
                let kept = self
                    .agent
                    .store
                    .now(|s| s.set_setting("console_used_step", &step.to_string()));
                if let Err(e) = kept {
                    tracing::error!(target: "console", error = %e, "a used code could not be recorded; refused");
                    return false;
                }
                self.lock.used_step = Some(step);
                true
            }
            _ => false,
        }
    }
}
