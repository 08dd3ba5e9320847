//! The kiosk's power actions: reboot, and restart the app when the system runs it (systemd).
//! The fleet's commands ([`crate::commands`]) and the updater's RAUC slots both come here, so a
//! reboot is configured, started and reported in one place. Each action is an argument list from
//! `[commands]` (no shell), run through [`crate::programs`].

use std::time::Duration;

use serde::Deserialize;

use crate::programs::{self, Finished, ProgramError};

/// `[commands]`: the programs behind the fleet's "restart app" and "reboot" commands, as argument
/// lists (no shell). Empty: the command is refused on this kiosk.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandsSection {
    /// E.g. `["systemctl", "restart", "okenko-app.service"]`.
    pub restart_app: Vec<String>,
    /// E.g. `["systemctl", "reboot"]`.
    pub reboot: Vec<String>,
}

/// How long a power program may take before it is killed (`systemctl reboot` returns at once).
const LIMIT: Duration = Duration::from_secs(60);

/// The configured power actions.
#[derive(Debug, Clone, Default)]
pub struct Power {
    cfg: CommandsSection,
}

impl Power {
    /// The actions of `cfg`.
    pub fn new(cfg: &CommandsSection) -> Power {
        Power { cfg: cfg.clone() }
    }

    /// Whether a reboot is configured.
    pub fn can_reboot(&self) -> bool {
        !self.cfg.reboot.is_empty()
    }

    /// Starts the reboot; `Ok` once the program accepted it (the machine then goes down).
    pub fn reboot(&self) -> Result<(), ProgramError> {
        tracing::warn!("rebooting the kiosk");
        let done = run("reboot", &self.cfg.reboot)?;
        if done.status.success() {
            Ok(())
        } else {
            Err(ProgramError::Failed {
                program: self.cfg.reboot.join(" "),
                status: done.status,
                stderr: done.tail,
            })
        }
    }

    /// Restarts the app through the system (`[commands] restart_app`): how it ended.
    pub fn restart_app(&self) -> Result<Finished, ProgramError> {
        run("restart_app", &self.cfg.restart_app)
    }
}

fn run(what: &str, argv: &[String]) -> Result<Finished, ProgramError> {
    if argv.is_empty() {
        return Err(ProgramError::NotConfigured(format!(
            "{what} ([commands] {what})"
        )));
    }
    programs::run_for(argv, LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unconfigured_action_says_which_setting_is_missing() {
        let p = Power::default();
        assert!(!p.can_reboot());
        assert_eq!(
            p.reboot().unwrap_err().to_string(),
            "reboot ([commands] reboot) is not configured on this kiosk"
        );
        assert!(matches!(
            p.restart_app(),
            Err(ProgramError::NotConfigured(_))
        ));
    }

    #[test]
    fn a_reboot_the_program_refuses_is_an_error() {
        let p = Power::new(&CommandsSection {
            reboot: vec!["sh".into(), "-c".into(), "echo no >&2; exit 1".into()],
            restart_app: vec!["true".into()],
        });
        assert!(p.can_reboot());
        let e = p.reboot().unwrap_err();
        assert!(e.to_string().contains("failed (exit status: 1): no"), "{e}");
        assert!(p.restart_app().unwrap().status.success());
    }
}
