//! Availability and the monthly SLA report. Each heartbeat marks its minute (Czech local time) in
//! a per-kiosk, per-day bitmap of 1440 bits; a kiosk is available in a minute in which it sent a
//! heartbeat (so the heartbeat interval must be at most 60 s, 30 s by default; heartbeats a kiosk
//! buffered while its network was down count too: it was serving citizens). Only opening hours
//! count where they are configured. An incident is a run of at least three unavailable open
//! minutes (closed hours in between do not end it); the mean time to repair is their mean
//! length in open minutes.

use std::collections::HashMap;
use std::fmt::Write as _;

use protocol::UnixMillis;
use serde::Serialize;

use crate::hours::OpeningHours;
use crate::store::KioskRecord;

pub use crate::uptime::{DAY_BYTES, day_minute, is_set, mark};

/// One incident: when it began and how long it lasted, minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Local day.
    pub day: String,
    /// Local time it began, `HH:MM`.
    pub from: String,
    /// Unavailable open minutes.
    pub minutes: u32,
}

/// One kiosk's month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KioskSla {
    /// The kiosk.
    pub kiosk_id: String,
    /// Its name.
    pub name: String,
    /// Open minutes counted (since it enrolled, up to now).
    pub open_minutes: u32,
    /// Of those, minutes it was available.
    pub up_minutes: u32,
    /// Of those, minutes known only from heartbeats the kiosk buffered while the fleet could not
    /// hear it (it served citizens offline; the fleet learnt of it later).
    pub late_minutes: u32,
    /// `up / open`; 1 when nothing was counted yet.
    pub availability: f64,
    /// Runs of at least 3 unavailable open minutes.
    pub incidents: Vec<Incident>,
    /// Mean incident length, minutes.
    pub mttr_minutes: Option<f64>,
    /// Availability at least the target.
    pub meets_target: bool,
}

/// The month's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `YYYY-MM`.
    pub month: String,
    /// The target, e.g. 0.99.
    pub target: f64,
    /// The whole fleet: all kiosks' up minutes over their open minutes.
    pub fleet_availability: f64,
    /// Per kiosk, by id.
    pub kiosks: Vec<KioskSla>,
}

/// Parses `YYYY-MM`.
pub fn parse_month(text: &str) -> Option<(i64, u32)> {
    let (y, m) = text.split_once('-')?;
    let (y, m): (i64, u32) = (y.parse().ok()?, m.parse().ok()?);
    ((2000..=2999).contains(&y) && (1..=12).contains(&m) && text.len() == 7).then_some((y, m))
}

fn days_in(y: i64, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (protocol::time::days_from_civil(ny, nm, 1) - protocol::time::days_from_civil(y, m, 1)) as u32
}

