//! The shared validator, on the demo catalog's forms: every field type, every constraint, and the
//! messages in all three languages.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use protocol::Lang;
use protocol::fleet::Catalog;
use protocol::form::Service;
use protocol::validate::{FieldValue, FormValues, Problem, validate_form};

fn service(id: &str) -> Service {
    let c: Catalog =
        serde_json::from_str(include_str!("../../fleet-server/data/demo-catalog.json")).unwrap();
    c.services.into_iter().find(|s| s.id == id).unwrap()
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

fn parking() -> FormValues {
    let mut v = FormValues::new();
    v.insert("jmeno".into(), text("Jiří Šťastný"));
    v.insert("narozeni".into(), text("1980-02-29"));
    v.insert("telefon".into(), text("+420 601 234 567"));
    v.insert("spz".into(), text("1AB 2345"));
    v.insert("zona".into(), text("a"));
    v.insert("mesice".into(), FieldValue::Number(6.0));
    v.insert("souhlas".into(), FieldValue::Bool(true));
    v
}

fn problems(s: &Service, v: &FormValues) -> Vec<(String, Problem)> {
    validate_form(&s.form, v)
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.field, e.problem))
        .collect()
}

#[test]
fn a_complete_form_passes() {
    assert_eq!(problems(&service("parkovaci-karta"), &parking()), vec![]);
}

#[test]
fn each_constraint_is_enforced() {
    let s = service("parkovaci-karta");
    let cases: Vec<(&str, FieldValue, Problem)> = vec![
        ("jmeno", text("J"), Problem::TooShort { min: 2 }),
        ("jmeno", FieldValue::Number(3.0), Problem::WrongType),
        ("narozeni", text("1981-02-29"), Problem::BadDate),
        (
            "narozeni",
            text("2020-01-01"),
            Problem::DateTooLate {
                max: "2010-12-31".into(),
            },
        ),
        ("telefon", text("12"), Problem::BadPhone),
        ("spz", text("ABC"), Problem::Pattern),
        ("zona", text("z"), Problem::UnknownOption),
        (
            "mesice",
            FieldValue::Number(13.0),
            Problem::AboveMax { max: 12.0 },
        ),
        ("mesice", FieldValue::Number(1.5), Problem::NotANumber),
        ("souhlas", FieldValue::Bool(false), Problem::Required),
        ("email", text("jan@"), Problem::BadEmail),
    ];
    for (field, value, expected) in cases {
        let mut v = parking();
        v.insert(field.into(), value.clone());
        assert_eq!(
            problems(&s, &v),
            vec![(field.to_owned(), expected)],
            "{field} = {value:?}"
        );
    }
    let mut v = parking();
    v.insert("navic".into(), text("x"));
    assert_eq!(
        problems(&s, &v),
        vec![("navic".to_owned(), Problem::UnknownField)]
    );
}

#[test]
fn multi_choice_counts_and_rejects_repeats() {
    let s = service("svoz-odpadu");
    let mut v = FormValues::new();
    v.insert("adresa".into(), text("Hlavní třída 1"));
    v.insert("termin".into(), text("2026-12-01"));
    v.insert("druhy".into(), FieldValue::List(vec!["nabytek".into()]));
    assert_eq!(problems(&s, &v), vec![]);
    v.insert(
        "druhy".into(),
        FieldValue::List(vec!["nabytek".into(), "nabytek".into()]),
    );
    assert_eq!(
        problems(&s, &v),
        vec![("druhy".into(), Problem::UnknownOption)]
    );
    v.insert("druhy".into(), FieldValue::List(vec![]));
    assert_eq!(problems(&s, &v), vec![("druhy".into(), Problem::Required)]);
}

#[test]
fn messages_exist_in_every_language_and_use_the_hint() {
    let s = service("parkovaci-karta");
    let mut v = parking();
    v.insert("spz".into(), text("??"));
    let errs = validate_form(&s.form, &v).unwrap_err();
    let hint = match &s.form.field("spz").unwrap().kind {
        protocol::form::FieldKind::Text { pattern_hint, .. } => pattern_hint.clone(),
        _ => None,
    };
    assert_eq!(
        errs[0].message(Lang::Cs, hint.as_ref()),
        "Zadejte SPZ ve tvaru 1AB 2345."
    );
    assert_eq!(
        errs[0].message(Lang::En, hint.as_ref()),
        "Enter the plate as 1AB 2345."
    );
    let required = protocol::validate::FieldError {
        field: "x".into(),
        problem: Problem::Required,
    };
    assert_eq!(required.message(Lang::Uk, None), "Це поле обов'язкове.");
}

#[test]
fn broken_definitions_are_refused() {
    let mut s = service("parkovaci-karta");
    s.form.pages[1].fields[0].id = "jmeno".into();
    assert!(
        s.check()
            .unwrap_err()
            .to_string()
            .contains("duplicate field")
    );
    let mut s = service("parkovaci-karta");
    if let protocol::form::FieldKind::Text { pattern, .. } = &mut s.form.pages[1].fields[0].kind {
        *pattern = Some("([".into());
    }
    assert!(
        s.check()
            .unwrap_err()
            .to_string()
            .contains("pattern does not compile")
    );
    let mut s = service("parkovaci-karta");
    s.name.cs = " ".into();
    assert!(s.check().unwrap_err().to_string().contains("Czech"));
    let mut s = service("parkovaci-karta");
    s.id = "Bad Id".into();
    assert!(s.check().is_err());
}
