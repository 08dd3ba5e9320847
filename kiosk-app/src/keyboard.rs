//! The on-screen keyboards: Czech (QWERTZ with every diacritic), English, Ukrainian, a numeric
//! pad for numbers and phone numbers, and a tracking-code pad (Crockford base 32). No system
//! keyboard is needed. A key either types its label or carries an action.

/// Which keyboard is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Czech QWERTZ with ě š č ř ž ý á í é ú ů ť ď ň.
    Czech,
    /// English QWERTY.
    English,
    /// Ukrainian ЙЦУКЕН with ї є ґ і.
    Ukrainian,
    /// Digits, sign, decimal comma (numbers) or plus and space (phones).
    Numeric,
    /// Tracking codes: digits and the letters Crockford base 32 uses.
    Code,
}

/// A key as the UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// What it shows (and types, when `action` is empty).
    pub label: String,
    /// `backspace`, `shift`, `space`, `enter`, `next-layout`, or empty to type the label.
    pub action: &'static str,
    /// Width in key units.
    pub width: f32,
}

fn typed(row: &str, shift: bool) -> Vec<Key> {
    row.split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| Key {
            label: if shift {
                s.to_uppercase()
            } else {
                s.to_owned()
            },
            action: "",
            width: 1.0,
        })
        .collect()
}

fn action(label: &str, action: &'static str, width: f32) -> Key {
    Key {
        label: label.to_owned(),
        action,
        width,
    }
}

/// The rows of `layout`, upper case when `shift`.
pub fn rows(layout: Layout, shift: bool) -> Vec<Vec<Key>> {
    let digits = typed("1 2 3 4 5 6 7 8 9 0", false);
    let bottom = |next: &str| {
        vec![
            action(next, "next-layout", 1.5),
            typed("@", false).remove(0),
            typed(".", false).remove(0),
            typed("-", false).remove(0),
            action("␣", "space", 4.0),
            typed(",", false).remove(0),
            action("⏎", "enter", 1.5),
        ]
    };
    let with_shift = |mut row: Vec<Key>| {
        row.insert(0, action("⇧", "shift", 1.5));
        row.push(action("⌫", "backspace", 1.5));
        row
    };
    match layout {
        Layout::Czech => vec![
            digits,
            typed("ě š č ř ž ý á í é ú ů", shift),
            typed("q w e r t z u i o p", shift),
            typed("a s d f g h j k l ť ď", shift),
            with_shift(typed("y x c v b n m ň", shift)),
            bottom("EN"),
        ],
        Layout::English => vec![
            digits,
            typed("q w e r t y u i o p", shift),
            typed("a s d f g h j k l", shift),
            with_shift(typed("z x c v b n m", shift)),
            bottom("УК"),
        ],
        Layout::Ukrainian => vec![
            digits,
            typed("й ц у к е н г ш щ з х ї", shift),
            typed("ф і в а п р о л д ж є ґ", shift),
            with_shift(typed("я ч с м и т ь б ю '", shift)),
            bottom("CZ"),
        ],
        Layout::Numeric => vec![
            typed("1 2 3", false),
            typed("4 5 6", false),
            typed("7 8 9", false),
            vec![
                typed("+", false).remove(0),
                typed("0", false).remove(0),
                typed(",", false).remove(0),
                action("␣", "space", 1.0),
                action("⌫", "backspace", 1.5),
                action("⏎", "enter", 1.5),
            ],
        ],
        Layout::Code => vec![
            typed("1 2 3 4 5 6 7 8 9 0", false),
            typed("A B C D E F G H J K", false),
            typed("M N P Q R S T V W X", false),
            {
                let mut r = typed("Y Z -", false);
                r.push(action("⌫", "backspace", 1.5));
                r
            },
        ],
    }
}

/// The alphabet keyboard after `layout` when the citizen taps the layout key.
pub fn next(layout: Layout) -> Layout {
    match layout {
        Layout::Czech => Layout::English,
        Layout::English => Layout::Ukrainian,
        _ => Layout::Czech,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_has_every_diacritic_in_both_cases() {
        for shift in [false, true] {
            let all: String = rows(Layout::Czech, shift)
                .iter()
                .flatten()
                .map(|k| k.label.clone())
                .collect();
            for c in "ěščřžýáíéůúťďň".chars() {
                let c = if shift {
                    c.to_uppercase().next().unwrap()
                } else {
                    c
                };
                assert!(all.contains(c), "{c} missing (shift {shift})");
            }
        }
    }

    #[test]
    fn ukrainian_has_its_own_letters_and_the_code_pad_only_crockford() {
        let uk: String = rows(Layout::Ukrainian, false)
            .iter()
            .flatten()
            .map(|k| k.label.clone())
            .collect();
        for c in "їєґі".chars() {
            assert!(uk.contains(c));
        }
        let code: String = rows(Layout::Code, false)
            .iter()
            .flatten()
            .filter(|k| k.action.is_empty())
            .map(|k| k.label.clone())
            .collect();
        for c in ['I', 'L', 'O', 'U'] {
            assert!(!code.contains(c), "{c} is not in Crockford's alphabet");
        }
        assert_eq!(next(next(next(Layout::Czech))), Layout::Czech);
    }
}
