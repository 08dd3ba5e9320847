//! Languages and translated text. Czech is the default and the fallback for every missing
//! translation.

use serde::{Deserialize, Serialize};

/// A language the kiosk offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Czech, the default.
    #[default]
    Cs,
    /// English.
    En,
    /// Ukrainian.
    Uk,
}

impl Lang {
    /// Every language, in the order the kiosk shows them.
    pub const ALL: [Lang; 3] = [Lang::Cs, Lang::En, Lang::Uk];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Cs => "cs",
            Lang::En => "en",
            Lang::Uk => "uk",
        }
    }

    /// The language of an ISO 639-1 code.
    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }
}

/// A text in every language the kiosk offers; only Czech is required.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Czech, required: the fallback for every other language.
    pub cs: String,
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    /// Ukrainian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uk: Option<String>,
}

impl Text {
    /// A text known only in Czech.
    pub fn cs(s: impl Into<String>) -> Self {
        Text {
            cs: s.into(),
            en: None,
            uk: None,
        }
    }

    /// A text in all three languages.
    pub fn new(cs: impl Into<String>, en: impl Into<String>, uk: impl Into<String>) -> Self {
        Text {
            cs: cs.into(),
            en: Some(en.into()),
            uk: Some(uk.into()),
        }
    }

    /// The text in `lang`, falling back to Czech when that translation is missing or empty.
    pub fn get(&self, lang: Lang) -> &str {
        let t = match lang {
            Lang::Cs => None,
            Lang::En => self.en.as_deref(),
            Lang::Uk => self.uk.as_deref(),
        };
        match t {
            Some(s) if !s.trim().is_empty() => s,
            _ => &self.cs,
        }
    }

    /// Every present translation, for length checks.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.cs.as_str())
            .chain(self.en.as_deref())
            .chain(self.uk.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_translation_falls_back_to_czech() {
        let t = Text {
            cs: "Žádost".into(),
            en: Some("Request".into()),
            uk: Some("  ".into()),
        };
        assert_eq!(t.get(Lang::En), "Request");
        assert_eq!(t.get(Lang::Uk), "Žádost");
        assert_eq!(Text::cs("Jen česky").get(Lang::En), "Jen česky");
    }
}
