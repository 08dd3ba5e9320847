//! The overview: a tile per kiosk, worst first, with filters.

use super::*;

/// The fleet as the overview needs it.
pub struct Fleet {
    now: UnixMillis,
    offline_after_ms: i64,
    kiosks: Vec<(KioskRecord, Option<Heartbeat>)>,
    open: Vec<Alert>,
}

impl Fleet {
    /// The fleet now.
    pub async fn load(state: &AppState) -> Result<Fleet, AppError> {
        let (kiosks, open) =
            blocking(state, |s| Ok((s.kiosk_health()?, s.alerts(true, 100_000)?))).await?;
        Ok(Fleet {
            now: crate::now_ms(),
            offline_after_ms: state.offline_after_ms,
            kiosks,
            open,
        })
    }

    pub(super) fn alerts_of(&self) -> HashMap<&str, Vec<&Alert>> {
        let mut m: HashMap<&str, Vec<&Alert>> = HashMap::new();
        for a in &self.open {
            m.entry(a.kiosk_id.as_str()).or_default().push(a);
        }
        m
    }
}

/// How a kiosk is doing at `now`: offline when silent for `offline_after_ms` or never
/// enrolled, else its worst open alert.
pub(super) fn level(
    k: &KioskRecord,
    open: &[&Alert],
    now: UnixMillis,
    offline_after_ms: i64,
) -> Level {
    let silent = k.last_seen.is_none_or(|t| now - t > offline_after_ms);
    if silent || k.enrolled_at.is_none() {
        return Level::Off;
    }
    open.iter()
        .map(|a| alert_level(a.kind))
        .max()
        .unwrap_or(Level::Ok)
}

/// The overview's filters (also the live view's).
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    state: Option<String>,
    group: Option<String>,
    wall: Option<u8>,
    #[serde(flatten)]
    flash: FlashFields,
}

impl OverviewQuery {
    /// Only the filters.
    pub fn filters(state: Option<String>, group: Option<String>) -> OverviewQuery {
        OverviewQuery {
            state,
            group,
            ..OverviewQuery::default()
        }
    }
}

/// The summary and tile regions.
pub fn overview_regions(f: &Fleet, q: &OverviewQuery) -> Vec<(&'static str, String)> {
    let by_kiosk = f.alerts_of();
    let mut rows: Vec<(Level, &KioskRecord, Option<&Heartbeat>, Vec<&Alert>)> = f
        .kiosks
        .iter()
        .map(|(k, hb)| {
            let a = by_kiosk
                .get(k.kiosk_id.as_str())
                .cloned()
                .unwrap_or_default();
            (level(k, &a, f.now, f.offline_after_ms), k, hb.as_ref(), a)
        })
        .collect();
    let mut counts = [0usize; 4];
    for r in &rows {
        counts[r.0 as usize] += 1;
    }
    let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, k, _, _) in &rows {
        *versions
            .entry(k.agent_version.as_deref().unwrap_or("—"))
            .or_default() += 1;
    }
    let mut summary = String::from("<div id=\"summary\" class=\"summary\">");
    let _ = write!(
        summary,
        "<div class=\"stat\"><b>{}</b><span>kiosks</span></div>",
        rows.len()
    );
    for l in [Level::Ok, Level::Warn, Level::Bad, Level::Off] {
        let _ = write!(
            summary,
            "<div class=\"stat {c}\"><b>{n}</b><span>{label}</span></div>",
            c = l.class(),
            n = counts[l as usize],
            label = l.label()
        );
    }
    let _ = write!(
        summary,
        "<div class=\"stat\"><b>{}</b><span>open alerts</span></div>\
         <div class=\"stat\" title=\"{}\"><b>{}</b><span>agent versions</span></div></div>",
        f.open.len(),
        esc(&versions
            .iter()
            .map(|(v, n)| format!("{v}: {n} kiosks"))
            .collect::<Vec<_>>()
            .join(", ")),
        versions.len(),
    );
    let want = q.state.as_deref().and_then(Level::parse);
    rows.retain(|(l, k, _, _)| {
        want.is_none_or(|w| w == *l) && q.group.as_deref().is_none_or(|g| g == k.group)
    });
    // Worst first, then by id.
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.kiosk_id.cmp(&b.1.kiosk_id)));
    let mut tiles = String::from("<div id=\"tiles\" class=\"tiles\">");
    if rows.is_empty() {
        tiles.push_str("<p class=\"muted\">No kiosk matches.</p>");
    }
    for (level, k, hb, alerts) in rows {
        let seen = k.last_seen.map_or("never seen".to_owned(), |t| {
            format!("seen {}", ago(f.now, t))
        });
        let mut list = String::new();
        for a in alerts.iter().take(4) {
            let _ = write!(
                list,
                "<li class=\"{}\">{}{}</li>",
                alert_level(a.kind).class(),
                esc(a.kind.label()),
                if a.acked_at.is_some() {
                    " · acknowledged"
                } else {
                    ""
                }
            );
        }
        if alerts.len() > 4 {
            let _ = write!(list, "<li>and {} more</li>", alerts.len() - 4);
        }
        let outbox = hb.map_or(0, |h| h.outbox_len);
        let _ = write!(
            tiles,
            "<a class=\"tile {c}\" id=\"tile-{id}\" href=\"/dashboard/kiosks/{id}\" \
             data-state=\"{c}\"><div class=\"id\">{id}<span class=\"badge {c}\">{label}</span></div>\
             <div class=\"name\">{name}</div><div class=\"meta\">{ver} · {group}</div>\
             <div class=\"meta\">{seen}{outbox}</div><ul>{list}</ul></a>",
            c = level.class(),
            label = level.label(),
            id = esc(&k.kiosk_id),
            name = esc(&k.name),
            ver = esc(&release_text(k, hb)),
            group = esc(&k.group),
            outbox = if outbox > 0 {
                format!(" · {outbox} queued")
            } else {
                String::new()
            },
        );
    }
    tiles.push_str("</div>");
    vec![("summary", summary), ("tiles", tiles)]
}

