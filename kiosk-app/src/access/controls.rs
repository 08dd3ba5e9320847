//! The controls of each screen, in the order the keypad moves through them: what a citizen
//! who cannot see the screen can reach, with what the screen shows of each (label, value,
//! state, error), and what activating it does (the callback a tap on it calls).
//!
//! Each control has an id the window knows too (`View.focus`), so the focus ring is drawn
//! around the very element the kiosk is talking about.

use protocol::Lang;
use protocol::app::CatalogView;
use protocol::form::FieldKind;

use super::texts::{ui, ui_with};
use crate::keyboard;
use crate::session::{Screen, Session, is_typed};
use crate::ui::Chrome;

/// What activating a control does: the `Actions` callback a tap on it calls.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// Home: start.
    Start,
    /// Home: check a request.
    OpenStatus,
    /// The top bar: a language.
    Language(Lang),
    /// The top bar: high contrast.
    Contrast,
    /// The top bar: large text.
    LargeText,
    /// Finish (top bar, done screen, idle warning).
    Finish,
    /// The catalog's search box.
    Search,
    /// A category.
    Category(usize),
    /// A service.
    Service(usize),
    /// A text field: type into it.
    Field(usize),
    /// An option of a choice field, or a checkbox.
    Toggle(usize, usize),
    /// A date field's step (`day+`, `year-`, …).
    DateStep(usize, &'static str),
    /// A key of the on-screen keyboard (what it types, or its action).
    Key(String),
    /// Next page (or review).
    Next,
    /// Back.
    Back,
    /// Submit the request.
    Submit,
    /// How to be told of changes: 0 none, 1 SMS, 2 e-mail.
    Notify(i32),
    /// The address for notices: type into it.
    EditNotify,
    /// Read the card (identify, my requests).
    ReadCard,
    /// Look the typed code up.
    Lookup,
    /// The idle warning: continue.
    Continue,
    /// Text to hear, nothing to do.
    Read,
}

/// What kind of control it is, as speech names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Does something.
    Button,
    /// Takes typed text.
    TextField,
    /// One of a choice's options.
    Option,
    /// A tick box.
    Checkbox,
    /// A key of the on-screen keyboard.
    Key,
    /// Text to read (a row of the review, a status answer, the tracking code).
    Text,
}

impl Role {
    /// Its name, as the English source of the catalogues has it (none for text).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Role::Button => Some("button"),
            Role::TextField => Some("text field"),
            Role::Option => Some("option"),
            Role::Checkbox => Some("checkbox"),
            Role::Key => Some("key"),
            Role::Text => None,
        }
    }
}

/// One control.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    /// The id the window draws the focus ring by.
    pub id: String,
    /// What activating it does.
    pub act: Act,
    /// Its kind.
    pub role: Role,
    /// What it is called, as the screen shows it.
    pub label: String,
    /// Its value as the screen shows it (typed text, the date, a code).
    pub value: String,
    /// The value is the citizen's (typed, from their card): spoken only into a headset.
    pub private: bool,
    /// Selected or checked, for options, checkboxes and toggles.
    pub checked: Option<bool>,
    /// A field that must be filled in.
    pub required: bool,
    /// The validator's message, as shown next to it.
    pub error: String,
    /// Row and column of a keyboard key.
    pub key_at: Option<(usize, usize)>,
}

impl Control {
    fn new(id: impl Into<String>, act: Act, role: Role, label: impl Into<String>) -> Control {
        Control {
            id: id.into(),
            act,
            role,
            label: label.into(),
            value: String::new(),
            private: false,
            checked: None,
            required: false,
            error: String::new(),
            key_at: None,
        }
    }

    fn button(id: impl Into<String>, act: Act, label: impl Into<String>) -> Control {
        Control::new(id, act, Role::Button, label)
    }

    fn value(mut self, value: impl Into<String>, private: bool) -> Control {
        self.value = value.into();
        self.private = private;
        self
    }

    fn checked(mut self, on: bool) -> Control {
        self.checked = Some(on);
        self
    }
}

/// The name of a key as speech says it (a letter or digit is itself).
pub fn key_name(lang: Lang, label: &str, action: &str) -> String {
    let word = match (action, label) {
        ("space", _) => "Space",
        ("backspace", _) => "Delete",
        ("shift", _) => "Capital letters",
        ("enter", _) => "Done",
        ("next-layout", _) => "Another keyboard",
        (_, ".") => "dot",
        (_, ",") => "comma",
        (_, "-") => "dash",
        (_, "@") => "at sign",
        (_, "+") => "plus",
        (_, "'") => "apostrophe",
        (_, other) => return other.to_owned(),
    };
    ui(lang, word)
}

