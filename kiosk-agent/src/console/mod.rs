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

mod enrol;
pub mod line;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use line::{Editor, Event};
use protocol::fleet::CommandAction;

use crate::agent::Agent;
use crate::config::ConsoleSection;

/// Commands, for `help` and Tab.
const COMMANDS: &[&str] = &[
    "help", "status", "devices", "printer", "card", "touch", "net", "logs", "update", "app",
    "reboot", "selftest", "term", "exit",
];

/// The command reference.
pub const HELP: &str = "\
help                 this list
status               versions, uptime, boot slot, fleet connection, outbox, last heartbeat
devices              each device's state
printer status       the printer's state, asked now
printer test         prints the test receipt
printer feed         feeds 5 lines of paper
card read            waits 30 s for a card and shows it masked
touch test           shows taps with their coordinates (Ctrl-C stops)
net                  links, addresses, DNS, fleet reachability and TLS, time sync
logs [-n N] [-f]     the agent's last N log lines (default 20); -f follows (Ctrl-C stops)
update status        the installed version and any update in progress
app restart          restarts the kiosk app
reboot               reboots the kiosk (asks first)
selftest             checks every device, the disk and the database
term ansi|dumb       line editing on or off
exit                 signs out (also Ctrl-D)";

/// Wrong codes before the console locks.
const MAX_FAILURES: u32 = 5;
/// How long it stays locked.
const LOCK: Duration = Duration::from_secs(300);
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

/// Failed sign-ins. Kept in the agent's database too, so that restarting the agent (or
/// cutting the kiosk's power) neither clears a lock nor the count of wrong codes.
#[derive(Debug, Default)]
struct Lock {
    failures: u32,
    until: Option<Instant>,
    /// The last one-time code's step (a code works once).
    used_step: Option<i64>,
}

