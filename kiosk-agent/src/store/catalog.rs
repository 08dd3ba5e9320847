//! The catalog cache: the last catalog the fleet sent, and every form version seen, so that a
//! citizen who started a form just before an update can still submit it.

use protocol::fleet::Catalog;
use protocol::form::Service;
use rusqlite::{OptionalExtension, params};

use std::sync::Arc;

use super::{Store, StoreError};

/// Parsed definitions kept in memory; beyond this the cache starts over.
const MAX_CACHED_FORMS: usize = 256;

impl Store {
    /// Replaces the cached catalog and records its form versions, in one transaction.
    pub fn save_catalog(
        &mut self,
        catalog: &Catalog,
        etag: Option<&str>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let doc = serde_json::to_string(catalog).map_err(|e| StoreError::Corrupt {
            what: "catalog",
            message: e.to_string(),
        })?;
        let now = super::now_ms();
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO catalog (id, version, etag, document, fetched_at) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, etag = excluded.etag,
                 document = excluded.document, fetched_at = excluded.fetched_at",
            params![catalog.version as i64, etag, doc, now],
        )
        .map_err(err)?;
        for s in &catalog.services {
            let def = serde_json::to_string(s).map_err(|e| StoreError::Corrupt {
                what: "service",
                message: e.to_string(),
            })?;
            tx.execute(
                "INSERT INTO forms (service_id, version, definition, fetched_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (service_id, version) DO UPDATE SET
                     definition = excluded.definition, fetched_at = excluded.fetched_at",
                params![s.id, s.version, def, now],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Marks the cached catalog as checked now (the fleet answered 304).
    pub fn touch_catalog(&self) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE catalog SET fetched_at = ?1 WHERE id = 1",
                [super::now_ms()],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The cached catalog with its ETag and fetch time.
    pub fn catalog(&self) -> Result<Option<(Catalog, Option<String>, i64)>, StoreError> {
        let row: Option<(String, Option<String>, i64)> = self
            .conn
            .query_row(
                "SELECT document, etag, fetched_at FROM catalog WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        row.map(|(doc, etag, at)| {
            serde_json::from_str(&doc)
                .map(|c| (c, etag, at))
                .map_err(|e| StoreError::Corrupt {
                    what: "catalog",
                    message: e.to_string(),
                })
        })
        .transpose()
    }

    /// A service's definition at a given form version, parsed once and then kept (a published
    /// version never changes).
    pub fn service_version(
        &mut self,
        id: &str,
        version: u32,
    ) -> Result<Option<Arc<Service>>, StoreError> {
        let key = (id.to_owned(), version);
        if let Some(s) = self.forms.get(&key) {
            return Ok(Some(Arc::clone(s)));
        }
        let def: Option<String> = self
            .conn
            .query_row(
                "SELECT definition FROM forms WHERE service_id = ?1 AND version = ?2",
                params![id, version],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(def) = def else { return Ok(None) };
        let service: Arc<Service> =
            Arc::new(serde_json::from_str(&def).map_err(|e| StoreError::Corrupt {
                what: "form definition",
                message: e.to_string(),
            })?);
        if self.forms.len() >= MAX_CACHED_FORMS {
            self.forms.clear();
        }
        self.forms.insert(key, Arc::clone(&service));
        Ok(Some(service))
    }

    /// Whether the kiosk knows the service at all (in any version).
    pub fn knows_service(&self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM forms WHERE service_id = ?1)",
                [id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}
