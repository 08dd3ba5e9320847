//! The session's flows, driven as the UI drives them.

use super::*;

fn catalog() -> CatalogView {
    crate::render::demo_catalog()
}

fn today() -> Date {
    Date {
        year: 2026,
        month: 11,
        day: 23,
    }
}

#[test]
fn date_steps_wrap_and_clamp_to_the_month() {
    let d = |y, m, day| Date {
        year: y,
        month: m,
        day,
    };
    assert_eq!(step_date(d(2026, 1, 31), "month+"), d(2026, 2, 1));
    assert_eq!(step_date(d(2026, 3, 1), "day-"), d(2026, 3, 31));
    assert_eq!(step_date(d(2024, 2, 29), "year+"), d(2025, 2, 1));
    assert_eq!(step_date(d(2026, 12, 5), "month+"), d(2026, 1, 5));
    assert_eq!(step_date(d(1900, 1, 1), "year-"), d(1900, 1, 1));
}

#[test]
fn a_date_of_birth_starts_at_its_latest_allowed_day() {
    let mut s = Session::new();
    s.start();
    s.pick_service(&catalog(), 0);
    let i = s
        .page_fields()
        .iter()
        .position(|f| f.id == "narozeni")
        .unwrap();
    s.date_step(i, "day+", today());
    assert_eq!(
        s.values.get("narozeni"),
        Some(&FieldValue::Text("2010-12-31".into()))
    );
    s.date_step(i, "year-", today());
    assert_eq!(
        s.values.get("narozeni"),
        Some(&FieldValue::Text("2009-12-31".into()))
    );
}

#[test]
fn choices_toggle_and_show_their_labels_in_the_review() {
    let c = catalog();
    let mut s = Session::new();
    s.start();
    let i = s
        .visible_services(&c)
        .iter()
        .position(|x| x.id == "svoz-odpadu")
        .unwrap();
    s.pick_service(&c, i);
    let multi = s
        .page_fields()
        .iter()
        .position(|f| matches!(f.kind, FieldKind::MultiChoice { .. }))
        .unwrap();
    s.toggle(multi, 0);
    s.toggle(multi, 1);
    s.toggle(multi, 0);
    let id = s.page_fields()[multi].id.clone();
    assert!(matches!(s.values.get(&id), Some(FieldValue::List(l)) if l.len() == 1));
    let rows = s.review_rows();
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].1.contains('-'),
        "labels, not option values: {:?}",
        rows[0]
    );
}

#[test]
fn a_card_on_the_status_screen_asks_for_its_requests_and_is_not_kept() {
    let mut s = Session::new();
    s.open_status();
    s.waiting_for_card();
    assert_eq!(s.message, "Přiložte kartu ke čtečce.");
    let ask = s.card_read("ab".repeat(32), "••••1111".into());
    assert_eq!(ask, Some(Request::MyRequests("ab".repeat(32))));
    assert!(s.identity.is_none(), "the card is only used to ask");
    s.set_lang(Lang::En);
    s.requests_listed(Vec::new());
    assert_eq!(s.message, "No request was made with this card.");
    // On the home screen a stray card does nothing.
    let mut h = Session::new();
    assert_eq!(h.card_read("ab".repeat(32), "x".into()), None);
    assert!(h.identity.is_none());
}

#[test]
fn a_reset_leaves_exactly_a_new_session() {
    let c = catalog();
    let mut s = Session::new();
    s.set_lang(Lang::Uk);
    s.high_contrast = true;
    s.start();
    s.pick_service(&c, 0);
    s.key("J");
    s.next();
    s.identity = Some(("hash".into(), "••••1234".into()));
    s.reset();
    assert_eq!(format!("{s:?}"), format!("{:?}", Session::new()));
}

#[test]
fn search_filters_in_the_citizens_language_and_a_retry_keeps_the_submission_id() {
    let c = catalog();
    let mut s = Session::new();
    s.set_lang(Lang::En);
    s.start();
    s.search_tapped();
    for k in ["w", "a", "s", "t", "e"] {
        s.key(k);
    }
    assert_eq!(s.visible_services(&c).len(), 1);
    s.pick_service(&c, 0);
    assert_eq!(s.service.as_ref().unwrap().id, "svoz-odpadu");
    let Some(Request::Submit(a)) = s.submit() else {
        panic!()
    };
    s.submit_failed("try again".into());
    let Some(Request::Submit(b)) = s.submit() else {
        panic!()
    };
    assert_eq!(a.submission_id, b.submission_id);
}

#[test]
fn the_citizen_chooses_notices_on_the_review_and_they_travel_with_the_submission() {
    use protocol::fleet::{NoticeChannel, NoticeRequest};
    let mut s = Session::new();
    s.service = Some(
        protocol::json::decode::<protocol::fleet::Catalog>(
            include_bytes!("../../../fleet-server/data/demo-catalog.json"),
            1 << 20,
        )
        .unwrap()
        .services
        .into_iter()
        .find(|x| {
            x.form
                .pages
                .iter()
                .flat_map(|p| &p.fields)
                .any(|f| f.id == "telefon")
        })
        .unwrap(),
    );
    s.values.insert(
        "telefon".into(),
        FieldValue::Text("+420 601 234 567".into()),
    );
    s.screen = Screen::Review;
    // SMS: the form's phone number, no typing.
    s.choose_notify(Some(NoticeChannel::Sms));
    assert_eq!(s.notify_to, "+420 601 234 567");
    assert!(!s.notify_typing && s.keyboard_layout().is_none());
    // E-mail without one in the form: typed on the review screen with the letter keyboard.
    s.choose_notify(Some(NoticeChannel::Email));
    assert!(s.notify_typing);
    assert_eq!(s.keyboard_layout(), Some(crate::keyboard::Layout::English));
    for k in ["j", "a", "n", "a", "@"] {
        s.key(k);
    }
    // Not an address yet: refused on the review screen, nothing sent.
    assert!(s.submit().is_none());
    assert_eq!(s.screen, Screen::Review);
    assert!(!s.message.is_empty());
    for k in ["x", ".", "c", "z"] {
        s.key(k);
    }
    let Some(Request::Submit(req)) = s.submit() else {
        panic!("not submitted")
    };
    assert_eq!(
        req.notify,
        Some(NoticeRequest {
            channel: NoticeChannel::Email,
            to: "jana@x.cz".into()
        })
    );
    // "No, thanks" sends nothing; the stored code clears the address from the screen.
    s.screen = Screen::Review;
    s.choose_notify(None);
    let Some(Request::Submit(req)) = s.submit() else {
        panic!("not submitted")
    };
    assert_eq!(req.notify, None);
    s.submitted("X".into(), String::new(), true);
    assert!(s.notify_to.is_empty());
}
