//! The one validator for filled forms.
//!
//! The app runs it live, field by field, to show the message next to the input; the agent runs it
//! again on submit against the definition it cached, because the app is not trusted. Both get the
//! same answer because it is the same code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::form::{ChoiceOption, Field, FieldKind, FormDefinition, limits};
use crate::{Lang, Text};

/// A filled-in value. Text-like fields (text, multiline, date, choice, e-mail, phone) carry a
/// string, numbers a number, a checkbox a boolean and a multi-choice a list of option values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A checkbox.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Any text-like field.
    Text(String),
    /// A multi-choice.
    List(Vec<String>),
}

/// The values of a form, by field id.
pub type FormValues = BTreeMap<String, FieldValue>;

/// What is wrong with one field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A required value is missing.
    Required,
    /// The value has the wrong type for the field.
    WrongType,
    /// Text shorter than the minimum.
    TooShort {
        /// Minimum length in characters.
        min: u32,
    },
    /// Text longer than the maximum.
    TooLong {
        /// Maximum length in characters.
        max: u32,
    },
    /// Text that does not match the pattern.
    Pattern,
    /// Not a number, or not whole where a whole number is asked for.
    NotANumber,
    /// Number below the minimum.
    BelowMin {
        /// The minimum.
        min: f64,
    },
    /// Number above the maximum.
    AboveMax {
        /// The maximum.
        max: f64,
    },
    /// Not a `YYYY-MM-DD` date that exists.
    BadDate,
    /// Date before the earliest allowed.
    DateTooEarly {
        /// Earliest allowed date.
        min: String,
    },
    /// Date after the latest allowed.
    DateTooLate {
        /// Latest allowed date.
        max: String,
    },
    /// A value that is not one of the options.
    UnknownOption,
    /// Too few options picked.
    TooFewChoices {
        /// The minimum.
        min: u32,
    },
    /// Too many options picked.
    TooManyChoices {
        /// The maximum.
        max: u32,
    },
    /// Not an e-mail address.
    BadEmail,
    /// Not a telephone number.
    BadPhone,
    /// A value for a field the form does not have.
    UnknownField,
}

/// A problem with one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field id.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl FieldError {
    /// The message to show next to the field, in `lang`. `hint` is the field's pattern hint.
    pub fn message(&self, lang: Lang, hint: Option<&Text>) -> String {
        use Problem::*;
        let t = |cs: &str, en: &str, uk: &str| -> String {
            match lang {
                Lang::Cs => cs,
                Lang::En => en,
                Lang::Uk => uk,
            }
            .to_owned()
        };
        match &self.problem {
            Required => t(
                "Toto pole je povinné.",
                "This field is required.",
                "Це поле обов'язкове.",
            ),
            WrongType => t("Neplatná hodnota.", "Invalid value.", "Недійсне значення."),
            TooShort { min } => t(
                &format!("Zadejte alespoň {min} znaků."),
                &format!("Enter at least {min} characters."),
                &format!("Введіть щонайменше {min} символів."),
            ),
            TooLong { max } => t(
                &format!("Zadejte nejvýše {max} znaků."),
                &format!("Enter at most {max} characters."),
                &format!("Введіть не більше {max} символів."),
            ),
            Pattern => match hint {
                Some(h) => h.get(lang).to_owned(),
                None => t(
                    "Hodnota nemá správný tvar.",
                    "The value has the wrong format.",
                    "Значення має неправильний формат.",
                ),
            },
            NotANumber => t("Zadejte číslo.", "Enter a number.", "Введіть число."),
            BelowMin { min } => t(
                &format!("Nejmenší povolená hodnota je {min}."),
                &format!("The smallest allowed value is {min}."),
                &format!("Найменше допустиме значення: {min}."),
            ),
            AboveMax { max } => t(
                &format!("Největší povolená hodnota je {max}."),
                &format!("The largest allowed value is {max}."),
                &format!("Найбільше допустиме значення: {max}."),
            ),
            BadDate => t(
                "Zadejte platné datum.",
                "Enter a valid date.",
                "Введіть дійсну дату.",
            ),
            DateTooEarly { min } => t(
                &format!(
                    "Nejdříve {}.",
                    Date::parse(min).map(|d| d.czech()).unwrap_or_default()
                ),
                &format!("{min} at the earliest."),
                &format!("Не раніше {min}."),
            ),
            DateTooLate { max } => t(
                &format!(
                    "Nejpozději {}.",
                    Date::parse(max).map(|d| d.czech()).unwrap_or_default()
                ),
                &format!("{max} at the latest."),
                &format!("Не пізніше {max}."),
            ),
            UnknownOption => t(
                "Vyberte jednu z nabízených možností.",
                "Pick one of the options.",
                "Виберіть один із варіантів.",
            ),
            TooFewChoices { min } => t(
                &format!("Vyberte alespoň {min}."),
                &format!("Pick at least {min}."),
                &format!("Виберіть щонайменше {min}."),
            ),
            TooManyChoices { max } => t(
                &format!("Vyberte nejvýše {max}."),
                &format!("Pick at most {max}."),
                &format!("Виберіть не більше {max}."),
            ),
            BadEmail => t(
                "Zadejte platnou e-mailovou adresu.",
                "Enter a valid e-mail address.",
                "Введіть дійсну адресу електронної пошти.",
            ),
            BadPhone => t(
                "Zadejte platné telefonní číslo.",
                "Enter a valid phone number.",
                "Введіть дійсний номер телефону.",
            ),
            UnknownField => t("Neznámé pole.", "Unknown field.", "Невідоме поле."),
        }
    }
}

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year, 1900-2999.
    pub year: u16,
    /// Month, 1-12.
    pub month: u8,
    /// Day of the month.
    pub day: u8,
}

