//! What the kiosk last knew of request states, for offline status look-ups.

use protocol::fleet::{RequestState, StatusRecord};
use protocol::tracking::TrackingCode;
use protocol::{Text, UnixMillis};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A cached state.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedStatus {
    /// The service.
    pub service_id: String,
    /// The state.
    pub state: RequestState,
    /// The office's note.
    pub note: Option<Text>,
    /// When the state changed.
    pub updated_at: UnixMillis,
    /// When the kiosk learned it.
    pub known_at: UnixMillis,
}

impl Store {
    /// Remembers a state the fleet reported.
    pub fn cache_status(&self, r: &StatusRecord) -> Result<(), StoreError> {
        let note = r.note.as_ref().and_then(|n| serde_json::to_string(n).ok());
        self.conn
            .execute(
                "INSERT INTO status_cache (tracking_code, service_id, state, note, updated_at, known_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tracking_code) DO UPDATE SET service_id = excluded.service_id,
                     state = excluded.state, note = excluded.note,
                     updated_at = excluded.updated_at, known_at = excluded.known_at",
                params![
                    r.tracking_code.as_str(),
                    r.service_id,
                    r.state.as_str(),
                    note,
                    r.updated_at,
                    super::now_ms()
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The cached state of a code.
    pub fn cached_status(&self, code: &TrackingCode) -> Result<Option<CachedStatus>, StoreError> {
        let row: Option<(String, String, Option<String>, i64, i64)> = self
            .conn
            .query_row(
                "SELECT service_id, state, note, updated_at, known_at FROM status_cache
                 WHERE tracking_code = ?1",
                [code.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((service_id, state, note, updated_at, known_at)) = row else {
            return Ok(None);
        };
        let state = RequestState::parse(&state).ok_or_else(|| StoreError::Corrupt {
            what: "cached status",
            message: format!("unknown state {state:?}"),
        })?;
        let note = note.and_then(|n| serde_json::from_str(&n).ok());
        Ok(Some(CachedStatus {
            service_id,
            state,
            note,
            updated_at,
            known_at,
        }))
    }

    /// Remembers that these codes were submitted with the card `identity` (a keyed hash), so
    /// "my requests" can answer offline; entries older than a year are forgotten.
    pub fn remember_card_requests(
        &mut self,
        identity: &str,
        codes: &[TrackingCode],
    ) -> Result<(), StoreError> {
        let now = super::now_ms();
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        for code in codes {
            tx.execute(
                "INSERT OR REPLACE INTO card_requests (identity, tracking_code, known_at)
                 VALUES (?1, ?2, ?3)",
                params![identity, code.as_str(), now],
            )
            .map_err(err)?;
        }
        tx.execute(
            "DELETE FROM card_requests WHERE known_at < ?1",
            [now - CARD_REQUESTS_KEPT_MS],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The codes known to belong to the card `identity`, newest first.
    pub fn card_requests(&self, identity: &str) -> Result<Vec<TrackingCode>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tracking_code FROM card_requests WHERE identity = ?1
                 ORDER BY known_at DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let codes: Vec<String> = stmt
            .query_map(
                params![identity, protocol::fleet::MAX_IDENTITY_REQUESTS as i64],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        codes
            .iter()
            .map(|c| {
                TrackingCode::parse(c).map_err(|e| StoreError::Corrupt {
                    what: "card request",
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

/// How long the kiosk remembers which codes belong to a card.
const CARD_REQUESTS_KEPT_MS: i64 = 365 * 24 * 3600 * 1000;
