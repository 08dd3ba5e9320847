//! What the agent does for each local-API request. Transport-free: [`crate::local_api`] reads
//! frames and calls [`handle`]; tests can call it directly.
//!
//! Submissions are validated with the shared validator against the definition this kiosk
//! cached, stored in one fsynced transaction, and only then answered. Values are never logged.

use std::time::Duration;

use protocol::app::{
    ApiError, CatalogView, ErrorCode, KioskInfo, RequestBody, ResponseBody, StatusAnswer,
    SubmitAck, SubmitRequest,
};
use protocol::fleet::RequestState;
use protocol::tracking::TrackingCode;

use crate::agent::Agent;
use crate::store::{NewSubmission, StoreError};
use crate::sync::http::Credential;

/// Answers one request.
pub async fn handle(agent: &Agent, body: RequestBody) -> ResponseBody {
    let result = match body {
        RequestBody::KioskInfo => kiosk_info(agent).await,
        RequestBody::Catalog => catalog(agent).await.map(ResponseBody::Catalog),
        RequestBody::Submit(req) => submit(agent, req).await.map(ResponseBody::Submitted),
        RequestBody::Status { tracking_code } => status(agent, &tracking_code)
            .await
            .map(ResponseBody::Status),
        RequestBody::Devices => Ok(ResponseBody::Devices {
            devices: crate::devices::statuses(),
        }),
        RequestBody::Notices => catalog(agent)
            .await
            .map(|c| ResponseBody::Notices { notices: c.notices }),
    };
    result.unwrap_or_else(ResponseBody::Error)
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NotEnrolled => ApiError::new(
            ErrorCode::NotEnrolled,
            "this kiosk has not enrolled with the fleet yet and cannot issue tracking codes",
        ),
        StoreError::Conflict(id) => ApiError::new(
            ErrorCode::Conflict,
            format!("submission id {id} was already used for a different submission"),
        ),
        other => {
            tracing::error!(error = %other, "store failed");
            ApiError::new(ErrorCode::Storage, "storage failed; nothing was stored")
        }
    }
}

async fn kiosk_info(agent: &Agent) -> Result<ResponseBody, ApiError> {
    let id = agent
        .with_store(|s| s.identity())
        .await
        .map_err(store_error)?;
    Ok(ResponseBody::KioskInfo(KioskInfo {
        kiosk_id: id.as_ref().map(|i| i.kiosk_id.clone()).unwrap_or_default(),
        name: id.as_ref().map(|i| i.name.clone()).unwrap_or_default(),
        enrolled: id.is_some(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }))
}

async fn catalog(agent: &Agent) -> Result<CatalogView, ApiError> {
    let cached = agent
        .with_store(|s| s.catalog())
        .await
        .map_err(store_error)?;
    let now = crate::store::now_ms();
    Ok(match cached {
        None => CatalogView {
            version: 0,
            fetched_at: None,
            categories: Vec::new(),
            services: Vec::new(),
            notices: Vec::new(),
        },
        Some((c, _, fetched_at)) => CatalogView {
            version: c.version,
            fetched_at: Some(fetched_at),
            categories: c.categories,
            services: c.services,
            notices: c
                .notices
                .into_iter()
                .filter(|n| n.is_current(now))
                .collect(),
        },
    })
}

async fn submit(agent: &Agent, req: SubmitRequest) -> Result<SubmitAck, ApiError> {
    let (service_id, version) = (req.service_id.clone(), req.form_version);
    let service = agent
        .with_store(move |s| {
            let known = s.knows_service(&service_id)?;
            Ok((known, s.service_version(&service_id, version)?))
        })
        .await
        .map_err(store_error)?;
    let service = match service {
        (_, Some(s)) => s,
        (true, None) => {
            return Err(ApiError::new(
                ErrorCode::UnknownFormVersion,
                format!(
                    "form version {} of {:?} is not known here",
                    req.form_version, req.service_id
                ),
            ));
        }
        (false, None) => {
            return Err(ApiError::new(
                ErrorCode::UnknownService,
                format!("service {:?} is not offered here", req.service_id),
            ));
        }
    };
    if let Err(errors) = protocol::validate::validate_form(&service.form, &req.values) {
        tracing::info!(service = %req.service_id, problems = errors.len(), "submission refused by validation");
        return Err(ApiError {
            code: ErrorCode::Invalid,
            message: format!("{} field(s) need attention", errors.len()),
            field_errors: errors,
        });
    }
    if service.requires_identity && req.identity.is_none() {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "this service needs the citizen's card",
        ));
    }
    let id = req.submission_id;
    let ack = agent
        .with_store(move |s| {
            s.store_submission(&NewSubmission {
                id: req.submission_id,
                service_id: &req.service_id,
                form_version: req.form_version,
                language: req.language,
                values: &req.values,
                identity: req.identity.as_deref(),
            })
        })
        .await
        .map_err(store_error)?;
    if ack.new {
        tracing::info!(submission = %id, code = %ack.tracking_code, "submission stored");
        agent.wake.notify_one();
    } else {
        tracing::info!(submission = %id, code = %ack.tracking_code, "submission retried; original answer");
    }
    Ok(SubmitAck {
        submission_id: id,
        tracking_code: ack.tracking_code,
        stored_at: ack.created_at,
    })
}

