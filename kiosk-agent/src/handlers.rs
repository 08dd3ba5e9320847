//! What the agent does for each local-API request. Transport-free: [`crate::local_api`] reads
//! frames and calls [`handle`] on the connection's own thread, which may block on the store;
//! the only network call (an online status look-up) runs on the async runtime.
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

use tokio::runtime::Handle;

use crate::agent::Agent;
use crate::fleet::Credential;
use crate::store::{NewSubmission, StoreError};

/// Answers one request.
pub fn handle(agent: &Agent, rt: &Handle, body: RequestBody) -> ResponseBody {
    let result = match body {
        RequestBody::KioskInfo => kiosk_info(agent),
        RequestBody::Catalog => catalog(agent).map(ResponseBody::Catalog),
        RequestBody::Submit(req) => submit(agent, req).map(ResponseBody::Submitted),
        RequestBody::Status { tracking_code } => {
            status(agent, rt, &tracking_code).map(ResponseBody::Status)
        }
        RequestBody::MyRequests { identity } => my_requests(agent, rt, &identity),
        RequestBody::Devices => Ok(ResponseBody::Devices {
            devices: agent.devices.statuses(),
        }),
        RequestBody::Notices => {
            catalog(agent).map(|c| ResponseBody::Notices { notices: c.notices })
        }
        RequestBody::PrintReceipt { tracking_code } => print_receipt(agent, &tracking_code),
        RequestBody::ReadCard { timeout_ms } => read_card(agent, timeout_ms),
        RequestBody::DeviceEvents { after, wait_ms } => {
            let (events, last) = agent.devices.changes.log.after(after, wait(wait_ms));
            Ok(ResponseBody::DeviceEvents { events, last })
        }
        RequestBody::TouchEvents { after, wait_ms } => match &agent.devices.touchscreen {
            Some(t) => {
                let (events, last) = t.touches.after(after, wait(wait_ms));
                Ok(ResponseBody::TouchEvents { events, last })
            }
            None => Err(ApiError::new(
                ErrorCode::TouchscreenUnavailable,
                "this kiosk has no touchscreen configured",
            )),
        },
        RequestBody::Speak(u) => speech(agent).and_then(|s| {
            s.speak(&u)
                .map(|headset| ResponseBody::Speaking { headset })
        }),
        RequestBody::StopSpeaking => speech(agent).map(|s| {
            s.stop_speaking();
            ResponseBody::Stopped
        }),
        RequestBody::Headset { after, wait_ms } => speech(agent).map(|s| {
            let (seq, plugged) = s.jack.after(after, wait(wait_ms));
            ResponseBody::Headset {
                seq,
                plugged,
                detected: s.detects_headset(),
            }
        }),
    };
    result.unwrap_or_else(ResponseBody::Error)
}

fn speech(agent: &Agent) -> Result<&crate::speech::Speech, ApiError> {
    agent.speech.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "this kiosk has no speech configured ([speech])",
        )
    })
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