impl Lock {
    /// The lock as the database has it.
    fn restore(agent: &Agent) -> Lock {
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
    fn save(&self, agent: &Agent) {
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

    /// Asks for the code until one is right (true) or the line goes quiet (false).
    fn sign_in(&mut self, port: &mut dyn Port) -> std::io::Result<bool> {
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

    fn check_code(&mut self, code: &str) -> bool {
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

    fn session(&mut self, port: &mut dyn Port) -> std::io::Result<End> {
        loop {
            port.write_all(b"okenko> ")?;
            let Some(line) = self.read_line(port)? else {
                return Ok(End::Timeout);
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(&cmd) = words.first() else {
                continue;
            };
            let command: String = words
                .iter()
                .take(2)
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(40)
                .collect();
            tracing::info!(target: "console", %command, "console command");
            self.agent.console.push(format!("command: {command}"));
            match (cmd, words.get(1).copied()) {
                ("exit" | "logout" | "quit", _) => return Ok(End::SignOut),
                ("help" | "?", _) => say(port, HELP)?,
                ("status", _) => say(port, &self.status())?,
                ("devices", _) => say(port, &self.devices())?,
                ("printer", Some("status")) => say(port, &self.printer_status())?,
                ("printer", Some("test")) => {
                    let r = self
                        .agent
                        .commands()
                        .execute(&CommandAction::PrintTestReceipt);
                    say(port, &r.output)?;
                }
                ("printer", Some("feed")) => say(port, &self.feed())?,
                ("card", Some("read")) => self.card_read(port)?,
                ("touch", Some("test")) => self.touch_test(port)?,
                ("net", _) => say(port, &self.net())?,
                ("logs", _) => self.logs(port, &words[1..])?,
                ("update", Some("status")) => say(port, &self.update_status())?,
                ("app", Some("restart")) => {
                    let r = self.agent.commands().execute(&CommandAction::RestartApp);
                    say(port, &r.output)?;
                }
                ("reboot", _) => self.reboot(port)?,
                ("selftest", _) => {
                    say(port, "checking the devices, the disk and the database…")?;
                    let r = self.agent.commands().execute(&CommandAction::SelfTest);
                    say(port, &r.output)?;
                    say(
                        port,
                        if r.ok {
                            "self-test PASSED"
                        } else {
                            "self-test FAILED"
                        },
                    )?;
                }
                ("term", Some("ansi")) => {
                    self.ed.ansi = true;
                    say(port, "line editing on")?;
                }
                ("term", Some("dumb")) => {
                    self.ed.ansi = false;
                    say(port, "plain text")?;
                }
                (other, _) => {
                    let known = COMMANDS.contains(&other);
                    let msg: String = if known {
                        format!("{other}: see help for its arguments")
                    } else {
                        format!(
                            "unknown command {:?}; type help",
                            other.chars().take(40).collect::<String>()
                        )
                    };
                    say(port, &msg)?;
                }
            }
        }
    }

    fn status(&self) -> String {
        let mut s = String::new();
        let health = crate::devices::system::read_health_with_disk(
            std::path::Path::new("/"),
            &self.agent.config.agent.data_dir,
        );
        let _ = writeln!(s, "agent      {}", env!("CARGO_PKG_VERSION"));
        if let Some(u) = health.uptime_s {
            let _ = writeln!(s, "uptime     {}", protocol::time::days_hours_minutes(u));
        }
        // The updater knows the slot it booted (either backend); the kernel's word otherwise.
        let slot = match self.agent.updates.as_ref().and_then(|u| u.report()) {
            Some(r) => format!("{} (release {})", r.slot, r.running),
            None => boot_slot(),
        };
        let _ = writeln!(s, "boot slot  {slot}");
        let _ = writeln!(s, "root       {}", root_mount());
        let _ = writeln!(s, "memory     {}", memory_in_use());
        let contact = self.agent.contact.now();
        let now = crate::store::now_ms();
        let _ = writeln!(
            s,
            "fleet      {} ({})",
            self.agent.fleet.base(),
            match (&contact.last_error, contact.last_ok_at) {
                (Some(e), _) => format!("failing: {e}"),
                (None, Some(_)) => "connected".into(),
                (None, None) => "not contacted yet".into(),
            }
        );
        let _ = writeln!(
            s,
            "heartbeat  {}",
            contact
                .last_ok_at
                .map_or("none answered yet".into(), |t| format!(
                    "{} s ago",
                    (now - t) / 1000
                ))
        );
        match self.agent.store.now(|st| st.outbox_stats()) {
            Ok(o) => {
                let _ = write!(
                    s,
                    "outbox     {} waiting{}, {} refused",
                    o.queued,
                    o.oldest_queued_at.map_or(String::new(), |t| format!(
                        ", oldest {} min",
                        (now - t) / 60_000
                    )),
                    o.rejected
                );
            }
            Err(e) => {
                let _ = write!(s, "outbox     cannot read the database: {e}");
            }
        }
        s
    }

    fn devices(&self) -> String {
        let mut s = String::new();
        for d in self.agent.devices.statuses() {
            let _ = writeln!(
                s,
                "{:<12} {:<15} {}",
                d.device.words(),
                d.state.words(),
                d.detail.unwrap_or_default()
            );
        }
        s.trim_end().to_owned()
    }

    fn printer_status(&self) -> String {
        match &self.agent.devices.printer {
            None => "no printer configured".into(),
            Some(p) => {
                let d = p.refresh();
                format!(
                    "printer {}{}",
                    d.state.words(),
                    d.detail.map(|x| format!(": {x}")).unwrap_or_default()
                )
            }
        }
    }

    fn feed(&self) -> String {
        match &self.agent.devices.printer {
            None => "no printer configured".into(),
            // ESC d 5: print and feed five lines.
            Some(p) => match p.print(&[0x1b, 0x64, 5]) {
                Ok(_) => "fed 5 lines".into(),
                Err(e) => format!("not fed: {e}"),
            },
        }
    }

    fn card_read(&self, port: &mut dyn Port) -> std::io::Result<()> {
        let Some(reader) = &self.agent.devices.card_reader else {
            return say(port, "no card reader configured");
        };
        say(port, "present a card within 30 s (Ctrl-C stops)…")?;
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if interrupted(port)? {
                return say(port, "stopped");
            }
            match reader.read(Duration::from_millis(500)) {
                Ok(Some((_, masked))) => return say(port, &format!("card {masked}")),
                Ok(None) => {}
                Err(e) => return say(port, &format!("card reader: {e}")),
            }
        }
        say(port, "no card in 30 s")
    }

    fn touch_test(&self, port: &mut dyn Port) -> std::io::Result<()> {
        let Some(touch) = &self.agent.devices.touchscreen else {
            return say(port, "no touchscreen configured");
        };
        say(port, "touch the screen; Ctrl-C stops")?;
        let (_, mut seq) = touch.touches.after(u64::MAX, Duration::ZERO);
        loop {
            if interrupted(port)? {
                return say(port, "stopped");
            }
            let (taps, next) = touch.touches.after(seq, TICK);
            seq = next;
            for t in taps {
                say(
                    port,
                    &format!("{} slot {} at {}, {}", t.phase.words(), t.slot, t.x, t.y),
                )?;
            }
        }
    }

    fn update_status(&self) -> String {
        let agent = format!("agent {}", env!("CARGO_PKG_VERSION"));
        let Some(up) = &self.agent.updates else {
            return format!(
                "updates are not configured on this kiosk ([update] in agent.toml); {agent}"
            );
        };
        let Some(r) = up.report() else {
            return format!("the updater is starting; {agent}");
        };
        let mut out = format!("release: {} (slot {}); {agent}\n", r.running, r.slot);
        let what = match (&r.target, r.rollout_id) {
            (Some(t), Some(id)) => format!(" {t} (rollout {id})"),
            (Some(t), None) => format!(" {t}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "update:  {}{what}{}, since {}",
            r.state.as_str().replace('_', " "),
            r.progress.map(|p| format!(", {p} %")).unwrap_or_default(),
            protocol::time::format_czech(r.since)
        ));
        if let Some(why) = &r.reason {
            out.push_str(&format!("\nreason:  {why}"));
        }
        out
    }

    fn net(&self) -> String {
        let mut s = String::new();
        let health = crate::devices::system::read_health(std::path::Path::new("/"));
        let _ = writeln!(
            s,
            "links      {}",
            if health.links_up.is_empty() {
                "none up".into()
            } else {
                health.links_up.join(", ")
            }
        );
        let _ = writeln!(s, "addresses  {}", addresses());
        let dns: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver").map(|n| n.trim().to_owned()))
            .collect();
        let _ = writeln!(
            s,
            "dns        {}",
            if dns.is_empty() {
                "none configured".into()
            } else {
                dns.join(", ")
            }
        );
        if !crate::provision::is_provisioned(&self.agent.config) {
            let _ = writeln!(s, "fleet      not provisioned yet (enrol)");
            let _ = write!(s, "time       {}", time_sync());
            return s;
        }
        let base = self.agent.fleet.base();
        let host = base.host_str().unwrap_or_default().to_owned();
        let port = base.port_or_known_default().unwrap_or(443);
        let _ = writeln!(
            s,
            "resolve    {host}: {}",
            match std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)) {
                Ok(a) => a.map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", "),
                Err(e) => format!("FAILED ({e})"),
            }
        );
        let probe = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), self.agent.fleet.probe()).await
        });
        let _ = writeln!(
            s,
            "fleet      {base}: {}",
            match probe {
                Ok(Ok(d)) => format!(
                    "reachable{}, answered in {} ms",
                    if base.scheme() == "https" {
                        ", TLS handshake OK"
                    } else {
                        ""
                    },
                    d.as_millis()
                ),
                Ok(Err(e)) => format!("FAILED: {e}"),
                Err(_) => "FAILED: no answer in 10 s".into(),
            }
        );
        let _ = write!(s, "time       {}", time_sync());
        s
    }

    fn logs(&self, port: &mut dyn Port, args: &[&str]) -> std::io::Result<()> {
        let mut n = 20usize;
        let mut follow = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match *a {
                "-f" => follow = true,
                "-n" => match it.next().and_then(|v| v.parse().ok()) {
                    Some(v) if (1..=2000).contains(&v) => n = v,
                    _ => return say(port, "logs: -n takes 1 to 2000"),
                },
                other => return say(port, &format!("logs: unknown option {other:?}")),
            }
        }
        let lines = crate::logging::last_lines(n);
        let mut last = lines.last().cloned();
        for l in &lines {
            say(port, l)?;
        }
        if !follow {
            return Ok(());
        }
        loop {
            if interrupted(port)? {
                return Ok(());
            }
            let recent = crate::logging::last_lines(200);
            let start = last
                .as_ref()
                .and_then(|l| recent.iter().rposition(|r| r == l))
                .map_or(0, |i| i + 1);
            for l in &recent[start..] {
                say(port, l)?;
            }
            if let Some(l) = recent.last() {
                last = Some(l.clone());
            }
        }
    }

    fn reboot(&mut self, port: &mut dyn Port) -> std::io::Result<()> {
        port.write_all(b"Reboot the kiosk now? It is out of service for about a minute. [y/N] ")?;
        let answer = self.read_line(port)?.unwrap_or_default();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return say(port, "not rebooted");
        }
        let r = self.agent.commands().execute(&CommandAction::Reboot);
        say(port, &r.output)?;
        if r.ok {
            tracing::warn!(target: "console", "reboot from the serial console");
            self.agent.commands().reboot_now();
        }
        Ok(())
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