/// Computes the report of `month` from the bitmaps `uptime[(kiosk, day)]` (and `late`, the
/// minutes of them known only from buffered heartbeats), up to `now`.
pub fn report(
    (year, month): (i64, u32),
    kiosks: &[KioskRecord],
    uptime: &HashMap<(String, String), Vec<u8>>,
    late: &HashMap<(String, String), Vec<u8>>,
    hours: &OpeningHours,
    target: f64,
    now: UnixMillis,
) -> Report {
    let (today, now_minute) = day_minute(now);
    let mut rows = Vec::new();
    let (mut all_open, mut all_up) = (0u64, 0u64);
    for k in kiosks {
        let Some(enrolled) = k.enrolled_at else {
            continue;
        };
        let (first_day, first_minute) = day_minute(enrolled);
        let (mut open, mut up, mut late_up) = (0u32, 0u32, 0u32);
        let mut incidents = Vec::new();
        let mut run: Option<(String, usize, u32)> = None;
        let close_run = |run: &mut Option<(String, usize, u32)>, out: &mut Vec<Incident>| {
            if let Some((day, from, minutes)) = run.take()
                && minutes >= 3
            {
                out.push(Incident {
                    day,
                    from: format!("{:02}:{:02}", from / 60, from % 60),
                    minutes,
                });
            }
        };
        for d in 1..=days_in(year, month) {
            let day = format!("{year:04}-{month:02}-{d:02}");
            if day < first_day || day > today {
                continue;
            }
            let weekday = (protocol::time::days_from_civil(year, month, d) + 3).rem_euclid(7);
            let bits = uptime.get(&(k.kiosk_id.clone(), day.clone()));
            let late_bits = late.get(&(k.kiosk_id.clone(), day.clone()));
            for m in 0..1440usize {
                let counted = hours.open_at(weekday as usize, m as u16)
                    && !(day == first_day && m < first_minute)
                    && !(day == today && m >= now_minute);
                if !counted {
                    continue;
                }
                open += 1;
                if bits.is_some_and(|b| is_set(b, m)) {
                    up += 1;
                    if late_bits.is_some_and(|b| is_set(b, m)) {
                        late_up += 1;
                    }
                    close_run(&mut run, &mut incidents);
                } else {
                    match &mut run {
                        Some((_, _, n)) => *n += 1,
                        None => run = Some((day.clone(), m, 1)),
                    }
                }
            }
        }
        // An incident runs on over closed hours and midnight until the kiosk is back.
        close_run(&mut run, &mut incidents);
        let availability = if open == 0 {
            1.0
        } else {
            f64::from(up) / f64::from(open)
        };
        all_open += u64::from(open);
        all_up += u64::from(up);
        let mttr_minutes = (!incidents.is_empty()).then(|| {
            incidents.iter().map(|i| f64::from(i.minutes)).sum::<f64>() / incidents.len() as f64
        });
        rows.push(KioskSla {
            kiosk_id: k.kiosk_id.clone(),
            name: k.name.clone(),
            open_minutes: open,
            up_minutes: up,
            late_minutes: late_up,
            availability,
            incidents,
            mttr_minutes,
            meets_target: availability >= target,
        });
    }
    Report {
        month: format!("{year:04}-{month:02}"),
        target,
        fleet_availability: if all_open == 0 {
            1.0
        } else {
            all_up as f64 / all_open as f64
        },
        kiosks: rows,
    }
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The report as CSV, one kiosk per row.
pub fn csv(r: &Report) -> String {
    let mut out = String::from(
        "kiosk_id,name,open_minutes,up_minutes,availability_percent,incidents,mttr_minutes,meets_target,late_minutes\n",
    );
    for k in &r.kiosks {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.3},{},{},{},{}",
            csv_field(&k.kiosk_id),
            csv_field(&k.name),
            k.open_minutes,
            k.up_minutes,
            k.availability * 100.0,
            k.incidents.len(),
            k.mttr_minutes
                .map(|m| format!("{m:.1}"))
                .unwrap_or_default(),
            k.meets_target,
            k.late_minutes
        );
    }
    out
}

use crate::http::html::esc;

