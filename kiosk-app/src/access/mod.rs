//! Audio mode and keypad navigation: a kiosk a blind citizen can use (EN 301 549, clauses
//! 5.1.3 and 5.1.6).
//!
//! - [`controls`]: every screen's controls in keypad order, with what the screen shows of each.
//! - [`texts`]: the UI's own translation catalogues, so speech says what the screen shows.
//! - this file: [`Access`], the focus, audio mode and what to say after each change.
//!
//! The keypad (a numeric keypad or arrow keys, [`Pad::from_key`]) moves a focus through the
//! controls, and activating one calls the same callback a tap on it does. The focus is drawn as
//! a ring (`View.focus`). In audio mode (started by a headset plugged in, by the help key, or
//! by a finger held two seconds on the city's name, `TopBar.hold`) the app says the screen's
//! title on arrival, each control the focus reaches (label, role, state, value, error), the
//! validator's messages as they appear, the tracking code character by character, status
//! answers; the agent speaks it ([`protocol::app::Utterance`]). A typed
//! value or the card is spoken only into a headset: without one it is "hidden".

pub mod controls;
pub mod texts;

use protocol::Lang;
use protocol::app::{CatalogView, Utterance};

use crate::session::{Screen, Session};
use crate::ui::Chrome;
use controls::{Act, Control, Role, controls, screen_texts};
use texts::{ui, ui_with};

/// A key of the keypad, by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pad {
    /// The previous control (a key above, on the keyboard).
    Up,
    /// The next control (a key below, on the keyboard).
    Down,
    /// The previous control (the key to the left, on the keyboard).
    Left,
    /// The next control (the key to the right, on the keyboard).
    Right,
    /// Activate the focused control.
    Activate,
    /// Back (out of the keyboard, or the screen's Back).
    Back,
    /// Audio mode on, and its help.
    Help,
    /// Say the last utterance again.
    Repeat,
    /// Stop speaking.
    Stop,
    /// Speak slower.
    Slower,
    /// Speak faster.
    Faster,
    /// Speak quieter.
    Quieter,
    /// Speak louder.
    Louder,
    /// Hide or show the screen.
    Privacy,
}

impl Pad {
    /// The key of a Slint key event (its text): arrows, Enter, Escape, Backspace, F1–F8, or a
    /// numeric keypad's keys (8 2 4 6 move, 5 activates, `-` back, `*` help, `/` repeat, 0
    /// stop, 7 9 speed, 1 3 volume, `.` privacy). With Num Lock off a keypad sends the arrows,
    /// Home, Page Up, End, Page Down, Insert and Delete for those keys: the same.
    pub fn from_key(text: &str) -> Option<Pad> {
        use slint::platform::Key;
        let mut chars = text.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return None;
        };
        let is = |k: Key| char::from(k) == c;
        Some(if is(Key::UpArrow) || c == '8' {
            Pad::Up
        } else if is(Key::DownArrow) || c == '2' {
            Pad::Down
        } else if is(Key::LeftArrow) || c == '4' {
            Pad::Left
        } else if is(Key::RightArrow) || c == '6' {
            Pad::Right
        } else if is(Key::Return) || c == '\r' || c == '5' || c == ' ' {
            Pad::Activate
        } else if is(Key::Escape) || is(Key::Backspace) || c == '-' {
            Pad::Back
        } else if is(Key::F1) || c == '*' {
            Pad::Help
        } else if is(Key::F2) || c == '/' {
            Pad::Repeat
        } else if is(Key::F3) || is(Key::Insert) || c == '0' {
            Pad::Stop
        } else if is(Key::F4) || is(Key::Delete) || c == '.' || c == ',' {
            Pad::Privacy
        } else if is(Key::F5) || is(Key::Home) || c == '7' {
            Pad::Slower
        } else if is(Key::F6) || is(Key::PageUp) || c == '9' {
            Pad::Faster
        } else if is(Key::F7) || is(Key::End) || c == '1' {
            Pad::Quieter
        } else if is(Key::F8) || is(Key::PageDown) || c == '3' {
            Pad::Louder
        } else {
            return None;
        })
    }
}

/// The default speed and loudness (1 to 9).
const MIDDLE: u8 = 5;

/// What the window showed when speech last looked.
#[derive(Debug, Clone, Default, PartialEq)]
struct Seen {
    screen: Option<Screen>,
    page: usize,
    lang: Option<Lang>,
    service: Option<String>,
    message: String,
    errors: Vec<String>,
    statuses: usize,
    idle: bool,
}

