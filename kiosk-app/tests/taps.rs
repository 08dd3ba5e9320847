//! The citizen UI through Slint's own testing backend: every step is a tap (a pointer press and
//! release at the element's centre, hit-tested by Slint) on an element found by what a screen
//! reader would call it, against a real agent and fleet and the printer simulator. A citizen
//! switches to English, picks a service, types on the on-screen keyboard, sees the validator's
//! message next to the field, submits, gets a code and a printed receipt, and after "Finish"
//! nothing they typed is anywhere in the window.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

mod common;

use std::time::{Duration, Instant};

use common::Kiosk;
use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use kiosk_app::app::Controller;
use kiosk_app::{AppWindow, Screen, View};
use slint::ComponentHandle;
use slint::platform::PointerEventButton;

/// Slint's testing backend, drawing with the software renderer and the project's fonts (as on
/// the kiosk), so layouts and hit areas are the real ones; no event loop, the test drives it.
fn init_backend() {
    use i_slint_backend_testing::{TestingBackend, TestingBackendOptions};
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .expect("the first backend of this test process");
}

/// The elements a screen reader would call `label` on the screen as drawn (a screen not shown
/// has no elements).
fn named(ui: &AppWindow, label: &str) -> Vec<ElementHandle> {
    // Slint creates the elements of a changed list lazily, when the window is next drawn: draw
    // it (with the software renderer, as on the kiosk) when the element is not there yet.
    let found: Vec<_> = ElementHandle::find_by_accessible_label(ui, label).collect();
    if !found.is_empty() {
        return found;
    }
    ui.window().take_snapshot().expect("the window draws");
    ElementHandle::find_by_accessible_label(ui, label).collect()
}

/// Taps the one button called `label`.
fn tap(ui: &AppWindow, c: &Controller, label: &str) {
    let buttons: Vec<_> = named(ui, label)
        .into_iter()
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect();
    assert!(
        !buttons.is_empty(),
        "no button called {label:?} on {:?}",
        ui.global::<View>().get_screen()
    );
    buttons[0].mock_single_click(PointerEventButton::Left);
    c.pump();
}

/// Types `text` key by key on the on-screen keyboard.
fn type_keys(ui: &AppWindow, c: &Controller, text: &str) {
    for ch in text.chars() {
        let key = if ch == ' ' {
            "space".to_owned()
        } else {
            ch.to_string()
        };
        if named(ui, &key).is_empty() {
            // A capital: shift first, as a citizen would (the keys then show capitals).
            tap(ui, c, "shift");
        }
        tap(ui, c, &key);
    }
}

