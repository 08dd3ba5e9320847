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

    /// The citizen's choice on the review screen: no notices (`None`), or by SMS or e-mail to
    /// the form's phone or e-mail value (typed on the review screen when the form has none).
    pub fn choose_notify(&mut self, channel: Option<NoticeChannel>) {
        self.message.clear();
        if channel == self.notify {
            return;
        }
        self.notify = channel;
        self.notify_to = channel
            .and_then(|c| self.form_address(c))
            .unwrap_or_default();
        self.notify_typing = channel.is_some() && self.notify_to.is_empty();
    }

    /// The address field of the review screen was tapped: the keyboard types into it.
    pub fn edit_notify_address(&mut self) {
        self.notify_typing = self.notify.is_some();
    }

    /// The first phone (for SMS) or e-mail value the citizen entered in the form.
    fn form_address(&self, channel: NoticeChannel) -> Option<String> {
        let service = self.service.as_ref()?;
        service
            .form
            .pages
            .iter()
            .flat_map(|p| &p.fields)
            .filter(|f| match channel {
                NoticeChannel::Sms => matches!(f.kind, FieldKind::Phone),
                NoticeChannel::Email => matches!(f.kind, FieldKind::Email),
            })
            .find_map(|f| match self.values.get(&f.id) {
                Some(FieldValue::Text(t)) if !t.trim().is_empty() => Some(t.trim().to_owned()),
                _ => None,
            })
    }

    /// Submit: what to send to the agent (the same id on every retry).
    pub fn submit(&mut self) -> Option<Request> {
        let notify = match self.notify {
            None => None,
            Some(channel) => {
                let asked = NoticeRequest {
                    channel,
                    to: self.notify_to.clone(),
                };
                match asked.normalized() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.notify_typing = true;
                        self.message = match channel {
                            NoticeChannel::Sms => tr(
                                self.lang,
                                "Zadejte telefonní číslo, např. 777 123 456 nebo +420 777 123 456.",
                                "Enter a phone number, e.g. +420 777 123 456.",
                                "Введіть номер телефону, напр. +420 777 123 456.",
                            ),
                            NoticeChannel::Email => tr(
                                self.lang,
                                "Zadejte e-mailovou adresu, např. jana@example.cz.",
                                "Enter an e-mail address, e.g. jana@example.cz.",
                                "Введіть адресу електронної пошти, напр. jana@example.cz.",
                            ),
                        };
                        return None;
                    }
                }
            }
        };
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
            notify,
        }))
    }

    /// The agent stored it; the receipt printed or not.
    pub fn submitted(&mut self, code: String, url: String, printed: bool) {
        self.receipt = Some(Receipt { code, printed, url });
        self.screen = Screen::Done;
        // The personal data is no longer needed on screen.
        self.values.clear();
        self.typed.clear();
        self.notify_to.clear();
    }

    /// The agent refused or failed: back to the review with the reason.
    pub fn submit_failed(&mut self, message: String) {
        self.screen = Screen::Review;
        self.message = message;
    }
}
