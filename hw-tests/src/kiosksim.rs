//! `kiosk-sim`: simulated kiosks against a real fleet server, over the real kiosk protocol and
//! real HTTP. Each kiosk enrols with a bootstrap token it asks the admin API for, sends
//! heartbeats with device states and system health, answers remote commands, and now and then
//! uploads a submission. Scripted faults make the city come alive on the dashboard: paper runs
//! out, a cover opens, a card reader disappears, a kiosk goes offline or runs hot. They start
//! on release 1.0.0 and follow rollouts through a real kiosk's update states, a step per
//! heartbeat (simulated: no bundle is fetched; the proof of real updates is the agents').
//!
//! Fault script: comma-separated `KIND@START[+DURATION]:KIOSK`, seconds from the start, e.g.
//! `paper_out@60:ostrava-sim-05,offline@120+90:ostrava-sim-09`. Kinds: `paper_out`,
//! `paper_near_end`, `cover_open`, `card_reader_missing`, `touchscreen_missing`, `offline`,
//! `hot`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use protocol::UnixMillis;
use protocol::app::{DeviceKind, DeviceState, DeviceStatus, printer_detail};
use protocol::fleet::{
    self, CommandAction, CommandResult, EnrolRequest, EnrolResponse, Heartbeat, HeartbeatReply,
    SubmissionBatch, SubmissionUpload, SystemHealth, UpdateReport, UpdateState,
};
use protocol::time::now_ms;
use tokio::sync::Mutex;

/// A fault the script applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The printer has no paper.
    PaperOut,
    /// The roll's end is near.
    PaperNearEnd,
    /// The printer's cover is open.
    CoverOpen,
    /// The card reader is unplugged.
    CardReaderMissing,
    /// The touchscreen is unplugged.
    TouchscreenMissing,
    /// No heartbeats at all.
    Offline,
    /// 85 °C inside.
    Hot,
}

impl Fault {
    fn parse(s: &str) -> Option<Fault> {
        Some(match s {
            "paper_out" => Fault::PaperOut,
            "paper_near_end" => Fault::PaperNearEnd,
            "cover_open" => Fault::CoverOpen,
            "card_reader_missing" => Fault::CardReaderMissing,
            "touchscreen_missing" => Fault::TouchscreenMissing,
            "offline" => Fault::Offline,
            "hot" => Fault::Hot,
            _ => return None,
        })
    }
}

/// One line of the fault script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedFault {
    /// What.
    pub fault: Fault,
    /// Seconds after the start.
    pub start_s: u64,
    /// For how long; `None`: until the simulator stops.
    pub duration_s: Option<u64>,
    /// Which kiosk.
    pub kiosk: String,
}

/// Parses a fault script (see the module's documentation).
pub fn parse_script(text: &str) -> Result<Vec<ScriptedFault>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || format!("{item:?}: expected KIND@START[+DURATION]:KIOSK");
        let (what, kiosk) = item.split_once(':').ok_or_else(bad)?;
        let (kind, when) = what.split_once('@').ok_or_else(bad)?;
        let fault =
            Fault::parse(kind).ok_or_else(|| format!("{item:?}: unknown fault {kind:?}"))?;
        let (start, duration) = match when.split_once('+') {
            Some((s, d)) => (s, Some(d.parse::<u64>().map_err(|_| bad())?)),
            None => (when, None),
        };
        if kiosk.is_empty() {
            return Err(bad());
        }
        out.push(ScriptedFault {
            fault,
            start_s: start.parse().map_err(|_| bad())?,
            duration_s: duration,
            kiosk: kiosk.to_owned(),
        });
    }
    Ok(out)
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The fleet server, e.g. `http://127.0.0.1:8080`.
    pub fleet_url: String,
    /// Its admin token (to issue bootstrap tokens).
    pub admin_token: String,
    /// How many kiosks.
    pub count: usize,
    /// Kiosk ids are `{prefix}-01` …
    pub prefix: String,
    /// Their group.
    pub group: String,
    /// Seconds between heartbeats.
    pub interval_s: u64,
    /// Submissions per kiosk per hour (on average).
    pub submissions_per_hour: f64,
    /// The fault script.
    pub faults: Vec<ScriptedFault>,
    /// Where credentials are kept between runs (so kiosks keep their numbers).
    pub state_file: Option<PathBuf>,
    /// Stop after this many seconds (`None`: run until killed).
    pub run_for_s: Option<u64>,
}

