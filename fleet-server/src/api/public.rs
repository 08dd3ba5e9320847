//! `GET /s/{code}`: the page a citizen reaches by scanning the receipt's QR code. It shows the
//! service, the state and when it changed, never personal data, and is rate-limited per client
//! address so that codes cannot be enumerated. `?lang=en|uk` switches the language.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::Lang;
use protocol::fleet::StatusRecord;
use protocol::tracking::TrackingCode;
use serde::Deserialize;

use crate::http::html::esc;
use crate::http::{AppError, ClientIp};
use crate::state::{AppState, blocking};

/// `?lang=`
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<Lang>,
}

fn t(lang: Lang, cs: &'static str, en: &'static str, uk: &'static str) -> &'static str {
    match lang {
        Lang::Cs => cs,
        Lang::En => en,
        Lang::Uk => uk,
    }
}

fn shell(lang: Lang, title: &str, body: &str) -> String {
    let langs: String = Lang::ALL
        .iter()
        .map(|l| {
            format!(
                "<a href=\"?lang={0}\" lang=\"{0}\">{1}</a>",
                l.code(),
                l.code().to_uppercase()
            )
        })
        .collect::<Vec<_>>()
        .join(" · ");
    format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">\
<title>{title} · Okénko</title><style>\
body{{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b1f24}}\
header{{background:#0b4f8a;color:#fff;padding:1rem 1.5rem;display:flex;justify-content:space-between;align-items:center}}\
header a{{color:#fff}}main{{max-width:36rem;margin:2rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 4px #0002}}\
.code{{font-family:ui-monospace,monospace;font-size:1.6rem;letter-spacing:.1em}}.state{{font-size:1.4rem;font-weight:700;color:#0b4f8a}}\
@media (max-width:40rem){{main{{margin:1rem;padding:1.25rem}}}}\
dt{{color:#555;margin-top:1rem}}dd{{margin:0;font-size:1.1rem}}</style></head>\
<body><header><strong>Okénko</strong><nav>{langs}</nav></header><main>{body}</main></body></html>",
        code = lang.code(),
    )
}

fn render(lang: Lang, r: &StatusRecord) -> String {
    let service = r
        .service_name
        .as_ref()
        .map(|n| n.get(lang).to_owned())
        .unwrap_or_else(|| r.service_id.clone());
    let note = r
        .note
        .as_ref()
        .map(|n| {
            format!(
                "<dt>{}</dt><dd>{}</dd>",
                t(
                    lang,
                    "Poznámka úřadu",
                    "Note from the office",
                    "Примітка установи"
                ),
                esc(n.get(lang))
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>{h}</h1><p class=\"code\">{code}</p><dl><dt>{ls}</dt><dd>{service}</dd>\
<dt>{lst}</dt><dd class=\"state\">{state}</dd><dt>{lu}</dt><dd>{updated}</dd>{note}</dl>",
        h = t(
            lang,
            "Stav vaší žádosti",
            "Status of your request",
            "Стан вашої заяви"
        ),
        code = esc(&r.tracking_code.to_string()),
        ls = t(lang, "Služba", "Service", "Послуга"),
        service = esc(&service),
        lst = t(lang, "Stav", "State", "Стан"),
        state = esc(r.state.label().get(lang)),
        lu = t(lang, "Naposledy změněno", "Last changed", "Остання зміна"),
        updated = protocol::time::format_czech(r.updated_at),
    );
    shell(
        lang,
        t(lang, "Stav žádosti", "Request status", "Стан заяви"),
        &body,
    )
}

fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

pub async fn page(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Response, AppError> {
    let lang = q.lang.unwrap_or_default();
    if !state.limiter.allow(ip) {
        let body = format!(
            "<h1>{}</h1>",
            t(
                lang,
                "Příliš mnoho dotazů, zkuste to za minutu.",
                "Too many requests; try again in a minute.",
                "Забагато запитів, спробуйте за хвилину."
            )
        );
        return Ok(html(
            StatusCode::TOO_MANY_REQUESTS,
            shell(lang, "429", &body),
        ));
    }
    let not_found = |msg: &str| {
        let body = format!(
            "<h1>{}</h1><p>{}</p>",
            t(
                lang,
                "Žádost nenalezena",
                "Request not found",
                "Заяву не знайдено"
            ),
            esc(msg)
        );
        html(StatusCode::NOT_FOUND, shell(lang, "404", &body))
    };
    let Ok(code) = TrackingCode::parse(&code) else {
        return Ok(not_found(t(
            lang,
            "Kód není platný; zkontrolujte jej prosím.",
            "The code is not valid; please check it.",
            "Код недійсний; перевірте його.",
        )));
    };
    match blocking(&state, move |s| s.status(code.as_str())).await? {
        Some(r) => Ok(html(StatusCode::OK, render(lang, &r))),
        None => Ok(not_found(t(
            lang,
            "Žádost s tímto kódem zatím neznáme. Pokud jste ji podali před chvílí, zkuste to později.",
            "We do not know a request with this code yet. If you just submitted it, try again later.",
            "Ми ще не знаємо заяви з цим кодом. Якщо ви щойно її подали, спробуйте пізніше.",
        ))),
    }
}
