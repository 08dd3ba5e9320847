//! The call centre's page: a request found by its tracking code (typed as read over the phone),
//! where it stands, its history, the notices sent to the citizen; resend a notice, add a note
//! for the office. Form values and the citizen's identity are never shown. Every look-up is
//! audited (`request.lookup`).

use axum::Form;

use super::super::{Fields, field, outcome};
use super::*;
use crate::store::RequestView;

/// The page's query: the code looked up, and the flash of a change.
#[derive(Debug, Deserialize)]
pub struct RequestQuery {
    code: Option<String>,
    ok: Option<String>,
    err: Option<String>,
    sig: Option<String>,
}

/// `GET /dashboard/requests?code=…`
pub async fn requests(
    State(state): State<AppState>,
    Page(staff): Page,
    Query(q): Query<RequestQuery>,
) -> Result<Response, AppError> {
    if !staff.may(Role::CallCentre) {
        return Ok(forbidden(&staff, Role::CallCentre));
    }
    let typed = q.code.as_deref().unwrap_or("").trim().to_owned();
    let mut body = format!(
        "<section class=\"card\"><form method=\"get\" action=\"/dashboard/requests\" \
         class=\"inline\"><label>Tracking code <input name=\"code\" value=\"{}\" \
         autocomplete=\"off\" autofocus placeholder=\"K7M2-9XQ4-T\" size=\"16\"></label> \
         <button type=\"submit\">Look up</button></form><p class=\"small muted\">Type the code as \
         the citizen reads it: spaces, dashes and lower case do not matter, O is read as 0 and \
         I or L as 1. The last character checks the others.</p></section>",
        esc(&typed)
    );
    if typed.is_empty() {
        body.push_str(&troubled(&state).await?);
    } else {
        match crate::ops::notices::look_up(&state, &staff.name, &typed).await {
            Ok(view) => {
                // The service as citizens know it (the catalog's English name), else its id.
                let id = view.service_id.clone();
                let service = blocking(&state, move |s| s.catalog())
                    .await?
                    .and_then(|c| c.services.into_iter().find(|x| x.id == id))
                    .map_or_else(
                        || view.service_id.clone(),
                        |x| x.name.get(protocol::Lang::En).to_owned(),
                    );
                body.push_str(&request_card(&view, &service, &staff));
            }
            Err(AppError::BadRequest(why) | AppError::NotFound(why)) => {
                let _ = write!(
                    body,
                    "<section class=\"card\"><p class=\"flash err\" id=\"lookup-error\">{}</p>\
                     </section>",
                    esc(&why)
                );
            }
            Err(e) => return Err(e),
        }
    }
    let open = open_alert_count(&state).await?;
    Ok(page(
        Shell {
            staff: &staff,
            nav: "/dashboard/requests",
            title: "Requests",
            live: None,
            open_alerts: open,
            wall: false,
        },
        &Flash {
            ok: q.ok,
            err: q.err,
            sig: q.sig,
        },
        &body,
    ))
}

/// Notices of the last 30 days that failed or may not have arrived: the citizens to call back.
async fn troubled(state: &AppState) -> Result<String, AppError> {
    let since = crate::now_ms() - 30 * 86_400_000;
    let list = blocking(state, move |s| s.troubled_notices(since, 100)).await?;
    let mut s = String::from(
        "<section class=\"card\" id=\"troubled-notices\"><h2>Notices that need a look</h2>\
         <p class=\"small muted\">Failed for good, or perhaps not delivered, in the last 30 \
         days. Open the request to resend.</p>",
    );
    if list.is_empty() {
        s.push_str("<p class=\"muted\">None: every notice reached the citizen.</p></section>");
        return Ok(s);
    }
    s.push_str(
        "<table><thead><tr><th>Request</th><th>About</th><th>To</th><th>What happened</th>\
         <th>When</th></tr></thead><tbody>",
    );
    for (code, n) in list {
        let shown = protocol::tracking::TrackingCode::parse(&code)
            .map(|c| c.to_string())
            .unwrap_or_else(|_| code.clone());
        let _ = write!(
            s,
            "<tr><td><a href=\"/dashboard/requests?code={c}\"><code>{shown}</code></a></td>\
             <td>{about}</td><td>{ch} {to}</td><td>{status}<div class=\"small muted\">{err}</div>\
             </td><td class=\"small\">{at}</td></tr>",
            c = urlencode(&code),
            about = esc(n.state.label().get(protocol::Lang::En)),
            ch = n.channel.as_str().to_uppercase(),
            to = esc(&n.to),
            status = esc(&n.status),
            err = esc(n.last_error.as_deref().unwrap_or("")),
            at = when(n.created_at),
        );
    }
    s.push_str("</tbody></table></section>");
    Ok(s)
}

