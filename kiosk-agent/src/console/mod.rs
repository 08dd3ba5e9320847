//! The technician's serial console: a line-oriented shell on a serial port (`[console]`,
//! default `/dev/ttyS0` at 115200 8N1; any tty or pty), served by its own thread. It needs
//! neither the kiosk app nor the network.
//!
//! - **Sign-in** with the kiosk's one-time code ([`protocol::totp`]: the fleet dashboard shows it
//!   to operators; the kiosk checks it offline) or the lab PIN from `[console] pin`. Five wrong
//!   codes lock the console for five minutes, also across restarts; a code works once. A
//!   session ends after `idle_timeout_s` without input, on `exit` or Ctrl-D.
//! - **Terminal**: on the first key the console asks the terminal where its cursor is
//!   (`ESC [6n`); a terminal that answers gets line editing, history and Tab completion
//!   ([`line`](mod@line)), one that stays silent (a dumb terminal, a script) gets plain text. `term ansi`
//!   and `term dumb` switch by hand.
//! - **Commands**: see [`HELP`]. Output never has personal data: card numbers are masked,
//!   submissions are counted, the log has none.
//! - Every session, failed code and command is logged (target `console`) and sent to the fleet
//!   with the next heartbeat ([`protocol::fleet::ConsoleEvent`]), which adds it to its audit
//!   log.

mod auth;
mod commands;
pub mod config;
mod enrol;
pub mod line;
mod probes;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use line::{Editor, Event};
use protocol::fleet::CommandAction;

use crate::agent::Agent;
use auth::Lock;
use commands::COMMANDS;
pub use commands::HELP;
use config::ConsoleSection;

/// How long one read waits (also how often Ctrl-C is looked for while a command runs).
const TICK: Duration = Duration::from_millis(200);

/// The port as the session uses it.
pub trait Port: Read + Write + Send {}
impl<T: Read + Write + Send> Port for T {}

/// Starts the console thread when `[console]` is configured. It opens the port (again every
/// 5 s while it is missing) and serves one session after another until `stop`.
pub fn start(
    agent: &Arc<Agent>,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let Some(cfg) = agent.config.console.clone() else {
        return Ok(());
    };
    let agent = Arc::clone(agent);
    std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            let mut lock = Lock::restore(&agent);
            let mut warned = false;
            while !stop.load(Ordering::Relaxed) {
                match serialport::new(cfg.path.to_string_lossy(), cfg.baud)
                    .timeout(TICK)
                    .open_native()
                {
                    Ok(mut port) => {
                        warned = false;
                        tracing::info!(target: "console", path = %cfg.path.display(), "serial console ready");
                        let mut c = Console::new(&agent, &cfg, &rt, &stop, &mut lock);
                        if let Err(e) = c.serve(&mut port) {
                            tracing::warn!(target: "console", error = %e, "serial console port failed");
                        }
                    }
                    Err(e) if !warned => {
                        warned = true;
                        tracing::warn!(target: "console", path = %cfg.path.display(), error = %e, "serial console port unavailable; trying again every 5 s");
                    }
                    Err(_) => {}
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        })
        .map(drop)
}

/// A console on one port.
struct Console<'a> {
    agent: &'a Agent,
    cfg: &'a ConsoleSection,
    rt: &'a tokio::runtime::Handle,
    stop: &'a AtomicBool,
    lock: &'a mut Lock,
    ed: Editor,
}

/// Why a session loop ended.
enum End {
    SignOut,
    Timeout,
}

