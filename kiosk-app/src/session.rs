//! One citizen's session: which screen, what they chose and typed, in which language. Pure
//! state with no UI and no I/O, so it is tested directly; [`crate::ui`] shows it and
//! [`crate::app`] sends what it asks for to the agent.
//!
//! A reset (finish, idle time-out, a finished submission) replaces the whole session with a new
//! one: nothing of the previous citizen survives in any field.

use std::collections::BTreeMap;

use protocol::app::{CatalogView, StatusAnswer, SubmitRequest};
use protocol::form::{Field, FieldKind, Service};
use protocol::validate::{Date, FieldError, FieldValue, FormValues, validate_field};
use protocol::{Lang, Text};

use crate::keyboard::{self, Layout};

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
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

/// Key of a field value in `typed` / `values`.
fn is_typed(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Text { .. }
            | FieldKind::Multiline { .. }
            | FieldKind::Number { .. }
            | FieldKind::Email
            | FieldKind::Phone
    )
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

    /// Open the status look-up.
    pub fn open_status(&mut self) {
        self.screen = Screen::Status;
        self.message.clear();
    }

    /// The services the catalog screen lists: of the chosen category, matching the search.
    pub fn visible_services<'c>(&self, catalog: &'c CatalogView) -> Vec<&'c Service> {
        let category = self
            .category
            .and_then(|i| catalog.categories.get(i))
            .map(|c| c.id.as_str());
        let needle = self.search.to_lowercase();
        catalog
            .services
            .iter()
            .filter(|s| category.is_none_or(|c| s.category == c))
            .filter(|s| {
                needle.is_empty()
                    || s.name.get(self.lang).to_lowercase().contains(&needle)
                    || s.description
                        .get(self.lang)
                        .to_lowercase()
                        .contains(&needle)
            })
            .collect()
    }

    /// Picks a category (again to show all).
    pub fn pick_category(&mut self, i: usize) {
        self.category = if self.category == Some(i) {
            None
        } else {
            Some(i)
        };
    }

    /// Picks a service shown at `i`: its form starts.
    pub fn pick_service(&mut self, catalog: &CatalogView, i: usize) {
        let Some(service) = self.visible_services(catalog).get(i).map(|s| (*s).clone()) else {
            return;
        };
        self.service = Some(service);
        self.page = 0;
        self.values.clear();
        self.typed.clear();
        self.errors.clear();
        self.searching = false;
        self.screen = Screen::Form;
        self.focus_first_text();
    }

    /// The fields of the current page.
    pub fn page_fields(&self) -> &[Field] {
        self.service
            .as_ref()
            .and_then(|s| s.form.pages.get(self.page))
            .map(|p| p.fields.as_slice())
            .unwrap_or(&[])
    }

    /// Pages of the form.
    pub fn pages(&self) -> usize {
        self.service
            .as_ref()
            .map_or(1, |s| s.form.pages.len().max(1))
    }

    fn focus_first_text(&mut self) {
        self.focused = self.page_fields().iter().position(|f| is_typed(&f.kind));
    }

    /// Whether the keyboard is shown.
    pub fn keyboard_layout(&self) -> Option<Layout> {
        match self.screen {
            Screen::Catalog if self.searching => Some(self.layout),
            Screen::Status => Some(Layout::Code),
            Screen::Form => {
                let f = self.page_fields().get(self.focused?)?;
                match f.kind {
                    FieldKind::Number { .. } | FieldKind::Phone => Some(Layout::Numeric),
                    ref k if is_typed(k) => Some(self.layout),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Taps the catalog's search box.
    pub fn search_tapped(&mut self) {
        self.searching = !self.searching;
    }

    /// Focuses field `i` of the page.
    pub fn focus(&mut self, i: usize) {
        if self.page_fields().get(i).is_some_and(|f| is_typed(&f.kind)) {
            self.focused = Some(i);
        }
    }

    /// A key of the on-screen keyboard: a character, or an action.
    pub fn key(&mut self, key: &str) {
        match key {
            "shift" => {
                self.shift = !self.shift;
                return;
            }
            "next-layout" => {
                self.layout = keyboard::next(self.layout);
                return;
            }
            "enter" => {
                self.advance_focus();
                return;
            }
            _ => {}
        }
        let ch = match key {
            "space" => Some(" ".to_owned()),
            "backspace" => None,
            k => Some(k.to_owned()),
        };
        let limit = protocol::form::limits::MAX_VALUE_LEN;
        let edit = |s: &mut String| match &ch {
            Some(c) if s.chars().count() < limit => s.push_str(c),
            Some(_) => {}
            None => {
                s.pop();
            }
        };
        match self.screen {
            Screen::Catalog if self.searching => edit(&mut self.search),
            Screen::Status if self.status_code.chars().count() < 16 || ch.is_none() => {
                edit(&mut self.status_code)
            }
            Screen::Form => {
                let Some(field) = self
                    .focused
                    .and_then(|i| self.page_fields().get(i))
                    .cloned()
                else {
                    return;
                };
                let text = self.typed.entry(field.id.clone()).or_default();
                edit(text);
                let text = text.clone();
                self.store_typed(&field, &text);
                // Live validation once the citizen has been told about the field.
                if self.errors.contains_key(&field.id) {
                    self.check(&field);
                }
            }
            _ => {}
        }
        if self.shift && ch.is_some() {
            self.shift = false;
        }
    }

    fn store_typed(&mut self, field: &Field, text: &str) {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            self.values.remove(&field.id);
            return;
        }
        let value = match field.kind {
            FieldKind::Number { .. } => match trimmed.replace(',', ".").parse::<f64>() {
                Ok(n) => FieldValue::Number(n),
                Err(_) => FieldValue::Text(trimmed.to_owned()),
            },
            _ => FieldValue::Text(text.to_owned()),
        };
        self.values.insert(field.id.clone(), value);
    }

    fn advance_focus(&mut self) {
        let fields = self.page_fields();
        let from = self.focused.map_or(0, |i| i + 1);
        self.focused = (from..fields.len()).find(|i| is_typed(&fields[*i].kind));
    }

    /// Toggles option `j` of choice field `i` (or the checkbox `i`).
    pub fn toggle(&mut self, i: usize, j: usize) {
        let Some(field) = self.page_fields().get(i).cloned() else {
            return;
        };
        match &field.kind {
            FieldKind::Choice { options } => {
                if let Some(o) = options.get(j) {
                    self.values
                        .insert(field.id.clone(), FieldValue::Text(o.value.clone()));
                }
            }
            FieldKind::MultiChoice { options, .. } => {
                let Some(o) = options.get(j) else { return };
                let mut list = match self.values.remove(&field.id) {
                    Some(FieldValue::List(l)) => l,
                    _ => Vec::new(),
                };
                if let Some(pos) = list.iter().position(|v| v == &o.value) {
                    list.remove(pos);
                } else {
                    list.push(o.value.clone());
                }
                if !list.is_empty() {
                    self.values.insert(field.id.clone(), FieldValue::List(list));
                }
            }
            FieldKind::Checkbox => {
                let on = matches!(self.values.get(&field.id), Some(FieldValue::Bool(true)));
                if on {
                    self.values.remove(&field.id);
                } else {
                    self.values.insert(field.id.clone(), FieldValue::Bool(true));
                }
            }
            _ => return,
        }
        if self.errors.contains_key(&field.id) {
            self.check(&field);
        }
    }

    /// Steps the date field `i`: `day+`, `month-`, `year+`, …; the first tap sets `today`, or the
    /// nearest allowed date (a date of birth starts at its latest allowed day).
    pub fn date_step(&mut self, i: usize, step: &str, today: Date) {
        let Some(field) = self.page_fields().get(i).cloned() else {
            return;
        };
        let current = match self.values.get(&field.id) {
            Some(FieldValue::Text(s)) => Date::parse(s),
            _ => None,
        };
        let FieldKind::Date { min, max } = &field.kind else {
            return;
        };
        let bound = |b: &Option<String>| b.as_deref().and_then(Date::parse);
        let d = match current {
            None => {
                let mut d = today;
                if let Some(max) = bound(max) {
                    d = d.min(max);
                }
                if let Some(min) = bound(min) {
                    d = d.max(min);
                }
                d
            }
            Some(d) => step_date(d, step),
        };
        self.values.insert(
            field.id.clone(),
            FieldValue::Text(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
        );
        if self.errors.contains_key(&field.id) {
            self.check(&field);
        }
    }

    fn check(&mut self, field: &Field) -> bool {
        match validate_field(field, self.values.get(&field.id)) {
            Ok(()) => {
                self.errors.remove(&field.id);
                true
            }
            Err(problem) => {
                self.errors.insert(
                    field.id.clone(),
                    FieldError {
                        field: field.id.clone(),
                        problem,
                    },
                );
                false
            }
        }
    }

    /// The message next to a field, in the session's language.
    pub fn error_for(&self, field: &Field) -> String {
        let hint = match &field.kind {
            FieldKind::Text { pattern_hint, .. } => pattern_hint.as_ref(),
            _ => None,
        };
        self.errors
            .get(&field.id)
            .map(|e| e.message(self.lang, hint))
            .unwrap_or_default()
    }

    /// Next: validates the page; on to the next page, the card, or the review.
    pub fn next(&mut self) {
        let fields: Vec<Field> = self.page_fields().to_vec();
        let mut ok = true;
        for f in &fields {
            ok &= self.check(f);
        }
        if !ok {
            self.focused = fields
                .iter()
                .position(|f| self.errors.contains_key(&f.id) && is_typed(&f.kind))
                .or(self.focused);
            return;
        }
        if self.page + 1 < self.pages() {
            self.page += 1;
            self.focus_first_text();
        } else if self.service.as_ref().is_some_and(|s| s.requires_identity)
            && self.identity.is_none()
        {
            self.screen = Screen::Identify;
            self.message.clear();
        } else {
            self.screen = Screen::Review;
            self.message.clear();
        }
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

/// `d` moved by one day, month or year; days are clamped to the month's length.
pub fn step_date(d: Date, step: &str) -> Date {
    let (mut y, mut m, mut day) = (i32::from(d.year), i32::from(d.month), i32::from(d.day));
    match step {
        "day+" => day += 1,
        "day-" => day -= 1,
        "month+" => m += 1,
        "month-" => m -= 1,
        "year+" => y += 1,
        "year-" => y -= 1,
        _ => {}
    }
    if m > 12 {
        m = 1;
    }
    if m < 1 {
        m = 12;
    }
    let y = y.clamp(1900, 2999);
    let days = (28..=31)
        .rev()
        .find(|n| Date::parse(&format!("{y:04}-{m:02}-{n:02}")).is_some())
        .unwrap_or(28);
    if day > days {
        day = 1;
    }
    if day < 1 {
        day = days;
    }
    Date {
        year: y as u16,
        month: m as u8,
        day: day as u8,
    }
}

impl Session {
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

/// The text in the citizen's language.
fn tr(lang: Lang, cs: &str, en: &str, uk: &str) -> String {
    Text::new(cs, en, uk).get(lang).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> CatalogView {
        crate::render::demo_catalog()
    }

    fn today() -> Date {
        Date {
            year: 2026,
            month: 11,
            day: 23,
        }
    }

    #[test]
    fn date_steps_wrap_and_clamp_to_the_month() {
        let d = |y, m, day| Date {
            year: y,
            month: m,
            day,
        };
        assert_eq!(step_date(d(2026, 1, 31), "month+"), d(2026, 2, 1));
        assert_eq!(step_date(d(2026, 3, 1), "day-"), d(2026, 3, 31));
        assert_eq!(step_date(d(2024, 2, 29), "year+"), d(2025, 2, 1));
        assert_eq!(step_date(d(2026, 12, 5), "month+"), d(2026, 1, 5));
        assert_eq!(step_date(d(1900, 1, 1), "year-"), d(1900, 1, 1));
    }

    #[test]
    fn a_date_of_birth_starts_at_its_latest_allowed_day() {
        let mut s = Session::new();
        s.start();
        s.pick_service(&catalog(), 0);
        let i = s
            .page_fields()
            .iter()
            .position(|f| f.id == "narozeni")
            .unwrap();
        s.date_step(i, "day+", today());
        assert_eq!(
            s.values.get("narozeni"),
            Some(&FieldValue::Text("2010-12-31".into()))
        );
        s.date_step(i, "year-", today());
        assert_eq!(
            s.values.get("narozeni"),
            Some(&FieldValue::Text("2009-12-31".into()))
        );
    }

    #[test]
    fn choices_toggle_and_show_their_labels_in_the_review() {
        let c = catalog();
        let mut s = Session::new();
        s.start();
        let i = s
            .visible_services(&c)
            .iter()
            .position(|x| x.id == "svoz-odpadu")
            .unwrap();
        s.pick_service(&c, i);
        let multi = s
            .page_fields()
            .iter()
            .position(|f| matches!(f.kind, FieldKind::MultiChoice { .. }))
            .unwrap();
        s.toggle(multi, 0);
        s.toggle(multi, 1);
        s.toggle(multi, 0);
        let id = s.page_fields()[multi].id.clone();
        assert!(matches!(s.values.get(&id), Some(FieldValue::List(l)) if l.len() == 1));
        let rows = s.review_rows();
        assert_eq!(rows.len(), 1);
        assert!(
            !rows[0].1.contains('-'),
            "labels, not option values: {:?}",
            rows[0]
        );
    }

    #[test]
    fn a_card_on_the_status_screen_asks_for_its_requests_and_is_not_kept() {
        let mut s = Session::new();
        s.open_status();
        s.waiting_for_card();
        assert_eq!(s.message, "Přiložte kartu ke čtečce.");
        let ask = s.card_read("ab".repeat(32), "••••1111".into());
        assert_eq!(ask, Some(Request::MyRequests("ab".repeat(32))));
        assert!(s.identity.is_none(), "the card is only used to ask");
        s.set_lang(Lang::En);
        s.requests_listed(Vec::new());
        assert_eq!(s.message, "No request was made with this card.");
        // On the home screen a stray card does nothing.
        let mut h = Session::new();
        assert_eq!(h.card_read("ab".repeat(32), "x".into()), None);
        assert!(h.identity.is_none());
    }

    #[test]
    fn a_reset_leaves_exactly_a_new_session() {
        let c = catalog();
        let mut s = Session::new();
        s.set_lang(Lang::Uk);
        s.high_contrast = true;
        s.start();
        s.pick_service(&c, 0);
        s.key("J");
        s.next();
        s.identity = Some(("hash".into(), "••••1234".into()));
        s.reset();
        assert_eq!(format!("{s:?}"), format!("{:?}", Session::new()));
    }

    #[test]
    fn search_filters_in_the_citizens_language_and_a_retry_keeps_the_submission_id() {
        let c = catalog();
        let mut s = Session::new();
        s.set_lang(Lang::En);
        s.start();
        s.search_tapped();
        for k in ["w", "a", "s", "t", "e"] {
            s.key(k);
        }
        assert_eq!(s.visible_services(&c).len(), 1);
        s.pick_service(&c, 0);
        assert_eq!(s.service.as_ref().unwrap().id, "svoz-odpadu");
        let Some(Request::Submit(a)) = s.submit() else {
            panic!()
        };
        s.submit_failed("try again".into());
        let Some(Request::Submit(b)) = s.submit() else {
            panic!()
        };
        assert_eq!(a.submission_id, b.submission_id);
    }
}
