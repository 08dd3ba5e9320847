//! `/dashboard/releases`: rollouts (their kiosks by update state, the current wave's failures,
//! and for release managers the buttons that expand, pause, resume, abort or roll back), a
//! form for a new rollout, the fleet by release, and the releases uploaded (with `fleetctl
//! release upload`). The rollouts region is live: kiosks report their update states in their
//! heartbeats.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::pages::FlashFields;
use super::{Fields, field, outcome};
use super::{Page, Shell, back, csrf_field, esc, forbidden, page, when};
use crate::http::AppError;
use crate::ops::releases::{RolloutView, act_on, create_rollout, parse_action, view};
use crate::rollout::{NewRollout, RolloutState};
use crate::staff::{Role, Staff};
use crate::state::{AppState, blocking};

fn state_class(s: RolloutState) -> &'static str {
    match s {
        RolloutState::Active => "ok",
        RolloutState::Paused => "warn",
        RolloutState::Aborted | RolloutState::RolledBack => "bad",
        RolloutState::Completed => "off",
    }
}

/// Update states in the order a bar shows them, with their colour class.
const BAR: &[(&str, &str)] = &[
    ("succeeded", "ok"),
    ("trial", "run"),
    ("rebooting", "run"),
    ("installing", "run"),
    ("waiting", "run"),
    ("verifying", "run"),
    ("downloading", "run"),
    ("idle", "off"),
    ("pending", "off"),
    ("failed", "bad"),
    ("rolled_back", "bad"),
];

fn rollout_card(v: &RolloutView, staff: &Staff, newest: bool) -> String {
    let r = &v.rollout;
    let p = &v.progress;
    // An SVG bar (the page's CSP allows no inline style), a segment per state.
    let mut bar = String::from(
        "<svg class=\"bar\" viewBox=\"0 0 1000 14\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"kiosks by update state\"><rect class=\"track\" width=\"1000\" height=\"14\"/>",
    );
    let mut legend = String::new();
    let mut x = 0usize;
    for (state, class) in BAR {
        let n = p.by_state.get(*state).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let w = n * 1000 / p.targeted.max(1);
        let _ = write!(
            bar,
            "<rect class=\"{class}\" x=\"{x}\" width=\"{w}\" height=\"14\"><title>{n} {state}</title></rect>"
        );
        x += w;
        let _ = write!(
            legend,
            "<span class=\"badge {class}\">{n} {}</span> ",
            state.replace('_', " ")
        );
    }
    bar.push_str("</svg>");
    let target = format!(
        "{}{} % of {}",
        if r.canary.is_empty() {
            String::new()
        } else {
            format!("canary {} + ", r.canary.join(", "))
        },
        r.percent,
        r.group
            .as_deref()
            .map_or("all kiosks".to_owned(), |g| format!("group {g}"))
    );
    let mut actions = String::new();
    if staff.may(Role::ReleaseManager) {
        let csrf = csrf_field(staff);
        let button = |action: &str, label: &str, class: &str, confirm: &str| {
            format!(
                "<form class=\"inline\" method=\"post\" action=\"/dashboard/rollouts/{id}/{action}\"{c}>\
                 {csrf}<button class=\"{class}\" type=\"submit\">{label}</button></form>",
                id = r.id,
                c = if confirm.is_empty() {
                    String::new()
                } else {
                    format!(" data-confirm=\"{}\"", esc(confirm))
                }
            )
        };
        if r.state.is_open() {
            let _ = write!(
                actions,
                "<form class=\"inline\" method=\"post\" action=\"/dashboard/rollouts/{id}/expand\">{csrf}\
                 <label class=\"inline\">to <input name=\"percent\" type=\"number\" min=\"{p}\" max=\"100\" \
                 value=\"{next}\" aria-label=\"percent\"> %</label> \
                 <button class=\"primary\" type=\"submit\">Expand</button></form>",
                id = r.id,
                p = r.percent,
                next = match r.percent {
                    0..25 => 25,
                    25..50 => 50,
                    _ => 100,
                }
            );
        }
        if r.state == RolloutState::Active {
            actions.push_str(&button("pause", "Pause", "", ""));
        }
        if r.state == RolloutState::Paused {
            actions.push_str(&button("resume", "Resume", "", ""));
        }
        if r.state.is_open() {
            actions.push_str(&button(
                "abort",
                "Abort",
                "danger",
                "Stop this rollout? Kiosks already updated stay on the new release.",
            ));
        }
        if newest && r.state != RolloutState::RolledBack {
            // Kiosks go back only with a rollback signed with a release key: pasted here (as
            // `fleetctl release rollback KEYFILE --from V --to W` prints it) unless uploaded.
            let _ = write!(
                actions,
                "<form class=\"inline rollback\" method=\"post\" action=\"/dashboard/rollouts/{id}/rollback\" \
                 data-confirm=\"Send every kiosk this rollout updated back to its previous release?\">{csrf}\
                 <label class=\"inline\">Signed rollback <textarea name=\"signed_rollback\" rows=\"2\" cols=\"40\" \
                 placeholder=\"fleetctl release rollback KEYFILE --from {v} --to …\" \
                 aria-label=\"signed rollback\"></textarea></label> \
                 <button class=\"danger\" type=\"submit\">Roll back</button></form>",
                id = r.id,
                v = esc(&r.version),
            );
        }
    }
    format!(
        "<section class=\"card rollout\" id=\"rollout-{id}\" data-state=\"{st}\">\
         <h2>Rollout {id}: {version} <span class=\"badge {c}\">{st_label}</span>{force}</h2>\
         <p class=\"small\">{target} · {targeted} kiosks targeted · current wave {wave} kiosks, \
         {failed} failed (pauses above {max} %) · by {by}, {created}</p>{reason}{bar}\
         <p class=\"legend\">{legend}</p><div class=\"actions\">{actions}</div></section>",
        id = r.id,
        version = esc(&r.version),
        c = state_class(r.state),
        st = r.state.as_str(),
        st_label = r.state.as_str().replace('_', " "),
        force = if r.force {
            " <span class=\"badge warn\">forced</span>"
        } else {
            ""
        },
        target = esc(&target),
        targeted = p.targeted,
        wave = p.wave,
        failed = p.wave_failed,
        max = r.max_failure_percent,
        by = esc(&r.created_by),
        created = when(r.created_at),
        reason = r
            .reason
            .as_deref()
            .map(|x| format!("<p class=\"flash warn small\">{}</p>", esc(x)))
            .unwrap_or_default(),
    )
}

