//! Audio mode and the keypad, end to end: the app's window gets key events only (as a tactile
//! keypad under the screen sends them), a real agent speaks with espeak-ng into WAV files
//! (`[speech] record_dir`), and a real fleet answers.
//!
//! - A citizen who cannot see goes through whole flows in Czech, English and Ukrainian: audio
//!   mode by the help key, a service, a form with an error, submit, the code, then the status by
//!   code; the exact sequence of what the kiosk says is compared with
//!   `tests/golden/speech-<lang>.txt` (`OKENKO_UPDATE_GOLDEN=1` writes them; read the diff).
//! - A headset plugged into the jack starts audio mode; typed values are then spoken, only into
//!   the headset; pulling it ends audio mode silently.
//! - A finger held on the city's name starts audio mode too (the gesture).
//! - Every control of every screen has something to say in every language.
//! - The WAV files are speech of a plausible length, not silence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::Kiosk;
use kiosk_app::View;
use kiosk_app::access::controls::controls;
use kiosk_app::app::Controller;
use kiosk_app::keyboard;
use kiosk_app::render::Offscreen;
use protocol::Lang;
use protocol::app::Utterance;
use slint::ComponentHandle;
use slint::platform::{Key, WindowEvent};

fn key_text(k: Key) -> String {
    char::from(k).to_string()
}

/// Presses and releases a key on the window, then lets the app handle what follows.
fn press(c: &Controller, off: &mut Offscreen, text: &str) {
    let w = off.ui.window();
    w.dispatch_event(WindowEvent::KeyPressed { text: text.into() });
    w.dispatch_event(WindowEvent::KeyReleased { text: text.into() });
    c.pump();
    off.render();
}

fn focus(c: &Controller) -> String {
    c.access().focus.unwrap_or_default()
}

fn pump_until(
    c: &Controller,
    off: &mut Offscreen,
    what: &str,
    mut ok: impl FnMut(&Controller, &kiosk_app::AppWindow) -> bool,
) {
    let end = Instant::now() + Duration::from_secs(30);
    while !ok(c, &off.ui) {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        c.pump();
        off.render();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Moves the focus down (8 on the keypad, or the arrow) until it is on `id`.
fn move_to(c: &Controller, off: &mut Offscreen, id: &str) {
    for i in 0..300 {
        if focus(c) == id {
            return;
        }
        let down = if i % 2 == 0 {
            "2".to_owned()
        } else {
            key_text(Key::DownArrow)
        };
        press(c, off, &down);
    }
    panic!("the focus never reached {id} (it is on {})", focus(c));
}

/// Types `text` on the on-screen keyboard with the keypad: moves row by row, then along the row,
/// and activates the key.
fn type_with_keypad(c: &Controller, off: &mut Offscreen, text: &str) {
    for ch in text.chars() {
        let layout = c.session().keyboard_layout().expect("a keyboard is shown");
        let rows = keyboard::rows(layout, false);
        let (r, col) = rows
            .iter()
            .enumerate()
            .find_map(|(r, row)| {
                row.iter()
                    .position(|k| {
                        if ch == ' ' {
                            k.action == "space"
                        } else {
                            k.action.is_empty() && k.label == ch.to_string()
                        }
                    })
                    .map(|col| (r, col))
            })
            .unwrap_or_else(|| panic!("no key types {ch:?}"));
        for _ in 0..40 {
            let at = focus(c);
            let mut parts = at.strip_prefix("key:").expect("on the keyboard").split(':');
            let fr: usize = parts.next().unwrap().parse().unwrap();
            let fc: usize = parts.next().unwrap().parse().unwrap();
            let k = if fr < r {
                Key::DownArrow
            } else if fr > r {
                Key::UpArrow
            } else if fc < col {
                Key::RightArrow
            } else if fc > col {
                Key::LeftArrow
            } else {
                break;
            };
            press(c, off, &key_text(k));
        }
        assert_eq!(focus(c), format!("key:{r}:{col}"));
        press(c, off, &key_text(Key::Return));
    }
}

/// What was said, one utterance each, with what changes from run to run replaced.
fn transcript(said: &[Utterance], replace: &[(String, &str)]) -> Vec<String> {
    said.iter()
        .map(|u| {
            replace
                .iter()
                .filter(|(from, _)| !from.is_empty())
                .fold(u.text.clone(), |line, (from, to)| {
                    line.replace(from.as_str(), to)
                })
        })
        .collect()
}

fn check_golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("OKENKO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (OKENKO_UPDATE_GOLDEN=1 writes it)", path.display()));
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name}: what the kiosk says changed at line {}:\n  want: {:?}\n  got:  {:?}",
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
}

