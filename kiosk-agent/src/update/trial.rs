//! After a boot: a release on trial passes its health check (and is marked good) or fails it
//! (marked bad, and the kiosk goes back); a boot the loader took back is a rollback.

use std::time::Duration;

use protocol::fleet::UpdateState;

use super::slots::AppHealth;
use super::{UpdateError, Updater, on_backend};

impl Updater {
    /// After a boot: a release on trial, or the boot loader went back.
    pub(super) async fn after_boot(&mut self) {
        let target = self.doc.job.as_ref().map(|j| j.version.clone());
        let on_target = target.as_deref() == Some(self.running.version.as_str());
        if matches!(
            self.doc.state,
            UpdateState::Installing | UpdateState::Rebooting | UpdateState::Trial
        ) && on_target
        {
            // Also `installing`: cut off after the slot switch, before `rebooting` was saved.
            self.doc.trial_started = Some(crate::store::now_ms());
            self.set(UpdateState::Trial, None).await;
        } else if matches!(self.doc.state, UpdateState::Rebooting | UpdateState::Trial) {
            {
                let why = self.doc.reason.clone().unwrap_or_else(|| {
                    format!(
                        "release {} did not come up within {} boots",
                        target.as_deref().unwrap_or("?"),
                        self.cfg.boot_attempts
                    )
                });
                self.refuse_job();
                self.set(UpdateState::RolledBack, Some(why)).await;
            }
        } else {
            self.publish();
        }
    }

    pub(super) async fn trial(&mut self) -> Result<(), UpdateError> {
        let started = self.doc.trial_started.unwrap_or(self.doc.since);
        let elapsed_ms = crate::store::now_ms() - started;
        let settle = Duration::from_secs(self.cfg.settle_s);
        let app = on_backend(&self.backend, move |b| Ok(b.app(settle))).await?;
        let missing = self.parts.around.missing_devices();
        let fleet_ok = self
            .parts
            .around
            .fleet_reached_at()
            .is_some_and(|t| t >= started);
        let failure = match &app {
            AppHealth::Down(why) => Some(why.clone()),
            _ if elapsed_ms >= self.cfg.health_timeout_s as i64 * 1000 => Some(format!(
                "health check not passed within {} s: {}",
                self.cfg.health_timeout_s,
                [
                    (app != AppHealth::Up).then(|| "the app is not up".to_owned()),
                    (!missing.is_empty()).then(|| format!("missing {}", missing.join(", "))),
                    (!fleet_ok).then(|| "the fleet was not reached".to_owned()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ")
            )),
            _ => None,
        };
        if let Some(why) = failure {
            let version = self.running.version.clone();
            let why = format!("release {version} failed its health check: {why}");
            tracing::warn!(%why, "going back to the previous release");
            on_backend(&self.backend, |b| b.mark_bad()).await?;
            // Kept before the reboot, so the next boot reports it.
            self.doc.reason = Some(why.clone());
            self.refuse_job();
            self.set(UpdateState::Trial, Some(why.clone())).await;
            self.running = on_backend(&self.backend, |b| b.reboot()).await?;
            self.set(UpdateState::RolledBack, Some(why)).await;
            return Ok(());
        }
        if app == AppHealth::Up && missing.is_empty() && fleet_ok {
            on_backend(&self.backend, |b| b.mark_good()).await?;
            self.set(UpdateState::Succeeded, None).await;
        }
        Ok(())
    }
}
