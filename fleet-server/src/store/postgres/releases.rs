//! Releases, rollouts and kiosks' update reports, as the rollout book writes them through.

use super::*;

impl Releases for PgStore {
    fn save_release(&self, r: &crate::model::rollout::Release) -> Result<(), StoreError> {
        self.put_doc("releases", "version", &r.version, r)
    }

    fn releases(&self) -> Result<Vec<crate::model::rollout::Release>, StoreError> {
        self.docs("releases")
    }

    fn save_rollout(&self, r: &crate::model::rollout::Rollout) -> Result<(), StoreError> {
        self.put_doc("rollouts", "id", &r.id, r)
    }

    fn rollouts(&self) -> Result<Vec<crate::model::rollout::Rollout>, StoreError> {
        self.docs("rollouts")
    }

    fn save_kiosk_update(&self, u: &crate::model::rollout::KioskUpdate) -> Result<(), StoreError> {
        self.put_doc("kiosk_updates", "kiosk_id", &u.kiosk_id, u)
    }

    fn kiosk_updates(&self) -> Result<Vec<crate::model::rollout::KioskUpdate>, StoreError> {
        self.docs("kiosk_updates")
    }
}
