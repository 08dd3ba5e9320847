//! The kiosk API, `/api/kiosk/v1/…`. A kiosk authenticates with `Bearer <kiosk_id>:<secret>`
//! and reaches only its own data: it uploads only codes carrying its own kiosk number, a replayed
//! id of another kiosk is refused, and its catalog is filtered to its group.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use protocol::fleet::{
    self, BatchAck, Catalog, EnrolRequest, EnrolResponse, Heartbeat, HeartbeatReply, ItemAck,
    ItemOutcome, SubmissionBatch,
};
use protocol::tracking::TrackingCode;

use crate::auth;
use crate::http::{AppError, ClientIp, JsonBody};
use crate::ops::audit::audit;
pub use crate::state::AuthCache;
use crate::state::{AppState, Change, blocking};
use crate::store::{Enrolment, KioskRecord};

/// `POST …/enrol`: open to anyone, so throttled per address before its small body is read.
pub fn enrol_route(state: &AppState) -> axum::routing::MethodRouter<AppState> {
    post(enrol)
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::http::PUBLIC_MAX_BODY,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            throttle_enrolment,
        ))
}

/// An authenticated kiosk.
#[derive(Debug, Clone)]
pub struct Kiosk(pub std::sync::Arc<KioskRecord>);

impl FromRequestParts<AppState> for Kiosk {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = auth::bearer(parts.headers.get(header::AUTHORIZATION))
            .ok_or_else(|| AppError::Unauthorized("missing kiosk credential".into()))?;
        let (kiosk_id, secret) = token
            .split_once(':')
            .ok_or_else(|| AppError::Unauthorized("malformed kiosk credential".into()))?;
        let (kiosk_id, hash) = (kiosk_id.to_owned(), auth::hash_secret(secret));
        if let Some((known, rec, at)) = state
            .kiosk_auth
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kiosk_id)
            && at.elapsed() < AUTH_CACHE_FOR
            && auth::constant_time_eq(known, &hash)
        {
            return Ok(Kiosk(std::sync::Arc::clone(rec)));
        }
        let (id, h) = (kiosk_id.clone(), hash.clone());
        let rec = blocking(state, move |s| s.authenticate(&id, &h))
            .await?
            .map(std::sync::Arc::new)
            .ok_or_else(|| AppError::Unauthorized("unknown kiosk credential".into()))?;
        let mut cache = state.kiosk_auth.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 200_000 {
            cache.clear();
        }
        cache.insert(
            kiosk_id,
            (hash, std::sync::Arc::clone(&rec), std::time::Instant::now()),
        );
        Ok(Kiosk(rec))
    }
}

/// How long a cached authentication is trusted.
const AUTH_CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Drops `kiosk_id`'s cached authentication.
pub fn forget(state: &AppState, kiosk_id: &str) {
    state
        .kiosk_auth
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .remove(kiosk_id);
}

/// The public rate limit on enrolment, taken before the body is read.
async fn throttle_enrolment(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !state.limiter.allow(ip) {
        return axum::response::IntoResponse::into_response(AppError::RateLimited);
    }
    next.run(req).await
}

async fn enrol(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EnrolRequest>,
) -> Result<Json<EnrolResponse>, AppError> {
    if req.credential.len() < 40 || req.credential.len() > 200 {
        return Err(AppError::BadRequest(
            "the credential must be 40-200 characters".into(),
        ));
    }
    let token_hash = auth::hash_secret(&req.bootstrap_token);
    let cred_hash = auth::hash_secret(&req.credential);
    let version: String = req.agent_version.chars().take(64).collect();
    let outcome = blocking(&state, move |s| {
        s.enrol(&token_hash, &cred_hash, &version, crate::now_ms())
    })
    .await?;
    match outcome {
        Enrolment::Enrolled(k) => {
            forget(&state, &k.kiosk_id);
            tracing::info!(kiosk = %k.kiosk_id, number = k.number, "kiosk enrolled");
            Ok(Json(EnrolResponse {
                kiosk_id: k.kiosk_id,
                kiosk_number: k.number,
                name: k.name,
                group: k.group,
            }))
        }
        Enrolment::UnknownToken => Err(AppError::Unauthorized("unknown bootstrap token".into())),
        Enrolment::TokenUsed => Err(AppError::Forbidden(
            "the bootstrap token was already used".into(),
        )),
        Enrolment::Expired => Err(AppError::Forbidden(
            "the bootstrap token has expired".into(),
        )),
    }
}

