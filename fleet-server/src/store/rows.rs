//! What both stores share: the per-batch folding of heartbeats (each kiosk's newest, the
//! hourly health aggregates), request states read from rows, and the JSON helpers.

use std::collections::HashMap;

use protocol::UnixMillis;
use protocol::fleet::{Catalog, Heartbeat, RequestState, StatusRecord};

use super::{Alert, AlertEvent, KioskRecord, StoreError};
use crate::model::AlertKind;

/// `(kiosk, hour) → aggregate` of heartbeats received since the last flush.
pub(super) type HourlyCache = HashMap<(String, i64), Hourly>;

/// A kiosk's newest heartbeat, not yet in its row.
#[derive(Debug, Clone)]
pub(super) struct Newest {
    /// When it was sampled (not after it arrived): the kiosk's `last_seen`.
    pub(super) seen: UnixMillis,
    pub(super) hb: Heartbeat,
    /// The newest clock difference measured.
    pub(super) clock_skew_ms: Option<i64>,
}

impl Newest {
    /// Takes `o` in where it is newer (a replayed old heartbeat only adds its skew).
    pub(super) fn merge(&mut self, o: &Newest) {
        if o.seen >= self.seen {
            self.seen = o.seen;
            self.hb = o.hb.clone();
        }
        if o.clock_skew_ms.is_some() {
            self.clock_skew_ms = o.clock_skew_ms;
        }
    }

    /// Shows it in a record read from the row (and its heartbeat).
    pub(super) fn apply(&self, rec: &mut KioskRecord, hb: Option<&mut Option<Heartbeat>>) {
        if self.seen >= rec.last_seen.unwrap_or(0) {
            rec.agent_version = Some(self.hb.agent_version.clone());
            rec.outbox_len = Some(self.hb.outbox_len);
            if let Some(h) = hb {
                *h = Some(self.hb.clone());
            }
            rec.last_seen = Some(self.seen);
        }
        if self.clock_skew_ms.is_some() {
            rec.clock_skew_ms = self.clock_skew_ms;
        }
    }
}

/// Written-behind state is written at most this long after its heartbeat (and when the
/// server stops, and before history is read or pruned).
pub(super) const WRITE_BEHIND: std::time::Duration = std::time::Duration::from_secs(60);

/// One kiosk's heartbeats in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Hourly {
    pub(super) samples: u64,
    pub(super) temperature_max: Option<f64>,
    pub(super) disk_used_max: Option<f64>,
    pub(super) outbox_max: u64,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Hourly {
    pub(super) fn of(hb: &Heartbeat) -> Hourly {
        let system = hb.system.as_ref();
        Hourly {
            samples: 1,
            temperature_max: system.and_then(|s| s.temperature_c).map(f64::from),
            disk_used_max: system.and_then(|s| match (s.disk_total_kb, s.disk_free_kb) {
                (Some(t), Some(f)) if t > 0 => Some(1.0 - f.min(t) as f64 / t as f64),
                _ => None,
            }),
            outbox_max: hb.outbox_len,
        }
    }

    pub(super) fn add(&mut self, o: &Hourly) {
        self.samples += o.samples;
        self.temperature_max = max_opt(self.temperature_max, o.temperature_max);
        self.disk_used_max = max_opt(self.disk_used_max, o.disk_used_max);
        self.outbox_max = self.outbox_max.max(o.outbox_max);
    }
}

pub(super) fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        message: e.to_string(),
    }
}

pub(super) fn json<T: serde::Serialize>(what: &'static str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(what, e))
}

/// `(tracking_code, service_id, state, note, updated_at)` of a `statuses` row.
pub(super) type StatusRow = (String, String, String, Option<String>, i64);

pub(super) fn status_record(
    row: StatusRow,
    catalog: Option<&Catalog>,
) -> Result<StatusRecord, StoreError> {
    let (code, service_id, state, note, updated_at) = row;
    let service_name = catalog.and_then(|c| {
        c.services
            .iter()
            .find(|s| s.id == service_id)
            .map(|s| s.name.clone())
    });
    Ok(StatusRecord {
        tracking_code: protocol::tracking::TrackingCode::parse(&code)
            .map_err(|e| corrupt("tracking code", e))?,
        service_id,
        service_name,
        state: RequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        note: note.and_then(|n| serde_json::from_str(&n).ok()),
        updated_at,
    })
}

