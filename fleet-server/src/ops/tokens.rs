//! Bootstrap tokens: how a new kiosk enrols. Issued by the admin API and by
//! `fleet-server token`.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Request for a bootstrap token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Fleet identifier of the kiosk, e.g. `ostrava-01`.
    pub kiosk_id: String,
    /// Human name.
    pub name: String,
    /// Group; default `default`.
    #[serde(default = "default_group")]
    pub group: String,
    /// Validity in hours; default 72.
    #[serde(default = "default_ttl")]
    pub ttl_hours: u32,
}

fn default_group() -> String {
    "default".into()
}
fn default_ttl() -> u32 {
    72
}

/// A freshly issued token; shown once, stored only as a hash.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The token to put in the kiosk's configuration.
    pub token: String,
    /// The kiosk.
    pub kiosk_id: String,
    /// When it stops working.
    pub expires_at: i64,
}

/// Issues a token: shared by the HTTP API and the `fleet-server token` command.
pub fn issue_token(
    store: &dyn crate::store::Store,
    req: &TokenRequest,
) -> Result<TokenResponse, AppError> {
    if !protocol::form::is_valid_id(&req.kiosk_id) {
        return Err(AppError::BadRequest(
            "kiosk_id must be 1-64 characters of a-z, 0-9, '-', '_'".into(),
        ));
    }
    if !protocol::form::is_valid_id(&req.group) {
        return Err(AppError::BadRequest(
            "group must be 1-64 characters of a-z, 0-9, '-', '_'".into(),
        ));
    }
    if req.name.trim().is_empty() || req.name.chars().count() > 200 {
        return Err(AppError::BadRequest("name must be 1-200 characters".into()));
    }
    if !(1..=24 * 90).contains(&req.ttl_hours) {
        return Err(AppError::BadRequest(
            "ttl_hours must be between 1 and 2160".into(),
        ));
    }
    let token = crate::auth::fresh_secret(20);
    let expires_at = crate::now_ms() + i64::from(req.ttl_hours) * 3_600_000;
    store.create_bootstrap_token(
        &crate::auth::hash_secret(&token),
        &req.kiosk_id,
        req.name.trim(),
        &req.group,
        expires_at,
    )?;
    Ok(TokenResponse {
        token,
        kiosk_id: req.kiosk_id.clone(),
        expires_at,
    })
}
