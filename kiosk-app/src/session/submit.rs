//! Identifying with a card, the review and the submission.

#[allow(clippy::wildcard_imports)] // the session's types and imports
use super::*;

impl Session {
    /// The card was read: on to the review, or, on the status screen, the card's requests.
    pub fn card_read(&mut self, identity: String, masked: String) -> Option<Request> {
        self.message.clear();
        match self.screen {
            Screen::Identify => {
                self.identity = Some((identity, masked));
                self.screen = Screen::Review;
                None
            }
            Screen::Status => {
                // Only to ask; the card is not kept for anything else.
                self.statuses.clear();
                self.status_code.clear();
                self.message = tr(
                    self.lang,
                    "Hledáme žádosti podané s kartou…",
                    "Looking for the requests made with your card…",
                    "Шукаємо заяви, подані з карткою…",
                );
                Some(Request::MyRequests(identity))
            }
            _ => None,
        }
    }

    /// The status screen waits for the citizen's card.
    pub fn waiting_for_card(&mut self) {
        self.message = tr(
            self.lang,
            "Přiložte kartu ke čtečce.",
            "Hold your card to the reader.",
            "Прикладіть картку до зчитувача.",
        );
    }

    /// The review's rows: label and value as entered, in the citizen's language.
    pub fn review_rows(&self) -> Vec<(String, String)> {
        let Some(s) = &self.service else {
            return Vec::new();
        };
        let lang = self.lang;
        let yes = Text::new("Ano", "Yes", "Так");
        s.form
            .pages
            .iter()
            .flat_map(|p| &p.fields)
            .filter_map(|f| {
                let v = self.values.get(&f.id)?;
                let option = |value: &str| match &f.kind {
                    FieldKind::Choice { options } | FieldKind::MultiChoice { options, .. } => {
                        options
                            .iter()
                            .find(|o| o.value == value)
                            .map(|o| o.label.get(lang).to_owned())
                            .unwrap_or_else(|| value.to_owned())
                    }
                    _ => value.to_owned(),
                };
                let shown = match v {
                    FieldValue::Bool(true) => yes.get(lang).to_owned(),
                    FieldValue::Bool(false) => return None,
                    FieldValue::Number(n) => {
                        self.typed.get(&f.id).cloned().unwrap_or(n.to_string())
                    }
                    FieldValue::Text(t) if matches!(f.kind, FieldKind::Date { .. }) => {
                        Date::parse(t)
                            .map(|d| d.czech())
                            .unwrap_or_else(|| t.clone())
                    }
                    FieldValue::Text(t) => option(t),
                    FieldValue::List(l) => {
                        l.iter().map(|v| option(v)).collect::<Vec<_>>().join(", ")
                    }
                };
                Some((f.label.get(lang).to_owned(), shown))
            })
            .collect()
    }

    /// Submit: what to send to the agent (the same id on every retry).
    pub fn submit(&mut self) -> Option<Request> {
        let service = self.service.as_ref()?;
        let id = *self.submission_id.get_or_insert_with(uuid::Uuid::new_v4);
        self.screen = Screen::Submitting;
        self.message.clear();
        Some(Request::Submit(SubmitRequest {
            submission_id: id,
            service_id: service.id.clone(),
            form_version: service.version,
            language: self.lang,
            values: self.values.clone(),
            identity: self.identity.as_ref().map(|(hash, _)| hash.clone()),
            notify: None,
        }))
    }

    /// The agent stored it; the receipt printed or not.
    pub fn submitted(&mut self, code: String, url: String, printed: bool) {
        self.receipt = Some(Receipt { code, printed, url });
        self.screen = Screen::Done;
        // The personal data is no longer needed on screen.
        self.values.clear();
        self.typed.clear();
    }

    /// The agent refused or failed: back to the review with the reason.
    pub fn submit_failed(&mut self, message: String) {
        self.screen = Screen::Review;
        self.message = message;
    }
}
