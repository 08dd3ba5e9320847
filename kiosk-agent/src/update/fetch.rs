//! Taking a release in: its keys, its manifest, the bundle's download and its check.

use std::time::Duration;

use protocol::fleet::{DesiredRelease, UpdateState};
use protocol::release::Manifest;

use super::{UpdateError, Updater};

impl Updater {
    /// Adds keys the release's endorsements vouch for (rotation), withdraws the ones its
    /// revocations name, and keeps both.
    pub(super) async fn learn_keys(&mut self, d: &DesiredRelease) {
        let revoked_before = self.keyring.revoked().len();
        for r in &d.revocations {
            match self.keyring.revoke(r) {
                Ok(id) => tracing::debug!(key = %id, "release key revoked"),
                Err(e) => {
                    tracing::warn!(error = %e, "a key revocation not signed by a trusted key")
                }
            }
        }
        if self.keyring.revoked().len() != revoked_before {
            let text = self.keyring.revoked().join("\n");
            tracing::warn!(revoked = %text, "release keys revoked");
            if let Err(e) = self
                .parts
                .store
                .run(move |s| s.set_setting("update_revoked", &text))
                .await
            {
                tracing::error!(error = %e, "revoked keys not saved");
            }
        }
        let before = self.keyring.ids().len();
        // An endorsement may rest on another: go round until nothing new is learned.
        for _ in 0..d.endorsements.len() {
            let n = self.keyring.ids().len();
            for e in &d.endorsements {
                if let Err(err) = self.keyring.endorse(e) {
                    tracing::debug!(error = %err, "endorsement not (yet) trusted");
                }
            }
            if self.keyring.ids().len() == n {
                break;
            }
        }
        if self.keyring.ids().len() != before {
            tracing::info!(keys = ?self.keyring.ids(), "learned a release key from an endorsement");
            let text = self.keyring.to_text();
            if let Err(e) = self
                .parts
                .store
                .run(move |s| s.set_setting("update_keys", &text))
                .await
            {
                tracing::error!(error = %e, "learned keys not saved");
            }
        }
    }

    /// The release's manifest if this kiosk accepts it; otherwise the job fails for good.
    pub(super) async fn manifest_or_fail(&mut self, d: &DesiredRelease) -> Option<Manifest> {
        match self.check_manifest(d) {
            Ok(m) => Some(m),
            Err(why) => {
                self.fail(why).await;
                None
            }
        }
    }

    pub(super) fn check_manifest(&self, d: &DesiredRelease) -> Result<Manifest, UpdateError> {
        let refused = |why: String| UpdateError::Refused {
            version: d.version.clone(),
            why,
        };
        let m = self
            .keyring
            .verify(&d.manifest, &self.cfg.hardware)
            .map_err(|e| refused(e.to_string()))?;
        if m.version != d.version {
            return Err(refused(format!("its manifest is for {}", m.version)));
        }
        // No downgrade without a signed rollback that names this release and the running one
        // (TUF's rule): a compromised server or an old leaked key cannot push an old release.
        let running = &self.running.version;
        if protocol::release::compare_versions(&m.version, running).is_lt() {
            let allowed = d
                .rollback
                .as_ref()
                .map(|r| self.keyring.verify_rollback(r))
                .transpose()
                .map_err(|e| refused(format!("its rollback: {e}")))?
                .is_some_and(|r| r.from == *running && r.to.contains(&m.version));
            if !allowed {
                return Err(refused(format!(
                    "it is older than the running {running}, and no signed rollback from \
                     {running} names it"
                )));
            }
        }
        Ok(m)
    }

    pub(super) async fn download(&mut self, d: &DesiredRelease) -> Result<(), UpdateError> {
        let Some(m) = self.manifest_or_fail(d).await else {
            return Ok(());
        };
        let Some(id) = self.parts.store.run(|s| s.identity()).await? else {
            return Err(UpdateError::NotEnrolled);
        };
        let cred = crate::fleet::Credential::new(&id.kiosk_id, &id.credential);
        std::fs::create_dir_all(&self.dir).map_err(UpdateError::file(&self.dir))?;
        let path = self.bundle_path(&d.version);
        let have = std::fs::metadata(&path).map_or(0, |m| m.len());
        tracing::info!(version = %d.version, from = have, size = m.size, "downloading the bundle");
        let mut last = std::time::Instant::now();
        let result = self
            .parts
            .fleet
            .download(&cred, &d.url, &path, m.size, |_| {
                if last.elapsed() >= Duration::from_secs(2) {
                    last = std::time::Instant::now();
                    self.publish();
                }
            })
            .await;
        match result {
            Ok(()) => {
                self.set(UpdateState::Verifying, None).await;
                Ok(())
            }
            Err(e) => {
                // Keep what arrived: the next try resumes there.
                let why = format!("download paused: {e}");
                if self.doc.reason.as_deref() != Some(why.as_str()) {
                    self.set(UpdateState::Downloading, Some(why)).await;
                }
                Err(e.into())
            }
        }
    }

    pub(super) async fn verify(&mut self, d: &DesiredRelease) -> Result<(), UpdateError> {
        let Some(m) = self.manifest_or_fail(d).await else {
            return Ok(());
        };
        let path = self.bundle_path(&d.version);
        let (p, mm) = (path.clone(), m.clone());
        let checked = tokio::task::spawn_blocking(move || check_file(&p, &mm)).await?;
        match checked {
            Ok(()) => self.set(UpdateState::Waiting, None).await,
            Err(why) => {
                let _ = std::fs::remove_file(&path);
                self.doc.corrupt += 1;
                if self.doc.corrupt >= 3 {
                    self.fail(format!("downloaded 3 times, never right: {why}"))
                        .await;
                } else {
                    tracing::warn!(%why, "downloaded bundle is wrong; fetching it again");
                    self.set(
                        UpdateState::Downloading,
                        Some(format!("download {} was wrong: {why}", self.doc.corrupt)),
                    )
                    .await;
                }
            }
        }
        Ok(())
    }
}

/// Checks a downloaded bundle against its manifest (size, SHA-256).
pub(super) fn check_file(path: &std::path::Path, m: &Manifest) -> Result<(), UpdateError> {
    let mut f = std::fs::File::open(path).map_err(UpdateError::file(path))?;
    Ok(protocol::release::check_bundle(
        m,
        &mut std::io::BufReader::new(&mut f),
    )?)
}
