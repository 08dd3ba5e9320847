//! The citizen UI driven through its own callbacks (what a tap on a widget calls), rendered
//! offscreen, against a real agent enrolled with a real fleet server and printing on the printer
//! simulator: a citizen fills a form with the on-screen keyboard, sees the validator's message in
//! their language, submits, gets a tracking code and a printed receipt, and finishing leaves
//! nothing behind; an idle time-out warns, then wipes a half-filled form.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::{Duration, Instant};

mod common;

use common::{CARD, Kiosk, card_reader};
use hw_tests::escpos::sim::{PrinterSim, PrinterState};
use kiosk_app::app::Controller;
use kiosk_app::render::Offscreen;
use kiosk_app::{Actions, AppWindow, Screen, View};
use slint::{ComponentHandle, Model};

fn pump_until(
    c: &Controller,
    off: &mut Offscreen,
    what: &str,
    mut ok: impl FnMut(&AppWindow) -> bool,
) {
    let end = Instant::now() + Duration::from_secs(30);
    while !ok(&off.ui) {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        c.pump();
        off.render();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where the catalog screen lists the service `id`.
fn service_index(ui: &AppWindow, id: &str) -> usize {
    let services = ui.global::<View>().get_services();
    (0..services.row_count())
        .position(|i| services.row_data(i).unwrap().id == id)
        .unwrap()
}

fn type_on_keyboard(ui: &AppWindow, text: &str) {
    for ch in text.chars() {
        // Every character the citizen types is a key of the on-screen keyboard.
        let key = if ch == ' ' {
            "space".to_owned()
        } else {
            ch.to_string()
        };
        ui.global::<Actions>().invoke_tapped();
        ui.global::<Actions>().invoke_key(key.into());
    }
}

#[test]
fn a_citizen_submits_a_form_and_gets_a_printed_receipt_then_nothing_remains() {
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let k = Kiosk::start("kiosk-app-1", |_| {
        format!("[printer]\npath = \"{}\"\n", printer.path().display())
    });

    let mut off = Offscreen::new(1920, 1080, true).unwrap();
    let c = Controller::new(&off.ui, k.app_config()).unwrap();
    off.ui.global::<Actions>().invoke_start();
    pump_until(&c, &mut off, "the catalog", |ui| {
        ui.global::<View>().get_services().row_count() == 3
    });
    let podnet = service_index(&off.ui, "podnet");
    off.ui
        .global::<Actions>()
        .invoke_pick_service(podnet as i32);
    assert_eq!(off.ui.global::<View>().get_screen(), Screen::Form);
    assert!(
        off.ui.global::<View>().get_keyboard(),
        "the text field has the keyboard"
    );

    // Too short: the validator's message, in Czech, then in English after switching.
    type_on_keyboard(&off.ui, "Lavička");
    off.ui.global::<Actions>().invoke_next();
    let error = |ui: &AppWindow| {
        ui.global::<View>()
            .get_fields()
            .row_data(0)
            .unwrap()
            .error
            .to_string()
    };
    assert_eq!(error(&off.ui), "Zadejte alespoň 10 znaků.");
    off.ui.global::<Actions>().invoke_language("en".into());
    assert_eq!(error(&off.ui), "Enter at least 10 characters.");
    // Typing on fixes it live.
    type_on_keyboard(&off.ui, " u radnice je rozbitá");
    assert_eq!(error(&off.ui), "");
    assert_eq!(
        off.ui
            .global::<View>()
            .get_fields()
            .row_data(0)
            .unwrap()
            .value,
        "Lavička u radnice je rozbitá"
    );
    off.ui.global::<Actions>().invoke_next();
    assert_eq!(off.ui.global::<View>().get_screen(), Screen::Review);
    assert_eq!(off.ui.global::<View>().get_review_rows().row_count(), 1);
    off.ui.global::<Actions>().invoke_submit();
    pump_until(&c, &mut off, "the done screen", |ui| {
        ui.global::<View>().get_screen() == Screen::Done
    });
    let code = off.ui.global::<View>().get_tracking_code().to_string();
    assert_eq!(code.len(), 11, "{code}");
    assert!(off.ui.global::<View>().get_printed(), "the receipt printed");
    assert!(printer.wait_for_jobs(1, Duration::from_secs(10)));
    assert!(printer.jobs()[0].receipt.to_text().contains(&code));
    let session = c.session();
    assert!(session.values.is_empty() && session.typed.is_empty());

    // Finish: nothing of this citizen in any model.
    off.ui.global::<Actions>().invoke_finish();
    c.pump();
    assert_eq!(off.ui.global::<View>().get_screen(), Screen::Home);
    assert_eq!(off.ui.global::<View>().get_lang(), "cs");
    assert_eq!(off.ui.global::<View>().get_tracking_code(), "");
    assert_eq!(off.ui.global::<View>().get_fields().row_count(), 0);
    assert_eq!(off.ui.global::<View>().get_review_rows().row_count(), 0);
    assert_eq!(off.ui.global::<View>().get_form_title(), "");
    // The agent stored it under that code.
    let mut client = k.agent.client().unwrap();
    match client
        .call(protocol::app::RequestBody::Status {
            tracking_code: code.clone(),
        })
        .unwrap()
    {
        protocol::app::ResponseBody::Status(s) => assert_eq!(s.tracking_code.to_string(), code),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_idle_time_out_warns_then_wipes_a_half_filled_form() {
    let k = Kiosk::start("kiosk-app-2", |_| String::new());
    let mut off = Offscreen::new(1080, 1920, true).unwrap();
    let c = Controller::new(&off.ui, k.app_config()).unwrap();
    off.ui.global::<Actions>().invoke_start();
    pump_until(&c, &mut off, "the catalog", |ui| {
        ui.global::<View>().get_services().row_count() == 3
    });
    off.ui.global::<Actions>().invoke_pick_service(0);
    type_on_keyboard(&off.ui, "Jana Nováková");
    off.ui.global::<Actions>().invoke_contrast();
    assert!(c.session().typed.values().any(|v| v == "Jana Nováková"));

    c.idle_for(Duration::from_secs(61));
    c.pump();
    assert!(
        off.ui.global::<View>().get_idle_warning(),
        "the warning shows first"
    );
    assert!(
        off.ui.global::<View>().get_idle_seconds() >= 18,
        "with about 20 s to continue"
    );
    assert_eq!(
        off.ui.global::<View>().get_screen(),
        Screen::Form,
        "nothing is wiped yet"
    );
    // "Continue" keeps the form.
    off.ui.global::<Actions>().invoke_continue_session();
    c.pump();
    assert!(!off.ui.global::<View>().get_idle_warning());
    assert!(c.session().typed.values().any(|v| v == "Jana Nováková"));

    c.idle_for(Duration::from_secs(81));
    c.pump();
    assert_eq!(off.ui.global::<View>().get_screen(), Screen::Home);
    assert!(!off.ui.global::<View>().get_idle_warning());
    let s = c.session();
    assert!(s.values.is_empty() && s.typed.is_empty() && s.service.is_none());
    assert!(!s.high_contrast, "accessibility choices reset too");
    assert_eq!(off.ui.global::<View>().get_fields().row_count(), 0);
}

/// Fills the form page on screen the way a citizen would: taps each field and types on the
/// on-screen keyboard, steps the date picker, ticks the first option.
fn fill_page_on_screen(ui: &AppWindow) {
    let fields = ui.global::<View>().get_fields();
    for i in 0..fields.row_count() {
        let f = fields.row_data(i).unwrap();
        let text = match f.kind.as_str() {
            "text" if f.label.contains("značka") => "1T2 3456",
            "text" => "Jana Nováková",
            "multiline" => "Rozbitá lavička v parku u radnice.",
            "number" => "6",
            "email" => "jana@example.cz",
            "phone" => "+420 601 234 567",
            "date" => {
                ui.global::<Actions>()
                    .invoke_date_step(i as i32, "day+".into());
                continue;
            }
            _ => {
                ui.global::<Actions>().invoke_toggle(i as i32, 0);
                continue;
            }
        };
        ui.global::<Actions>().invoke_focus_field(i as i32);
        type_on_keyboard(ui, text);
    }
}

#[test]
fn a_citizen_identifies_with_a_card_then_finds_the_request_under_my_requests() {
    use hw_tests::cardsim::{CardReaderSim, SimFraming};
    let reader = CardReaderSim::start(SimFraming::StxEtx).unwrap();
    let k = Kiosk::start("kiosk-app-3", |dir| card_reader(dir, reader.path()));

    let mut off = Offscreen::new(1920, 1080, true).unwrap();
    let c = Controller::new(&off.ui, k.app_config()).unwrap();
    off.ui.global::<Actions>().invoke_start();
    pump_until(&c, &mut off, "the catalog", |ui| {
        ui.global::<View>().get_services().row_count() == 3
            && ui.global::<View>().get_has_card_reader()
    });
    let permit = service_index(&off.ui, "parkovaci-karta");
    assert!(
        off.ui
            .global::<View>()
            .get_services()
            .row_data(permit)
            .unwrap()
            .needs_card
    );
    off.ui
        .global::<Actions>()
        .invoke_pick_service(permit as i32);
    while off.ui.global::<View>().get_screen() == Screen::Form {
        fill_page_on_screen(&off.ui);
        off.ui.global::<Actions>().invoke_next();
    }
    assert_eq!(
        off.ui.global::<View>().get_screen(),
        Screen::Identify,
        "the permit asks for the card"
    );
    // The card counts only while the app waits for it: present it until the review shows.
    let end = Instant::now() + Duration::from_secs(30);
    while off.ui.global::<View>().get_screen() == Screen::Identify {
        assert!(Instant::now() < end, "the card was never read");
        reader.present(CARD).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        c.pump();
    }
    assert_eq!(off.ui.global::<View>().get_screen(), Screen::Review);
    assert_eq!(off.ui.global::<View>().get_identity(), "••••••••••••1111");
    let rows = off.ui.global::<View>().get_review_rows();
    assert!((0..rows.row_count()).all(|i| !rows.row_data(i).unwrap().value.contains("4111")));
    off.ui.global::<Actions>().invoke_submit();
    pump_until(&c, &mut off, "the done screen", |ui| {
        ui.global::<View>().get_screen() == Screen::Done
    });
    let code = off.ui.global::<View>().get_tracking_code().to_string();
    off.ui.global::<Actions>().invoke_finish();
    c.pump();
    assert_eq!(
        off.ui.global::<View>().get_identity(),
        "",
        "the card is forgotten with the session"
    );
    assert!(c.session().identity.is_none());

    // Later, "my requests": present the card on the status screen.
    off.ui.global::<Actions>().invoke_open_status();
    off.ui.global::<Actions>().invoke_read_card();
    assert_eq!(
        off.ui.global::<View>().get_message(),
        "Přiložte kartu ke čtečce."
    );
    let end = Instant::now() + Duration::from_secs(30);
    while off.ui.global::<View>().get_status_rows().row_count() == 0 {
        assert!(Instant::now() < end, "my requests never listed");
        reader.present(CARD).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        c.pump();
        off.render();
    }
    let rows = off.ui.global::<View>().get_status_rows();
    assert_eq!(rows.row_count(), 1);
    let row = rows.row_data(0).unwrap();
    assert_eq!(row.code, code);
    assert_eq!(row.service, "Rezidentní parkovací karta");
    assert!(!row.when.contains("offline"), "{}", row.when);
    assert_eq!(
        off.ui.global::<View>().get_identity(),
        "",
        "the card is not kept after asking"
    );
}

#[test]
fn the_app_learns_at_once_when_the_printer_runs_out_of_paper_and_when_it_is_back() {
    use hw_tests::escpos::sim::Paper;
    let printer = PrinterSim::start(PrinterState::default()).unwrap();
    let k = Kiosk::start("kiosk-app-4", |_| {
        format!(
            "[agent]\ndevice_poll_ms = 200\n[printer]\npath = \"{}\"\n",
            printer.path().display()
        )
    });
    let mut off = Offscreen::new(1920, 1080, true).unwrap();
    let c = Controller::new(&off.ui, k.app_config()).unwrap();
    pump_until(&c, &mut off, "the kiosk's name", |ui| {
        ui.global::<View>().get_kiosk_name() != "" && ui.global::<View>().get_printer_ok()
    });
    // Device changes come from the agent's event log as they happen, not from a slow poll.
    printer.set_state(|s| s.paper = Paper::Out);
    pump_until(&c, &mut off, "the printer down", |ui| {
        !ui.global::<View>().get_printer_ok()
    });
    printer.set_state(|s| s.paper = Paper::Ok);
    pump_until(&c, &mut off, "the printer back", |ui| {
        ui.global::<View>().get_printer_ok()
    });
}
