//! Installing a verified release: the maintenance window, the idle wait, the install into the
//! other slot and the reboot into it.

use protocol::fleet::{DesiredRelease, UpdateState};

use super::slots::SlotError;
use super::{UpdateError, Updater, on_backend};

impl Updater {
    pub(super) async fn wait_for_window(&mut self, d: &DesiredRelease) -> Result<(), UpdateError> {
        let why = if !d.install_now {
            Some("waiting for the maintenance window".to_owned())
        } else if !d.force && !self.idle() {
            Some(format!(
                "waiting until nobody has used the kiosk for {} s",
                self.cfg.idle_s
            ))
        } else {
            None
        };
        match why {
            Some(w) => {
                if self.doc.reason.as_deref() != Some(w.as_str()) {
                    self.set(UpdateState::Waiting, Some(w)).await;
                }
                Ok(())
            }
            None => {
                self.set(UpdateState::Installing, None).await;
                self.install(d).await
            }
        }
    }

    fn idle(&self) -> bool {
        let last = self.parts.around.last_use_at();
        last.is_none_or(|t| crate::store::now_ms() - t >= self.cfg.idle_s as i64 * 1000)
    }

    pub(super) async fn install(&mut self, d: &DesiredRelease) -> Result<(), UpdateError> {
        let Some(m) = self.manifest_or_fail(d).await else {
            return Ok(());
        };
        let other = on_backend(&self.backend, |b| b.other())
            .await
            .ok()
            .flatten();
        let in_slot = other.as_ref().is_some_and(|o| {
            o.version == m.version && (o.sha256.is_empty() || o.sha256 == m.sha256)
        });
        if !in_slot {
            let path = self.bundle_path(&d.version);
            tracing::info!(version = %d.version, "installing the release into the other slot");
            // Checked again: the file sat on disk while waiting.
            let (p, mm) = (path.clone(), m.clone());
            let done = on_backend(&self.backend, move |b| {
                super::fetch::check_file(&p, &mm).map_err(|e| SlotError(e.to_string()))?;
                b.install(&p, &mm)
            })
            .await;
            if let Err(why) = done {
                let _ = std::fs::remove_file(&path);
                self.fail(format!("install failed: {why}")).await;
                return Ok(());
            }
            let _ = std::fs::remove_file(&path);
        }
        if let Err(e) = on_backend(&self.backend, |b| b.try_other()).await {
            self.fail(format!("cannot switch slots: {e}")).await;
            return Ok(());
        }
        self.set(UpdateState::Rebooting, None).await;
        self.reboot().await
    }

    pub(super) async fn reboot(&mut self) -> Result<(), UpdateError> {
        self.running = on_backend(&self.backend, |b| b.reboot()).await?;
        self.after_boot().await;
        Ok(())
    }
}