/// A code character by character ("0 0 1 J, 4 5 B Z, 2"), so that it is spelled, not read.
pub fn spell(code: &str) -> String {
    let mut out = String::new();
    for c in code.chars().filter(|c| !c.is_whitespace()) {
        if c == '-' {
            out.push(',');
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn keys(session: &Session, out: &mut Vec<Control>) {
    let Some(layout) = session.keyboard_layout() else {
        return;
    };
    for (r, row) in keyboard::rows(layout, session.shift)
        .into_iter()
        .enumerate()
    {
        for (c, k) in row.into_iter().enumerate() {
            let typed = if k.action.is_empty() {
                k.label.clone()
            } else {
                k.action.to_owned()
            };
            let mut control = Control::new(
                format!("key:{r}:{c}"),
                Act::Key(typed),
                Role::Key,
                key_name(session.lang, &k.label, k.action),
            );
            control.key_at = Some((r, c));
            out.push(control);
        }
    }
}

const DATE_STEPS: [(&str, &str, &str); 3] = [
    ("day", "day+", "day-"),
    ("month", "month+", "month-"),
    ("year", "year+", "year-"),
];

fn form(session: &Session, out: &mut Vec<Control>) {
    let lang = session.lang;
    for (i, f) in session.page_fields().iter().enumerate() {
        let label = f.label.get(lang).to_owned();
        let error = session.error_for(f);
        match &f.kind {
            k if is_typed(k) => {
                let mut c =
                    Control::new(format!("field:{i}"), Act::Field(i), Role::TextField, label)
                        .value(session.shown(f), true);
                c.required = f.required;
                c.error = error;
                out.push(c);
                if session.focused == Some(i) {
                    keys(session, out);
                }
            }
            FieldKind::Date { .. } => {
                let shown = session.shown(f);
                for (part, up, down) in DATE_STEPS {
                    let name = ui(lang, &capitalised(part));
                    for (step, word) in [(up, "more"), (down, "less")] {
                        let mut c = Control::button(
                            format!("date:{i}:{step}"),
                            Act::DateStep(i, step),
                            format!("{label}, {name}, {}", ui(lang, word)),
                        )
                        .value(shown.clone(), true);
                        c.required = f.required;
                        if step == "day+" {
                            c.error = error.clone();
                        }
                        out.push(c);
                    }
                }
            }
            FieldKind::Choice { options } | FieldKind::MultiChoice { options, .. } => {
                for (j, o) in options.iter().enumerate() {
                    let text = o.label.get(lang);
                    let mut c = Control::new(
                        format!("opt:{i}:{j}"),
                        Act::Toggle(i, j),
                        Role::Option,
                        if j == 0 {
                            format!("{label}: {text}")
                        } else {
                            text.to_owned()
                        },
                    )
                    .checked(session.chosen(f, &o.value));
                    if j == 0 {
                        c.required = f.required;
                        c.error = error.clone();
                    }
                    out.push(c);
                }
            }
            FieldKind::Checkbox => {
                let mut c = Control::new(
                    format!("opt:{i}:0"),
                    Act::Toggle(i, 0),
                    Role::Checkbox,
                    label,
                )
                .checked(session.chosen(f, "true"));
                c.required = f.required;
                c.error = error;
                out.push(c);
            }
            _ => {}
        }
    }
    out.push(Control::button("back", Act::Back, ui(lang, "Back")));
    let next = if session.page + 1 >= session.pages() {
        "Review"
    } else {
        "Next"
    };
    out.push(Control::button("next", Act::Next, ui(lang, next)));
}

fn capitalised(part: &str) -> String {
    let mut c = part.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn review(session: &Session, out: &mut Vec<Control>) {
    let lang = session.lang;
    for (i, (label, value)) in session.review_rows().into_iter().enumerate() {
        out.push(Control::new(format!("row:{i}"), Act::Read, Role::Text, label).value(value, true));
    }
    if let Some((_, masked)) = &session.identity {
        out.push(
            Control::new(
                "row:card",
                Act::Read,
                Role::Text,
                ui(lang, "Identified with card"),
            )
            .value(masked.clone(), true),
        );
    }
    let chosen = match session.notify {
        None => 0,
        Some(protocol::fleet::NoticeChannel::Sms) => 1,
        Some(protocol::fleet::NoticeChannel::Email) => 2,
    };
    let question = ui(lang, "Shall we tell you when your request changes?");
    for (n, text) in [(0, "No, thanks"), (1, "By text message"), (2, "By e-mail")] {
        let label = if n == 0 {
            format!("{question} {}", ui(lang, text))
        } else {
            ui(lang, text)
        };
        out.push(
            Control::new(format!("notify:{n}"), Act::Notify(n), Role::Option, label)
                .checked(chosen == n),
        );
    }
    if chosen != 0 {
        let label = if chosen == 1 {
            "Phone number for notices"
        } else {
            "E-mail for notices"
        };
        out.push(
            Control::new(
                "notify-to",
                Act::EditNotify,
                Role::TextField,
                ui(lang, label),
            )
            .value(session.notify_to.clone(), true),
        );
        keys(session, out);
    }
    out.push(Control::button("change", Act::Back, ui(lang, "Change")));
    out.push(Control::button("submit", Act::Submit, ui(lang, "Submit")));
}

fn status(session: &Session, chrome: &Chrome, out: &mut Vec<Control>) {
    let lang = session.lang;
    out.push(
        Control::new(
            "code",
            Act::Read,
            Role::TextField,
            ui(lang, "Your tracking code"),
        )
        .value(spell(&session.status_code), false),
    );
    keys(session, out);
    out.push(Control::button("lookup", Act::Lookup, ui(lang, "Look up")));
    if chrome.has_card_reader {
        out.push(Control::button(
            "my-requests",
            Act::ReadCard,
            ui(lang, "My requests"),
        ));
    }
    for (i, a) in session.statuses.iter().enumerate() {
        let service = a.service_name.as_ref().map(|n| n.get(lang)).unwrap_or("");
        let text = [
            spell(&a.tracking_code.to_string()),
            service.to_owned(),
            a.state.label().get(lang).to_owned(),
            crate::ui::status_when(lang, a.updated_at, a.offline, a.known_at),
        ]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(". ");
        out.push(Control::new(
            format!("status:{i}"),
            Act::Read,
            Role::Text,
            text,
        ));
    }
    out.push(Control::button("back", Act::Back, ui(lang, "Back")));
}

/// The controls of what the window shows now, in keypad order: the screen's own, then the top
/// bar. While the idle warning is up, only its two buttons.
pub fn controls(session: &Session, catalog: Option<&CatalogView>, chrome: &Chrome) -> Vec<Control> {
    let lang = session.lang;
    if chrome.idle_warning.is_some() {
        return vec![
            Control::button("idle-continue", Act::Continue, ui(lang, "Continue")),
            Control::button("idle-finish", Act::Finish, ui(lang, "Finish")),
        ];
    }
    let mut out = Vec::new();
    match session.screen {
        Screen::Home => {
            out.push(Control::button("start", Act::Start, ui(lang, "Start")));
            out.push(Control::button(
                "status",
                Act::OpenStatus,
                ui(lang, "Check a request"),
            ));
        }
        Screen::Catalog => {
            out.push(
                Control::new(
                    "search",
                    Act::Search,
                    Role::TextField,
                    ui(lang, "Search services…"),
                )
                .value(session.search.clone(), false),
            );
            keys(session, &mut out);
            if let Some(c) = catalog {
                for (i, cat) in c.categories.iter().enumerate() {
                    out.push(
                        Control::button(format!("cat:{i}"), Act::Category(i), cat.name.get(lang))
                            .checked(session.category == Some(i)),
                    );
                }
                for (i, svc) in session.visible_services(c).into_iter().enumerate() {
                    let mut about = Vec::new();
                    if svc.requires_identity {
                        about.push(ui(lang, "You will need your card."));
                    }
                    let description = svc.description.get(lang);
                    if !description.is_empty() {
                        about.push(description.to_owned());
                    }
                    out.push(
                        Control::button(format!("svc:{i}"), Act::Service(i), svc.name.get(lang))
                            .value(about.join(" "), false),
                    );
                }
            }
            out.push(Control::button("back", Act::Back, ui(lang, "Back")));
        }
        Screen::Form => form(session, &mut out),
        Screen::Identify => {
            out.push(Control::button("back", Act::Back, ui(lang, "Back")));
            out.push(Control::button(
                "retry-card",
                Act::ReadCard,
                ui(lang, "Try again"),
            ));
        }
        Screen::Review => review(session, &mut out),
        Screen::Done => {
            if let Some(r) = &session.receipt {
                out.push(
                    Control::new(
                        "code",
                        Act::Read,
                        Role::Text,
                        ui(lang, "Your tracking code"),
                    )
                    .value(spell(&r.code), false),
                );
            }
            out.push(Control::button(
                "done-finish",
                Act::Finish,
                ui(lang, "Finish"),
            ));
        }
        Screen::Status => status(session, chrome, &mut out),
        Screen::Submitting | Screen::OutOfService => {}
    }
    if session.screen != Screen::OutOfService {
        for (code, l) in [("cs", Lang::Cs), ("en", Lang::En), ("uk", Lang::Uk)] {
            out.push(
                Control::button(format!("lang:{code}"), Act::Language(l), language_name(l))
                    .checked(lang == l),
            );
        }
        out.push(
            Control::button("contrast", Act::Contrast, ui(lang, "High contrast"))
                .checked(session.high_contrast),
        );
        out.push(
            Control::button("large-text", Act::LargeText, ui(lang, "Large text"))
                .checked(session.large_text),
        );
        if session.screen != Screen::Home {
            out.push(Control::button("finish", Act::Finish, ui(lang, "Finish")));
        }
    }
    out
}

/// A language's own name, as the top bar shows it.
pub fn language_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Cs => "Čeština",
        Lang::En => "English",
        Lang::Uk => "Українська",
    }
}

/// What the screen says on arrival: its title and the texts a sighted citizen reads first.
pub fn screen_texts(
    session: &Session,
    catalog: Option<&CatalogView>,
    chrome: &Chrome,
) -> Vec<String> {
    let lang = session.lang;
    let t = |id: &str| ui(lang, id);
    match session.screen {
        Screen::Home => {
            let mut out = vec![
                t("Welcome to the city's self-service kiosk"),
                t(
                    "Apply for a service, get a receipt with a tracking code, or check how your request is going.",
                ),
            ];
            for n in catalog.map(|c| c.notices.as_slice()).unwrap_or_default() {
                out.push(n.title.get(lang).to_owned());
                out.push(n.body.get(lang).to_owned());
            }
            out
        }
        Screen::Catalog => vec![t("Choose a service")],
        Screen::Form => {
            let service = session.service.as_ref();
            vec![
                service
                    .map(|s| s.name.get(lang).to_owned())
                    .unwrap_or_default(),
                ui_with(
                    lang,
                    "Step {} of {}",
                    &[
                        &(session.page + 1).to_string(),
                        &session.pages().to_string(),
                    ],
                ),
                service
                    .and_then(|s| s.form.pages.get(session.page))
                    .map(|p| p.title.get(lang).to_owned())
                    .unwrap_or_default(),
            ]
        }
        Screen::Identify => vec![
            t("Identify yourself with your card"),
            if session.message.is_empty() {
                t("Hold your card against the reader on the right of the screen.")
            } else {
                session.message.clone()
            },
        ],
        Screen::Review => {
            let mut out = vec![
                t("Check your request"),
                session
                    .service
                    .as_ref()
                    .map(|s| s.name.get(lang).to_owned())
                    .unwrap_or_default(),
            ];
            if chrome.printer_down {
                out.push(t("The printer is out of order: you will get no receipt, but your code will be shown on the screen."));
            }
            out
        }
        Screen::Submitting => vec![t("Saving your request…"), t("Please wait a moment.")],
        Screen::Done => {
            let Some(r) = &session.receipt else {
                return Vec::new();
            };
            vec![
                t("Your request has been received"),
                t("Your tracking code"),
                spell(&r.code),
                if r.printed {
                    t("Take your receipt from the printer below the screen.")
                } else {
                    t(
                        "The receipt could not be printed. Please write the code down or photograph the QR code.",
                    )
                },
            ]
        }
        Screen::Status => vec![
            t("Check a request"),
            if chrome.has_card_reader {
                t(
                    "Type the tracking code from your receipt, or present your card to see all your requests.",
                )
            } else {
                t("Type the tracking code from your receipt.")
            },
        ],
        Screen::OutOfService => vec![
            t("This kiosk is temporarily out of service"),
            t(
                "We are sorry. Please use another kiosk or visit the office. The kiosk will be back by itself.",
            ),
            chrome.out_of_service.clone(),
        ],
    }
}
