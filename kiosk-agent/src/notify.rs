//! systemd's notification protocol (`sd_notify`): `READY=1` once the agent serves, `STOPPING=1`
//! when it stops, and `WATCHDOG=1` while it is alive. Under a unit with `Type=notify` and
//! `WatchdogSec=`, systemd restarts an agent that stops answering. Without `NOTIFY_SOCKET`
//! (a developer's machine, the tests) every call does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where to send notifications, from `NOTIFY_SOCKET`.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// The notifier systemd asked for, if any. A malformed `NOTIFY_SOCKET` is logged and
    /// ignored.
    pub fn from_env() -> Option<Notifier> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let path = path.to_string_lossy().into_owned();
        let made = (|| {
            let addr = match path.strip_prefix('@') {
                Some(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    SocketAddr::from_abstract_name(name.as_bytes())?
                }
                None => SocketAddr::from_pathname(&path)?,
            };
            Ok::<_, std::io::Error>(Notifier {
                sock: UnixDatagram::unbound()?,
                addr,
            })
        })();
        match made {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(socket = %path, error = %e, "NOTIFY_SOCKET unusable; not notifying systemd");
                None
            }
        }
    }

    /// Sends `state` (e.g. `READY=1`).
    pub fn send(&self, state: &str) {
        if let Err(e) = self.sock.send_to_addr(state.as_bytes(), &self.addr) {
            tracing::warn!(error = %e, state, "could not notify systemd");
        }
    }
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC`, when it is set for this process.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_string_lossy() != std::process::id().to_string()
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket_systemd_names() {
        let dir = std::env::temp_dir().join(format!("okenko-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            sock: UnixDatagram::unbound().unwrap(),
            addr: SocketAddr::from_pathname(&path).unwrap(),
        };
        n.send("READY=1");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }
}
