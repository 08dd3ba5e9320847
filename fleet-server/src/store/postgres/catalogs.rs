//! The catalog of services: published versions, never changed after.

use super::*;

impl Catalogs for PgStore {
    fn publish_catalog(&self, catalog: &Catalog, now: UnixMillis) -> Result<u64, StoreError> {
        self.tx(|c| {
            // One publication at a time, whichever instance it reaches.
            c.batch("LOCK TABLE catalogs IN SHARE ROW EXCLUSIVE MODE")?;
            for s in &catalog.services {
                let def = json("service", s)?;
                let version = i64::from(s.version);
                let old = c.query_opt(
                    "SELECT definition FROM forms WHERE service_id = $1 AND version = $2",
                    &[&s.id, &version],
                )?;
                match old.map(|r| get::<String>(&r, 0)).transpose()? {
                    Some(old) if old != def => {
                        return Err(StoreError::Conflict(format!(
                            "service {:?} version {} was published before with a different \
                             definition; raise its version",
                            s.id, s.version
                        )));
                    }
                    Some(_) => {}
                    None => {
                        c.execute(
                            "INSERT INTO forms (service_id, version, definition)
                             VALUES ($1, $2, $3)",
                            &[&s.id, &version, &def],
                        )?;
                    }
                }
            }
            let row = c.query_one("SELECT COALESCE(MAX(version), 0) + 1 FROM catalogs", &[])?;
            let version: i64 = get(&row, 0)?;
            let mut doc = catalog.clone();
            doc.version = version as u64;
            doc.published_at = now;
            c.execute(
                "INSERT INTO catalogs (version, document, published_at) VALUES ($1, $2, $3)",
                &[&version, &json("catalog", &doc)?, &now],
            )?;
            Ok(version as u64)
        })
    }

    fn catalog_version(&self) -> Result<u64, StoreError> {
        let row = self
            .conn()?
            .query_one("SELECT COALESCE(MAX(version), 0) FROM catalogs", &[])?;
        Ok(get::<i64>(&row, 0)?.max(0) as u64)
    }

    fn catalog(&self) -> Result<Option<Catalog>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT document FROM catalogs ORDER BY version DESC LIMIT 1",
            &[],
        )?;
        row.map(|r| {
            let doc: String = get(&r, 0)?;
            serde_json::from_str(&doc).map_err(|e| corrupt("catalog", e))
        })
        .transpose()
    }

    fn service_version(&self, id: &str, version: u32) -> Result<Option<Service>, StoreError> {
        let row = self.conn()?.query_opt(
            "SELECT definition FROM forms WHERE service_id = $1 AND version = $2",
            &[&id, &i64::from(version)],
        )?;
        row.map(|r| {
            let def: String = get(&r, 0)?;
            serde_json::from_str(&def).map_err(|e| corrupt("form", e))
        })
        .transpose()
    }
}