impl Seen {
    fn of(session: &Session, chrome: &Chrome) -> Seen {
        Seen {
            screen: Some(session.screen),
            page: session.page,
            lang: Some(session.lang),
            service: session.service.as_ref().map(|s| s.id.clone()),
            message: session.message.clone(),
            errors: session.errors.keys().cloned().collect(),
            statuses: session.statuses.len(),
            idle: chrome.idle_warning.is_some(),
        }
    }

    fn arrived(&self, now: &Seen) -> bool {
        (self.screen, self.page, self.lang, &self.service)
            != (now.screen, now.page, now.lang, &now.service)
    }
}

/// What the session, the catalog and the chrome show now.
#[derive(Debug, Clone, Copy)]
pub struct Now<'a> {
    /// The session.
    pub session: &'a Session,
    /// The catalog.
    pub catalog: Option<&'a CatalogView>,
    /// The window's chrome.
    pub chrome: &'a Chrome,
}

impl Now<'_> {
    fn controls(&self) -> Vec<Control> {
        controls(self.session, self.catalog, self.chrome)
    }
}

/// What a key asks of the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing (the key is not the keypad's, or there is nowhere to go).
    Nothing,
    /// The focus moved or a setting changed: redraw and say what [`Access::observe`] says.
    Redraw,
    /// Do what a tap on the focused control does, then redraw.
    Activate(Act),
    /// Say this now.
    Say(Utterance),
    /// Stop speaking.
    Stop,
}

/// The focus, audio mode and its settings, for one session (a reset ends them).
#[derive(Debug, Clone)]
pub struct Access {
    /// Audio mode is on: the app speaks.
    pub audio: bool,
    /// A headset is plugged in (the agent says so).
    pub headset: bool,
    /// The focused control's id, once the keypad has been used.
    pub focus: Option<String>,
    /// Speed, 1 to 9.
    pub rate: u8,
    /// Loudness, 1 to 9.
    pub volume: u8,
    /// The privacy screen: the display is blanked.
    pub blank: bool,
    last: Option<Utterance>,
    seen: Seen,
    /// What the last key asked for, for [`Access::observe`] to say its outcome.
    pending: Option<Pending>,
}

#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Moved,
    Activated(Act),
    Said(Vec<String>),
}

impl Default for Access {
    fn default() -> Self {
        Access::new()
    }
}

/// Joins sentences: each ends with a full stop unless it ends with its own punctuation.
fn sentences(parts: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(p);
        if !p.ends_with(['.', '?', '!', '…', ':']) {
            out.push('.');
        }
    }
    out
}

impl Access {
    /// Audio mode off, nothing focused.
    pub fn new() -> Access {
        Access {
            audio: false,
            headset: false,
            focus: None,
            rate: MIDDLE,
            volume: MIDDLE,
            blank: false,
            last: None,
            seen: Seen::default(),
            pending: None,
        }
    }

    /// The session ended (finish, idle time-out): audio mode ends silently, the settings and
    /// the focus go; the headset stays as it is.
    pub fn end(&mut self) {
        let headset = self.headset;
        *self = Access::new();
        self.headset = headset;
    }

    /// How `c` is said: label, role, state, value (or "hidden"), required, error.
    pub fn describe(&self, c: &Control, lang: Lang) -> (String, bool) {
        let mut parts = vec![c.label.clone()];
        if let Some(role) = c.role.name() {
            parts.push(ui(lang, role));
        }
        if let Some(on) = c.checked {
            let (yes, no) = match c.role {
                Role::Checkbox => ("checked", "not checked"),
                _ => ("selected", "not selected"),
            };
            parts.push(ui(lang, if on { yes } else { no }));
        }
        let mut private = false;
        if c.value.is_empty() {
            if c.role == Role::TextField {
                parts.push(ui(lang, "empty"));
            }
        } else if c.private && !self.headset {
            parts.push(ui(lang, "hidden"));
        } else {
            private = c.private;
            parts.push(c.value.clone());
        }
        if c.required {
            parts.push(ui(lang, "required"));
        }
        if !c.error.is_empty() {
            parts.push(c.error.clone());
        }
        let text = parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        (text, private)
    }

    fn utterance(&self, text: String, lang: Lang, private: bool) -> Option<Utterance> {
        (!text.is_empty()).then_some(Utterance {
            text,
            lang,
            rate: self.rate,
            volume: self.volume,
            private,
        })
    }

    /// What the help says: how to use the keypad, and (without a headset) that typed values
    /// stay silent.
    fn help(&self, lang: Lang) -> Vec<String> {
        let mut out = vec![ui(lang, texts::SPOKEN[0])];
        if !self.headset {
            out.push(ui(lang, texts::SPOKEN[1]));
        }
        out
    }

