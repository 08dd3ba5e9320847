//! One citizen's session: which screen, what they chose and typed, in which language. Pure
//! state with no UI and no I/O, so it is tested directly; [`crate::ui`] shows it and
//! [`crate::app`] sends what it asks for to the agent.
//!
//! A reset (finish, idle time-out, a finished submission) replaces the whole session with a new
//! one: nothing of the previous citizen survives in any field.

use std::collections::BTreeMap;

use protocol::app::{CatalogView, StatusAnswer, SubmitRequest};
use protocol::fleet::{NoticeChannel, NoticeRequest};
use protocol::form::{Field, FieldKind, Service};
use protocol::validate::{Date, FieldError, FieldValue, FormValues, validate_field};
use protocol::{Lang, Text};

use crate::keyboard::{self, Layout};

mod catalog;
mod form;
mod status;
mod submit;
#[cfg(test)]
mod tests;

pub use form::{is_typed, step_date};

/// The screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Attract screen with notices.
    Home,
    /// Categories and services.
    Catalog,
    /// The form wizard.
    Form,
    /// Waiting for the citizen's card.
    Identify,
    /// Everything entered, to confirm.
    Review,
    /// The agent is storing it.
    Submitting,
    /// The tracking code.
    Done,
    /// Status look-up.
    Status,
    /// The agent cannot be reached.
    OutOfService,
}

/// What the session needs from the agent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Store this submission.
    Submit(SubmitRequest),
    /// Wait for a card.
    ReadCard,
    /// Look up a tracking code.
    Status(String),
    /// List the requests made with a card (its keyed hash).
    MyRequests(String),
}

/// A finished submission as the done screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The tracking code.
    pub code: String,
    /// Whether the printer proved it printed the receipt.
    pub printed: bool,
    /// The public status page, for the QR code on screen.
    pub url: String,
}

/// One citizen's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The screen shown.
    pub screen: Screen,
    /// The citizen's language.
    pub lang: Lang,
    /// High-contrast theme.
    pub high_contrast: bool,
    /// Large text.
    pub large_text: bool,
    /// The selected category, by index.
    pub category: Option<usize>,
    /// The catalog search text.
    pub search: String,
    /// The search box has the keyboard.
    pub searching: bool,
    /// The chosen service.
    pub service: Option<Service>,
    /// The wizard page.
    pub page: usize,
    /// What was entered, by field id.
    pub values: FormValues,
    /// Text typed into text-like fields, by field id (numbers and dates are parsed from it).
    pub typed: BTreeMap<String, String>,
    /// The focused field on this page.
    pub focused: Option<usize>,
    /// Problems shown next to fields, by field id.
    pub errors: BTreeMap<String, FieldError>,
    /// The keyboard layout for text.
    pub layout: Layout,
    /// Shift is on.
    pub shift: bool,
    /// The card's keyed hash and masked number, once presented.
    pub identity: Option<(String, String)>,
    /// The submission's id, chosen once so that a retry is not a second submission.
    pub submission_id: Option<uuid::Uuid>,
    /// The stored submission.
    pub receipt: Option<Receipt>,
    /// The code typed on the status screen.
    pub status_code: String,
    /// The status answers: one for a typed code, or the card's requests, newest first.
    pub statuses: Vec<StatusAnswer>,
    /// A message for the current screen (an error from the agent, "no card", …).
    pub message: String,
    /// How the citizen asked (on the review screen) to be told about changes, if they did.
    pub notify: Option<NoticeChannel>,
    /// Where to: taken from the form's phone or e-mail field, or typed on the review screen.
    pub notify_to: String,
    /// The keyboard types into the address on the review screen.
    pub notify_typing: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

/// The text in the citizen's language.
fn tr(lang: Lang, cs: &str, en: &str, uk: &str) -> String {
    Text::new(cs, en, uk).get(lang).to_owned()
}

impl Session {
    /// A fresh session on the home screen, in Czech.
    pub fn new() -> Session {
        Session {
            screen: Screen::Home,
            lang: Lang::Cs,
            high_contrast: false,
            large_text: false,
            category: None,
            search: String::new(),
            searching: false,
            service: None,
            page: 0,
            values: FormValues::new(),
            typed: BTreeMap::new(),
            focused: None,
            errors: BTreeMap::new(),
            layout: Layout::Czech,
            shift: false,
            identity: None,
            submission_id: None,
            receipt: None,
            status_code: String::new(),
            statuses: Vec::new(),
            message: String::new(),
            notify: None,
            notify_to: String::new(),
            notify_typing: false,
        }
    }

    /// Forgets everything: the next citizen starts from nothing.
    pub fn reset(&mut self) {
        *self = Session::new();
    }

    /// Switches the language (and the text keyboard with it).
    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
        self.layout = match lang {
            Lang::Cs => Layout::Czech,
            Lang::En => Layout::English,
            Lang::Uk => Layout::Ukrainian,
        };
        // Messages are rebuilt in the new language.
        self.message.clear();
    }

    /// Start: the catalog.
    pub fn start(&mut self) {
        self.screen = Screen::Catalog;
    }

    /// Back: the previous page or screen.
    pub fn back(&mut self) {
        match self.screen {
            Screen::Form if self.page > 0 => {
                self.page -= 1;
                self.focus_first_text();
            }
            Screen::Form => {
                self.screen = Screen::Catalog;
                self.service = None;
                self.values.clear();
                self.typed.clear();
                self.errors.clear();
            }
            Screen::Identify | Screen::Review => {
                self.screen = Screen::Form;
                self.focus_first_text();
            }
            Screen::Catalog | Screen::Status => self.reset(),
            _ => {}
        }
    }
}