const PLACES: [&str; 12] = [
    "Nová radnice",
    "Hlavní nádraží",
    "Poruba, úřad městského obvodu",
    "Zábřeh, Dům kultury",
    "Vítkovice, náměstí",
    "Stodolní",
    "Svinov, nádraží",
    "Dubina, poliklinika",
    "Hrabůvka, Kotva",
    "Mariánské Hory, radnice",
    "Slezská Ostrava, radnice",
    "Dolní oblast Vítkovic",
];

/// A small deterministic generator (no need for a random crate): a kiosk's readings vary but
/// runs are reproducible.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

#[derive(Debug)]
struct Kiosk {
    id: String,
    credential: String,
    number: u32,
    seq: u32,
    rng: Rng,
    started: UnixMillis,
    update: UpdateReport,
}

/// The release simulated kiosks start with.
pub const FACTORY_RELEASE: &str = "1.0.0";

fn factory_update(now: UnixMillis) -> UpdateReport {
    UpdateReport {
        running: FACTORY_RELEASE.into(),
        slot: "A".into(),
        target: None,
        rollout_id: None,
        state: UpdateState::Idle,
        progress: None,
        reason: None,
        since: now,
    }
}

/// A simulated update, one step per heartbeat: a quarter of the download each time, then
/// verifying, installing, rebooting, the trial, and success (a real kiosk's states, without
/// the bytes). A rollout that stops wanting the release before the install drops it.
fn step_update(u: &mut UpdateReport, desired: Option<&fleet::DesiredRelease>, now: UnixMillis) {
    use UpdateState as S;
    let to = |u: &mut UpdateReport, s: UpdateState| {
        u.state = s;
        u.since = now;
        u.progress = None;
    };
    match (u.state, desired) {
        (S::Downloading | S::Verifying | S::Waiting, d)
            if d.is_none_or(|d| Some(&d.version) != u.target.as_ref()) =>
        {
            u.target = None;
            u.rollout_id = None;
            to(u, S::Idle);
        }
        (S::Downloading, _) => {
            let p = u.progress.unwrap_or(0).saturating_add(25);
            if p >= 100 {
                to(u, S::Verifying);
            } else {
                u.progress = Some(p);
            }
        }
        (S::Verifying, _) => to(u, S::Waiting),
        (S::Waiting, Some(d)) if d.install_now => to(u, S::Installing),
        (S::Installing, _) => to(u, S::Rebooting),
        (S::Rebooting, _) => {
            u.slot = if u.slot == "A" {
                "B".into()
            } else {
                "A".into()
            };
            u.running = u.target.clone().unwrap_or_default();
            to(u, S::Trial);
        }
        (S::Trial, _) => to(u, S::Succeeded),
        (S::Idle | S::Succeeded | S::Failed | S::RolledBack, Some(d)) if d.version != u.running => {
            u.target = Some(d.version.clone());
            u.rollout_id = Some(d.rollout_id);
            u.reason = None;
            to(u, S::Downloading);
            u.progress = Some(0);
        }
        _ => {}
    }
}

fn active(faults: &[ScriptedFault], kiosk: &str, elapsed_s: u64) -> Vec<Fault> {
    faults
        .iter()
        .filter(|f| {
            f.kiosk == kiosk
                && elapsed_s >= f.start_s
                && f.duration_s.is_none_or(|d| elapsed_s < f.start_s + d)
        })
        .map(|f| f.fault)
        .collect()
}