/// The live region: rollouts and the fleet by release.
pub async fn rollouts_region(state: &AppState, staff: &Staff) -> Result<String, AppError> {
    let kiosks = blocking(state, |s| s.kiosks()).await?;
    let rollouts = state.rollouts.rollouts();
    let mut s = String::from("<div id=\"rollouts\">");
    if rollouts.is_empty() {
        s.push_str("<p class=\"muted\">No rollout yet.</p>");
    }
    for (i, r) in rollouts.into_iter().take(10).enumerate() {
        let v = view(state, r, &kiosks);
        s.push_str(&rollout_card(&v, staff, i == 0));
    }
    // The fleet by release and state.
    let mut table: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let updates = state.rollouts.updates_by_kiosk();
    for k in &kiosks {
        let u = updates.get(&k.kiosk_id);
        let key = u
            .as_ref()
            .map_or(("unknown".into(), "not reported".into()), |u| {
                (
                    u.report.running.clone(),
                    u.report.state.as_str().replace('_', " "),
                )
            });
        table.entry(key).or_default().push(k.kiosk_id.clone());
    }
    s.push_str(
        "<section class=\"card\"><h2>Kiosks by release</h2><table><thead><tr><th>Release</th>\
         <th>Update state</th><th>Kiosks</th></tr></thead><tbody>",
    );
    for ((release, st), ids) in &table {
        let links: Vec<String> = ids
            .iter()
            .map(|id| format!("<a href=\"/dashboard/kiosks/{0}\">{0}</a>", esc(id)))
            .collect();
        let _ = write!(
            s,
            "<tr><td><b>{}</b></td><td>{}</td><td class=\"small\">{} · {}</td></tr>",
            esc(release),
            esc(st),
            ids.len(),
            links.join(" ")
        );
    }
    s.push_str("</tbody></table></section></div>");
    Ok(s)
}