pub async fn submissions(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    JsonBody(batch): JsonBody<SubmissionBatch>,
) -> Result<Json<BatchAck>, AppError> {
    if batch.items.len() > fleet::MAX_BATCH {
        return Err(AppError::BadRequest(format!(
            "at most {} items per batch",
            fleet::MAX_BATCH
        )));
    }
    let kiosk_id = kiosk.kiosk_id.clone();
    // The citizen's address for notices is kept apart, sealed, never in the submission's body.
    let mut batch = batch;
    let contacts = crate::ops::notices::take_contacts(&mut batch.items, &state.contacts);
    let tell_receipt = state.tell_receipt;
    let (items, told) = blocking(&state, move |s| {
        let acks = s.ingest(&kiosk, &batch.items, crate::now_ms(), &|item, form| {
            crate::ops::submissions::check(&kiosk, item, form)
        })?;
        let told =
            crate::ops::notices::keep_contacts(s, &acks, &contacts, tell_receipt, crate::now_ms())?;
        Ok((acks, told))
    })
    .await?;
    if told > 0 {
        state.notices_wake.notify_one();
    }
    let accepted = items
        .iter()
        .filter(|a| matches!(a.outcome, ItemOutcome::Accepted { .. }))
        .count();
    let rejected: Vec<&ItemAck> = items
        .iter()
        .filter(|a| matches!(a.outcome, ItemOutcome::Rejected { .. }))
        .collect();
    for r in &rejected {
        tracing::warn!(kiosk = %kiosk_id, submission = %r.id, outcome = ?r.outcome, "submission rejected");
    }
    tracing::info!(kiosk = %kiosk_id, items = items.len(), accepted, rejected = rejected.len(), "batch ingested");
    if accepted > 0 {
        state.connector_wake.notify_one();
    }
    Ok(Json(BatchAck { items }))
}

/// The catalog as kiosk `group` sees it.
pub fn for_group(mut c: Catalog, group: &str) -> Catalog {
    let visible = |groups: &[String]| groups.is_empty() || groups.iter().any(|g| g == group);
    c.services.retain(|s| visible(&s.groups));
    let now = crate::now_ms();
    c.notices
        .retain(|n| visible(&n.groups) && n.valid_until.is_none_or(|u| now < u));
    c
}

pub async fn catalog(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let catalog = blocking(&state, |s| s.catalog()).await?.unwrap_or_default();
    let view = for_group(catalog, &kiosk.group);
    let etag = format!("\"{}-{}\"", view.version, etag_hash(&view));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok(([(header::ETAG, etag)], Json(view)).into_response())
}

/// A short digest of the kiosk's view, so that a notice expiring changes the ETag too.
fn etag_hash(c: &Catalog) -> String {
    let json = serde_json::to_string(c).unwrap_or_default();
    auth::hash_secret(&json)[..16].to_owned()
}

pub async fn status(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    Path(code): Path<String>,
) -> Result<Json<fleet::StatusRecord>, AppError> {
    if !state.kiosk_lookups.allow(kiosk.kiosk_id.clone()) {
        return Err(AppError::RateLimited);
    }
    let code = TrackingCode::parse(&code).map_err(|e| AppError::BadRequest(e.to_string()))?;
    blocking(&state, move |s| s.status(code.as_str()))
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound("no request with this tracking code".into()))
}

/// "My requests": what was submitted with a card at any kiosk. The card's keyed hash stands for
/// the card, which the citizen has just presented to this kiosk; the answer has no personal data.
pub async fn by_identity(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    JsonBody(q): JsonBody<fleet::IdentityQuery>,
) -> Result<Json<fleet::IdentityRequests>, AppError> {
    // One budget with the look-ups by code: a kiosk credential cannot enumerate either faster
    // than the public page lets one address.
    if !state.kiosk_lookups.allow(kiosk.kiosk_id.clone()) {
        return Err(AppError::RateLimited);
    }
    if q.identity.len() != 64 || !q.identity.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::BadRequest(
            "identity must be a card's keyed hash (64 hex digits)".into(),
        ));
    }
    let requests = blocking(&state, move |s| {
        s.requests_by_identity(&q.identity, fleet::MAX_IDENTITY_REQUESTS)
    })
    .await?;
    Ok(Json(fleet::IdentityRequests { requests }))
}