async fn status(agent: &Agent, typed: &str) -> Result<StatusAnswer, ApiError> {
    let code = TrackingCode::parse(typed)
        .map_err(|e| ApiError::new(ErrorCode::BadTrackingCode, e.to_string()))?;
    let identity = agent
        .with_store(|s| s.identity())
        .await
        .map_err(store_error)?;
    let names = catalog(agent).await.ok();
    let name_of = |service: &str| {
        names
            .as_ref()
            .and_then(|c| c.services.iter().find(|s| s.id == service))
            .map(|s| s.name.clone())
    };
    if let Some(id) = identity {
        let cred = Credential::new(&id.kiosk_id, &id.credential);
        let timeout = Duration::from_secs(agent.config.fleet.status_timeout_s);
        match agent.fleet.status(&cred, &code, timeout).await {
            Ok(Some(rec)) => {
                let cached = rec.clone();
                if let Err(e) = agent.with_store(move |s| s.cache_status(&cached)).await {
                    tracing::warn!(error = %e, "could not cache a status");
                }
                let now = crate::store::now_ms();
                return Ok(StatusAnswer {
                    service_name: rec.service_name.or_else(|| name_of(&rec.service_id)),
                    tracking_code: rec.tracking_code,
                    state: rec.state,
                    note: rec.note,
                    updated_at: rec.updated_at,
                    offline: false,
                    known_at: now,
                });
            }
            Ok(None) => return local_status(agent, code, false, &name_of).await,
            Err(e) => tracing::info!(error = %e, "status look-up offline; answering from cache"),
        }
    }
    local_status(agent, code, true, &name_of).await
}

async fn local_status(
    agent: &Agent,
    code: TrackingCode,
    offline: bool,
    name_of: &(dyn Fn(&str) -> Option<protocol::Text> + Sync),
) -> Result<StatusAnswer, ApiError> {
    let c = code.clone();
    let (cached, outbox) = agent
        .with_store(move |s| Ok((s.cached_status(&c)?, s.outbox_entry(&c)?)))
        .await
        .map_err(store_error)?;
    let now = crate::store::now_ms();
    if let Some(st) = cached {
        return Ok(StatusAnswer {
            service_name: name_of(&st.service_id),
            tracking_code: code,
            state: st.state,
            note: st.note,
            updated_at: st.updated_at,
            offline,
            known_at: st.known_at,
        });
    }
    if let Some((service, state, created_at)) = outbox
        && state == "queued"
    {
        return Ok(StatusAnswer {
            service_name: name_of(&service),
            tracking_code: code,
            state: RequestState::Queued,
            note: None,
            updated_at: created_at,
            offline,
            known_at: now,
        });
    }
    Err(ApiError::new(
        ErrorCode::NotFound,
        "no request with this tracking code is known",
    ))
}
