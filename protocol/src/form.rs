//! The form-definition model: services, their forms, pages and fields.
//!
//! Staff publish definitions as JSON on the fleet server; the agent caches them; the app renders
//! any form from its definition. [`Service::check`] rejects a definition that could not be
//! rendered or validated (duplicate field ids, a bad pattern, min above max, no Czech label), so a
//! broken definition is refused when it is published, never discovered by a citizen.

use serde::{Deserialize, Serialize};

use crate::Text;

/// Limits that keep a definition renderable and a hostile one harmless.
pub mod limits {
    /// Services in one catalog.
    pub const MAX_SERVICES: usize = 500;
    /// Pages in one form.
    pub const MAX_PAGES: usize = 30;
    /// Fields in one form, over all pages.
    pub const MAX_FIELDS: usize = 200;
    /// Options of a choice field.
    pub const MAX_OPTIONS: usize = 100;
    /// Characters of an identifier (service, field, option, category).
    pub const MAX_ID_LEN: usize = 64;
    /// Characters of one translated label or help text.
    pub const MAX_LABEL_LEN: usize = 2_000;
    /// Characters of a regular expression.
    pub const MAX_PATTERN_LEN: usize = 500;
    /// Characters of one filled-in value, whatever the field says.
    pub const MAX_VALUE_LEN: usize = 10_000;
}

/// A municipal service a citizen can apply for at a kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Stable identifier, e.g. `parking-permit`.
    pub id: String,
    /// Version of this service's form; a submission names the version it was filled against.
    pub version: u32,
    /// Category identifier the catalog groups services under.
    pub category: String,
    /// Name shown in the catalog.
    pub name: Text,
    /// One-paragraph description.
    #[serde(default)]
    pub description: Text,
    /// The citizen must identify with a card before submitting.
    #[serde(default)]
    pub requires_identity: bool,
    /// Kiosk groups the service is offered in; empty means every kiosk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The form.
    pub form: FormDefinition,
}

/// A category of services in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Identifier services refer to.
    pub id: String,
    /// Name shown on the catalog screen.
    pub name: Text,
}

/// A form: one group of fields per page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    /// Pages in the order the wizard shows them.
    pub pages: Vec<Page>,
}

/// One wizard page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Page title.
    pub title: Text,
    /// Fields on this page.
    pub fields: Vec<Field>,
}

/// One input of a form. (Unknown keys cannot be refused here: serde's `flatten`, which merges
/// the type's constraints into the field, does not support `deny_unknown_fields`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Identifier, unique in the form; the key of the value in a submission.
    pub id: String,
    /// Label shown beside the input.
    pub label: Text,
    /// Optional help shown under the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Text>,
    /// A value must be given.
    #[serde(default)]
    pub required: bool,
    /// The field's type and its constraints.
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// A field's type with its type-specific constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    Text {
        /// Minimum length in characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_len: Option<u32>,
        /// Maximum length in characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_len: Option<u32>,
        /// A regular expression the whole value must match (regex-lite syntax).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        /// What to tell the citizen when the pattern does not match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern_hint: Option<Text>,
    },
    /// Several lines of text.
    Multiline {
        /// Minimum length in characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_len: Option<u32>,
        /// Maximum length in characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_len: Option<u32>,
    },
    /// A number typed on the numeric pad.
    Number {
        /// Smallest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest allowed value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Only whole numbers.
        #[serde(default)]
        integer: bool,
    },
    /// A calendar date, `YYYY-MM-DD`.
    Date {
        /// Earliest allowed date, `YYYY-MM-DD`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<String>,
        /// Latest allowed date, `YYYY-MM-DD`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<String>,
    },
    /// Exactly one of several options.
    Choice {
        /// The options.
        options: Vec<ChoiceOption>,
    },
    /// Any number of several options.
    MultiChoice {
        /// The options.
        options: Vec<ChoiceOption>,
        /// Fewest options to pick.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Most options to pick.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// A checkbox; with `required` it is a consent that must be given.
    Checkbox,
    /// An e-mail address.
    Email,
    /// A telephone number (digits, optional leading `+`, spaces allowed).
    Phone,
}

/// One option of a choice field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// The value stored in the submission.
    pub value: String,
    /// What the citizen sees.
    pub label: Text,
}

/// Why a definition was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefinitionError {
    /// An identifier is empty, too long or uses characters outside `[a-z0-9_-]`.
    #[error("{what} id {id:?} must be 1-64 characters of a-z, 0-9, '-' or '_'")]
    BadId {
        /// What kind of identifier.
        what: &'static str,
        /// The offending id.
        id: String,
    },
    /// Two fields, options, services or categories share an id.
    #[error("duplicate {what} id {id:?}")]
    Duplicate {
        /// What kind of identifier.
        what: &'static str,
        /// The duplicated id.
        id: String,
    },
    /// A limit from [`limits`] is exceeded.
    #[error("{what}: {count} is more than the limit of {max}")]
    TooMany {
        /// What was counted.
        what: String,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A constraint of a field cannot be satisfied or is malformed.
    #[error("field {field:?}: {problem}")]
    BadField {
        /// The field id.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A text has no Czech version or is too long.
    #[error("{what}: {problem}")]
    BadText {
        /// Where the text is.
        what: String,
        /// What is wrong.
        problem: &'static str,
    },
}

/// Whether `id` is a well-formed identifier.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_id(what: &'static str, id: &str) -> Result<(), DefinitionError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(DefinitionError::BadId {
            what,
            id: id.to_owned(),
        })
    }
}

