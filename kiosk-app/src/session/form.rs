//! Filling in the form: its pages, the focused field and the keyboard, choices and dates, the
//! shared validator's messages.

#[allow(clippy::wildcard_imports)] // the session's types and imports
use super::*;

impl Session {
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

    pub(super) fn focus_first_text(&mut self) {
        self.focused = self.page_fields().iter().position(|f| is_typed(&f.kind));
    }

    /// Whether the keyboard is shown.
    pub fn keyboard_layout(&self) -> Option<Layout> {
        match self.screen {
            Screen::Catalog if self.searching => Some(self.layout),
            Screen::Status => Some(Layout::Code),
            Screen::Review if self.notify_typing => match self.notify {
                Some(NoticeChannel::Sms) => Some(Layout::Numeric),
                Some(NoticeChannel::Email) => Some(Layout::English),
                None => None,
            },
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
            "enter" if self.screen == Screen::Review => {
                self.notify_typing = false;
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
            Screen::Review
                if self.notify_typing && (self.notify_to.len() < 254 || ch.is_none()) =>
            {
                edit(&mut self.notify_to);
                self.message.clear();
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

    pub(super) fn store_typed(&mut self, field: &Field, text: &str) {
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

    pub(super) fn advance_focus(&mut self) {
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

    pub(super) fn check(&mut self, field: &Field) -> bool {
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

    /// The value as the field shows it: the date the Czech way, a tick, or what was typed.
    pub fn shown(&self, field: &Field) -> String {
        match (&field.kind, self.values.get(&field.id)) {
            (FieldKind::Date { .. }, Some(FieldValue::Text(t))) => {
                Date::parse(t).map(|d| d.czech()).unwrap_or_default()
            }
            (FieldKind::Checkbox, Some(FieldValue::Bool(true))) => "✓".into(),
            _ => self.typed.get(&field.id).cloned().unwrap_or_default(),
        }
    }

    /// Whether option `value` of a choice field is chosen.
    pub fn chosen(&self, field: &Field, value: &str) -> bool {
        match self.values.get(&field.id) {
            Some(FieldValue::Text(t)) => t == value,
            Some(FieldValue::List(l)) => l.iter().any(|x| x == value),
            Some(FieldValue::Bool(b)) => *b,
            _ => false,
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
}

/// The citizen types this field's value on the keyboard.
pub fn is_typed(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Text { .. }
            | FieldKind::Multiline { .. }
            | FieldKind::Number { .. }
            | FieldKind::Email
            | FieldKind::Phone
    )
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
