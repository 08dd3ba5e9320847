//! Remote commands from the fleet (delivered in heartbeat replies): print the test receipt,
//! restart the app, reboot, upload the last log lines, run the self-test. Each runs once per id:
//! its result is stored before it is sent, and a command delivered again gets the stored result.
//! Outputs never contain personal data (the log never has any, see [`crate::logging`]).

use std::fmt::Write as _;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use protocol::app::DeviceState;
use protocol::fleet::{CommandAction, CommandResult};

use crate::agent::Agent;

fn failed(why: impl Into<String>) -> CommandResult {
    CommandResult {
        ok: false,
        output: why.into(),
    }
}

/// Runs `action` now (blocking: devices and programs).
pub fn execute(agent: &Agent, action: &CommandAction) -> CommandResult {
    match action {
        CommandAction::PrintTestReceipt => print_test_receipt(agent),
        CommandAction::UploadLogs { lines } => CommandResult {
            ok: true,
            output: protocol::fleet::fit_output(&crate::logging::last_lines(*lines as usize)),
        },
        CommandAction::SelfTest => self_test(agent),
        CommandAction::RestartApp => match agent.updates.as_ref().and_then(|u| u.restart_app()) {
            // The `dir` slots run the app themselves.
            Some(Ok(())) => CommandResult {
                ok: true,
                output: "the slot's app was restarted".into(),
            },
            Some(Err(e)) => CommandResult {
                ok: false,
                output: format!("the slot's app could not be restarted: {e}"),
            },
            None => run_program("restart_app", &agent.config.commands.restart_app),
        },
        CommandAction::Reboot => CommandResult {
            ok: !agent.config.commands.reboot.is_empty(),
            output: if agent.config.commands.reboot.is_empty() {
                "reboot is not configured on this kiosk ([commands] reboot)".into()
            } else {
                "rebooting".into()
            },
        },
    }
}

/// After the reboot command's result is sent: starts the configured program.
pub fn reboot_now(agent: &Agent) {
    let r = run_program("reboot", &agent.config.commands.reboot);
    if !r.ok {
        tracing::error!(output = %r.output, "reboot failed");
    }
}

fn print_test_receipt(agent: &Agent) -> CommandResult {
    let Some(printer) = &agent.devices.printer else {
        return failed("this kiosk has no printer configured");
    };
    let kiosk = agent
        .store_now(|s| s.identity())
        .ok()
        .flatten()
        .map(|i| i.name)
        .unwrap_or_default();
    let job = match crate::devices::printer::receipt::test_page(
        &agent.config.receipt.header,
        &kiosk,
        crate::store::now_ms(),
        printer.charset,
    ) {
        Ok(j) => j,
        Err(e) => return failed(format!("the test receipt could not be prepared: {e}")),
    };
    match printer.print(&job) {
        Ok(_) => {
            let st = printer.status();
            CommandResult {
                ok: true,
                output: format!(
                    "test receipt printed; printer {}{}",
                    st.state.words(),
                    st.detail.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            }
        }
        Err(e) => failed(format!("not printed: {e}")),
    }
}

fn self_test(agent: &Agent) -> CommandResult {
    let mut out = String::new();
    let mut ok = true;
    if let Some(p) = &agent.devices.printer {
        p.refresh();
    }
    for d in agent.devices.statuses() {
        let good = matches!(d.state, DeviceState::Ok | DeviceState::NotConfigured);
        ok &= good;
        let _ = writeln!(
            out,
            "{} {}: {}{}",
            if good { "PASS" } else { "FAIL" },
            d.device.words(),
            d.state.words(),
            d.detail.map(|x| format!(" ({x})")).unwrap_or_default()
        );
    }
    let health = crate::devices::system::read_health_with_disk(
        std::path::Path::new("/"),
        &agent.config.agent.data_dir,
    );
    if let (Some(total), Some(free)) = (health.disk_total_kb, health.disk_free_kb) {
        let used = 100 - free.saturating_mul(100) / total.max(1);
        let good = used <= u64::from(agent.config.agent.disk_used_max_percent);
        ok &= good;
        let _ = writeln!(
            out,
            "{} data partition: {used} % used",
            if good { "PASS" } else { "FAIL" }
        );
    }
    if let Some(t) = health.temperature_c {
        let _ = writeln!(out, "INFO temperature: {t:.1} °C");
    }
    match agent.store_now(|s| s.outbox_stats()) {
        Ok(st) => {
            let _ = writeln!(out, "INFO outbox: {} waiting", st.queued);
        }
        Err(e) => {
            ok = false;
            let _ = writeln!(out, "FAIL database: {e}");
        }
    }
    // The command arrived in a heartbeat reply: the fleet is reachable.
    let _ = writeln!(out, "PASS fleet: reachable");
    CommandResult { ok, output: out }
}

/// Runs a configured program, at most 60 s; its exit and the tail of its output.
fn run_program(what: &str, argv: &[String]) -> CommandResult {
    let Some((program, args)) = argv.split_first() else {
        return failed(format!(
            "{what} is not configured on this kiosk ([commands] {what})"
        ));
    };
    let child = Process::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot start {program}: {e}")),
    };
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return failed(format!("{program} did not finish within 60 s"));
            }
            Err(e) => return failed(format!("{program}: {e}")),
        }
    };
    let output = child.wait_with_output().map(|o| {
        let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&o.stderr));
        text
    });
    let text = output.unwrap_or_default();
    let tail: String = text
        .chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    CommandResult {
        ok: status.success(),
        output: format!("{program} exited with {status}\n{tail}"),
    }
}