impl<'a> Console<'a> {
    fn new(
        agent: &'a Agent,
        cfg: &'a ConsoleSection,
        rt: &'a tokio::runtime::Handle,
        stop: &'a AtomicBool,
        lock: &'a mut Lock,
    ) -> Console<'a> {
        Console {
            agent,
            cfg,
            rt,
            stop,
            lock,
            ed: Editor::new(COMMANDS.to_vec()),
        }
    }

    /// Sessions until the port fails or the agent stops.
    fn serve(&mut self, port: &mut dyn Port) -> std::io::Result<()> {
        while !self.stop.load(Ordering::Relaxed) {
            // Wait for a key.
            if read_byte(port)?.is_none() {
                continue;
            }
            self.ed.ansi = detect_ansi(port)?;
            if !crate::provision::is_provisioned(&self.agent.config) {
                port.write_all(self.banner().as_bytes())?;
                self.unprovisioned(port)?;
                continue;
            }
            if self.sign_in(port)? {
                let who = "technician";
                tracing::info!(target: "console", who, "console session opened");
                self.agent.console.push("session opened");
                let end = self.session(port)?;
                let reason = match end {
                    End::SignOut => "signed out",
                    End::Timeout => "idle time-out",
                };
                tracing::info!(target: "console", reason, "console session closed");
                self.agent
                    .console
                    .push(format!("session closed ({reason})"));
                let msg = match end {
                    End::SignOut => "Signed out.\r\n",
                    End::Timeout => "\r\nSession timed out.\r\n",
                };
                port.write_all(msg.as_bytes())?;
            }
        }
        Ok(())
    }

    fn banner(&self) -> String {
        let who = self
            .agent
            .store
            .now(|s| s.identity())
            .ok()
            .flatten()
            .map(|i| format!("{} ({})", i.kiosk_id, i.name))
            .unwrap_or_else(|| "not enrolled".into());
        format!(
            "\r\nOkénko kiosk {who}: technician console, agent {}\r\n",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// One line, or `None` when nothing came for the idle time-out (or Ctrl-D).
    fn read_line(&mut self, port: &mut dyn Port) -> std::io::Result<Option<String>> {
        let idle = Duration::from_secs(self.cfg.idle_timeout_s);
        let mut last = Instant::now();
        let mut out = Vec::new();
        loop {
            if self.stop.load(Ordering::Relaxed) || last.elapsed() > idle {
                return Ok(None);
            }
            let mut buf = [0u8; 256];
            let n = match port.read(&mut buf) {
                Ok(0) => continue,
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => return Err(e),
            };
            last = Instant::now();
            for &b in &buf[..n] {
                let ev = self.ed.feed(b, &mut out);
                if self.ed.reprint {
                    self.ed.reprint = false;
                    out.extend_from_slice(b"okenko> ");
                    out.extend_from_slice(self.ed.current().as_bytes());
                }
                match ev {
                    Event::None => {}
                    Event::Line(l) => {
                        port.write_all(&out)?;
                        return Ok(Some(l));
                    }
                    Event::TooLong => {
                        out.extend_from_slice(b"Line ignored: too long.\r\n");
                        port.write_all(&out)?;
                        return Ok(Some(String::new()));
                    }
                    Event::Interrupt => {
                        port.write_all(&out)?;
                        return Ok(Some(String::new()));
                    }
                    Event::Eof => {
                        port.write_all(&out)?;
                        return Ok(None);
                    }
                }
            }
            port.write_all(&out)?;
            out.clear();
        }
    }
}

/// Writes `text` with CR LF line ends.
fn say(port: &mut dyn Port, text: &str) -> std::io::Result<()> {
    let mut out = text.replace('\n', "\r\n");
    out.push_str("\r\n");
    port.write_all(out.as_bytes())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::Interrupted
    )
}

fn read_byte(port: &mut dyn Port) -> std::io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    match port.read(&mut b) {
        Ok(1) => Ok(Some(b[0])),
        Ok(_) => Ok(None),
        Err(e) if is_timeout(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether Ctrl-C arrived (other input is dropped while a command runs).
fn interrupted(port: &mut dyn Port) -> std::io::Result<bool> {
    let mut buf = [0u8; 64];
    match port.read(&mut buf) {
        Ok(n) => Ok(buf[..n].contains(&0x03)),
        Err(e) if is_timeout(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Asks the terminal for its cursor position; an answer within a second means ANSI.
fn detect_ansi(port: &mut dyn Port) -> std::io::Result<bool> {
    port.write_all(b"\x1b[6n")?;
    let end = Instant::now() + Duration::from_secs(1);
    let mut seen = Vec::new();
    while Instant::now() < end {
        if let Some(b) = read_byte(port)? {
            seen.push(b);
            if b == b'R' && seen.windows(2).any(|w| w == b"\x1b[") {
                return Ok(true);
            }
            if seen.len() > 32 {
                break;
            }
        }
    }
    // A dumb terminal may have shown the query; start on a clean line.
    port.write_all(b"\r\n")?;
    Ok(false)
}
