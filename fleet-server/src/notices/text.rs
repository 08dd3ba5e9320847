//! What a notice says, in the citizen's language: the tracking code, the new state and the
//! public status link; no form values and no names.

use protocol::Lang;
use protocol::fleet::RequestState;
use protocol::tracking::TrackingCode;

/// The text message for `state` of request `code`.
pub fn sms(lang: Lang, code: &TrackingCode, state: RequestState, public_url: &str) -> String {
    let url = code.status_url(public_url);
    let label = state.label();
    let label = label.get(lang);
    match (lang, state) {
        (Lang::Cs, RequestState::Submitted) => {
            format!("Okénko: žádost {code} jsme přijali. Stav: {url}")
        }
        (Lang::En, RequestState::Submitted) => {
            format!("Okénko: we have your request {code}. Status: {url}")
        }
        (Lang::Uk, RequestState::Submitted) => {
            format!("Okénko: вашу заяву {code} отримано. Стан: {url}")
        }
        (Lang::Cs, _) => format!("Okénko: žádost {code} – {label}. Stav: {url}"),
        (Lang::En, _) => format!("Okénko: request {code} – {label}. Status: {url}"),
        (Lang::Uk, _) => format!("Okénko: заява {code} – {label}. Стан: {url}"),
    }
}

/// The e-mail (subject, body) for `state` of request `code`.
pub fn mail(
    lang: Lang,
    code: &TrackingCode,
    state: RequestState,
    public_url: &str,
) -> (String, String) {
    let label = state.label();
    let label = label.get(lang);
    let subject = match lang {
        Lang::Cs => format!("Vaše žádost {code}: {label}"),
        Lang::En => format!("Your request {code}: {label}"),
        Lang::Uk => format!("Ваша заява {code}: {label}"),
    };
    let footer = match lang {
        Lang::Cs => {
            "Tuto zprávu jste si vyžádali na kiosku Okénko. Je odeslána automaticky, neodpovídejte na ni."
        }
        Lang::En => {
            "You asked for this message at an Okénko kiosk. It is sent automatically; please do not reply."
        }
        Lang::Uk => {
            "Ви просили про це повідомлення в кіоску Okénko. Воно надіслане автоматично, не відповідайте на нього."
        }
    };
    (
        subject,
        format!("{}\n\n{footer}\n", sms(lang, code, state, public_url)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_names_the_code_state_and_link_in_each_language() {
        let code = TrackingCode::from_parts(3, 77).unwrap();
        let url = "https://fleet.example.cz";
        let link = format!("https://fleet.example.cz/s/{}", code.as_str());
        for (lang, word) in [
            (Lang::Cs, "Vyřízeno"),
            (Lang::En, "Resolved"),
            (Lang::Uk, "Вирішено"),
        ] {
            let text = sms(lang, &code, RequestState::Resolved, url);
            assert!(text.contains(&code.to_string()), "{text}");
            assert!(text.contains(word), "{text}");
            assert!(text.contains(&link), "{text}");
            let (subject, body) = mail(lang, &code, RequestState::Resolved, url);
            assert!(
                subject.contains(word) && body.contains(&link),
                "{subject} {body}"
            );
        }
        assert!(
            sms(Lang::En, &code, RequestState::Submitted, url).contains("we have your request")
        );
    }
}