/// What a tile says of a kiosk's software: its release (and an update under way or failed),
/// or its agent's version where it reports no release.
pub(super) fn release_text(k: &KioskRecord, hb: Option<&Heartbeat>) -> String {
    match hb.and_then(|h| h.update.as_ref()) {
        Some(u) if u.state.in_progress() => format!(
            "{} → {} {}{}",
            u.running,
            u.target.as_deref().unwrap_or("?"),
            u.state.as_str(),
            u.progress.map(|p| format!(" {p} %")).unwrap_or_default()
        ),
        Some(u) if u.state.is_failure() => format!(
            "{} ({} {})",
            u.running,
            u.target.as_deref().unwrap_or("update"),
            u.state.as_str().replace('_', " ")
        ),
        Some(u) => u.running.clone(),
        None => k
            .agent_version
            .clone()
            .unwrap_or_else(|| "no version yet".into()),
    }
}

/// `GET /dashboard`
pub async fn overview(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, AppError> {
    let fleet = Fleet::load(&state).await?;
    let mut groups: Vec<&str> = fleet.kiosks.iter().map(|(k, _)| k.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    // Only the states there are filter by a state; anything else in the address is ignored.
    let q = OverviewQuery {
        state: q.state.filter(|s| {
            [Level::Bad, Level::Warn, Level::Off, Level::Ok]
                .iter()
                .any(|l| l.class() == s)
        }),
        ..q
    };
    let link = |state: Option<&str>, group: Option<&str>| {
        let mut p = vec![];
        if let Some(s) = state {
            p.push(format!("state={}", urlencode(s)));
        }
        if let Some(g) = group {
            p.push(format!("group={}", urlencode(g)));
        }
        if q.wall == Some(1) {
            p.push("wall=1".into());
        }
        if p.is_empty() {
            "/dashboard".to_owned()
        } else {
            esc(&format!("/dashboard?{}", p.join("&")))
        }
    };
    let mut filters = String::from("<div class=\"filters\" aria-label=\"Filter\">");
    let on = |b: bool| if b { " class=\"on\"" } else { "" };
    let _ = write!(
        filters,
        "<a{} href=\"{}\">All</a>",
        on(q.state.is_none()),
        link(None, q.group.as_deref())
    );
    for l in [Level::Bad, Level::Warn, Level::Off, Level::Ok] {
        let _ = write!(
            filters,
            "<a{} href=\"{}\">{}</a>",
            on(q.state.as_deref() == Some(l.class())),
            link(Some(l.class()), q.group.as_deref()),
            l.label()
        );
    }
    if groups.len() > 1 {
        filters.push_str("<span class=\"muted small\">Group:</span>");
        let _ = write!(
            filters,
            "<a{} href=\"{}\">any</a>",
            on(q.group.is_none()),
            link(q.state.as_deref(), None)
        );
        for g in &groups {
            let _ = write!(
                filters,
                "<a{} href=\"{}\">{}</a>",
                on(q.group.as_deref() == Some(g)),
                link(q.state.as_deref(), Some(g)),
                esc(g)
            );
        }
    }
    if q.wall != Some(1) {
        let _ = write!(
            filters,
            "<a href=\"/dashboard?wall=1\" title=\"For a wall screen: no navigation, bigger tiles\">Wall screen</a>"
        );
    }
    filters.push_str("</div>");
    let regions = overview_regions(&fleet, &q);
    let body = format!("{}{filters}{}", regions[0].1, regions[1].1);
    let live = live_query(
        "overview",
        &[("state", q.state.as_deref()), ("group", q.group.as_deref())],
    );
    let open = fleet.open.len();
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard",
            title: "Fleet",
            live: Some(&live),
            open_alerts: open,
            wall: q.wall == Some(1),
        },
        &q.flash.into(),
        &body,
    ))
}