/// When a heartbeat was sampled, on the server's clock: the kiosk's `sampled_at` moved by the
/// offset between its clock and the server's, measured at sending (`sent_at`), so a kiosk
/// whose clock is off still files its samples at the right hours, live or replayed from its
/// offline buffer. Refused: a sample still ahead of the server by more than the clock-skew
/// allowance (`alerts.clock_skew_max_s`), one from before the kiosk enrolled, and one older
/// than [`fleet::MAX_SAMPLE_AGE_MS`] (the kiosk's buffer keeps no older): none of them can
/// write hours that are never pruned or rewrite the past.
fn sample_time(
    state: &AppState,
    kiosk: &crate::store::KioskRecord,
    hb: &Heartbeat,
    now: i64,
) -> Result<i64, AppError> {
    let offset = hb.sent_at.map_or(0, |sent| now.saturating_sub(sent));
    let at = hb.sampled_at.saturating_add(offset);
    let allowance = state.clock_skew_allowance_ms;
    if at > now.saturating_add(allowance) {
        return Err(AppError::BadRequest(format!(
            "sampled_at is {} s ahead of the server's clock (the allowance is {} s)",
            (at - now) / 1000,
            allowance / 1000
        )));
    }
    let enrolled = kiosk.enrolled_at.unwrap_or(now);
    if at < enrolled.saturating_sub(allowance) {
        return Err(AppError::BadRequest(
            "sampled_at is before the kiosk enrolled".into(),
        ));
    }
    if at < now - fleet::MAX_SAMPLE_AGE_MS {
        return Err(AppError::BadRequest(format!(
            "sampled_at is over {} days old",
            fleet::MAX_SAMPLE_AGE_MS / 86_400_000
        )));
    }
    Ok(at.min(now))
}

/// The audit entries a heartbeat's console events make: the technician's sessions and commands
/// as the kiosk reports them. What a kiosk reports is its own word, so each entry says so
/// (action `kiosk.console`, detail `reported by the kiosk: …`), is bounded in length and dated
/// no later than its arrival, and a kiosk gets a budget of entries per minute
/// (`limits.console_events_per_minute`); events over it are counted in one entry, not stored.
fn console_audit_entries(
    state: &AppState,
    kiosk_id: &str,
    console: Vec<fleet::ConsoleEvent>,
    now: i64,
) -> Vec<crate::store::AuditEntry> {
    let entry = |at: i64, detail: String| crate::store::AuditEntry {
        at,
        actor: format!("console@{kiosk_id}"),
        action: "kiosk.console".into(),
        target: kiosk_id.to_owned(),
        detail,
    };
    let mut entries = Vec::new();
    let mut dropped = 0;
    for e in console {
        if state.console_audit.allow(kiosk_id.to_owned()) {
            let what: String = e
                .what
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            entries.push(entry(
                e.at.min(now),
                format!("reported by the kiosk: {what}"),
            ));
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        tracing::warn!(kiosk = %kiosk_id, dropped, "console events over the kiosk's budget");
        entries.push(entry(
            now,
            format!("reported by the kiosk: {dropped} more console events, over the budget, not recorded"),
        ));
    }
    entries
}

pub async fn heartbeat(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    JsonBody(mut hb): JsonBody<Heartbeat>,
) -> Result<Json<HeartbeatReply>, AppError> {
    let now = crate::now_ms();
    hb.sampled_at = sample_time(&state, &kiosk, &hb, now)?;
    if hb.console.len() > fleet::MAX_CONSOLE_EVENTS {
        return Err(AppError::BadRequest(format!(
            "more than {} console events",
            fleet::MAX_CONSOLE_EVENTS
        )));
    }
    if let Some(u) = &mut hb.update {
        // Bounded, so a kiosk cannot grow the records without limit.
        u.reason = u.reason.take().map(|r| r.chars().take(500).collect());
        if u.running.len() > 64
            || u.slot.len() > 16
            || u.target.as_ref().is_some_and(|t| t.len() > 64)
            || u.progress.is_some_and(|p| p > 100)
        {
            return Err(AppError::BadRequest(
                "update report: versions up to 64 characters, slot up to 16, progress 0-100".into(),
            ));
        }
    }
    let member = crate::rollout::Member {
        kiosk_id: &kiosk.kiosk_id,
        group: &kiosk.group,
    };
    let (release, changed) = state.rollouts.on_heartbeat(member, hb.update.as_ref(), now);
    if !changed.is_empty() {
        let paused = changed.paused.clone();
        blocking(&state, move |s| changed.save(s)).await?;
        if let Some(r) = paused {
            audit(
                &state,
                "fleet",
                "rollout.change",
                &format!("rollout {}", r.id),
                r.reason.unwrap_or_default(),
            )
            .await;
        }
    }
    let console = std::mem::take(&mut hb.console);
    if !console.is_empty() {
        let entries = console_audit_entries(&state, &kiosk.kiosk_id, console, now);
        blocking(&state, move |s| entries.iter().try_for_each(|e| s.audit(e))).await?;
        state.changed(Change::Audit);
    }
    state
        .heartbeats
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Only a heartbeat that changes the kiosk's alerts wakes the sweeper.
    let (rules, watch) = (&state.alerts.rules, &state.alerts.watch);
    let check = watch.changed(&kiosk, &hb, now, rules);
    state
        .heartbeats_writer
        .record(kiosk.kiosk_id.clone(), hb, now)
        .await
        .map_err(AppError::Internal)?;
    let commands = if state.heartbeats_writer.has_pending(&kiosk.kiosk_id) {
        let id = kiosk.kiosk_id.clone();
        let c = blocking(&state, move |s| s.pending_commands(&id, now)).await?;
        if c.is_empty() {
            state.heartbeats_writer.set_pending(&kiosk.kiosk_id, false);
        }
        c
    } else {
        Vec::new()
    };
    let catalog_version = state.heartbeats_writer.catalog_version();
    state.changed(Change::Kiosk(kiosk.kiosk_id.as_str().into()));
    if check {
        state
            .alerts_touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kiosk.kiosk_id.clone());
        state.alerts_wake.notify_one();
    }
    Ok(Json(HeartbeatReply {
        server_time: now,
        catalog_version,
        commands,
        release,
    }))
}