fn heartbeat(k: &mut Kiosk, faults: &[Fault], now: UnixMillis) -> Heartbeat {
    let dev = |device, state, detail: Option<&str>| DeviceStatus {
        device,
        state,
        detail: detail.map(str::to_owned),
        since: k.started,
        last_event_at: None,
        events_per_minute: None,
    };
    let has = |f| faults.contains(&f);
    let printer = if has(Fault::PaperOut) {
        dev(
            DeviceKind::Printer,
            DeviceState::Fault,
            Some(printer_detail::PAPER_OUT),
        )
    } else if has(Fault::CoverOpen) {
        dev(
            DeviceKind::Printer,
            DeviceState::Fault,
            Some("offline, cover open"),
        )
    } else if has(Fault::PaperNearEnd) {
        dev(
            DeviceKind::Printer,
            DeviceState::Warning,
            Some(printer_detail::PAPER_NEAR_END),
        )
    } else {
        dev(DeviceKind::Printer, DeviceState::Ok, None)
    };
    let card = if has(Fault::CardReaderMissing) {
        dev(
            DeviceKind::CardReader,
            DeviceState::Missing,
            Some("not found"),
        )
    } else {
        dev(DeviceKind::CardReader, DeviceState::Ok, None)
    };
    let mut touch = if has(Fault::TouchscreenMissing) {
        dev(
            DeviceKind::Touchscreen,
            DeviceState::Missing,
            Some("not found"),
        )
    } else {
        dev(DeviceKind::Touchscreen, DeviceState::Ok, None)
    };
    let last_touch = now - (k.rng.unit() * 600_000.0) as i64;
    if touch.state == DeviceState::Ok {
        touch.last_event_at = Some(last_touch);
        touch.events_per_minute = Some((k.rng.unit() * 40.0) as u32);
    }
    let temperature = if has(Fault::Hot) {
        85.0
    } else {
        40.0 + (k.rng.unit() * 12.0) as f32
    };
    Heartbeat {
        sampled_at: now,
        agent_version: "0.1.0-sim".into(),
        outbox_len: 0,
        outbox_oldest_age_s: None,
        devices: vec![printer, card, touch],
        catalog_version: 0,
        system: Some(SystemHealth {
            temperature_c: Some(temperature),
            mem_total_kb: Some(4_000_000),
            mem_available_kb: Some(2_500_000 + (k.rng.unit() * 500_000.0) as u64),
            uptime_s: Some(((now - k.started) / 1000) as u64),
            load1: Some((k.rng.unit() * 0.8) as f32),
            disk_total_kb: Some(8_000_000),
            disk_free_kb: Some(6_000_000),
            links_up: vec!["eth0".into()],
            links_down: Vec::new(),
        }),
        last_interaction_at: Some(last_touch),
        sent_at: Some(now),
        console: Vec::new(),
        update: Some(k.update.clone()),
    }
}

fn command_output(k: &mut Kiosk, action: &CommandAction) -> CommandResult {
    let output = match action {
        CommandAction::PrintTestReceipt => "test receipt printed; printer ok (simulated)".into(),
        CommandAction::RestartApp => "kiosk-app restarted (simulated)".into(),
        CommandAction::Reboot => "rebooting (simulated)".into(),
        CommandAction::UploadLogs { lines } => (0..(*lines).min(20))
            .map(|i| format!("{} INFO kiosk_sim: simulated log line {i}", k.id))
            .collect::<Vec<_>>()
            .join("\n"),
        CommandAction::SelfTest => {
            "PASS printer: ok\nPASS card reader: ok\nPASS touchscreen: ok\nPASS fleet: reachable\n"
                .into()
        }
    };
    CommandResult { ok: true, output }
}

type Creds = HashMap<String, String>;

fn credential(id: &str) -> String {
    let mut b = [0u8; 32];
    let _ = getrandom::fill(&mut b);
    format!("sim-{id}-{}", protocol::tracking::crockford(&b))
}

