//! The UI's own translations, for speech: the gettext catalogues the window is compiled with
//! (`translations/*/LC_MESSAGES/kiosk-app.po`, English source), read by the same rules as
//! `build.rs` (an empty translation falls back to Czech). What the kiosk says is therefore the
//! very text the screen shows; the words only speech needs (role names, key names, the help) are
//! in the same catalogues, listed in [`SPOKEN`].

use std::collections::HashMap;
use std::sync::OnceLock;

use protocol::Lang;

const CZECH: &str = include_str!("../../translations/cs/LC_MESSAGES/kiosk-app.po");
const UKRAINIAN: &str = include_str!("../../translations/uk/LC_MESSAGES/kiosk-app.po");

/// Texts only speech uses (the screen shows the others through `@tr`); each is in both
/// catalogues (the `translations_complete` test checks).
pub const SPOKEN: &[&str] = &[
    "Audio mode. Move with the arrow keys, or 8 and 2 on the keypad. Enter or 5 chooses. Escape or minus goes back. Star repeats this help, slash repeats the last sentence, 0 stops the speech. 7 and 9 change the speed, 1 and 3 the volume, the dot hides the screen.",
    "No headset is plugged in: what you type will not be read aloud.",
    "button",
    "text field",
    "option",
    "checkbox",
    "key",
    "selected",
    "not selected",
    "checked",
    "not checked",
    "required",
    "empty",
    "hidden",
    "more",
    "less",
    "Space",
    "Delete",
    "Capital letters",
    "Done",
    "Another keyboard",
    "dot",
    "comma",
    "dash",
    "at sign",
    "plus",
    "apostrophe",
    "Speed {}",
    "Volume {}",
    "The screen is hidden.",
    "The screen is shown.",
];

fn unescape(s: &str) -> String {
    s.replace("\\\"", "\"").replace("\\\\", "\\")
}

fn parse(po: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut id: Option<String> = None;
    for line in po.lines() {
        if let Some(rest) = line.strip_prefix("msgid \"") {
            id = rest.strip_suffix('"').map(unescape);
        } else if let Some(rest) = line.strip_prefix("msgstr \"")
            && let (Some(i), Some(s)) = (id.take(), rest.strip_suffix('"'))
            && !i.is_empty()
            && !s.is_empty()
        {
            out.insert(i, unescape(s));
        }
    }
    out
}

fn catalogue(lang: Lang) -> Option<&'static HashMap<String, String>> {
    static CS: OnceLock<HashMap<String, String>> = OnceLock::new();
    static UK: OnceLock<HashMap<String, String>> = OnceLock::new();
    match lang {
        Lang::Cs => Some(CS.get_or_init(|| parse(CZECH))),
        Lang::Uk => Some(UK.get_or_init(|| parse(UKRAINIAN))),
        Lang::En => None,
    }
}

/// The UI text `id` (its English source) in `lang`.
pub fn ui(lang: Lang, id: &str) -> String {
    let found = catalogue(lang)
        .and_then(|c| c.get(id))
        .or_else(|| catalogue(Lang::Cs).filter(|_| lang != Lang::En)?.get(id));
    found.map_or_else(|| id.to_owned(), Clone::clone)
}

/// [`ui`] with each `{}` replaced by the next of `args`, as Slint's `@tr` does.
pub fn ui_with(lang: Lang, id: &str, args: &[&str]) -> String {
    let text = ui(lang, id);
    let mut out = String::new();
    let mut args = args.iter();
    let mut parts = text.split("{}").peekable();
    while let Some(part) = parts.next() {
        out.push_str(part);
        if parts.peek().is_some() {
            out.push_str(args.next().copied().unwrap_or(""));
        }
    }
    out
}

/// Whether `id` is in both catalogues (tests).
pub fn translated(id: &str) -> bool {
    [Lang::Cs, Lang::Uk]
        .into_iter()
        .all(|l| catalogue(l).is_some_and(|c| c.contains_key(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogues_answer_as_the_window_does() {
        assert_eq!(ui(Lang::En, "Start"), "Start");
        assert_eq!(ui(Lang::Cs, "Start"), "Začít");
        assert_eq!(ui(Lang::Uk, "Back"), "Назад");
        assert_eq!(
            ui_with(Lang::En, "Step {} of {}", &["2", "3"]),
            "Step 2 of 3"
        );
        assert_eq!(
            ui_with(Lang::Cs, "Step {} of {}", &["2", "3"]),
            "Krok 2 z 3"
        );
        // A text no catalogue has is said as it is.
        assert_eq!(ui(Lang::Uk, "Okénko"), "Okénko");
    }
}