/// Memory in use (MemTotal − MemAvailable) of the total, from `/proc/meminfo`.
fn memory_in_use() -> String {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    match (kb("MemTotal:"), kb("MemAvailable:")) {
        (Some(t), Some(a)) => format!(
            "{} MiB in use of {} MiB",
            t.saturating_sub(a) / 1024,
            t / 1024
        ),
        _ => "unknown".into(),
    }
}

/// The root file system's device and whether it is mounted read-only, from `/proc/mounts`.
fn root_mount() -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"/")).then(|| (f[0].to_owned(), f.get(3).copied().unwrap_or("")))
        })
        .next_back()
        .map_or("unknown".into(), |(dev, opts)| {
            let ro = opts.split(',').any(|o| o == "ro");
            format!("{dev} {}", if ro { "read-only" } else { "read-write" })
        })
}

/// The slot the system booted from: RAUC's `rauc.slot=` on the kernel command line.
fn boot_slot() -> String {
    std::fs::read_to_string("/proc/cmdline")
        .ok()
        .and_then(|c| {
            c.split_whitespace()
                .find_map(|w| w.strip_prefix("rauc.slot=").map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown (not an A/B appliance image)".into())
}

/// The IPv4 and IPv6 addresses of the interfaces, from `ip -brief address` when available.
fn addresses() -> String {
    match crate::programs::output("ip", &["-brief", "address"]) {
        Ok(text) => {
            let v: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with("lo "))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            if v.is_empty() {
                "none".into()
            } else {
                v.join("; ")
            }
        }
        _ => "unknown (no ip command)".into(),
    }
}

/// Whether the clock is synchronised (systemd-timesyncd's flag), and the local time.
fn time_sync() -> String {
    let synced = std::path::Path::new("/run/systemd/timesync/synchronized").exists();
    format!(
        "{} ({})",
        protocol::time::format_czech(crate::store::now_ms()),
        if synced {
            "synchronised"
        } else {
            "not known to be synchronised"
        }
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_every_command() {
        for c in super::COMMANDS {
            assert!(super::HELP.contains(c), "{c}");
        }
    }
}
