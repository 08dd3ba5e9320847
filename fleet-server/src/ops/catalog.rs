//! The catalog of services and notices: its checks and its publication, for the admin API and
//! the dashboard.

use std::collections::HashSet;

use protocol::fleet::Catalog;

use super::audit::audit;
use crate::error::AppError;
use crate::state::{AppState, blocking};

/// Checks a catalog before publication: every service well-formed, ids unique, categories known.
pub fn check_catalog(c: &Catalog) -> Result<(), AppError> {
    let bad = |m: String| Err(AppError::BadRequest(m));
    if c.services.len() > protocol::form::limits::MAX_SERVICES {
        return bad(format!(
            "more than {} services",
            protocol::form::limits::MAX_SERVICES
        ));
    }
    let mut categories = HashSet::new();
    for cat in &c.categories {
        if !protocol::form::is_valid_id(&cat.id) || !categories.insert(cat.id.as_str()) {
            return bad(format!("category id {:?} is malformed or repeated", cat.id));
        }
        if cat.name.cs.trim().is_empty() {
            return bad(format!("category {:?} has no Czech name", cat.id));
        }
    }
    let mut ids = HashSet::new();
    for s in &c.services {
        s.check()
            .map_err(|e| AppError::BadRequest(format!("service {:?}: {e}", s.id)))?;
        if !ids.insert(s.id.as_str()) {
            return bad(format!("service {:?} appears twice", s.id));
        }
        if !categories.contains(s.category.as_str()) {
            return bad(format!(
                "service {:?} is in unknown category {:?}",
                s.id, s.category
            ));
        }
    }
    let mut notices = HashSet::new();
    for n in &c.notices {
        if !protocol::form::is_valid_id(&n.id) || !notices.insert(n.id.as_str()) {
            return bad(format!("notice id {:?} is malformed or repeated", n.id));
        }
        if n.title.cs.trim().is_empty() {
            return bad(format!("notice {:?} has no Czech title", n.id));
        }
    }
    Ok(())
}

/// Checks and publishes a catalog, tells the kiosks (through their heartbeat replies) and
/// the audit log; `detail` says what changed, for the log.
pub async fn publish_catalog(
    state: &AppState,
    actor: &str,
    catalog: Catalog,
    detail: String,
) -> Result<u64, AppError> {
    check_catalog(&catalog)?;
    let version = blocking(state, move |s| s.publish_catalog(&catalog, crate::now_ms())).await?;
    state.heartbeats_writer.set_catalog_version(version);
    tracing::info!(version, "catalog published");
    audit(
        state,
        actor,
        "catalog.publish",
        &version.to_string(),
        detail,
    )
    .await;
    Ok(version)
}