/// `GET /dashboard/releases`
pub async fn releases(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(flash): Query<FlashFields>,
) -> Result<Response, AppError> {
    let mut body = String::from(
        "<p class=\"small muted\">A release reaches kiosks through a rollout: canary kiosks first, \
         then a percentage of a group (the same kiosks every time). Kiosks install in the \
         maintenance window when nobody is using them, unless the rollout is forced, and go back \
         by themselves when the new release fails its health check. Upload releases with \
         <code>fleetctl release upload</code>.</p>",
    );
    body.push_str(&rollouts_region(&state, &staff).await?);
    let releases = state.rollouts.releases();
    if staff.may(Role::ReleaseManager) {
        let kiosks = blocking(&state, |s| s.kiosks()).await?;
        let mut groups: Vec<&str> = kiosks.iter().map(|k| k.group.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        let versions: String = releases
            .iter()
            .filter(|r| r.uploaded_at.is_some())
            .map(|r| format!("<option>{}</option>", esc(&r.version)))
            .collect();
        let group_opts: String = groups
            .iter()
            .map(|g| format!("<option value=\"{0}\">{0}</option>", esc(g)))
            .collect();
        let open =
            state.rollouts.rollouts().into_iter().find(|r| {
                r.state.is_open() && !(r.state == RolloutState::Active && r.percent == 100)
            });
        let hint = open.map_or(String::new(), |r| {
            format!(
                "<p class=\"small muted\">Rollout {} is still open at {} %: expand it to 100 % \
                 (it is then completed by the next one) or abort it before starting another.</p>",
                r.id, r.percent
            )
        });
        let _ = write!(
            body,
            "<section class=\"card\"><h2>New rollout</h2>{hint}\
             <form method=\"post\" action=\"/dashboard/rollouts\" class=\"grid-form\">{csrf}\
             <label>Release <select name=\"version\" required>{versions}</select></label>\
             <label>Group <select name=\"group\"><option value=\"\">all kiosks</option>{group_opts}</select></label>\
             <label>Canary kiosks <input name=\"canary\" placeholder=\"ostrava-01, ostrava-02\"></label>\
             <label>Percent <input name=\"percent\" type=\"number\" min=\"0\" max=\"100\" value=\"0\"></label>\
             <label>Pause above failures, % <input name=\"max_failure_percent\" type=\"number\" min=\"0\" \
             max=\"100\" value=\"{max}\"></label>\
             <label class=\"check\"><input type=\"checkbox\" name=\"force\" value=\"1\"> Forced: install at \
             once, even during opening hours</label>\
             <button class=\"primary\" type=\"submit\">Start rollout</button></form></section>",
            csrf = csrf_field(&staff),
            max = state.rollouts.max_failure_percent,
        );
    }
    body.push_str(
        "<section class=\"card\"><h2>Releases</h2><table><thead><tr><th>Version</th><th>Size</th>\
         <th>For</th><th>Signed by</th><th>Uploaded</th></tr></thead><tbody>",
    );
    if releases.is_empty() {
        body.push_str("<tr><td colspan=\"5\" class=\"muted\">No release uploaded.</td></tr>");
    }
    for r in &releases {
        let _ = write!(
            body,
            "<tr><td><b>{v}</b></td><td>{size}</td><td>{hw}</td><td><code>{key}</code></td>\
             <td class=\"small\">{up}</td></tr>",
            v = esc(&r.version),
            size = if r.size < 1_000_000 {
                format!("{:.0} kB", r.size as f64 / 1e3)
            } else {
                format!("{:.1} MB", r.size as f64 / 1e6)
            },
            hw = esc(&r.compatible.join(", ")),
            key = esc(&r.key_id),
            up = r.uploaded_at.map_or("bundle awaited".into(), |t| format!(
                "{} by {}",
                when(t),
                esc(&r.uploaded_by)
            )),
        );
    }
    body.push_str("</tbody></table></section>");
    let open = blocking(&state, |s| s.alerts(true, 100_000)).await?.len();
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/releases",
            title: "Releases & rollouts",
            live: Some("view=releases"),
            open_alerts: open,
            wall: false,
        },
        &flash.into(),
        &body,
    ))
}

/// `POST /dashboard/rollouts`
pub async fn create(
    State(state): State<AppState>,
    Page(staff): Page,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::ReleaseManager) {
        return forbidden(&staff, Role::ReleaseManager);
    }
    let to = "/dashboard/releases";
    let (Ok(percent), Ok(max)) = (
        field(&f, "percent").parse::<u8>(),
        field(&f, "max_failure_percent").parse::<u8>(),
    ) else {
        return back(
            &staff,
            to,
            Err("Percentages are whole numbers from 0 to 100.".into()),
        );
    };
    let req = NewRollout {
        version: field(&f, "version").to_owned(),
        group: Some(field(&f, "group").to_owned()).filter(|g| !g.is_empty()),
        canary: field(&f, "canary")
            .split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        percent,
        force: field(&f, "force") == "1",
        max_failure_percent: Some(max),
    };
    let r = create_rollout(&state, &staff, req).await.map(|v| {
        format!(
            "Rollout {} of {} started: {} kiosks targeted.",
            v.rollout.id, v.rollout.version, v.progress.targeted
        )
    });
    outcome(&staff, to, r)
}

/// `POST /dashboard/rollouts/{id}/{action}`
pub async fn act(
    State(state): State<AppState>,
    Page(staff): Page,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::ReleaseManager) {
        return forbidden(&staff, Role::ReleaseManager);
    }
    let to = "/dashboard/releases";
    let percent = field(&f, "percent").parse::<u8>().ok();
    let action = match parse_action(&action, percent) {
        Ok(a) => a,
        Err(e) => return outcome(&staff, to, Err(e)),
    };
    // A signed rollback pasted with the roll back is kept with the release first.
    let signed = field(&f, "signed_rollback");
    if action == crate::rollout::Action::Rollback && !signed.is_empty() {
        let kept = match protocol::json::decode::<protocol::release::SignedRollback>(
            signed.as_bytes(),
            16 * 1024,
        ) {
            Ok(signed) => crate::ops::releases::keep_rollback(&state, &staff, id, signed).await,
            Err(e) => Err(AppError::BadRequest(format!(
                "the signed rollback is not one: {e}"
            ))),
        };
        if let Err(e) = kept {
            return outcome(&staff, to, Err(e));
        }
    }
    let r = act_on(&state, &staff, id, action).await.map(|v| {
        format!(
            "Rollout {} is {} at {} %.",
            v.rollout.id,
            v.rollout.state.as_str().replace('_', " "),
            v.rollout.percent
        )
    });
    outcome(&staff, to, r)
}