fn speech_config(dir: &Path, jack: Option<&Path>) -> String {
    let mut s = format!(
        "[speech]\nrecord_dir = \"{}\"\n",
        dir.join("spoken").display()
    );
    if let Some(j) = jack {
        s.push_str(&format!("jack = \"{}\"\n", j.display()));
    }
    s
}

/// A kiosk with speech recorded (and the jack at `jack`), its app offscreen, the agent's catalog
/// there before the first citizen comes.
fn kiosk(name: &str, jack: Option<&Path>) -> (Kiosk, Offscreen, Controller) {
    let k = Kiosk::start(name, |d| speech_config(d, jack));
    let mut off = Offscreen::new(1920, 1080, true).unwrap();
    let c = Controller::new(&off.ui, k.app_config()).unwrap();
    pump_until(&c, &mut off, "the agent", |_, ui| {
        ui.global::<View>().get_kiosk_name() != ""
    });
    (k, off, c)
}

/// One citizen's whole visit with the keypad alone, in `lang`: the transcript.
fn visit(c: &Controller, off: &mut Offscreen, lang: Lang) -> String {
    // Marks, not indices: the app keeps only its last few hundred utterances.
    let start = c.spoken_count();
    assert_eq!(c.session().screen, kiosk_app::session::Screen::Home);
    // The help key starts audio mode.
    press(c, off, "*");
    assert!(c.access().audio);
    if lang != Lang::Cs {
        move_to(c, off, &format!("lang:{}", lang.code()));
        press(c, off, "5");
        assert_eq!(c.session().lang, lang);
        move_to(c, off, "start");
    }
    press(c, off, &key_text(Key::Return));
    pump_until(c, off, "the catalog", |c, ui| {
        c.session().screen == kiosk_app::session::Screen::Catalog
            && slint::Model::row_count(&ui.global::<View>().get_services()) == 3
    });
    // The suggestion service is the last of the three.
    move_to(c, off, "svc:2");
    press(c, off, "5");
    assert_eq!(c.session().service.as_ref().unwrap().id, "podnet");
    assert_eq!(focus(c), "field:0");
    // Into the keyboard; a word too short; Next gives the validator's message.
    press(c, off, "5");
    let word = match lang {
        Lang::Cs => "čáp",
        Lang::En => "map",
        Lang::Uk => "ліс",
    };
    type_with_keypad(c, off, word);
    press(c, off, &key_text(Key::Escape));
    assert_eq!(
        focus(c),
        "field:0",
        "Back leaves the keyboard for its field"
    );
    move_to(c, off, "next");
    press(c, off, "5");
    assert!(!c.session().errors.is_empty());
    assert_eq!(focus(c), "field:0", "the focus goes to the field in error");
    press(c, off, "5");
    type_with_keypad(c, off, " 12345678");
    assert!(c.session().errors.is_empty(), "typing fixed it");
    move_to(c, off, "next");
    press(c, off, "5");
    assert_eq!(c.session().screen, kiosk_app::session::Screen::Review);
    move_to(c, off, "submit");
    press(c, off, "5");
    pump_until(c, off, "the done screen", |c, _| {
        c.session().screen == kiosk_app::session::Screen::Done
    });
    let code = c.session().receipt.unwrap().code;
    // The code again, character by character: the slash repeats.
    move_to(c, off, "code");
    press(c, off, "/");
    move_to(c, off, "done-finish");
    press(c, off, "5");
    assert!(!c.access().audio, "the end of the session ends audio mode");

    // Later: the status by code, the code typed with the keypad.
    press(c, off, &key_text(Key::F1));
    if lang != Lang::Cs {
        move_to(c, off, &format!("lang:{}", lang.code()));
        press(c, off, "5");
    }
    move_to(c, off, "status");
    press(c, off, "5");
    assert_eq!(c.session().screen, kiosk_app::session::Screen::Status);
    press(c, off, "2");
    let typing = c.spoken_count() - start;
    type_with_keypad(c, off, &code.replace('-', ""));
    move_to(c, off, "lookup");
    // (The walk from the code's last key down to "Look up" depends on the code too.)
    let typed = c.spoken_count() - start - 1;
    press(c, off, "5");
    pump_until(c, off, "the status", |c, _| {
        !c.session().statuses.is_empty()
    });
    let answer = c.session().statuses[0].clone();
    press(c, off, &key_text(Key::Escape));
    assert_eq!(c.session().screen, kiosk_app::session::Screen::Home);

    let said = c.spoken_since(start).expect("the app keeps a whole visit");
    assert!(
        said.iter().all(|u| !u.private),
        "no headset: nothing private"
    );
    let spelled = kiosk_app::access::controls::spell(&code);
    // The status answer came in the citizen's language (a new session starts in Czech; they
    // chose theirs again).
    let status = said
        .iter()
        .rev()
        .find(|u| u.text.contains(&spelled))
        .unwrap();
    assert_eq!(status.lang, lang);
    let when = kiosk_app::ui::status_when(lang, answer.updated_at, answer.offline, answer.known_at);
    let all = transcript(&said, &[(spelled, "<CODE>"), (when, "<WHEN>")]);
    // The code differs from run to run, and so do the keys walked to type it: each of those
    // utterances names a key; the transcript has one line for them.
    let key_word = kiosk_app::access::texts::ui(lang, "key");
    let mut out = String::new();
    for (i, line) in all.iter().enumerate() {
        if (typing..typed).contains(&i) {
            let one = line.chars().count() <= 3 || line.ends_with(&format!(", {key_word}."));
            assert!(one, "typing the code: {line}");
            if i == typing {
                out.push_str("<the code typed key by key>\n");
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn a_blind_citizen_files_a_request_and_checks_it_with_the_keypad_alone_in_each_language() {
    let (k, mut off, c) = kiosk("audio-1", None);
    for lang in [Lang::Cs, Lang::En, Lang::Uk] {
        let said = visit(&c, &mut off, lang);
        // Read by a person: what each language's citizen hears.
        check_golden(&format!("speech-{}.txt", lang.code()), &said);
    }
    // The agent spoke what the app said, in order, the last utterance too. (An utterance still
    // waiting to be sent when a newer one comes is replaced by it: a citizen moving on does
    // not wait; so the agent may hear fewer than were said.)
    let dir = k.agent_dir.join("spoken");
    let log = std::fs::read_to_string(dir.join("spoken.tsv")).unwrap();
    assert!(log.lines().all(|l| l.split('\t').nth(1) == Some("speaker")));
    let logged: Vec<&str> = log
        .lines()
        .filter_map(|l| l.splitn(6, '\t').nth(5))
        .collect();
    let said: Vec<String> = c
        .spoken()
        .iter()
        .map(|u| u.text.replace(['\t', '\n'], " "))
        .collect();
    assert_eq!(logged.last().copied(), said.last().map(String::as_str));
    assert!(
        logged.len() >= c.spoken_count() / 4,
        "{} of {} reached the agent",
        logged.len(),
        c.spoken_count()
    );
    let mut rest = said.iter();
    let tail = &logged[logged.len().saturating_sub(said.len() / 2)..];
    for line in tail {
        assert!(
            rest.any(|s| s == line),
            "the agent spoke {line:?}, out of order or never said"
        );
    }
    drop(k);
}

/// The jack's switch as the kernel reports it: `EV_SW`, `SW_HEADPHONE_INSERT`, then a report.
fn jack_event(plugged: bool) -> hw_tests::touchsim::Recording {
    let mut r = hw_tests::touchsim::Recording::new();
    r.event(0x05, 0x02, i32::from(plugged)).event(0, 0, 0);
    r
}

#[test]
fn a_headset_starts_audio_mode_hears_what_is_typed_privately_and_pulling_it_ends_it() {
    let tmp = hw_tests::harness::TempDir::new("audio-jack");
    let mut jack = hw_tests::touchsim::InputFifo::create(&tmp.path().join("jack")).unwrap();
    let jack_path = jack.path().to_owned();
    let (k, mut off, c) = kiosk("audio-2", Some(&jack_path));
    assert!(!c.access().audio);

    jack.send(&jack_event(true)).unwrap();
    pump_until(&c, &mut off, "audio mode", |c, _| c.access().audio);
    let help = c.spoken().last().unwrap().clone();
    assert!(help.text.starts_with("Hlasový režim."), "{}", help.text);
    assert!(
        !help.text.contains("sluchátka"),
        "with a headset, no warning that typing stays silent: {}",
        help.text
    );

    press(&c, &mut off, "5");
    pump_until(&c, &mut off, "the catalog", |c, ui| {
        c.session().screen == kiosk_app::session::Screen::Catalog
            && slint::Model::row_count(&ui.global::<View>().get_services()) == 3
    });
    move_to(&c, &mut off, "svc:2");
    press(&c, &mut off, "5");
    press(&c, &mut off, "5");
    type_with_keypad(&c, &mut off, "čáp");
    press(&c, &mut off, "-");
    let field = c.spoken().last().unwrap().clone();
    assert_eq!(field.text, "Popis, textové pole, čáp, povinné.");
    assert!(field.private, "a typed value is personal");

    // Faster and louder for what follows; the privacy screen on and off.
    press(&c, &mut off, "9");
    press(&c, &mut off, "3");
    assert_eq!(c.spoken().last().unwrap().text, "Hlasitost 6.");
    press(&c, &mut off, ".");
    assert!(off.ui.global::<View>().get_blank());
    assert_eq!(c.spoken().last().unwrap().text, "Obrazovka je skrytá.");
    press(&c, &mut off, ".");
    assert!(!off.ui.global::<View>().get_blank());
    press(&c, &mut off, "/");
    let again = c.spoken().last().unwrap().clone();
    assert_eq!((again.rate, again.volume), (6, 6));

    // The agent spoke the personal one into the headset and wrote no word of it down.
    let log_path = k.agent_dir.join("spoken/spoken.tsv");
    let end = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.lines().count() >= c.spoken().len() || Instant::now() > end {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        log.lines().all(|l| l.split('\t').nth(1) == Some("headset")),
        "{log}"
    );
    assert!(log.contains("\t[personal]\n"), "{log}");
    assert!(!log.contains("čáp"), "{log}");

    // Pulled: audio mode ends without a word; the keypad still moves the focus ring.
    jack.send(&jack_event(false)).unwrap();
    pump_until(&c, &mut off, "audio mode to end", |c, _| !c.access().audio);
    let said = c.spoken().len();
    let before = focus(&c);
    press(&c, &mut off, "2");
    assert_ne!(focus(&c), before);
    assert_eq!(off.ui.global::<View>().get_focus(), focus(&c).as_str());
    assert_eq!(c.spoken().len(), said, "nothing more is said");
}

/// The gesture for a kiosk without a keypad in reach: a finger held two seconds on the city's
/// name (top left) starts audio mode and its help; a tap there does not.
#[test]
fn a_finger_held_on_the_city_name_starts_audio_mode_and_a_tap_does_not() {
    let (_k, mut off, c) = kiosk("audio-3", None);
    let touch = |off: &Offscreen, pressed: bool| {
        let position = slint::LogicalPosition::new(120.0, 40.0);
        let button = slint::platform::PointerEventButton::Left;
        off.ui.window().dispatch_event(if pressed {
            WindowEvent::PointerPressed { position, button }
        } else {
            WindowEvent::PointerReleased { position, button }
        });
    };

    // A tap, and a finger lifted after one second: nothing.
    touch(&off, true);
    touch(&off, false);
    touch(&off, true);
    let lifted = Instant::now() + Duration::from_secs(1);
    while Instant::now() < lifted {
        c.pump();
        off.render();
        std::thread::sleep(Duration::from_millis(20));
    }
    touch(&off, false);
    for _ in 0..100 {
        c.pump();
        off.render();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!c.access().audio, "a short touch starts nothing");
    assert!(c.spoken().is_empty());

    // Held: audio mode and its help, once, while the finger stays.
    touch(&off, true);
    pump_until(&c, &mut off, "audio mode", |c, _| c.access().audio);
    let help = c.spoken().last().unwrap().text.clone();
    assert!(help.starts_with("Hlasový režim."), "{help}");
    for _ in 0..150 {
        c.pump();
        off.render();
        std::thread::sleep(Duration::from_millis(20));
    }
    touch(&off, false);
    assert_eq!(c.spoken().len(), 1, "said once: {:?}", c.spoken());
    assert_eq!(c.session().screen, kiosk_app::session::Screen::Home);
}

/// Every control of every screen (each sample screen of `--render-screens`, the idle warning,
/// the keyboards) has something to say in every language, in that language.
#[test]
fn every_control_of_every_screen_has_something_to_say_in_every_language() {
    use kiosk_app::access::Access;
    use kiosk_app::access::controls::screen_texts;
    let catalog = kiosk_app::render::demo_catalog();
    let mut checked = 0;
    let screens = |lang| {
        let mut all = kiosk_app::render::sample_screens(lang, &catalog);
        let (_, s, chrome) = all[0].clone();
        let mut idle = chrome.clone();
        idle.idle_warning = Some(20);
        all.push(("idle", s.clone(), idle));
        let mut out = s.clone();
        out.screen = kiosk_app::session::Screen::OutOfService;
        let mut gone = chrome;
        gone.out_of_service = "x".into();
        all.push(("out-of-service", out, gone));
        all
    };
    let english = screens(Lang::En);
    for lang in [Lang::Cs, Lang::En, Lang::Uk] {
        for (i, (name, session, chrome)) in screens(lang).into_iter().enumerate() {
            let (_, en_session, en_chrome) = &english[i];
            let mine = controls(&session, Some(&catalog), &chrome);
            let theirs = controls(en_session, Some(&catalog), en_chrome);
            // The same controls in each language, but for the keyboard (each language has its
            // own) and what a search finds.
            let ids = |list: &[kiosk_app::access::controls::Control]| -> Vec<String> {
                list.iter()
                    .filter(|c| !c.id.starts_with("key:"))
                    .map(|c| c.id.clone())
                    .collect()
            };
            if name != "catalog-search" {
                assert_eq!(ids(&mine), ids(&theirs), "{name}: {lang:?}");
            }
            if session.screen != kiosk_app::session::Screen::OutOfService {
                assert!(!mine.is_empty(), "{name}: nothing to reach");
            }
            let texts = screen_texts(&session, Some(&catalog), &chrome);
            assert!(
                texts.iter().any(|t| !t.trim().is_empty()) || name == "idle",
                "{name}: no title"
            );
            let access = Access::new();
            for c in &mine {
                let (said, _) = access.describe(c, lang);
                assert!(
                    !c.label.trim().is_empty(),
                    "{name} {lang:?} {}: no label",
                    c.id
                );
                assert!(!said.contains("{}"), "{name} {lang:?} {}: {said}", c.id);
                if lang != Lang::En
                    && let Some(en) = theirs.iter().find(|e| e.id == c.id)
                {
                    let (en_said, _) = access.describe(en, Lang::En);
                    assert_ne!(said, en_said, "{name} {lang:?} {}: said in English", c.id);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked} controls");
}