async fn enrol(
    http: &reqwest::Client,
    cfg: &SimConfig,
    id: &str,
    name: &str,
    credential: &str,
) -> Result<EnrolResponse, String> {
    let base = cfg.fleet_url.trim_end_matches('/');
    let token: serde_json::Value = http
        .post(format!("{base}/api/admin/v1/bootstrap-tokens"))
        .bearer_auth(&cfg.admin_token)
        .json(&serde_json::json!({ "kiosk_id": id, "name": name, "group": cfg.group }))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| format!("bootstrap token for {id}: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let token = token["token"].as_str().ok_or("no token in the answer")?;
    http.post(format!("{base}{}/enrol", fleet::PREFIX))
        .json(&EnrolRequest {
            bootstrap_token: token.to_owned(),
            credential: credential.to_owned(),
            agent_version: "0.1.0-sim".into(),
        })
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| format!("enrolling {id}: {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())
}

async fn run_kiosk(
    http: reqwest::Client,
    cfg: Arc<SimConfig>,
    mut k: Kiosk,
    creds: Arc<Mutex<Creds>>,
) {
    let base = cfg.fleet_url.trim_end_matches('/').to_owned();
    // Spread the kiosks over the interval, as real ones are.
    let offset = k.rng.next() % (cfg.interval_s.max(1) * 1000);
    tokio::time::sleep(Duration::from_millis(offset)).await;
    let mut tick = tokio::time::interval(Duration::from_secs(cfg.interval_s.max(1)));
    loop {
        tick.tick().await;
        let now = now_ms();
        let elapsed = ((now - k.started) / 1000).max(0) as u64;
        if cfg.run_for_s.is_some_and(|r| elapsed >= r) {
            return;
        }
        let faults = active(&cfg.faults, &k.id, elapsed);
        if faults.contains(&Fault::Offline) {
            continue;
        }
        let auth = format!("Bearer {}:{}", k.id, k.credential);
        let hb = heartbeat(&mut k, &faults, now);
        let reply = http
            .post(format!("{base}{}/heartbeat", fleet::PREFIX))
            .header("authorization", &auth)
            .json(&hb)
            .send()
            .await;
        let reply: HeartbeatReply = match reply {
            Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                // The server forgot this kiosk (a new database): enrol again.
                let name = format!("{} (sim)", k.id);
                k.credential = credential(&k.id);
                match enrol(&http, &cfg, &k.id, &name, &k.credential).await {
                    Ok(e) => {
                        k.number = e.kiosk_number;
                        creds
                            .lock()
                            .await
                            .insert(k.id.clone(), k.credential.clone());
                    }
                    Err(e) => tracing::warn!(kiosk = %k.id, error = %e, "re-enrolment failed"),
                }
                continue;
            }
            Ok(r) => match r.json().await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(kiosk = %k.id, error = %e, "bad heartbeat reply");
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(kiosk = %k.id, error = %e, "heartbeat failed");
                continue;
            }
        };
        step_update(&mut k.update, reply.release.as_ref(), now);
        for c in reply.commands {
            let result = command_output(&mut k, &c.action);
            let _ = http
                .post(format!("{base}{}/commands/{}/result", fleet::PREFIX, c.id))
                .header("authorization", &auth)
                .json(&result)
                .send()
                .await;
        }
        let chance = cfg.submissions_per_hour * cfg.interval_s as f64 / 3600.0;
        if k.rng.unit() < chance {
            k.seq += 1;
            if let Some(code) = protocol::tracking::TrackingCode::from_parts(k.number, k.seq) {
                let mut values = protocol::validate::FormValues::new();
                values.insert(
                    "text".into(),
                    protocol::validate::FieldValue::Text(
                        "Simulovaný podnět: nesvítí lampa v ulici.".into(),
                    ),
                );
                let item = SubmissionUpload {
                    id: uuid::Uuid::new_v4(),
                    tracking_code: code,
                    service_id: "podnet".into(),
                    form_version: 1,
                    language: protocol::Lang::Cs,
                    values,
                    identity: None,
                    created_at: now,
                    notify: None,
                };
                let _ = http
                    .post(format!("{base}{}/submissions", fleet::PREFIX))
                    .header("authorization", &auth)
                    .json(&SubmissionBatch { items: vec![item] })
                    .send()
                    .await;
            }
        }
    }
}