/// The bundle of the release this kiosk should run, whole or from a `Range: bytes=N-[M]`
/// (a download that broke off resumes where it stopped). Any other release is not found.
pub async fn release_bundle(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let member = crate::rollout::Member {
        kiosk_id: &kiosk.kiosk_id,
        group: &kiosk.group,
    };
    let not_found = || AppError::NotFound(format!("release {version} is not for this kiosk"));
    if !state
        .rollouts
        .may_download(member, &version, crate::now_ms())
    {
        return Err(not_found());
    }
    let rel = state.rollouts.release(&version).ok_or_else(not_found)?;
    let size = rel.size;
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| parse_range(t, size))
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "Range must be bytes=N- or bytes=N-M within the {size} bytes"
                    ))
                })?,
        ),
    };
    let (start, end) = range.unwrap_or((0, size));
    let path = crate::ops::releases::bundle_path(&state, &version);
    let io = |e: std::io::Error| AppError::Internal(format!("{}: {e}", path.display()));
    let mut file = tokio::fs::File::open(&path).await.map_err(io)?;
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(io)?;
    let reader = file.take(end - start);
    // 64 KiB at a time: a download holds one buffer, however large the bundle.
    let stream = futures_util::stream::unfold(Some(reader), |r| async move {
        let mut r = r?;
        let mut buf = vec![0u8; 64 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), Some(r)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut resp = axum::body::Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    h.insert(header::CONTENT_LENGTH, (end - start).into());
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{}\"", rel.sha256)) {
        h.insert(header::ETAG, v);
    }
    if range.is_some() {
        if let Ok(v) =
            header::HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end.max(1) - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(resp)
}

/// `bytes=N-` or `bytes=N-M` (inclusive) within `size`: the half-open range `[N, M+1)`.
fn parse_range(text: &str, size: u64) -> Option<(u64, u64)> {
    let spec = text.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end = match b.trim() {
        "" => size,
        b => b.parse::<u64>().ok()?.checked_add(1)?.min(size),
    };
    (start < end).then_some((start, end))
}

/// Largest command output kept.
const MAX_OUTPUT: usize = fleet::MAX_COMMAND_OUTPUT;

/// A command's result, from the kiosk it was for.
pub async fn command_result(
    State(state): State<AppState>,
    Kiosk(kiosk): Kiosk,
    Path(id): Path<i64>,
    JsonBody(result): JsonBody<fleet::CommandResult>,
) -> Result<StatusCode, AppError> {
    if result.output.len() > MAX_OUTPUT {
        return Err(AppError::BadRequest(format!(
            "output is over {MAX_OUTPUT} bytes"
        )));
    }
    let now = crate::now_ms();
    let who: std::sync::Arc<str> = kiosk.kiosk_id.as_str().into();
    let found = blocking(&state, move |s| {
        s.finish_command(&kiosk.kiosk_id, id, &result, now)
    })
    .await?;
    if found {
        state.changed(Change::Kiosk(who));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(
            "this kiosk has no command with this id".into(),
        ))
    }
}
