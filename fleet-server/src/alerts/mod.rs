//! Alerts: conditions on a kiosk that need staff. Each kiosk's newest heartbeat and last-seen
//! time are checked against the rules (offline, printer paper out / near end / cover open,
//! card reader or touchscreen missing, touchscreen silent during opening hours, data partition
//! full, temperature high, clock skew, outbox not draining). A condition opens an alert once;
//! the alert resolves by itself when the condition clears; staff acknowledge it with a comment.
//! Every opening and resolution is sent to a webhook and by e-mail when configured.
//!
//! The sweeper checks every kiosk every `alerts.sweep_s`, and a kiosk right after a heartbeat
//! that changes its conditions (at most one such check every half second). A condition must
//! last `alerts.hold_s` before its alert opens; `offline` has its own threshold.

pub use crate::model::AlertKind;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use protocol::UnixMillis;
use protocol::app::{DeviceKind, DeviceState, printer_detail};
use protocol::fleet::Heartbeat;
use tokio::sync::watch;

use crate::config::AlertsSection;
use crate::hours::OpeningHours;
use crate::store::{AlertEvent, KioskRecord, Store, StoreError};

/// The thresholds, from `[alerts]`.
#[derive(Debug, Clone)]
pub struct Rules {
    /// No heartbeat for this long: offline.
    pub offline_after_ms: i64,
    /// Hotter than this: temperature high.
    pub temperature_max_c: f32,
    /// More of the data partition in use than this share: disk full.
    pub disk_used_max: f64,
    /// Clocks further apart than this: clock skew.
    pub clock_skew_max_ms: i64,
    /// A submission waiting longer than this: outbox not draining.
    pub outbox_max_age_s: u64,
    /// No touch for this long while open: touchscreen silent (0: never).
    pub touch_silent_ms: i64,
    /// When kiosks are open.
    pub hours: OpeningHours,
    /// How long a condition must last before its alert opens (not `offline`).
    pub hold_ms: i64,
}

impl Rules {
    /// From the configuration (already validated).
    pub fn from_config(c: &AlertsSection) -> Result<Rules, String> {
        Ok(Rules {
            offline_after_ms: c.offline_after_s as i64 * 1000,
            temperature_max_c: c.temperature_max_c,
            disk_used_max: f64::from(c.disk_used_max_percent) / 100.0,
            clock_skew_max_ms: c.clock_skew_max_s as i64 * 1000,
            outbox_max_age_s: c.outbox_max_age_s,
            touch_silent_ms: c.touch_silent_s as i64 * 1000,
            hours: OpeningHours::parse(&c.opening_hours)?,
            hold_ms: c.hold_s as i64 * 1000,
        })
    }
}

fn minutes(ms: i64) -> i64 {
    (ms / 60_000).max(0)
}

/// `45 s`, `12 min`, `3 h 5 min`.
fn duration(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

/// The longest detail a kiosk's device report puts into an alert (and its e-mail), characters.
pub const MAX_DETAIL: usize = 200;

/// A kiosk-reported detail as an alert keeps it: control characters (line ends included)
/// become spaces, and it is cut at [`MAX_DETAIL`] characters.
pub fn bounded_detail(detail: &str) -> String {
    detail
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_DETAIL)
        .collect()
}

