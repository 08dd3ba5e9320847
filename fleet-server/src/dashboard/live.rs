//! `GET /dashboard/events?view=…`: server-sent events that carry a page's regions anew.
//!
//! A page's stream waits for a change it shows (a heartbeat of a kiosk on it, alerts, the
//! audit log), lets more changes gather for a second, then renders its regions once and sends
//! them as one `replace` event: `[{"id": …, "html": …}, …]`. It also sends them every 15 s, so
//! that "seen 2 min ago" and offline kiosks stay true without a change. A stream that falls
//! behind the change feed just renders anew. Before every event it checks the session again
//! (ended, expired, account disabled or changed: the stream ends) and renders with the role the
//! account has now; it wakes at the session's expiry to end, and it never keeps the session
//! alive by itself.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::Page;
use super::pages;
use crate::http::AppError;
use crate::staff::Staff;
use crate::state::{AppState, Change, blocking};

/// Which page, and its filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LiveQuery {
    view: String,
    id: Option<String>,
    state: Option<String>,
    group: Option<String>,
}

/// Longest wait between two renders.
const REFRESH: Duration = Duration::from_secs(15);
/// Changes gathered before a render.
const GATHER: Duration = Duration::from_secs(1);

impl LiveQuery {
    fn wants(&self, c: &Change) -> bool {
        match (self.view.as_str(), c) {
            ("overview", Change::Kiosk(_) | Change::Alerts) => true,
            ("kiosk", Change::Kiosk(k)) => self.id.as_deref() == Some(&**k),
            ("kiosk", Change::Alerts) => true,
            ("alerts", Change::Alerts) => true,
            ("audit", Change::Audit) => true,
            ("releases", Change::Kiosk(_) | Change::Audit) => true,
            _ => false,
        }
    }
}

/// The regions of a view, rendered now.
pub async fn render(
    state: &AppState,
    staff: &Staff,
    q: &LiveQuery,
) -> Result<Vec<(&'static str, String)>, AppError> {
    match q.view.as_str() {
        "overview" => {
            let fleet = pages::Fleet::load(state).await?;
            let oq = pages::OverviewQuery::filters(q.state.clone(), q.group.clone());
            Ok(pages::overview_regions(&fleet, &oq))
        }
        "kiosk" => {
            let id = q.id.as_deref().unwrap_or_default();
            let d = pages::KioskData::load(state, id, staff).await?;
            Ok(vec![
                ("kiosk-state", pages::kiosk_state_region(&d)),
                ("kiosk-commands", pages::kiosk_commands_region(&d)),
                ("kiosk-alerts", pages::kiosk_alerts_region(&d, staff)),
            ])
        }
        "alerts" => pages::alerts_regions(state, staff).await,
        "audit" => Ok(vec![("audit-log", pages::audit_region(state).await?)]),
        "releases" => Ok(vec![(
            "rollouts",
            super::releases::rollouts_region(state, staff).await?,
        )]),
        other => Err(AppError::BadRequest(format!("no live view {other:?}"))),
    }
}

/// When the session with token hash `id_hash` ends if unused; `None` when it has ended.
async fn session_end(state: &AppState, id_hash: &str) -> Option<i64> {
    let hash = id_hash.to_owned();
    let now = crate::now_ms();
    match blocking(state, move |s| crate::staff::current(s, &hash, now)).await {
        Ok(Some((_, session))) => Some(crate::staff::session_end(&session)),
        _ => None,
    }
}

/// The event stream.
pub async fn events(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(q): Query<LiveQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    // Refuse an unknown view at once rather than in the stream.
    render(&state, &staff, &q).await?;
    let session = crate::staff::cookie_token(headers.get(axum::http::header::COOKIE))
        .map(crate::auth::hash_secret)
        .unwrap_or_default();
    let rx = state.changes.subscribe();
    let stream = futures_util::stream::unfold(
        (state, staff, q, rx, session),
        |(state, _before, q, mut rx, session)| async move {
            // Wake at the session's end at the latest, to end the stream then.
            let ends = session_end(&state, &session).await?;
            let wait = Duration::from_millis(ends.saturating_sub(crate::now_ms()).max(0) as u64);
            let deadline = tokio::time::Instant::now() + REFRESH.min(wait);
            loop {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Err(_) => break,
                    Ok(Ok(c)) if q.wants(&c) => {
                        tokio::time::sleep(GATHER).await;
                        break;
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(RecvError::Lagged(_))) => break,
                    Ok(Err(RecvError::Closed)) => return None,
                }
            }
            // Drop what gathered meanwhile: this render shows it.
            while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                rx.try_recv()
            {}
            // The session as it is now: the stream ends with it, and renders with today's role.
            let hash = session.clone();
            let now = crate::now_ms();
            let current = blocking(&state, move |s| crate::staff::current(s, &hash, now)).await;
            let Ok(Some((staff, _))) = current else {
                return None;
            };
            let event = match render(&state, &staff, &q).await {
                Ok(regions) => {
                    let parts: Vec<serde_json::Value> = regions
                        .into_iter()
                        .map(|(id, html)| serde_json::json!({ "id": id, "html": html }))
                        .collect();
                    Event::default()
                        .event("replace")
                        .data(serde_json::Value::Array(parts).to_string())
                }
                Err(e) => {
                    tracing::warn!(error = %e, view = %q.view, "live view not rendered");
                    Event::default().comment("not rendered")
                }
            };
            Some((Ok(event), (state, staff, q, rx, session)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