fn request_card(v: &RequestView, service: &str, staff: &Staff) -> String {
    let code = protocol::tracking::TrackingCode::parse(&v.tracking_code)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| v.tracking_code.clone());
    let mut s = format!(
        "<section class=\"card\" id=\"request\"><h2>Request <code>{code}</code></h2>\
         <dl class=\"kv\"><dt>State</dt><dd id=\"request-state\"><strong>{state}</strong></dd>\
         <dt>Service</dt><dd>{service}</dd>\
         <dt>Filed at</dt><dd><a href=\"/dashboard/kiosks/{kid}\">{kname}</a>, {created}</dd>\
         <dt>Received by the fleet</dt><dd>{received}</dd>\
         <dt>Taken by the office</dt><dd>{delivered}</dd>\
         <dt>Language</dt><dd>{lang}</dd>\
         <dt>Notices go to</dt><dd id=\"request-contact\">{contact}</dd></dl>\
         <p class=\"small muted\">Form values and the citizen's identity are not shown here; \
         the office's agenda system holds them.</p>",
        state = esc(v.state.label().get(protocol::Lang::En)),
        service = esc(service),
        kid = urlencode(&v.kiosk_id),
        kname = esc(&v.kiosk_name),
        created = when(v.created_at),
        received = when(v.received_at),
        delivered = v.delivered_at.map_or("not yet".into(), when),
        lang = esc(&v.language),
        contact = match &v.contact {
            Some((channel, masked)) => format!(
                "{} {}",
                if *channel == protocol::fleet::NoticeChannel::Sms {
                    "SMS to"
                } else {
                    "e-mail to"
                },
                esc(masked)
            ),
            None => "— (none asked for, or forgotten since the request closed)".into(),
        },
    );
    s.push_str(
        "<h3>History</h3><table id=\"request-history\"><thead><tr><th>When</th>\
                <th>What</th><th>By</th></tr></thead><tbody>",
    );
    for e in &v.events {
        let what = match (&e.state, &e.text) {
            (Some(st), _) => esc(st.label().get(protocol::Lang::En)),
            (None, Some(t)) => format!("Note: {}", esc(t)),
            (None, None) => "Note".into(),
        };
        let _ = write!(
            s,
            "<tr><td class=\"small\">{}</td><td>{what}</td><td>{}</td></tr>",
            when(e.at),
            esc(&e.by)
        );
    }
    s.push_str("</tbody></table><h3>Notices to the citizen</h3>");
    if v.notices.is_empty() {
        s.push_str("<p class=\"muted\" id=\"request-notices\">None.</p>");
    } else {
        s.push_str(
            "<table id=\"request-notices\"><thead><tr><th>#</th><th>About</th><th>To</th>\
             <th>Delivery</th><th>Attempts</th><th>Asked by</th></tr></thead><tbody>",
        );
        for n in &v.notices {
            let delivery = match n.status.as_str() {
                "sent" => format!("sent {}", n.sent_at.map_or(String::new(), when)),
                "pending" => format!("waiting; next try {}", when(n.next_attempt_at)),
                "unconfirmed" => "perhaps sent (the gateway did not answer); not repeated".into(),
                "failed" => "failed".into(),
                other => other.to_owned(),
            };
            let _ = write!(
                s,
                "<tr class=\"notice-{status}\"><td>{id}</td><td>{about}</td><td>{ch} {to}</td>\
                 <td>{delivery}{err}</td><td>{attempts}</td><td>{by}</td></tr>",
                status = esc(&n.status),
                id = n.id,
                about = esc(n.state.label().get(protocol::Lang::En)),
                ch = n.channel.as_str().to_uppercase(),
                to = esc(&n.to),
                err = n
                    .last_error
                    .as_deref()
                    .map(|e| format!("<div class=\"small muted\">{}</div>", esc(e)))
                    .unwrap_or_default(),
                attempts = n.attempts,
                by = esc(&n.requested_by),
            );
        }
        s.push_str("</tbody></table>");
    }
    if v.contact.is_some() {
        let _ = write!(
            s,
            "<form method=\"post\" action=\"/dashboard/requests/{c}/resend\" class=\"inline\">{csrf}\
             <button type=\"submit\" id=\"resend\">Resend the notice of the current state</button>\
             </form>",
            c = urlencode(&v.tracking_code),
            csrf = csrf_field(staff),
        );
    }
    let _ = write!(
        s,
        "<h3>Note for the office</h3><form method=\"post\" \
         action=\"/dashboard/requests/{c}/note\">{csrf}<textarea name=\"text\" rows=\"3\" \
         maxlength=\"2000\" required placeholder=\"What the citizen told the call centre\">\
         </textarea><button type=\"submit\">Add the note</button></form></section>",
        c = urlencode(&v.tracking_code),
        csrf = csrf_field(staff),
    );
    s
}

fn back_to(code: &str) -> String {
    format!("/dashboard/requests?code={}", urlencode(code))
}

/// `POST /dashboard/requests/{code}/resend`
pub async fn resend_notice(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(code): Path<String>,
) -> Response {
    if !staff.may(Role::CallCentre) {
        return forbidden(&staff, Role::CallCentre);
    }
    let r = crate::ops::notices::resend(&state, &staff.name, &code)
        .await
        .map(|id| format!("Notice {id} queued: the citizen gets it again."));
    outcome(&staff, &back_to(&code), r)
}

/// `POST /dashboard/requests/{code}/note`
pub async fn request_note(
    State(state): State<AppState>,
    Page(staff): Page,
    Path(code): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if !staff.may(Role::CallCentre) {
        return forbidden(&staff, Role::CallCentre);
    }
    let r = crate::ops::notices::add_note(&state, &staff.name, &code, field(&f, "text"))
        .await
        .map(|()| "Note added.".to_owned());
    outcome(&staff, &back_to(&code), r)
}