fn check_text(what: impl Fn() -> String, t: &Text) -> Result<(), DefinitionError> {
    if t.cs.trim().is_empty() {
        return Err(DefinitionError::BadText {
            what: what(),
            problem: "the Czech text is missing",
        });
    }
    if t.all().any(|s| s.chars().count() > limits::MAX_LABEL_LEN) {
        return Err(DefinitionError::BadText {
            what: what(),
            problem: "a translation is too long",
        });
    }
    Ok(())
}

fn check_count(what: impl Fn() -> String, count: usize, max: usize) -> Result<(), DefinitionError> {
    if count > max {
        Err(DefinitionError::TooMany {
            what: what(),
            count,
            max,
        })
    } else {
        Ok(())
    }
}

impl Service {
    /// Checks that the definition is complete and consistent.
    pub fn check(&self) -> Result<(), DefinitionError> {
        check_id("service", &self.id)?;
        check_id("category", &self.category)?;
        for g in &self.groups {
            check_id("group", g)?;
        }
        check_text(|| format!("service {:?} name", self.id), &self.name)?;
        if !self.description.cs.is_empty() {
            check_text(
                || format!("service {:?} description", self.id),
                &self.description,
            )?;
        }
        self.form.check()
    }
}

impl FormDefinition {
    /// Every field of every page, in order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.pages.iter().flat_map(|p| p.fields.iter())
    }

    /// The field with this id.
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields().find(|f| f.id == id)
    }

    /// Checks that the form is complete and consistent.
    pub fn check(&self) -> Result<(), DefinitionError> {
        if self.pages.is_empty() {
            return Err(DefinitionError::BadText {
                what: "form".into(),
                problem: "has no page",
            });
        }
        check_count(|| "pages".into(), self.pages.len(), limits::MAX_PAGES)?;
        check_count(
            || "fields".into(),
            self.fields().count(),
            limits::MAX_FIELDS,
        )?;
        let mut seen = std::collections::HashSet::new();
        for (i, page) in self.pages.iter().enumerate() {
            check_text(|| format!("page {} title", i + 1), &page.title)?;
            for f in &page.fields {
                check_id("field", &f.id)?;
                if !seen.insert(f.id.as_str()) {
                    return Err(DefinitionError::Duplicate {
                        what: "field",
                        id: f.id.clone(),
                    });
                }
                f.check()?;
            }
        }
        Ok(())
    }
}

impl Field {
    fn bad(&self, problem: impl Into<String>) -> DefinitionError {
        DefinitionError::BadField {
            field: self.id.clone(),
            problem: problem.into(),
        }
    }

    fn check(&self) -> Result<(), DefinitionError> {
        check_text(|| format!("field {:?} label", self.id), &self.label)?;
        if let Some(h) = &self.help {
            check_text(|| format!("field {:?} help", self.id), h)?;
        }
        match &self.kind {
            FieldKind::Text {
                min_len,
                max_len,
                pattern,
                ..
            } => {
                self.check_lengths(*min_len, *max_len)?;
                if let Some(p) = pattern {
                    if p.len() > limits::MAX_PATTERN_LEN {
                        return Err(self.bad("pattern is too long"));
                    }
                    crate::validate::compile_pattern(p)
                        .map_err(|e| self.bad(format!("pattern does not compile: {e}")))?;
                }
            }
            FieldKind::Multiline { min_len, max_len } => self.check_lengths(*min_len, *max_len)?,
            FieldKind::Number { min, max, .. } => {
                if min.is_some_and(|v| !v.is_finite()) || max.is_some_and(|v| !v.is_finite()) {
                    return Err(self.bad("min and max must be finite numbers"));
                }
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return Err(self.bad("min is above max"));
                }
            }
            FieldKind::Date { min, max } => {
                let parse = |s: &Option<String>| -> Result<Option<crate::validate::Date>, _> {
                    s.as_deref()
                        .map(|d| {
                            crate::validate::Date::parse(d)
                                .ok_or_else(|| self.bad(format!("{d:?} is not a YYYY-MM-DD date")))
                        })
                        .transpose()
                };
                if let (Some(a), Some(b)) = (parse(min)?, parse(max)?)
                    && a > b
                {
                    return Err(self.bad("min is after max"));
                }
            }
            FieldKind::Choice { options } => self.check_options(options)?,
            FieldKind::MultiChoice { options, min, max } => {
                self.check_options(options)?;
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return Err(self.bad("min is above max"));
                }
                if min.is_some_and(|m| m as usize > options.len()) {
                    return Err(self.bad("min is more than there are options"));
                }
            }
            FieldKind::Checkbox | FieldKind::Email | FieldKind::Phone => {}
        }
        Ok(())
    }

    fn check_lengths(&self, min: Option<u32>, max: Option<u32>) -> Result<(), DefinitionError> {
        if let (Some(a), Some(b)) = (min, max)
            && a > b
        {
            return Err(self.bad("min_len is above max_len"));
        }
        if max.is_some_and(|m| m as usize > limits::MAX_VALUE_LEN) {
            return Err(self.bad(format!("max_len is above {}", limits::MAX_VALUE_LEN)));
        }
        Ok(())
    }

    fn check_options(&self, options: &[ChoiceOption]) -> Result<(), DefinitionError> {
        if options.is_empty() {
            return Err(self.bad("has no options"));
        }
        check_count(
            || format!("field {:?} options", self.id),
            options.len(),
            limits::MAX_OPTIONS,
        )?;
        let mut seen = std::collections::HashSet::new();
        for o in options {
            check_id("option", &o.value)?;
            if !seen.insert(o.value.as_str()) {
                return Err(DefinitionError::Duplicate {
                    what: "option",
                    id: o.value.clone(),
                });
            }
            check_text(
                || format!("field {:?} option {:?}", self.id, o.value),
                &o.label,
            )?;
        }
        Ok(())
    }
}
