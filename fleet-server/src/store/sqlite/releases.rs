//! Releases, rollouts and kiosks' update reports, as the rollout book writes them through.

use super::*;

impl Releases for SqliteStore {
    fn save_release(&self, r: &crate::rollout::model::Release) -> Result<(), StoreError> {
        self.put_doc("releases", "version", &r.version, r)
    }

    fn releases(&self) -> Result<Vec<crate::rollout::model::Release>, StoreError> {
        self.docs("releases")
    }

    fn save_rollout(&self, r: &crate::rollout::model::Rollout) -> Result<(), StoreError> {
        self.put_doc("rollouts", "id", &r.id, r)
    }

    fn rollouts(&self) -> Result<Vec<crate::rollout::model::Rollout>, StoreError> {
        self.docs("rollouts")
    }

    fn save_kiosk_update(&self, u: &crate::rollout::model::KioskUpdate) -> Result<(), StoreError> {
        self.put_doc("kiosk_updates", "kiosk_id", &u.kiosk_id, u)
    }

    fn kiosk_updates(&self) -> Result<Vec<crate::rollout::model::KioskUpdate>, StoreError> {
        self.docs("kiosk_updates")
    }
}
