//! The commands of a signed-in session, and the loop that reads them.

#[allow(clippy::wildcard_imports)] // the session's helpers, shared with mod.rs
use super::*;

/// Commands, for `help` and Tab.
pub(super) const COMMANDS: &[&str] = &[
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

impl Console<'_> {
    pub(super) fn session(&mut self, port: &mut dyn Port) -> std::io::Result<End> {
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

    pub(super) fn feed(&self) -> String {
        match &self.agent.devices.printer {
            None => "no printer configured".into(),
            // ESC d 5: print and feed five lines.
            Some(p) => match p.print(&[0x1b, 0x64, 5]) {
                Ok(_) => "fed 5 lines".into(),
                Err(e) => format!("not fed: {e}"),
            },
        }
    }

    pub(super) fn card_read(&self, port: &mut dyn Port) -> std::io::Result<()> {
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

    pub(super) fn touch_test(&self, port: &mut dyn Port) -> std::io::Result<()> {
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

    pub(super) fn logs(&self, port: &mut dyn Port, args: &[&str]) -> std::io::Result<()> {
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

    pub(super) fn reboot(&mut self, port: &mut dyn Port) -> std::io::Result<()> {
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

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_every_command() {
        for c in super::COMMANDS {
            assert!(super::HELP.contains(c), "{c}");
        }
    }
}
