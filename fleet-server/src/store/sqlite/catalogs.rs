//! The catalog of services: published versions, never changed after.

use super::*;

impl Catalogs for SqliteStore {
    fn publish_catalog(&self, catalog: &Catalog, now: UnixMillis) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        for s in &catalog.services {
            let def = json("service", s)?;
            let old: Option<String> = tx
                .query_row(
                    "SELECT definition FROM forms WHERE service_id = ?1 AND version = ?2",
                    params![s.id, s.version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            match old {
                Some(old) if old != def => {
                    return Err(StoreError::Conflict(format!(
                        "service {:?} version {} was published before with a different definition; \
                         raise its version",
                        s.id, s.version
                    )));
                }
                Some(_) => {}
                None => {
                    tx.execute(
                        "INSERT INTO forms (service_id, version, definition) VALUES (?1, ?2, ?3)",
                        params![s.id, s.version, def],
                    )
                    .map_err(db)?;
                }
            }
        }
        let version: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM catalogs",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        let mut doc = catalog.clone();
        doc.version = version as u64;
        doc.published_at = now;
        tx.execute(
            "INSERT INTO catalogs (version, document, published_at) VALUES (?1, ?2, ?3)",
            params![version, json("catalog", &doc)?, now],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(version as u64)
    }

    fn catalog_version(&self) -> Result<u64, StoreError> {
        self.conn()
            .query_row("SELECT COALESCE(MAX(version), 0) FROM catalogs", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .map_err(db)
    }

    fn catalog(&self) -> Result<Option<Catalog>, StoreError> {
        let doc: Option<String> = self
            .conn()
            .query_row(
                "SELECT document FROM catalogs ORDER BY version DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        doc.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("catalog", e)))
            .transpose()
    }

    fn service_version(&self, id: &str, version: u32) -> Result<Option<Service>, StoreError> {
        let def: Option<String> = self
            .conn()
            .query_row(
                "SELECT definition FROM forms WHERE service_id = ?1 AND version = ?2",
                params![id, version],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        def.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("form", e)))
            .transpose()
    }
}