fn kiosk_info(agent: &Agent) -> Result<ResponseBody, ApiError> {
    let id = agent.store.now(|s| s.identity()).map_err(store_error)?;
    Ok(ResponseBody::KioskInfo(KioskInfo {
        kiosk_id: id.as_ref().map(|i| i.kiosk_id.clone()).unwrap_or_default(),
        name: id.as_ref().map(|i| i.name.clone()).unwrap_or_default(),
        enrolled: id.is_some(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }))
}

fn catalog(agent: &Agent) -> Result<CatalogView, ApiError> {
    let cached = agent.store.now(|s| s.catalog()).map_err(store_error)?;
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

fn submit(agent: &Agent, mut req: SubmitRequest) -> Result<SubmitAck, ApiError> {
    let id = req.submission_id;
    // The UI sends the card's token; the store gets the card's keyed hash.
    if let Some(token) = req.identity.take() {
        req.identity = Some(card_hash(agent, &token)?);
    }
    // One trip to the blocking pool: look-up, validation and the durable write together.
    let ack = agent
        .store
        .now(|s| Ok(check_and_store(s, &req)))
        .map_err(store_error)??;
    if ack.new {
        tracing::info!(submission = %id, code = %ack.tracking_code, "submission stored");
        agent.wake.notify_one();
    } else {
        tracing::info!(submission = %id, code = %ack.tracking_code, "submission retried; original answer");
    }
    Ok(SubmitAck {
        submission_id: id,
        status_url: agent.config.status_url(&ack.tracking_code),
        tracking_code: ack.tracking_code,
        stored_at: ack.created_at,
    })
}

/// Validates `req` against the definition this kiosk cached and stores it. The outer `Result`
/// is the store's; the inner one is the answer for the app.
fn check_and_store(
    s: &mut crate::store::Store,
    req: &SubmitRequest,
) -> Result<crate::store::StoredAck, ApiError> {
    let service = match s.service_version(&req.service_id, req.form_version) {
        Ok(Some(service)) => service,
        Ok(None) => {
            return Err(match s.knows_service(&req.service_id) {
                Ok(true) => ApiError::new(
                    ErrorCode::UnknownFormVersion,
                    format!(
                        "form version {} of {:?} is not known here",
                        req.form_version, req.service_id
                    ),
                ),
                Ok(false) => ApiError::new(
                    ErrorCode::UnknownService,
                    format!("service {:?} is not offered here", req.service_id),
                ),
                Err(e) => store_error(e),
            });
        }
        Err(e) => return Err(store_error(e)),
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
    // The address is checked here, where the citizen can still correct it, not at the fleet.
    let notify = match &req.notify {
        None => None,
        Some(n) => Some(n.normalized().map_err(|reason| {
            ApiError::new(
                ErrorCode::Invalid,
                format!("the {} address for notices: {reason}", n.channel.as_str()),
            )
        })?),
    };
    s.store_submission(&NewSubmission {
        id: req.submission_id,
        service_id: &req.service_id,
        form_version: req.form_version,
        language: req.language,
        values: &req.values,
        identity: req.identity.as_deref(),
        notify: notify.as_ref(),
    })
    .map_err(store_error)
}

/// Service names from the cached catalog, for answers the fleet gave without one.
fn service_names(agent: &Agent) -> impl Fn(&str) -> Option<protocol::Text> + Sync {
    let names = catalog(agent).ok();
    move |service: &str| {
        names
            .as_ref()
            .and_then(|c| c.services.iter().find(|s| s.id == service))
            .map(|s| s.name.clone())
    }
}

fn online_answer(
    rec: protocol::fleet::StatusRecord,
    name_of: &(dyn Fn(&str) -> Option<protocol::Text> + Sync),
) -> StatusAnswer {
    StatusAnswer {
        service_name: rec.service_name.or_else(|| name_of(&rec.service_id)),
        tracking_code: rec.tracking_code,
        state: rec.state,
        note: rec.note,
        updated_at: rec.updated_at,
        offline: false,
        known_at: crate::store::now_ms(),
    }
}

/// "My requests": asks the fleet (every kiosk's submissions with this card); when it cannot be
/// reached, answers from what this kiosk knows, each answer marked offline with its time.
/// The card's keyed hash behind a token from [`read_card`]; a token the agent did not issue, or
/// an expired one, is refused (the UI never holds the hash).
fn card_hash(agent: &Agent, token: &str) -> Result<String, ApiError> {
    agent
        .cards
        .resolve(token)
        .ok_or_else(|| ApiError::new(ErrorCode::CardExpired, "the card must be presented again"))
}

fn my_requests(agent: &Agent, rt: &Handle, token: &str) -> Result<ResponseBody, ApiError> {
    let hash = card_hash(agent, token)?;
    let identity = hash.as_str();
    let enrolled = agent.store.now(|s| s.identity()).map_err(store_error)?;
    let name_of = service_names(agent);
    let known = {
        let id = identity.to_owned();
        agent
            .store
            .now(move |s| s.card_requests(&id))
            .map_err(store_error)?
    };
    if let Some(kiosk) = enrolled {
        let cred = Credential::new(&kiosk.kiosk_id, &kiosk.credential);
        let timeout = Duration::from_secs(agent.config.fleet.status_timeout_s);
        let (fleet, asked) = (agent.fleet.clone(), identity.to_owned());
        let answer = rt
            .block_on(
                rt.spawn(async move { fleet.requests_by_identity(&cred, &asked, timeout).await }),
            )
            .unwrap_or_else(|e| Err(crate::fleet::FleetError::Transport(e.to_string())));
        match answer {
            Ok(records) => {
                let codes: Vec<TrackingCode> =
                    records.iter().map(|r| r.tracking_code.clone()).collect();
                let (cached, id) = (records.clone(), identity.to_owned());
                if let Err(e) = agent.store.now(move |s| {
                    for r in &cached {
                        s.cache_status(r)?;
                    }
                    s.remember_card_requests(&id, &codes)
                }) {
                    tracing::warn!(error = %e, "could not cache the card's requests");
                }
                let mut requests: Vec<StatusAnswer> = records
                    .into_iter()
                    .map(|r| online_answer(r, &name_of))
                    .collect();
                // Submitted here but not uploaded yet: the fleet cannot know them.
                for code in known {
                    if !requests.iter().any(|r| r.tracking_code == code)
                        && let Ok(a) = local_status(agent, code, false, &name_of)
                    {
                        requests.push(a);
                    }
                }
                requests.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
                return Ok(ResponseBody::MyRequests { requests });
            }
            Err(e) => tracing::info!(error = %e, "my requests offline; answering from cache"),
        }
    }
    let mut requests: Vec<StatusAnswer> = known
        .into_iter()
        .filter_map(|code| local_status(agent, code, true, &name_of).ok())
        .collect();
    requests.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    Ok(ResponseBody::MyRequests { requests })
}

fn status(agent: &Agent, rt: &Handle, typed: &str) -> Result<StatusAnswer, ApiError> {
    let code = TrackingCode::parse(typed)
        .map_err(|e| ApiError::new(ErrorCode::BadTrackingCode, e.to_string()))?;
    let identity = agent.store.now(|s| s.identity()).map_err(store_error)?;
    let name_of = service_names(agent);
    if let Some(id) = identity {
        let cred = Credential::new(&id.kiosk_id, &id.credential);
        let timeout = Duration::from_secs(agent.config.fleet.status_timeout_s);
        let (fleet, asked) = (agent.fleet.clone(), code.clone());
        let answer = rt
            .block_on(rt.spawn(async move { fleet.status(&cred, &asked, timeout).await }))
            .unwrap_or_else(|e| Err(crate::fleet::FleetError::Transport(e.to_string())));
        match answer {
            Ok(Some(rec)) => {
                let cached = rec.clone();
                if let Err(e) = agent.store.now(move |s| s.cache_status(&cached)) {
                    tracing::warn!(error = %e, "could not cache a status");
                }
                return Ok(online_answer(rec, &name_of));
            }
            Ok(None) => return local_status(agent, code, false, &name_of),
            Err(e) => tracing::info!(error = %e, "status look-up offline; answering from cache"),
        }
    }
    local_status(agent, code, true, &name_of)
}

fn local_status(
    agent: &Agent,
    code: TrackingCode,
    offline: bool,
    name_of: &(dyn Fn(&str) -> Option<protocol::Text> + Sync),
) -> Result<StatusAnswer, ApiError> {
    let c = code.clone();
    let (cached, outbox) = agent
        .store
        .now(move |s| Ok((s.cached_status(&c)?, s.outbox_entry(&c)?)))
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
    if let Some(entry) = outbox
        && entry.state == "queued"
    {
        return Ok(StatusAnswer {
            service_name: name_of(&entry.service_id),
            tracking_code: code,
            state: RequestState::Queued,
            note: None,
            updated_at: entry.created_at,
            offline,
            known_at: now,
        });
    }
    Err(ApiError::new(
        ErrorCode::NotFound,
        "no request with this tracking code is known",
    ))
}

/// How long after a submission its receipt may still be printed: the citizen who made it is at
/// the kiosk; later, a stranger typing someone's code must not print their receipt.
const RECEIPT_WINDOW_MS: i64 = 30 * 60 * 1000;

fn print_receipt(agent: &Agent, typed: &str) -> Result<ResponseBody, ApiError> {
    let code = TrackingCode::parse(typed)
        .map_err(|e| ApiError::new(ErrorCode::BadTrackingCode, e.to_string()))?;
    let c = code.clone();
    let (entry, identity) = agent
        .store
        .now(|s| Ok((s.outbox_entry(&c)?, s.identity()?)))
        .map_err(store_error)?;
    let entry = entry.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "this kiosk did not issue this tracking code",
        )
    })?;
    if crate::store::now_ms() - entry.created_at > RECEIPT_WINDOW_MS {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "a receipt can be printed only right after the submission",
        ));
    }
    let Some(printer) = &agent.devices.printer else {
        return Err(ApiError::new(
            ErrorCode::PrinterUnavailable,
            "this kiosk has no printer",
        ));
    };
    let service = catalog(agent)
        .ok()
        .and_then(|c| c.services.into_iter().find(|s| s.id == entry.service_id))
        .map(|s| s.name.get(entry.language).to_owned())
        .unwrap_or_else(|| entry.service_id.clone());
    let content = crate::devices::printer::ReceiptContent {
        city: agent.config.receipt.header.clone(),
        service,
        created_at: entry.created_at,
        kiosk: identity.map(|i| i.name).unwrap_or_default(),
        status_base: agent.config.status_base().to_owned(),
        code: code.clone(),
        lang: entry.language,
    };
    let job = crate::devices::printer::receipt::encode(&content, printer.charset).map_err(|e| {
        tracing::error!(error = %e, "receipt encoding failed");
        ApiError::new(ErrorCode::Internal, "the receipt could not be prepared")
    })?;
    match printer.print(&job) {
        Ok(_) => {
            tracing::info!(%code, "receipt printed");
            Ok(ResponseBody::Printed {
                printer: printer.status(),
            })
        }
        Err(e) => {
            tracing::warn!(%code, error = %e, "receipt not printed");
            Err(ApiError::new(ErrorCode::PrinterUnavailable, e.to_string()))
        }
    }
}

fn wait(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms)).min(crate::devices::MAX_WAIT)
}

fn read_card(agent: &Agent, timeout_ms: u32) -> Result<ResponseBody, ApiError> {
    let Some(reader) = &agent.devices.card_reader else {
        return Err(ApiError::new(
            ErrorCode::CardReaderUnavailable,
            "this kiosk has no card reader",
        ));
    };
    let timeout = Duration::from_millis(u64::from(timeout_ms.min(60_000)));
    match reader.read(timeout) {
        // The hash stays here: the UI gets a token that stands for this read.
        Ok(Some((hash, masked))) => Ok(ResponseBody::Card {
            identity: agent.cards.issue(hash),
            masked,
        }),
        Ok(None) => Ok(ResponseBody::NoCard),
        Err(e) => Err(ApiError::new(
            ErrorCode::CardReaderUnavailable,
            e.to_string(),
        )),
    }
}
