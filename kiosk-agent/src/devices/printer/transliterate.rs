//! Text a printer's code page cannot show, in Latin letters it can: Czech without diacritics
//! for printers without PC852, and Ukrainian Cyrillic romanised (the official Ukrainian
//! national system of 2010) for every printer.

/// Ukrainian Cyrillic in Latin letters.
fn ukrainian(c: char) -> Option<&'static str> {
    Some(match c {
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' => "H",
        'Ґ' => "G",
        'Д' => "D",
        'Е' => "E",
        'Є' => "Ye",
        'Ж' => "Zh",
        'З' => "Z",
        'И' => "Y",
        'І' => "I",
        'Ї' => "Yi",
        'Й' => "Y",
        'К' => "K",
        'Л' => "L",
        'М' => "M",
        'Н' => "N",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'У' => "U",
        'Ф' => "F",
        'Х' => "Kh",
        'Ц' => "Ts",
        'Ч' => "Ch",
        'Ш' => "Sh",
        'Щ' => "Shch",
        'Ю' => "Yu",
        'Я' => "Ya",
        'Ь' => "",
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "h",
        'ґ' => "g",
        'д' => "d",
        'е' => "e",
        'є' => "ie",
        'ж' => "zh",
        'з' => "z",
        'и' => "y",
        'і' => "i",
        'ї' => "i",
        'й' => "i",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ю' => "iu",
        'я' => "ia",
        'ь' => "",
        '’' | 'ʼ' => "",
        '\'' => "'",
        _ => return None,
    })
}

/// A Latin letter without its diacritic.
fn strip(c: char) -> Option<char> {
    Some(match c {
        'á' | 'ä' => 'a',
        'č' | 'ç' => 'c',
        'ď' => 'd',
        'é' | 'ě' | 'ë' => 'e',
        'í' => 'i',
        'ĺ' | 'ľ' => 'l',
        'ň' => 'n',
        'ó' | 'ô' | 'ö' => 'o',
        'ŕ' | 'ř' => 'r',
        'š' => 's',
        'ť' => 't',
        'ú' | 'ů' | 'ü' => 'u',
        'ý' => 'y',
        'ž' => 'z',
        'Á' | 'Ä' => 'A',
        'Č' | 'Ç' => 'C',
        'Ď' => 'D',
        'É' | 'Ě' | 'Ë' => 'E',
        'Í' => 'I',
        'Ĺ' | 'Ľ' => 'L',
        'Ň' => 'N',
        'Ó' | 'Ô' | 'Ö' => 'O',
        'Ŕ' | 'Ř' => 'R',
        'Š' => 'S',
        'Ť' => 'T',
        'Ú' | 'Ů' | 'Ü' => 'U',
        'Ý' => 'Y',
        'Ž' => 'Z',
        '–' | '—' => '-',
        '„' | '“' | '”' => '"',
        '‚' | '‘' | '’' => '\'',
        '…' => '.',
        '\u{a0}' => ' ',
        _ => return None,
    })
}

/// `s` with every character `keep` refuses replaced: Cyrillic romanised, diacritics dropped,
/// anything else left as `?`.
pub fn transliterate(s: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if keep(c) {
            out.push(c);
        } else if let Some(latin) = ukrainian(c) {
            out.push_str(latin);
        } else if let Some(plain) = strip(c).filter(|&p| keep(p)) {
            out.push(plain);
        } else {
            out.push('?');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn czech_and_ukrainian_become_ascii() {
        let ascii = |c: char| c.is_ascii();
        assert_eq!(
            transliterate("Příliš žluťoučký kůň úpěl ďábelské ódy", ascii),
            "Prilis zlutoucky kun upel dabelske ody"
        );
        assert_eq!(
            transliterate("Паркувальна картка мешканця", ascii),
            "Parkuvalna kartka meshkantsia"
        );
        assert_eq!(transliterate("Київ, Щастя", ascii), "Kyiv, Shchastia");
        assert_eq!(transliterate("日本", ascii), "??");
    }
}