/// A batch of heartbeats `(kiosk, heartbeat, received at)` folded: each kiosk's newest, and the
/// hourly aggregates it adds.
pub(super) fn fold(
    batch: &[(String, Heartbeat, UnixMillis)],
) -> (HashMap<String, Newest>, HourlyCache) {
    let mut hourly: HourlyCache = HashMap::new();
    let mut newest: HashMap<String, Newest> = HashMap::new();
    for (kiosk_id, hb, now) in batch {
        hourly
            .entry((kiosk_id.clone(), hb.sampled_at.div_euclid(3_600_000)))
            .or_default()
            .add(&Hourly::of(hb));
        let n = Newest {
            seen: hb.sampled_at.min(*now),
            hb: hb.clone(),
            clock_skew_ms: hb.sent_at.map(|sent| now - sent),
        };
        match newest.entry(kiosk_id.clone()) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(&n),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(n);
            }
        }
    }
    (newest, hourly)
}

/// A stored submission's body as the agenda system receives it.
pub(super) fn agenda_delivery(
    body: &str,
    kiosk_id: String,
    received_at: UnixMillis,
) -> Result<protocol::fleet::AgendaDelivery, StoreError> {
    let item: protocol::fleet::SubmissionUpload =
        serde_json::from_str(body).map_err(|e| corrupt("submission", e))?;
    Ok(protocol::fleet::AgendaDelivery {
        id: item.id,
        tracking_code: item.tracking_code,
        kiosk_id,
        service_id: item.service_id,
        form_version: item.form_version,
        language: item.language,
        values: item.values,
        identity: item.identity,
        created_at: item.created_at,
        received_at,
    })
}

/// What reconciling a kiosk's alerts changes, decided from its open alerts (both stores apply
/// it in their transaction).
#[derive(Debug, Default)]
pub(super) struct AlertPlan<'a> {
    /// Open alerts whose detail changed: (id, new detail).
    pub(super) redetail: Vec<(i64, &'a str)>,
    /// Conditions with no open alert: to open.
    pub(super) open: Vec<(AlertKind, &'a str)>,
    /// Open alerts whose condition is gone (neither active nor kept): to resolve.
    pub(super) resolve: Vec<Alert>,
}

/// The plan for a kiosk with `open` alerts, `active` conditions and `keep` kinds (see
/// [`super::Alerts::reconcile_alerts`]).
pub(super) fn plan_alerts<'a>(
    open: Vec<Alert>,
    active: &'a [(AlertKind, String)],
    keep: &[AlertKind],
) -> AlertPlan<'a> {
    let mut plan = AlertPlan::default();
    for (kind, detail) in active {
        match open.iter().find(|a| a.kind == *kind) {
            Some(a) if a.detail == *detail => {}
            Some(a) => plan.redetail.push((a.id, detail)),
            None => plan.open.push((*kind, detail)),
        }
    }
    plan.resolve = open
        .into_iter()
        .filter(|a| !active.iter().any(|(kind, _)| *kind == a.kind) && !keep.contains(&a.kind))
        .collect();
    plan
}

/// The event of an alert just opened.
pub(super) fn opened(
    id: i64,
    kiosk_id: &str,
    kind: AlertKind,
    detail: &str,
    now: UnixMillis,
) -> AlertEvent {
    AlertEvent {
        event: "opened",
        alert: Alert {
            id,
            kiosk_id: kiosk_id.to_owned(),
            kind,
            detail: detail.to_owned(),
            opened_at: now,
            acked_at: None,
            acked_by: None,
            ack_comment: None,
            resolved_at: None,
        },
    }
}

/// A notice row's columns as both stores read them: `(id, state, channel, masked, status,
/// attempts, created_at, next_attempt_at, sent_at, last_error, requested_by)`.
pub(super) type NoticeRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    String,
);