fn wait_for(c: &Controller, what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        c.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_citizen_taps_through_a_submission_and_leaves_nothing_behind() {
    init_backend();
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let k = Kiosk::start("kiosk-taps", |_| {
        format!("[printer]\npath = \"{}\"\n", printer.path().display())
    });
    let ui = AppWindow::new().unwrap();
    ui.window().set_size(slint::PhysicalSize::new(1920, 1080));
    ui.show().unwrap();
    let c = Controller::new(&ui, k.app_config()).unwrap();
    wait_for(&c, "the kiosk's name", || {
        ui.global::<View>().get_kiosk_name() != ""
    });

    tap(&ui, &c, "English");
    assert_eq!(ui.global::<View>().get_lang(), "en");
    tap(&ui, &c, "Start");
    wait_for(&c, "the catalog", || {
        !named(&ui, "Suggestion or complaint").is_empty()
    });
    tap(&ui, &c, "Suggestion or complaint");
    assert_eq!(ui.global::<View>().get_screen(), Screen::Form);

    // Too short: the validator's message shows next to the field.
    type_keys(&ui, &c, "bench");
    tap(&ui, &c, "Review");
    assert_eq!(ui.global::<View>().get_screen(), Screen::Form);
    assert_eq!(named(&ui, "✖ Enter at least 10 characters.").len(), 1);
    type_keys(&ui, &c, " by the town hall is broken");
    assert!(
        named(&ui, "✖ Enter at least 10 characters.").is_empty(),
        "fixed live"
    );
    let field: Vec<_> = ElementHandle::find_by_accessible_label(&ui, "Description")
        .filter(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        .collect();
    assert_eq!(
        field[0].accessible_value().unwrap(),
        "bench by the town hall is broken"
    );
    tap(&ui, &c, "Review");
    assert_eq!(ui.global::<View>().get_screen(), Screen::Review);
    assert_eq!(named(&ui, "bench by the town hall is broken").len(), 1);

    // Text messages about the request: the form has no phone field, so the number is typed
    // on the review screen's number pad.
    tap(&ui, &c, "By text message");
    assert!(ui.global::<View>().get_keyboard(), "the number pad is up");
    type_keys(&ui, &c, "777123456");
    let number: Vec<_> = ElementHandle::find_by_accessible_label(&ui, "Phone number for notices")
        .filter(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        .collect();
    assert_eq!(number[0].accessible_value().unwrap(), "777123456");

    tap(&ui, &c, "Submit");
    wait_for(&c, "the done screen", || {
        ui.global::<View>().get_screen() == Screen::Done
    });
    let code = ui.global::<View>().get_tracking_code().to_string();
    // The choice reached the fleet with the submission: the number kept there, masked.
    let plain = protocol::tracking::TrackingCode::parse(&code).unwrap();
    wait_for(&c, "the fleet keeps the address", || {
        k.fleet
            .admin_get(&format!("/api/admin/v1/requests/{}", plain.as_str()))
            .is_some_and(|v| v["contact"] == serde_json::json!(["sms", "+••• ••• ••456"]))
    });
    assert_eq!(named(&ui, &code).len(), 1, "the code is on screen");
    assert!(printer.wait_for_jobs(1, Duration::from_secs(10)));
    assert!(printer.jobs()[0].receipt.to_text().contains(&code));

    tap(&ui, &c, "Finish");
    assert_eq!(ui.global::<View>().get_screen(), Screen::Home);
    assert_eq!(
        ui.global::<View>().get_lang(),
        "cs",
        "the next citizen starts in Czech"
    );
    for gone in ["bench by the town hall is broken", &code] {
        assert!(
            ElementHandle::find_by_accessible_label(&ui, gone)
                .next()
                .is_none(),
            "{gone:?} is still in the window"
        );
    }
}

#[test]
fn the_idle_time_out_warns_then_wipes_what_was_typed() {
    init_backend();
    let k = Kiosk::start("kiosk-taps-idle", |_| String::new());
    let ui = AppWindow::new().unwrap();
    // A portrait panel, as the kiosk's config says.
    let config = kiosk_app::config::AppConfig {
        orientation: kiosk_app::config::Orientation::Portrait,
        ..k.app_config()
    };
    let (w, h) = config.orientation.size();
    ui.window().set_size(slint::PhysicalSize::new(w, h));
    ui.show().unwrap();
    let c = Controller::new(&ui, config).unwrap();
    wait_for(&c, "the kiosk's name", || {
        ui.global::<View>().get_kiosk_name() != ""
    });
    tap(&ui, &c, "Začít");
    wait_for(&c, "the catalog", || {
        !named(&ui, "Podnět nebo stížnost").is_empty()
    });
    tap(&ui, &c, "Podnět nebo stížnost");
    type_keys(&ui, &c, "Lavička je rozbitá");
    tap(&ui, &c, "Vysoký kontrast");
    assert_eq!(
        named(&ui, "Vysoký kontrast")[0].accessible_checked(),
        Some(true)
    );

    c.idle_for(Duration::from_secs(61));
    c.pump();
    assert_eq!(
        named(&ui, "Jste tu ještě?").len(),
        1,
        "the warning shows first"
    );
    tap(&ui, &c, "Pokračovat");
    assert!(named(&ui, "Jste tu ještě?").is_empty());
    let field = named(&ui, "Popis")
        .into_iter()
        .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        .unwrap();
    assert_eq!(field.accessible_value().unwrap(), "Lavička je rozbitá");

    c.idle_for(Duration::from_secs(81));
    c.pump();
    assert_eq!(ui.global::<View>().get_screen(), Screen::Home);
    assert!(
        ElementHandle::find_by_accessible_label(&ui, "Popis")
            .next()
            .is_none()
    );
    assert!(
        ElementHandle::find_by_accessible_label(&ui, "Lavička je rozbitá")
            .next()
            .is_none()
    );
    let contrast = named(&ui, "Vysoký kontrast");
    assert_eq!(
        contrast[0].accessible_checked(),
        Some(false),
        "high contrast is reset too"
    );
}