    /// Handles a key of the keypad.
    pub fn key(&mut self, pad: Pad, now: Now<'_>) -> Step {
        let lang = now.session.lang;
        let list = now.controls();
        let at = self
            .focus
            .as_ref()
            .and_then(|id| list.iter().position(|c| &c.id == id));
        match pad {
            Pad::Help => {
                let mut say = self.help(lang);
                say.extend(screen_texts(now.session, now.catalog, now.chrome));
                if self.focus.is_none() {
                    self.focus = list.first().map(|c| c.id.clone());
                }
                self.audio = true;
                self.pending = Some(Pending::Said(say));
                Step::Redraw
            }
            Pad::Repeat => match (&self.last, self.audio) {
                (Some(u), true) => Step::Say(u.clone()),
                _ => Step::Nothing,
            },
            Pad::Stop => Step::Stop,
            Pad::Slower | Pad::Faster | Pad::Quieter | Pad::Louder => {
                let (value, word) = match pad {
                    Pad::Slower | Pad::Faster => (&mut self.rate, "Speed {}"),
                    _ => (&mut self.volume, "Volume {}"),
                };
                *value = match pad {
                    Pad::Slower | Pad::Quieter => value.saturating_sub(1).max(1),
                    _ => (*value + 1).min(9),
                };
                let text = ui_with(lang, word, &[&value.to_string()]);
                self.pending = Some(Pending::Said(vec![text]));
                Step::Redraw
            }
            Pad::Privacy => {
                self.blank = !self.blank;
                let text = ui(
                    lang,
                    if self.blank {
                        "The screen is hidden."
                    } else {
                        "The screen is shown."
                    },
                );
                self.pending = Some(Pending::Said(vec![text]));
                Step::Redraw
            }
            Pad::Activate => {
                let Some(i) = at else {
                    return self.move_to(list.first());
                };
                let act = list[i].act.clone();
                self.pending = Some(Pending::Activated(act.clone()));
                match act {
                    Act::Read => Step::Redraw,
                    act => Step::Activate(act),
                }
            }
            Pad::Back => match at.map(|i| &list[i]) {
                // Out of the keyboard: to the field it types into.
                Some(c) if c.role == Role::Key => {
                    let field = list.iter().take_while(|k| k.role != Role::Key).last();
                    self.move_to(field)
                }
                _ => match list.iter().find(|c| c.act == Act::Back) {
                    Some(_) => {
                        self.pending = Some(Pending::Activated(Act::Back));
                        Step::Activate(Act::Back)
                    }
                    None => Step::Nothing,
                },
            },
            Pad::Up | Pad::Down | Pad::Left | Pad::Right => {
                let Some(i) = at else {
                    return self.move_to(list.first());
                };
                let target = match (pad, list[i].key_at) {
                    (Pad::Up | Pad::Down, Some((r, c))) => {
                        let row = if pad == Pad::Up {
                            r.checked_sub(1)
                        } else {
                            Some(r + 1)
                        };
                        let in_row = |want: usize| {
                            list.iter()
                                .enumerate()
                                .filter(|(_, k)| k.key_at.is_some_and(|(kr, _)| kr == want))
                                .min_by_key(|(_, k)| {
                                    k.key_at.map_or(usize::MAX, |(_, kc)| kc.abs_diff(c))
                                })
                                .map(|(j, _)| j)
                        };
                        match row.and_then(in_row) {
                            Some(j) => Some(j),
                            // Past the keyboard's edge: the control before or after it.
                            None if pad == Pad::Up => list
                                .iter()
                                .position(|k| k.role == Role::Key)
                                .and_then(|j| j.checked_sub(1)),
                            None => list
                                .iter()
                                .rposition(|k| k.role == Role::Key)
                                .map(|j| j + 1),
                        }
                    }
                    (Pad::Up | Pad::Left, _) => i.checked_sub(1).or(Some(list.len() - 1)),
                    _ => Some((i + 1) % list.len()),
                };
                self.move_to(target.and_then(|j| list.get(j)))
            }
        }
    }

    fn move_to(&mut self, to: Option<&Control>) -> Step {
        match to {
            Some(c) => {
                self.focus = Some(c.id.clone());
                self.pending = Some(Pending::Moved);
                Step::Redraw
            }
            None => Step::Nothing,
        }
    }