/// Enrols (or reuses) the kiosks and runs them until `run_for_s` passes (or forever).
pub async fn run(cfg: SimConfig) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .context("cannot build an HTTP client")?;
    let saved: Creds = cfg
        .state_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let creds = Arc::new(Mutex::new(saved));
    let mut tasks = Vec::new();
    for n in 1..=cfg.count {
        let id = format!("{}-{n:02}", cfg.prefix);
        let name = format!(
            "{}{}",
            PLACES[(n - 1) % PLACES.len()],
            if n > PLACES.len() {
                format!(" {}", n / PLACES.len() + 1)
            } else {
                String::new()
            }
        );
        let known = creds.lock().await.get(&id).cloned();
        let (credential, number) = match known {
            // Kept from an earlier run; the first heartbeat re-enrols if the server forgot it.
            Some(c) => (c, 0),
            None => {
                let c = credential(&id);
                let e = enrol(&http, &cfg, &id, &name, &c)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                creds.lock().await.insert(id.clone(), c.clone());
                (c, e.kiosk_number)
            }
        };
        let seed = 0x9E37_79B9_7F4A_7C15u64 ^ (n as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
        let kiosk = Kiosk {
            id,
            credential,
            number,
            seq: (now_ms() / 1000 % 100_000) as u32 * 100,
            rng: Rng(seed | 1),
            started: now_ms(),
            update: factory_update(now_ms()),
        };
        tasks.push(tokio::spawn(run_kiosk(
            http.clone(),
            Arc::clone(&cfg),
            kiosk,
            Arc::clone(&creds),
        )));
    }
    if let Some(p) = &cfg.state_file {
        let text = serde_json::to_string_pretty(&*creds.lock().await)?;
        std::fs::write(p, text)?;
    }
    println!("{} simulated kiosks running", cfg.count);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn simulated_updates_walk_the_states_and_drop_a_withdrawn_release() {
        use protocol::release::SignedManifest;
        let d = fleet::DesiredRelease {
            rollout_id: 4,
            version: "1.1.0".into(),
            manifest: SignedManifest {
                manifest: String::new(),
                key_id: String::new(),
                signature: String::new(),
            },
            url: "/releases/1.1.0".into(),
            install_now: true,
            force: false,
            endorsements: Vec::new(),
            revocations: Vec::new(),
            rollback: None,
        };
        let mut u = factory_update(0);
        let mut seen = Vec::new();
        for t in 1..=12 {
            step_update(&mut u, Some(&d), t);
            seen.push(u.state);
        }
        assert_eq!((u.running.as_str(), u.slot.as_str()), ("1.1.0", "B"));
        assert_eq!(u.state, UpdateState::Succeeded);
        for s in [
            UpdateState::Downloading,
            UpdateState::Verifying,
            UpdateState::Trial,
        ] {
            assert!(seen.contains(&s), "{s:?}");
        }
        let mut u = factory_update(0);
        step_update(&mut u, Some(&d), 1);
        step_update(&mut u, None, 2);
        assert_eq!((u.state, u.running.as_str()), (UpdateState::Idle, "1.0.0"));
    }

    use super::*;

    #[test]
    fn the_fault_script_reads_and_refuses() {
        let s = parse_script("paper_out@60:ostrava-sim-05, offline@120+90:ostrava-sim-09").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].fault, Fault::Offline);
        assert_eq!(s[1].duration_s, Some(90));
        assert_eq!(active(&s, "ostrava-sim-09", 150), [Fault::Offline]);
        assert!(
            active(&s, "ostrava-sim-09", 210).is_empty(),
            "over after 90 s"
        );
        assert_eq!(active(&s, "ostrava-sim-05", 1000), [Fault::PaperOut]);
        for bad in [
            "paper_out",
            "melt@1:k",
            "paper_out@x:k",
            "paper_out@1:",
            "hot@1+y:k",
        ] {
            assert!(parse_script(bad).is_err(), "{bad}");
        }
    }
}