impl Date {
    /// Parses `YYYY-MM-DD`, refusing dates that do not exist (2025-02-29).
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1900..=2999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day == 0 || day > days {
            return None;
        }
        Some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Czech form, `1. 2. 2026`.
    pub fn czech(&self) -> String {
        format!("{}. {}. {}", self.day, self.month, self.year)
    }
}

/// Compiles a field pattern so that it must match the whole value.
pub fn compile_pattern(p: &str) -> Result<regex_lite::Regex, regex_lite::Error> {
    regex_lite::RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(1 << 20)
        .build()
}

/// Whether `s` looks like an e-mail address: one `@`, a non-empty local part, a domain with a
/// dot, no spaces. Deliverability is the agenda system's business.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 255
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
}

/// Whether `s` is a telephone number: an optional leading `+`, then 6-15 digits, spaces allowed.
pub fn is_phone(s: &str) -> bool {
    let rest = s.trim().strip_prefix('+').unwrap_or(s.trim());
    let digits = rest.chars().filter(|c| c.is_ascii_digit()).count();
    rest.chars().all(|c| c.is_ascii_digit() || c == ' ') && (6..=15).contains(&digits)
}

/// Validates one field's value; `None` is an empty field.
pub fn validate_field(field: &Field, value: Option<&FieldValue>) -> Result<(), Problem> {
    let value = match value {
        None => None,
        Some(FieldValue::Text(s)) if s.trim().is_empty() => None,
        Some(FieldValue::List(l)) if l.is_empty() => None,
        Some(FieldValue::Bool(false)) => None,
        Some(v) => Some(v),
    };
    let Some(value) = value else {
        return if field.required {
            Err(Problem::Required)
        } else {
            Ok(())
        };
    };
    match (&field.kind, value) {
        (
            FieldKind::Text {
                min_len,
                max_len,
                pattern,
                ..
            },
            FieldValue::Text(s),
        ) => {
            check_len(s, *min_len, *max_len)?;
            if let Some(p) = pattern {
                let re = compile_pattern(p).map_err(|_| Problem::Pattern)?;
                if !re.is_match(s.trim()) {
                    return Err(Problem::Pattern);
                }
            }
            Ok(())
        }
        (FieldKind::Multiline { min_len, max_len }, FieldValue::Text(s)) => {
            check_len(s, *min_len, *max_len)
        }
        (FieldKind::Number { min, max, integer }, FieldValue::Number(n)) => {
            if !n.is_finite() || (*integer && n.fract() != 0.0) {
                return Err(Problem::NotANumber);
            }
            if let Some(m) = min
                && n < m
            {
                return Err(Problem::BelowMin { min: *m });
            }
            if let Some(m) = max
                && n > m
            {
                return Err(Problem::AboveMax { max: *m });
            }
            Ok(())
        }
        (FieldKind::Date { min, max }, FieldValue::Text(s)) => {
            let d = Date::parse(s.trim()).ok_or(Problem::BadDate)?;
            if let Some(m) = min
                && Date::parse(m).is_some_and(|m| d < m)
            {
                return Err(Problem::DateTooEarly { min: m.clone() });
            }
            if let Some(m) = max
                && Date::parse(m).is_some_and(|m| d > m)
            {
                return Err(Problem::DateTooLate { max: m.clone() });
            }
            Ok(())
        }
        (FieldKind::Choice { options }, FieldValue::Text(s)) => {
            if is_option(options, s) {
                Ok(())
            } else {
                Err(Problem::UnknownOption)
            }
        }
        (FieldKind::MultiChoice { options, min, max }, FieldValue::List(picked)) => {
            if picked.iter().any(|p| !is_option(options, p)) {
                return Err(Problem::UnknownOption);
            }
            let mut uniq: Vec<&String> = picked.iter().collect();
            uniq.sort();
            uniq.dedup();
            if uniq.len() != picked.len() {
                return Err(Problem::UnknownOption);
            }
            if let Some(m) = min
                && (picked.len() as u32) < *m
            {
                return Err(Problem::TooFewChoices { min: *m });
            }
            if let Some(m) = max
                && (picked.len() as u32) > *m
            {
                return Err(Problem::TooManyChoices { max: *m });
            }
            Ok(())
        }
        (FieldKind::Checkbox, FieldValue::Bool(_)) => Ok(()),
        (FieldKind::Email, FieldValue::Text(s)) => {
            check_len(s, None, Some(254))?;
            if is_email(s.trim()) {
                Ok(())
            } else {
                Err(Problem::BadEmail)
            }
        }
        (FieldKind::Phone, FieldValue::Text(s)) => {
            check_len(s, None, Some(32))?;
            if is_phone(s) {
                Ok(())
            } else {
                Err(Problem::BadPhone)
            }
        }
        _ => Err(Problem::WrongType),
    }
}

fn is_option(options: &[ChoiceOption], v: &str) -> bool {
    options.iter().any(|o| o.value == v)
}

fn check_len(s: &str, min: Option<u32>, max: Option<u32>) -> Result<(), Problem> {
    let n = s.trim().chars().count();
    let max = max.unwrap_or(limits::MAX_VALUE_LEN as u32);
    if let Some(min) = min
        && n < min as usize
    {
        return Err(Problem::TooShort { min });
    }
    if n > max as usize {
        return Err(Problem::TooLong { max });
    }
    Ok(())
}

/// Validates a whole filled form. Every problem is reported, one per field, in form order.
pub fn validate_form(form: &FormDefinition, values: &FormValues) -> Result<(), Vec<FieldError>> {
    let mut errors: Vec<FieldError> = form
        .fields()
        .filter_map(|f| {
            validate_field(f, values.get(&f.id))
                .err()
                .map(|problem| FieldError {
                    field: f.id.clone(),
                    problem,
                })
        })
        .collect();
    errors.extend(
        values
            .keys()
            .filter(|k| form.field(k).is_none())
            .map(|k| FieldError {
                field: k.chars().take(limits::MAX_ID_LEN).collect(),
                problem: Problem::UnknownField,
            }),
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
