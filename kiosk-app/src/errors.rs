//! Everything a citizen can be told went wrong, from one table with the Czech, English and
//! Ukrainian text of each. The agent's own messages (English, for technicians and logs) and
//! transport errors never reach the screen: each is mapped to a [`Problem`] first.

use agent_client::ClientError;
use protocol::Lang;
use protocol::app::ErrorCode;

/// What went wrong, as the citizen is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The request was not stored.
    NotSaved,
    /// The agent found fields that need attention.
    NeedsAttention,
    /// The service needs the citizen's card.
    NeedsCard,
    /// The card read has expired or was not this kiosk's: read it again.
    CardAgain,
    /// No card was read in time.
    NoCard,
    /// The service is no longer offered here.
    ServiceGone,
    /// The form changed meanwhile.
    FormOutdated,
    /// The kiosk cannot take requests yet.
    NotEnrolled,
    /// The tracking code is mistyped.
    CodeMistyped,
    /// No request with the code is known.
    CodeUnknown,
    /// A look-up failed.
    LookupFailed,
    /// The kiosk's service is down.
    OutOfService,
}

/// Each problem's text: Czech, English, Ukrainian.
const TABLE: &[(Problem, [&str; 3])] = &[
    (
        Problem::NotSaved,
        [
            "Žádost se nepodařilo uložit. Zkuste to prosím znovu.",
            "Your request could not be saved. Please try again.",
            "Заяву не вдалося зберегти. Спробуйте ще раз.",
        ],
    ),
    (
        Problem::NeedsAttention,
        [
            "Některá pole je třeba opravit.",
            "Some fields need attention.",
            "Деякі поля потрібно виправити.",
        ],
    ),
    (
        Problem::NeedsCard,
        [
            "Tato služba vyžaduje vaši kartu. Přiložte ji prosím ke čtečce.",
            "This service needs your card. Please hold it to the reader.",
            "Для цієї послуги потрібна ваша картка. Прикладіть її до зчитувача.",
        ],
    ),
    (
        Problem::CardAgain,
        [
            "Přiložte prosím kartu znovu.",
            "Please hold your card to the reader again.",
            "Прикладіть, будь ласка, картку ще раз.",
        ],
    ),
    (
        Problem::NoCard,
        [
            "Karta nebyla přečtena. Zkuste to znovu.",
            "No card was read. Please try again.",
            "Картку не прочитано. Спробуйте ще раз.",
        ],
    ),
    (
        Problem::ServiceGone,
        [
            "Tuto službu zde už nelze vyřídit.",
            "This service is no longer offered here.",
            "Ця послуга тут більше не надається.",
        ],
    ),
    (
        Problem::FormOutdated,
        [
            "Formulář se mezitím změnil. Začněte prosím znovu.",
            "The form has changed meanwhile. Please start again.",
            "Форма тим часом змінилася. Почніть, будь ласка, знову.",
        ],
    ),
    (
        Problem::NotEnrolled,
        [
            "Tento kiosek zatím žádosti nepřijímá.",
            "This kiosk does not take requests yet.",
            "Цей кіоск поки що не приймає заяви.",
        ],
    ),
    (
        Problem::CodeMistyped,
        [
            "Kód žádosti není správně. Zkontrolujte ho prosím.",
            "The tracking code is not right. Please check it.",
            "Код заяви неправильний. Перевірте його, будь ласка.",
        ],
    ),
    (
        Problem::CodeUnknown,
        [
            "Žádost s tímto kódem neznáme.",
            "We know no request with this code.",
            "Заяви з таким кодом не знайдено.",
        ],
    ),
    (
        Problem::LookupFailed,
        [
            "Stav se teď nepodařilo zjistit. Zkuste to prosím později.",
            "The state could not be looked up now. Please try later.",
            "Зараз не вдалося дізнатися стан. Спробуйте пізніше.",
        ],
    ),
    (
        Problem::OutOfService,
        [
            "Kiosek je dočasně mimo provoz.",
            "The kiosk is out of service for a while.",
            "Кіоск тимчасово не працює.",
        ],
    ),
];

impl Problem {
    /// Every problem.
    pub const ALL: [Problem; 12] = [
        Problem::NotSaved,
        Problem::NeedsAttention,
        Problem::NeedsCard,
        Problem::CardAgain,
        Problem::NoCard,
        Problem::ServiceGone,
        Problem::FormOutdated,
        Problem::NotEnrolled,
        Problem::CodeMistyped,
        Problem::CodeUnknown,
        Problem::LookupFailed,
        Problem::OutOfService,
    ];

    /// Its text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let texts = TABLE
            .iter()
            .find(|(p, _)| *p == self)
            .map_or(["", "", ""], |(_, t)| *t);
        match lang {
            Lang::Cs => texts[0],
            Lang::En => texts[1],
            Lang::Uk => texts[2],
        }
    }

    /// Why a submission failed.
    pub fn of_submit(e: &ClientError) -> Problem {
        match e {
            ClientError::Agent(err) => match err.code {
                ErrorCode::Invalid if err.field_errors.is_empty() => Problem::NeedsCard,
                ErrorCode::Invalid => Problem::NeedsAttention,
                ErrorCode::CardExpired => Problem::CardAgain,
                ErrorCode::UnknownService => Problem::ServiceGone,
                ErrorCode::UnknownFormVersion => Problem::FormOutdated,
                ErrorCode::NotEnrolled => Problem::NotEnrolled,
                _ => Problem::NotSaved,
            },
            _ => Problem::NotSaved,
        }
    }

    /// Why a status look-up by code failed.
    pub fn of_status(e: &ClientError) -> Problem {
        match e {
            ClientError::Agent(err) => match err.code {
                ErrorCode::BadTrackingCode => Problem::CodeMistyped,
                ErrorCode::NotFound => Problem::CodeUnknown,
                _ => Problem::LookupFailed,
            },
            _ => Problem::LookupFailed,
        }
    }

    /// Why "my requests" failed.
    pub fn of_my_requests(e: &ClientError) -> Problem {
        match e {
            ClientError::Agent(err) if err.code == ErrorCode::CardExpired => Problem::CardAgain,
            _ => Problem::LookupFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_its_own_text_in_every_language() {
        for p in Problem::ALL {
            let (cs, en, uk) = (p.text(Lang::Cs), p.text(Lang::En), p.text(Lang::Uk));
            assert!(!cs.is_empty() && !en.is_empty() && !uk.is_empty(), "{p:?}");
            assert!(cs != en && uk != en, "{p:?} is not translated");
            assert!(
                uk.chars().any(|c| ('а'..='я').contains(&c)),
                "{p:?}: Ukrainian in Cyrillic"
            );
        }
        assert_eq!(TABLE.len(), Problem::ALL.len(), "one row per problem");
    }
}
