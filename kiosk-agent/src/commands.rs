//! Remote commands from the fleet (delivered in heartbeat replies): print the test receipt,
//! restart the app, reboot, upload the last log lines, run the self-test. Each runs once per id:
//! its result is stored before it is sent, and a command delivered again gets the stored result.
//! Outputs never contain personal data (the log never has any, see [`crate::logging`]).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use protocol::app::DeviceState;
use protocol::fleet::{CommandAction, CommandResult};

use crate::devices::Devices;
use crate::power::Power;
use crate::store::Shared;
use crate::update::Updates;

/// What the commands act on, handed over by [`crate::agent`].
#[derive(Debug, Clone)]
pub struct Executor {
    /// The devices (the printer, every status).
    pub devices: Arc<Devices>,
    /// The store (the kiosk's name, the outbox).
    pub store: Shared,
    /// The updater, whose `dir` slots run the app themselves.
    pub updates: Option<Arc<Updates>>,
    /// Reboot and restart.
    pub power: Power,
    /// The receipt's header line (the test receipt).
    pub receipt_header: String,
    /// The data directory (its partition's use).
    pub data_dir: PathBuf,
    /// The self-test's limit on that use, in per cent.
    pub disk_used_max_percent: u8,
}

fn failed(why: impl Into<String>) -> CommandResult {
    CommandResult {
        ok: false,
        output: why.into(),
    }
}

impl Executor {
    /// Runs `action` now (blocking: devices and programs).
    pub fn execute(&self, action: &CommandAction) -> CommandResult {
        match action {
            CommandAction::PrintTestReceipt => self.print_test_receipt(),
            CommandAction::UploadLogs { lines } => CommandResult {
                ok: true,
                output: protocol::fleet::fit_output(&crate::logging::last_lines(*lines as usize)),
            },
            CommandAction::SelfTest => self.self_test(),
            CommandAction::RestartApp => {
                match self.updates.as_ref().and_then(|u| u.restart_app()) {
                    // The `dir` slots run the app themselves.
                    Some(Ok(())) => CommandResult {
                        ok: true,
                        output: "the slot's app was restarted".into(),
                    },
                    Some(Err(e)) => CommandResult {
                        ok: false,
                        output: format!("the slot's app could not be restarted: {e}"),
                    },
                    None => match self.power.restart_app() {
                        Ok(done) => CommandResult {
                            ok: done.status.success(),
                            output: format!(
                                "restart_app exited with {}\n{}",
                                done.status, done.tail
                            ),
                        },
                        Err(e) => failed(e.to_string()),
                    },
                }
            }
            CommandAction::Reboot => CommandResult {
                ok: self.power.can_reboot(),
                output: if self.power.can_reboot() {
                    "rebooting".into()
                } else {
                    "reboot is not configured on this kiosk ([commands] reboot)".into()
                },
            },
        }
    }

    /// After the reboot command's result is sent: reboots.
    pub fn reboot_now(&self) {
        if let Err(e) = self.power.reboot() {
            tracing::error!(error = %e, "reboot failed");
        }
    }

    fn print_test_receipt(&self) -> CommandResult {
        let Some(printer) = &self.devices.printer else {
            return failed("this kiosk has no printer configured");
        };
        let kiosk = self
            .store
            .now(|s| s.identity())
            .ok()
            .flatten()
            .map(|i| i.name)
            .unwrap_or_default();
        let job = match crate::devices::printer::receipt::test_page(
            &self.receipt_header,
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

    fn self_test(&self) -> CommandResult {
        let mut out = String::new();
        let mut ok = true;
        if let Some(p) = &self.devices.printer {
            p.refresh();
        }
        for d in self.devices.statuses() {
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
            &self.data_dir,
        );
        if let (Some(total), Some(free)) = (health.disk_total_kb, health.disk_free_kb) {
            let used = 100 - free.saturating_mul(100) / total.max(1);
            let good = used <= u64::from(self.disk_used_max_percent);
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
        match self.store.now(|s| s.outbox_stats()) {
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
}
