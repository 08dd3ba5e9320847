//! Looking a request up by its tracking code or by card.

#[allow(clippy::wildcard_imports)] // the session's types and imports
use super::*;

impl Session {
    /// Open the status look-up.
    pub fn open_status(&mut self) {
        self.screen = Screen::Status;
        self.message.clear();
    }

    /// Look up the typed code.
    pub fn lookup(&mut self) -> Option<Request> {
        let code = self.status_code.trim().to_owned();
        if code.is_empty() {
            return None;
        }
        self.statuses.clear();
        Some(Request::Status(code))
    }

    /// The answer to a look-up.
    pub fn status_answer(&mut self, answer: StatusAnswer) {
        self.statuses = vec![answer];
        self.message.clear();
    }

    /// The requests made with the citizen's card.
    pub fn requests_listed(&mut self, requests: Vec<StatusAnswer>) {
        self.message = if requests.is_empty() {
            tr(
                self.lang,
                "S touto kartou nebyla podána žádná žádost.",
                "No request was made with this card.",
                "З цією карткою не подано жодної заяви.",
            )
        } else {
            String::new()
        };
        self.statuses = requests;
    }

    /// A look-up that found nothing or failed.
    pub fn status_failed(&mut self, message: String) {
        self.statuses.clear();
        self.message = message;
    }
}