/// The columns of a [`NoticeRow`], for `SELECT`.
pub(super) const NOTICE_COLUMNS: &str = "id, state, channel, masked, status, attempts, created_at,
     next_attempt_at, sent_at, last_error, requested_by";

pub(super) fn notice_record(r: NoticeRow) -> Result<super::NoticeRecord, StoreError> {
    let (id, state, channel, to, status, attempts, created_at, next, sent_at, error, by) = r;
    Ok(super::NoticeRecord {
        id,
        state: RequestState::parse(&state).ok_or_else(|| corrupt("notice state", &state))?,
        channel: protocol::fleet::NoticeChannel::parse(&channel)
            .ok_or_else(|| corrupt("notice channel", &channel))?,
        to,
        status,
        attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
        created_at,
        next_attempt_at: next,
        sent_at,
        last_error: error,
        requested_by: by,
    })
}

/// A claimed notice from its columns `(id, tracking_code, state, attempts, channel, sealed,
/// address_key, masked, language)`.
pub(super) type NoticeJobRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    String,
);

/// The columns of a [`NoticeJobRow`] of `notices n JOIN request_contacts c`.
pub(super) const NOTICE_JOB_COLUMNS: &str = "n.id, n.tracking_code, n.state, n.attempts, c.channel,
     c.sealed, c.address_key, c.masked, c.language";

pub(super) fn notice_job(r: NoticeJobRow) -> Result<super::NoticeJob, StoreError> {
    let (id, code, state, attempts, channel, sealed, address_key, masked, language) = r;
    Ok(super::NoticeJob {
        id,
        tracking_code: code,
        state: RequestState::parse(&state).ok_or_else(|| corrupt("notice state", &state))?,
        attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
        contact: super::SealedContact {
            channel: protocol::fleet::NoticeChannel::parse(&channel)
                .ok_or_else(|| corrupt("notice channel", &channel))?,
            sealed,
            address_key,
            masked,
            language: protocol::Lang::parse(&language)
                .ok_or_else(|| corrupt("language", &language))?,
        },
    })
}

/// What a [`super::NoticeOutcome`] writes to its row: `(status, attempts added, next attempt,
/// sent at, last error)`; `None` keeps the column.
pub(super) fn notice_update(
    o: &super::NoticeOutcome,
    now: UnixMillis,
) -> (
    &'static str,
    i64,
    Option<UnixMillis>,
    Option<UnixMillis>,
    Option<String>,
) {
    use super::NoticeOutcome as O;
    match o {
        O::Sent => ("sent", 1, None, Some(now), None),
        O::Deferred { at, why } => ("pending", 0, Some(*at), None, Some(why.clone())),
        O::Retry { error, at } => ("pending", 1, Some(*at), None, Some(error.clone())),
        O::Failed { error } => ("failed", 1, None, None, Some(error.clone())),
        O::Unconfirmed { error } => ("unconfirmed", 1, None, Some(now), Some(error.clone())),
    }
}

/// A request's history: the steps the fleet knows from the submission itself (filed on the
/// kiosk, received here, taken by the agenda system) and the stored events, oldest first.
pub(super) fn request_history(
    created_at: UnixMillis,
    received_at: UnixMillis,
    delivered_at: Option<UnixMillis>,
    stored: Vec<super::RequestEvent>,
) -> Vec<super::RequestEvent> {
    let step = |at, state, by: &str| super::RequestEvent {
        at,
        state: Some(state),
        by: by.into(),
        text: None,
    };
    let mut all = vec![
        step(created_at, RequestState::Queued, "kiosk"),
        step(received_at, RequestState::Submitted, "fleet"),
    ];
    all.extend(delivered_at.map(|at| step(at, RequestState::Received, "fleet")));
    all.extend(stored);
    all.sort_by_key(|e| e.at);
    all
}

/// The states after which nothing more happens to a request (its notice address is forgotten).
pub(super) const CLOSED_STATES: &str = "('resolved', 'rejected')";