    /// Looks at what the window shows after a change (a key, a tap, the agent's answer, the idle
    /// clock): keeps the focus on a control that exists, and says what a citizen who cannot see
    /// must hear (in audio mode): a new screen's title and focus, new field errors, a message,
    /// status answers, the idle warning, the outcome of the last key.
    pub fn observe(&mut self, now: Now<'_>) -> Option<Utterance> {
        let lang = now.session.lang;
        let list = now.controls();
        let seen = Seen::of(now.session, now.chrome);
        let pending = self.pending.take();
        let mut say: Vec<String> = Vec::new();
        let mut describe = false;
        let focus_of =
            |pred: &dyn Fn(&Control) -> bool| list.iter().find(|c| pred(c)).map(|c| c.id.clone());
        if let Some(Pending::Said(texts)) = &pending {
            say.extend(texts.iter().cloned());
        }
        if self.seen.arrived(&seen) || (seen.idle != self.seen.idle) {
            if self.focus.is_some() || self.audio {
                self.focus = focus_of(&|c| !c.error.is_empty()).or_else(|| focus_of(&|_| true));
            }
            if seen.idle {
                say.push(ui(lang, "Are you still there?"));
                let left = now.chrome.idle_warning.unwrap_or(0).to_string();
                say.push(ui_with(
                    lang,
                    "For your privacy everything you entered will be erased in {} s.",
                    &[&left],
                ));
            } else if self.seen.arrived(&seen) {
                say.extend(screen_texts(now.session, now.catalog, now.chrome));
            }
            describe = true;
        } else {
            let new_errors: Vec<&Control> = list
                .iter()
                .filter(|c| !c.error.is_empty())
                .filter(|c| {
                    now.session.page_fields().iter().enumerate().any(|(i, f)| {
                        !self.seen.errors.contains(&f.id)
                            && seen.errors.contains(&f.id)
                            && c.id.split(':').nth(1) == Some(&i.to_string())
                    })
                })
                .collect();
            if let Some(first) = new_errors.first() {
                self.focus = Some(first.id.clone());
                let mut ids = Vec::new();
                for c in &new_errors {
                    let field = c.id.split(':').nth(1).unwrap_or_default();
                    if !ids.contains(&field) {
                        ids.push(field);
                        let label = c.label.split(": ").next().unwrap_or(&c.label);
                        say.push(format!("{label}: {}", c.error));
                    }
                }
            }
            if seen.message != self.seen.message && !seen.message.is_empty() {
                say.push(seen.message.clone());
            }
            if seen.statuses != self.seen.statuses && seen.statuses > 0 {
                for c in list.iter().filter(|c| c.id.starts_with("status:")) {
                    say.push(c.label.clone());
                }
            }
            match &pending {
                Some(Pending::Moved) => describe = true,
                Some(Pending::Activated(act)) => match act {
                    Act::Field(_) | Act::Search | Act::EditNotify => {
                        if let Some(k) = list.iter().find(|c| c.role == Role::Key) {
                            self.focus = Some(k.id.clone());
                        }
                        describe = true;
                    }
                    Act::Key(k) if k == "enter" => {
                        self.focus = now
                            .session
                            .focused
                            .and_then(|i| focus_of(&|c| c.id == format!("field:{i}")))
                            .or_else(|| focus_of(&|c| c.id == "notify-to"))
                            .or(self.focus.take());
                        describe = true;
                    }
                    Act::Key(_) => {
                        // The key's name again: what was typed (the value is read on the field).
                        if let Some(c) = self.focused(&list) {
                            say.push(c.label.clone());
                        }
                    }
                    _ => describe = new_errors.is_empty(),
                },
                _ => {}
            }
        }
        if self
            .focus
            .as_ref()
            .is_some_and(|id| !list.iter().any(|c| &c.id == id))
        {
            self.focus = now
                .session
                .focused
                .and_then(|i| focus_of(&|c| c.id == format!("field:{i}")))
                .or_else(|| focus_of(&|_| true));
        }
        let mut private = false;
        // While the request is being saved there is nothing to do: the wait is all it says.
        let describe = describe && now.session.screen != Screen::Submitting;
        if describe && let Some(c) = self.focused(&list) {
            let (text, p) = self.describe(c, lang);
            private = p;
            say.push(text);
        }
        self.seen = seen;
        if !self.audio {
            return None;
        }
        let u = self.utterance(sentences(say), lang, private)?;
        self.last = Some(u.clone());
        Some(u)
    }

    fn focused<'c>(&self, list: &'c [Control]) -> Option<&'c Control> {
        let id = self.focus.as_ref()?;
        list.iter().find(|c| &c.id == id)
    }

    /// The headset was plugged in or pulled: audio mode starts with its help, or ends silently.
    pub fn headset(&mut self, plugged: bool, now: Now<'_>) -> Step {
        if self.headset == plugged {
            return Step::Nothing;
        }
        self.headset = plugged;
        if plugged {
            self.key(Pad::Help, now)
        } else {
            self.audio = false;
            self.blank = false;
            Step::Stop
        }
    }
}

#[cfg(test)]
mod tests;