/// The conditions that hold for a kiosk now: `(kind, detail)`.
pub fn active(
    k: &KioskRecord,
    hb: Option<&Heartbeat>,
    now: UnixMillis,
    r: &Rules,
) -> Vec<(AlertKind, String)> {
    let mut out = Vec::new();
    let offline = match k.last_seen.or(k.enrolled_at) {
        Some(t) if now - t > r.offline_after_ms => {
            out.push((
                AlertKind::Offline,
                format!("no heartbeat for {}", duration(now - t)),
            ));
            true
        }
        _ => false,
    };
    let Some(hb) = hb else {
        return out;
    };
    for d in &hb.devices {
        let detail = bounded_detail(d.detail.as_deref().unwrap_or_default());
        match (d.device, d.state) {
            (DeviceKind::Printer, DeviceState::Missing) => {
                out.push((AlertKind::PrinterMissing, detail));
            }
            (DeviceKind::Printer, DeviceState::Fault | DeviceState::Warning) => {
                let paper = match printer_detail::paper(&detail) {
                    "out" => Some(AlertKind::PrinterPaperOut),
                    "near_end" => Some(AlertKind::PrinterPaperNearEnd),
                    _ => None,
                };
                let cover =
                    printer_detail::cover_open(&detail).then_some(AlertKind::PrinterCoverOpen);
                let kinds: Vec<AlertKind> = paper.into_iter().chain(cover).collect();
                for &kind in &kinds {
                    out.push((kind, detail.clone()));
                }
                if kinds.is_empty() && d.state == DeviceState::Fault {
                    out.push((AlertKind::PrinterFault, detail));
                }
            }
            (DeviceKind::CardReader, DeviceState::Missing) => {
                out.push((AlertKind::CardReaderMissing, detail));
            }
            (DeviceKind::Touchscreen, DeviceState::Missing) => {
                out.push((AlertKind::TouchscreenMissing, detail));
            }
            (DeviceKind::Touchscreen, DeviceState::Ok | DeviceState::Warning)
                if r.touch_silent_ms > 0 && !offline && r.hours.is_open(now) =>
            {
                let last = d.last_event_at.unwrap_or(d.since).max(d.since);
                if now - last > r.touch_silent_ms {
                    out.push((
                        AlertKind::TouchscreenSilent,
                        format!("no touch for {} min while open", minutes(now - last)),
                    ));
                }
            }
            _ => {}
        }
    }
    if let Some(s) = &hb.system {
        if let (Some(total), Some(free)) = (s.disk_total_kb, s.disk_free_kb)
            && total > 0
        {
            let used = 1.0 - free.min(total) as f64 / total as f64;
            if used > r.disk_used_max {
                out.push((
                    AlertKind::DiskFull,
                    format!("data partition {:.0} % full", used * 100.0),
                ));
            }
        }
        if let Some(t) = s.temperature_c
            && t > r.temperature_max_c
        {
            out.push((AlertKind::TemperatureHigh, format!("{t:.1} °C")));
        }
    }
    if let Some(skew) = k.clock_skew_ms
        && skew.abs() > r.clock_skew_max_ms
    {
        let dir = if skew > 0 { "behind" } else { "ahead of" };
        out.push((
            AlertKind::ClockSkew,
            format!("kiosk clock {} s {dir} the server's", skew.abs() / 1000),
        ));
    }
    if let Some(u) = &hb.update
        && u.state.is_failure()
    {
        out.push((
            AlertKind::UpdateFailed,
            format!(
                "{} {}: {}",
                u.target.as_deref().unwrap_or("update"),
                if u.state == protocol::fleet::UpdateState::RolledBack {
                    "rolled back"
                } else {
                    "failed"
                },
                u.reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    if !offline
        && let Some(age) = hb.outbox_oldest_age_s
        && age > r.outbox_max_age_s
    {
        out.push((
            AlertKind::OutboxStuck,
            format!(
                "{} submissions waiting, the oldest for {} min",
                hb.outbox_len,
                age / 60
            ),
        ));
    }
    out
}

/// The kinds active per kiosk at its last check: a heartbeat that changes nothing needs no
/// database work (see [`Watch::changed`]).
#[derive(Debug, Default)]
pub struct Watch {
    seen: std::sync::Mutex<std::collections::HashMap<String, Vec<AlertKind>>>,
    /// Since when each condition of each kiosk has held.
    since: std::sync::Mutex<std::collections::HashMap<(String, AlertKind), UnixMillis>>,
}

impl Watch {
    /// Forgets every kiosk (another instance sweeps now; when this one takes over again, it
    /// starts afresh).
    pub fn forget(&self) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.since.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Of `conditions`, those that have lasted `hold_ms` (and `offline` at once): what may
    /// open alerts. The rest are still to be kept open if they are.
    fn held(
        &self,
        kiosk: &str,
        conditions: &[(AlertKind, String)],
        now: UnixMillis,
        hold_ms: i64,
    ) -> Vec<(AlertKind, String)> {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        since.retain(|(k, kind), _| k != kiosk || conditions.iter().any(|(c, _)| c == kind));
        conditions
            .iter()
            .filter(|(kind, _)| {
                let first = *since.entry((kiosk.to_owned(), *kind)).or_insert(now);
                *kind == AlertKind::Offline || now - first >= hold_ms
            })
            .cloned()
            .collect()
    }

    fn remember(&self, kiosk: &str, conditions: &[(AlertKind, String)]) {
        let kinds = conditions.iter().map(|(k, _)| *k).collect();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kiosk.to_owned(), kinds);
    }

    /// Whether the heartbeat `hb` just received from `k` changes which alerts `k` has (details
    /// such as minutes are not compared). A kiosk not checked since the server started counts
    /// as having none: the sweep at start reconciled what was open before.
    pub fn changed(&self, k: &KioskRecord, hb: &Heartbeat, now: UnixMillis, r: &Rules) -> bool {
        let fresh = KioskRecord {
            last_seen: Some(hb.sampled_at.min(now)),
            clock_skew_ms: hb.sent_at.map(|s| now - s).or(k.clock_skew_ms),
            ..k.clone()
        };
        let kinds: Vec<AlertKind> = active(&fresh, Some(hb), now, r)
            .iter()
            .map(|(k, _)| *k)
            .collect();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&k.kiosk_id)
            .map_or(!kinds.is_empty(), |seen| *seen != kinds)
    }
}

/// Checks every enrolled kiosk; what opened and resolved.
pub fn sweep(
    store: &dyn Store,
    rules: &Rules,
    watch: &Watch,
    now: UnixMillis,
) -> Result<Vec<AlertEvent>, StoreError> {
    let mut events = Vec::new();
    for (k, hb) in store.kiosk_health()? {
        if k.enrolled_at.is_none() {
            continue;
        }
        events.extend(check(store, rules, watch, &k, hb.as_ref(), now)?);
    }
    Ok(events)
}

fn check(
    store: &dyn Store,
    rules: &Rules,
    watch: &Watch,
    k: &KioskRecord,
    hb: Option<&Heartbeat>,
    now: UnixMillis,
) -> Result<Vec<AlertEvent>, StoreError> {
    let conditions = active(k, hb, now, rules);
    let held = watch.held(&k.kiosk_id, &conditions, now, rules.hold_ms);
    let keep: Vec<AlertKind> = conditions.iter().map(|(kind, _)| *kind).collect();
    let events = store.reconcile_alerts(&k.kiosk_id, &held, &keep, now)?;
    watch.remember(&k.kiosk_id, &held);
    Ok(events)
}

/// Checks only the kiosks in `ids` (they just sent heartbeats).
pub fn sweep_some(
    store: &dyn Store,
    rules: &Rules,
    watch: &Watch,
    now: UnixMillis,
    ids: &HashSet<String>,
) -> Result<Vec<AlertEvent>, StoreError> {
    let mut events = Vec::new();
    for id in ids {
        if let Some((k, hb)) = store.kiosk_health_of(id)?
            && k.enrolled_at.is_some()
        {
            events.extend(check(store, rules, watch, &k, hb.as_ref(), now)?);
        }
    }
    Ok(events)
}

/// The alert rules, and each kiosk's alert kinds at its last check.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// The rules (`[alerts]`).
    pub rules: Arc<Rules>,
    /// Each kiosk's alert kinds at its last check.
    pub watch: Arc<Watch>,
}

/// Kiosks whose heartbeats arrived since the last check.
pub type Touched = Arc<std::sync::Mutex<HashSet<String>>>;

/// The lease of the alert sweeps: they run on one instance at a time.
pub const LEASE: &str = "alerts";

/// How long the sweeping instance holds the lease: three sweeps (at least 10 s); an instance
/// that died hands the sweeps over after it.
fn lease_ms(config: &AlertsSection) -> i64 {
    (config.sweep_s.max(1) as i64 * 3 * 1000).max(10_000)
}

/// Runs the sweeper until `stop`: every kiosk every `sweep_s` (offline ones are found so), and
/// the kiosks in `state.alerts_touched` soon after `state.alerts_wake` (a heartbeat arrived);
/// only while this instance holds the sweeps' [`LEASE`].
pub async fn run(
    state: crate::state::AppState,
    config: AlertsSection,
    mut stop: watch::Receiver<bool>,
) {
    let store = Arc::clone(&state.store);
    let instance = Arc::clone(&state.instance);
    let Alerting { rules, watch: seen } = state.alerts.clone();
    let wake = Arc::clone(&state.alerts_wake);
    let touched = Arc::clone(&state.alerts_touched);
    let changes = state.changes.clone();
    drop(state);
    let notifier = crate::notify::Notifier::new(&config);
    let every = Duration::from_secs(config.sweep_s.max(1));
    let mut next_full = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next_full) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
        let full = tokio::time::Instant::now() >= next_full;
        if full {
            next_full = tokio::time::Instant::now() + every;
        }
        let some: HashSet<String> =
            std::mem::take(&mut *touched.lock().unwrap_or_else(|p| p.into_inner()));
        let (s, r, w) = (Arc::clone(&store), Arc::clone(&rules), Arc::clone(&seen));
        let (me, ttl) = (Arc::clone(&instance), lease_ms(&config));
        let events = tokio::task::spawn_blocking(move || {
            // One instance sweeps; the others wait to take over when its lease lapses. The
            // new holder starts with no memory of how long conditions have held.
            if !s.hold_lease(LEASE, &me, crate::now_ms(), ttl)? {
                w.forget();
                return Ok(Vec::new());
            }
            if full {
                sweep(s.as_ref(), &r, &w, crate::now_ms())
            } else {
                sweep_some(s.as_ref(), &r, &w, crate::now_ms(), &some)
            }
        })
        .await;
        match events {
            Ok(Ok(events)) => {
                if !events.is_empty() && changes.receiver_count() > 0 {
                    let _ = changes.send(crate::changes::Change::Alerts);
                }
                for e in events {
                    tracing::info!(
                        event = e.event,
                        kiosk = %e.alert.kiosk_id,
                        kind = %e.alert.kind,
                        detail = %e.alert.detail,
                        "alert"
                    );
                    notifier.send(&e).await;
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "alert sweep failed"),
            Err(e) => tracing::error!(error = %e, "alert sweep panicked"),
        }
        // Many heartbeats at once cause one sweep, not one each.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::app::DeviceStatus;
    use protocol::fleet::SystemHealth;

    fn rules() -> Rules {
        Rules::from_config(&AlertsSection {
            touch_silent_s: 3600,
            ..AlertsSection::default()
        })
        .unwrap()
    }

    fn kiosk(last_seen: Option<i64>) -> KioskRecord {
        KioskRecord {
            kiosk_id: "k".into(),
            number: 1,
            name: "K".into(),
            group: "default".into(),
            enrolled_at: Some(0),
            last_seen,
            agent_version: None,
            outbox_len: None,
            clock_skew_ms: None,
        }
    }

    fn dev(device: DeviceKind, state: DeviceState, detail: &str) -> DeviceStatus {
        DeviceStatus {
            device,
            state,
            detail: Some(detail.into()).filter(|d: &String| !d.is_empty()),
            since: 0,
            last_event_at: None,
            events_per_minute: None,
        }
    }

    fn hb(devices: Vec<DeviceStatus>, system: SystemHealth, oldest: Option<u64>) -> Heartbeat {
        Heartbeat {
            sampled_at: 0,
            agent_version: "t".into(),
            outbox_len: 4,
            outbox_oldest_age_s: oldest,
            devices,
            catalog_version: 1,
            system: Some(system),
            last_interaction_at: None,
            sent_at: None,
            console: Vec::new(),
            update: None,
        }
    }

    #[test]
    fn a_condition_opens_an_alert_only_when_it_lasts() {
        let dir = std::env::temp_dir().join(format!("okenko-hold-{}", std::process::id()));
        let store = crate::store::sqlite::SqliteStore::open(&dir.join("f.sqlite")).unwrap();
        let r = Rules {
            hold_ms: 5_000,
            ..rules()
        };
        let w = Watch::default();
        let t0 = 1_795_420_800_000;
        let k = kiosk(Some(t0));
        let missing = hb(
            vec![dev(
                DeviceKind::Printer,
                DeviceState::Missing,
                "not checked yet",
            )],
            SystemHealth::default(),
            None,
        );
        let fine = hb(
            vec![dev(DeviceKind::Printer, DeviceState::Ok, "")],
            SystemHealth::default(),
            None,
        );
        let at = |hb: &Heartbeat, t: i64| {
            let k = KioskRecord {
                last_seen: Some(t),
                ..k.clone()
            };
            check(&store, &r, &w, &k, Some(hb), t)
                .unwrap()
                .into_iter()
                .map(|e| (e.event, e.alert.kind))
                .collect::<Vec<_>>()
        };
        // A blip at start: nothing opens.
        assert!(at(&missing, t0).is_empty());
        assert!(at(&fine, t0 + 2_000).is_empty());
        assert!(
            at(&missing, t0 + 3_000).is_empty(),
            "the clock starts again"
        );
        assert!(at(&missing, t0 + 7_000).is_empty());
        assert_eq!(
            at(&missing, t0 + 8_000),
            [("opened", AlertKind::PrinterMissing)]
        );
        assert!(at(&missing, t0 + 9_000).is_empty(), "once");
        assert_eq!(
            at(&fine, t0 + 10_000),
            [("resolved", AlertKind::PrinterMissing)]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_kiosks_alert_detail_is_bounded_and_on_one_line() {
        let long = format!("paper out\n.\nforged\r\n{}", "x".repeat(100_000));
        let out = active(
            &kiosk(Some(0)),
            Some(&hb(
                vec![dev(DeviceKind::Printer, DeviceState::Missing, &long)],
                SystemHealth::default(),
                None,
            )),
            0,
            &rules(),
        );
        let (_, detail) = &out[0];
        assert_eq!(detail.chars().count(), MAX_DETAIL);
        assert!(!detail.contains(['\r', '\n']), "{detail:?}");
        assert!(detail.starts_with("paper out . forged"), "{detail:?}");
    }

    fn kinds(v: &[(AlertKind, String)]) -> Vec<AlertKind> {
        v.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn each_rule_fires_on_its_condition_only() {
        let r = rules();
        let now = 1_795_420_800_000; // Monday 23 Nov 2026, 09:00 in Prague
        let healthy = hb(
            vec![
                dev(DeviceKind::Printer, DeviceState::Ok, ""),
                dev(DeviceKind::CardReader, DeviceState::Ok, ""),
            ],
            SystemHealth {
                temperature_c: Some(45.0),
                disk_total_kb: Some(100),
                disk_free_kb: Some(50),
                ..SystemHealth::default()
            },
            None,
        );
        assert!(active(&kiosk(Some(now - 10_000)), Some(&healthy), now, &r).is_empty());
        // A release that failed its health check and went back.
        let mut back = healthy.clone();
        back.update = Some(protocol::fleet::UpdateReport {
            running: "1.0.0".into(),
            slot: "A".into(),
            target: Some("1.1.0".into()),
            rollout_id: Some(3),
            state: protocol::fleet::UpdateState::RolledBack,
            progress: None,
            reason: Some("the app exited 3 times".into()),
            since: now,
        });
        assert_eq!(
            active(&kiosk(Some(now - 10_000)), Some(&back), now, &r),
            [(
                AlertKind::UpdateFailed,
                "1.1.0 rolled back: the app exited 3 times".to_owned()
            )]
        );
        assert_eq!(
            kinds(&active(
                &kiosk(Some(now - 181_000)),
                Some(&healthy),
                now,
                &r
            )),
            [AlertKind::Offline]
        );
        let sick = hb(
            vec![
                dev(
                    DeviceKind::Printer,
                    DeviceState::Fault,
                    "paper out, cover open",
                ),
                dev(DeviceKind::CardReader, DeviceState::Missing, "not found"),
                dev(DeviceKind::Touchscreen, DeviceState::Ok, ""),
            ],
            SystemHealth {
                temperature_c: Some(81.5),
                disk_total_kb: Some(100),
                disk_free_kb: Some(5),
                ..SystemHealth::default()
            },
            Some(3600),
        );
        let mut k = kiosk(Some(now - 10_000));
        k.clock_skew_ms = Some(-300_000);
        let got = active(&k, Some(&sick), now, &r);
        assert_eq!(
            kinds(&got),
            [
                AlertKind::PrinterPaperOut,
                AlertKind::PrinterCoverOpen,
                AlertKind::CardReaderMissing,
                AlertKind::TouchscreenSilent,
                AlertKind::DiskFull,
                AlertKind::TemperatureHigh,
                AlertKind::ClockSkew,
                AlertKind::OutboxStuck
            ]
        );
        assert!(got.iter().any(|(_, d)| d == "data partition 95 % full"));
        assert!(
            got.iter()
                .any(|(_, d)| d == "kiosk clock 300 s ahead of the server's")
        );
        // Closed at night: a silent touchscreen is expected.
        let night = Rules {
            hours: OpeningHours::parse("Mo-Fr 18:00-20:00").unwrap(),
            ..r.clone()
        };
        assert!(
            !kinds(&active(&k, Some(&sick), now, &night)).contains(&AlertKind::TouchscreenSilent)
        );
    }
}
