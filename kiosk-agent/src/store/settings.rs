//! Key-value settings: the kiosk's fleet identity, its credential and its code key.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// The kiosk's identity in the fleet, stored after enrolment.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// Fleet identifier.
    pub kiosk_id: String,
    /// The number tracking codes carry.
    pub kiosk_number: u32,
    /// Human name.
    pub name: String,
    /// Group.
    pub group: String,
    /// The credential secret (never logged: `Debug` hides it).
    pub credential: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("kiosk_id", &self.kiosk_id)
            .field("kiosk_number", &self.kiosk_number)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub(crate) fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    pub(crate) fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The enrolled identity, if any.
    pub fn identity(&self) -> Result<Option<Identity>, StoreError> {
        let Some(json) = self.get_setting("identity")? else {
            return Ok(None);
        };
        let v: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                what: "identity",
                message: e.to_string(),
            })?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let number = v.get("kiosk_number").and_then(|x| x.as_u64());
        match (
            s("kiosk_id"),
            number,
            s("name"),
            s("group"),
            s("credential"),
        ) {
            (Some(kiosk_id), Some(n), Some(name), Some(group), Some(credential)) => {
                Ok(Some(Identity {
                    kiosk_id,
                    kiosk_number: n as u32,
                    name,
                    group,
                    credential,
                }))
            }
            _ => Err(StoreError::Corrupt {
                what: "identity",
                message: "missing field".into(),
            }),
        }
    }

    /// The kiosk number and code key that issue tracking codes, read once and kept.
    pub(crate) fn issuer(&mut self) -> Result<(u32, u64), StoreError> {
        if let Some(i) = self.issuer {
            return Ok(i);
        }
        let number = self
            .identity()?
            .ok_or(StoreError::NotEnrolled)?
            .kiosk_number;
        let key = self
            .get_setting("code_key")?
            .and_then(|k| k.parse().ok())
            .ok_or(StoreError::Corrupt {
                what: "code key",
                message: "missing".into(),
            })?;
        self.issuer = Some((number, key));
        Ok((number, key))
    }

    /// Stores the identity received at enrolment.
    pub fn set_identity(&mut self, id: &Identity) -> Result<(), StoreError> {
        self.issuer = None;
        let json = serde_json::json!({
            "kiosk_id": id.kiosk_id, "kiosk_number": id.kiosk_number, "name": id.name,
            "group": id.group, "credential": id.credential,
        });
        self.set_setting("identity", &json.to_string())
    }

    /// The credential secret chosen for enrolment; created and stored on first call so that a
    /// retried enrolment presents the same secret.
    pub fn pending_credential(&self, fresh: impl FnOnce() -> String) -> Result<String, StoreError> {
        if let Some(c) = self.get_setting("pending_credential")? {
            return Ok(c);
        }
        let c = fresh();
        self.set_setting("pending_credential", &c)?;
        Ok(c)
    }

    /// The secret key that permutes tracking-code sequences; created on first call.
    pub fn code_key(&mut self, fresh: impl FnOnce() -> u64) -> Result<u64, StoreError> {
        self.issuer = None;
        if let Some(k) = self.get_setting("code_key")?
            && let Ok(k) = k.parse()
        {
            return Ok(k);
        }
        let k = fresh();
        self.set_setting("code_key", &k.to_string())?;
        Ok(k)
    }
}