/// The report as a printable HTML page.
pub fn html(r: &Report, city: &str) -> String {
    let mut rows = String::new();
    for k in &r.kiosks {
        let incidents: Vec<String> = k
            .incidents
            .iter()
            .map(|i| format!("{} {} ({} min)", i.day, i.from, i.minutes))
            .collect();
        let _ = write!(
            rows,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"n\">{:.3} %</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            if k.meets_target { "ok" } else { "miss" },
            esc(&k.kiosk_id),
            esc(&k.name),
            k.availability * 100.0,
            k.open_minutes - k.up_minutes,
            k.late_minutes,
            k.mttr_minutes
                .map(|m| format!("{m:.1} min"))
                .unwrap_or_else(|| "—".into()),
            esc(&incidents.join(", "))
        );
    }
    let missed = r.kiosks.iter().filter(|k| !k.meets_target).count();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>SLA {month} — {city}</title><style>\
         body{{font-family:'DejaVu Sans',sans-serif;margin:2rem;color:#1a1a1a}}\
         h1{{font-size:1.4rem}}table{{border-collapse:collapse;width:100%}}\
         th,td{{border-bottom:1px solid #ccd;padding:.4rem .6rem;text-align:left;font-size:.9rem}}\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
         tr.miss td{{background:#fde8e8}}.sum{{font-size:1.1rem;margin:1rem 0}}\
         </style></head><body><h1>{city}: kiosk availability, {month}</h1>\
         <p class=\"sum\">Fleet availability <strong>{fleet:.3} %</strong> against the target of \
         {target:.1} %; {missed} of {n} kiosks below it. Counted: opening hours since each kiosk \
         enrolled; an incident is 3 or more unavailable minutes. <em>Offline (min)</em>: available \
         minutes the fleet learnt of only later, from heartbeats a kiosk buffered while the fleet \
         could not hear it (it served citizens all the same).</p>\
         <table><thead><tr><th>Kiosk</th><th>Name</th><th>Availability</th>\
         <th>Down (min)</th><th>Offline (min)</th><th>MTTR</th><th>Incidents</th></tr></thead><tbody>{rows}</tbody>\
         </table></body></html>",
        month = esc(&r.month),
        city = esc(city),
        fleet = r.fleet_availability * 100.0,
        target = r.target * 100.0,
        n = r.kiosks.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kiosk(id: &str, enrolled: UnixMillis) -> KioskRecord {
        KioskRecord {
            kiosk_id: id.into(),
            number: 1,
            name: format!("Kiosk {id}"),
            group: "default".into(),
            enrolled_at: Some(enrolled),
            last_seen: None,
            agent_version: None,
            outbox_len: None,
            clock_skew_ms: None,
        }
    }

    #[test]
    fn availability_counts_open_minutes_since_enrolment_and_finds_incidents() {
        // Monday 2 Nov 2026 00:00 in Prague (UTC+1) = 1 Nov 23:00 UTC.
        let monday = 1_793_574_000_000i64;
        let (day, minute) = day_minute(monday);
        assert_eq!((day.as_str(), minute), ("2026-11-02", 0));
        let hours = OpeningHours::parse("Mo-Fr 08:00-10:00").unwrap();
        let mut uptime = HashMap::new();
        let mut bits = Vec::new();
        // Up 08:00-08:59 and 09:10-09:59: a 10-minute incident at 09:00.
        for m in (480..540).chain(550..600) {
            mark(&mut bits, m);
        }
        uptime.insert(("a".to_owned(), "2026-11-02".to_owned()), bits);
        // Tuesday: one 2-minute gap (not an incident).
        let mut tue = Vec::new();
        for m in (480..500).chain(502..600) {
            mark(&mut tue, m);
        }
        uptime.insert(("a".to_owned(), "2026-11-03".to_owned()), tue);
        // Tuesday 08:30-08:44 reached the fleet late, from the kiosk's offline buffer.
        let mut late_tue = Vec::new();
        (510..525).for_each(|m| mark(&mut late_tue, m));
        let mut late = HashMap::new();
        late.insert(("a".to_owned(), "2026-11-03".to_owned()), late_tue);
        // Now: Tuesday 10:30.
        let now = monday + 86_400_000 + (10 * 60 + 30) * 60_000;
        let r = report(
            (2026, 11),
            &[
                kiosk("a", monday - 86_400_000 * 2),
                kiosk("b", now - 30 * 60_000),
            ],
            &uptime,
            &late,
            &hours,
            0.99,
            now,
        );
        let a = &r.kiosks[0];
        assert_eq!(a.open_minutes, 240, "two days of 08:00-10:00");
        assert_eq!(a.up_minutes, 240 - 10 - 2);
        assert_eq!(a.late_minutes, 15, "available, and known only later");
        assert_eq!(
            a.incidents,
            [Incident {
                day: "2026-11-02".into(),
                from: "09:00".into(),
                minutes: 10
            }]
        );
        assert_eq!(a.mttr_minutes, Some(10.0));
        assert!(!a.meets_target);
        let b = &r.kiosks[1];
        assert_eq!(
            b.open_minutes, 0,
            "enrolled after closing: nothing counted yet"
        );
        assert!(b.meets_target);
        assert!(
            csv(&r)
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("a,Kiosk a,240,228,95.000,1,10.0,false,15")
        );
        assert!(html(&r, "Ostrava <Test>").contains("Ostrava &lt;Test&gt;"));
        // Down from Monday 09:50 to Tuesday 08:05: one incident over the night, in open minutes.
        let mut mon = Vec::new();
        let mut tue = Vec::new();
        (480..590).for_each(|m| mark(&mut mon, m));
        (485..600).for_each(|m| mark(&mut tue, m));
        let mut night = HashMap::new();
        night.insert(("a".to_owned(), "2026-11-02".to_owned()), mon);
        night.insert(("a".to_owned(), "2026-11-03".to_owned()), tue);
        let r2 = report(
            (2026, 11),
            &[kiosk("a", monday - 86_400_000)],
            &night,
            &HashMap::new(),
            &hours,
            0.99,
            now,
        );
        assert_eq!(
            r2.kiosks[0].incidents,
            [Incident {
                day: "2026-11-02".into(),
                from: "09:50".into(),
                minutes: 15
            }]
        );
        assert_eq!(parse_month("2026-11"), Some((2026, 11)));
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("26-1"), None);
    }
}
