//! The UI rendered offscreen with Slint's software renderer: no display, no GPU. Used by
//! `kiosk-app --render-screens DIR` (every screen, language, theme and orientation to PNG), the
//! golden-image tests and the benchmarks.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use protocol::Lang;
use protocol::app::{CatalogView, StatusAnswer};
use protocol::validate::Date;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::{ComponentHandle, Rgb8Pixel};

use crate::AppWindow;
use crate::session::{Screen, Session};
use crate::ui::{self, Chrome};

struct OffscreenPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl slint::platform::Platform for OffscreenPlatform {
    fn create_window_adapter(
        &self,
    ) -> Result<Rc<dyn slint::platform::WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// An offscreen window the UI draws into. One per process (Slint's platform is global).
pub struct Offscreen {
    window: Rc<MinimalSoftwareWindow>,
    /// The UI.
    pub ui: AppWindow,
    buffer: Vec<Rgb8Pixel>,
    size: (u32, u32),
    /// The rectangles the last frame repainted: `(x, y, width, height)`.
    dirty: Vec<(i32, i32, u32, u32)>,
}

impl std::fmt::Debug for Offscreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offscreen")
            .field("size", &self.size)
            .finish()
    }
}

impl Offscreen {
    /// Installs the offscreen platform and creates the UI at `width`×`height`. With `partial`,
    /// a frame redraws only what changed (as on the kiosk); without, every frame is whole.
    pub fn new(width: u32, height: u32, partial: bool) -> Result<Offscreen, String> {
        let window = MinimalSoftwareWindow::new(if partial {
            RepaintBufferType::ReusedBuffer
        } else {
            RepaintBufferType::NewBuffer
        });
        slint::platform::set_platform(Box::new(OffscreenPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|e| format!("cannot install the offscreen platform: {e}"))?;
        let ui = AppWindow::new().map_err(|e| e.to_string())?;
        ui.show().map_err(|e| e.to_string())?;
        let mut o = Offscreen {
            window,
            ui,
            buffer: Vec::new(),
            size: (0, 0),
            dirty: Vec::new(),
        };
        o.resize(width, height);
        Ok(o)
    }

    /// Changes the window's size.
    pub fn resize(&mut self, width: u32, height: u32) {
        self.size = (width, height);
        self.window
            .set_size(slint::PhysicalSize::new(width, height));
        self.buffer = vec![Rgb8Pixel::default(); (width * height) as usize];
        self.window.request_redraw();
    }

    /// Renders what changed since the last frame (everything after a resize); returns whether
    /// anything was drawn.
    pub fn render(&mut self) -> bool {
        slint::platform::update_timers_and_animations();
        let width = self.size.0 as usize;
        let (buffer, dirty) = (&mut self.buffer, &mut self.dirty);
        self.window.draw_if_needed(|r| {
            let region = r.render(buffer, width);
            *dirty = region
                .iter()
                .map(|(p, s)| (p.x, p.y, s.width, s.height))
                .collect();
        })
    }

    /// The rectangles the last frame repainted, `(x, y, width, height)`.
    pub fn dirty(&self) -> &[(i32, i32, u32, u32)] {
        &self.dirty
    }

    /// Draws a frame even when nothing changed.
    pub fn render_full(&mut self) {
        self.window.request_redraw();
        self.render();
    }

    /// The last frame as PNG.
    pub fn png(&self) -> Result<Vec<u8>, String> {
        let (w, h) = self.size;
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        let bytes: Vec<u8> = self.buffer.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        writer.write_image_data(&bytes).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// The last frame's pixels.
    pub fn pixels(&self) -> &[Rgb8Pixel] {
        &self.buffer
    }
}

/// The demo catalog the screens are rendered with (the fleet server's demo data).
pub fn demo_catalog() -> CatalogView {
    let c: protocol::fleet::Catalog =
        serde_json::from_str(include_str!("../../fleet-server/data/demo-catalog.json"))
            .unwrap_or_else(|_| protocol::fleet::Catalog {
                version: 0,
                published_at: 0,
                categories: Vec::new(),
                services: Vec::new(),
                notices: Vec::new(),
            });
    CatalogView {
        version: 1,
        fetched_at: None,
        categories: c.categories,
        services: c.services,
        notices: c.notices,
    }
}

/// Fills every field of the current page with a plausible value (for the review screen).
pub fn fill_page(s: &mut Session, today: Date) {
    use protocol::form::FieldKind;
    let fields = s.page_fields().to_vec();
    for (i, f) in fields.iter().enumerate() {
        match &f.kind {
            FieldKind::Text { pattern, .. } => {
                let text = if pattern.is_some() {
                    "1T2 3456"
                } else if f.id.contains("adres") {
                    "Nádražní 12, Ostrava"
                } else {
                    "Jana Nováková"
                };
                s.focus(i);
                type_text(s, text);
            }
            FieldKind::Multiline { .. } => {
                s.focus(i);
                type_text(s, "Rozbitá lavička v parku u radnice, prosím o opravu.");
            }
            FieldKind::Number { .. } => {
                s.focus(i);
                type_text(s, "6");
            }
            FieldKind::Email => {
                s.focus(i);
                type_text(s, "jana@example.cz");
            }
            FieldKind::Phone => {
                s.focus(i);
                type_text(s, "+420 601 234 567");
            }
            FieldKind::Date { .. } => s.date_step(i, "day+", today),
            FieldKind::Choice { .. } | FieldKind::MultiChoice { .. } | FieldKind::Checkbox => {
                s.toggle(i, 0)
            }
        }
    }
}

/// Types `text` key by key, as the on-screen keyboard would.
pub fn type_text(s: &mut Session, text: &str) {
    for c in text.chars() {
        if c == ' ' {
            s.key("space");
        } else {
            s.key(&c.to_string());
        }
    }
}

/// The screens `--render-screens` draws, each as a session (and chrome) in that state.
pub fn sample_screens(lang: Lang, catalog: &CatalogView) -> Vec<(&'static str, Session, Chrome)> {
    let today = Date {
        year: 2026,
        month: 11,
        day: 23,
    };
    let chrome = Chrome {
        city: "Statutární město Ostrava".into(),
        kiosk_name: "Nová radnice, přízemí".into(),
        has_card_reader: true,
        idle_warning: None,
        out_of_service: String::new(),
        touch_px: 76.0,
        portrait: false,
        printer_down: false,
    };
    let base = || {
        let mut s = Session::new();
        s.set_lang(lang);
        s
    };
    let mut out = Vec::new();
    out.push(("home", base(), chrome.clone()));

    let mut s = base();
    s.start();
    out.push(("catalog", s.clone(), chrome.clone()));
    s.search_tapped();
    type_text(&mut s, "par");
    out.push(("catalog-search", s, chrome.clone()));

    let mut s = base();
    s.start();
    s.pick_service(catalog, 0);
    type_text(&mut s, "J");
    s.next(); // the page is not complete: the messages show
    s.focus(0);
    out.push(("form-errors", s.clone(), chrome.clone()));
    let mut s = base();
    s.start();
    s.pick_service(catalog, 0);
    fill_page(&mut s, today);
    s.focus(3);
    out.push(("form-filled", s.clone(), chrome.clone()));
    let mut filled = true;
    while s.screen == Screen::Form {
        if !filled {
            fill_page(&mut s, today);
        }
        filled = false;
        let page = s.page;
        s.next();
        if s.screen == Screen::Form && s.page == page {
            break;
        }
    }
    // The parking permit asks for the citizen's card.
    let mut id = s.clone();
    id.screen = Screen::Identify;
    if s.screen == Screen::Identify {
        let _ = s.card_read("a1".repeat(32), "••••••••••••1111".into());
    }
    out.push(("review", s.clone(), chrome.clone()));

    out.push((
        "review-printer-down",
        s.clone(),
        Chrome {
            printer_down: true,
            ..chrome.clone()
        },
    ));
    out.push(("identify", id, chrome.clone()));
    // Notices by SMS to the form's phone number; by e-mail, typed on the review screen.
    let mut sms = s.clone();
    sms.choose_notify(Some(protocol::fleet::NoticeChannel::Sms));
    out.push(("review-sms", sms, chrome.clone()));
    let mut mail = s.clone();
    mail.choose_notify(Some(protocol::fleet::NoticeChannel::Email));
    mail.notify_to = "jana.novakova@".into();
    mail.edit_notify_address();
    out.push(("review-email-typing", mail, chrome.clone()));

    let mut sub = s.clone();
    let _ = sub.submit();
    out.push(("submitting", sub.clone(), chrome.clone()));
    let tracking = protocol::tracking::TrackingCode::from_parts(1, 0x1234);
    let code = tracking.as_ref().map(|c| c.to_string()).unwrap_or_default();
    let url = tracking
        .map(|c| c.status_url("https://fleet.ostrava.cz"))
        .unwrap_or_default();
    let mut done = sub.clone();
    done.submitted(code.clone(), url.clone(), true);
    out.push(("done", done, chrome.clone()));
    let mut no_paper = sub;
    no_paper.submitted(code.clone(), url, false);
    out.push(("done-no-receipt", no_paper, chrome.clone()));

    let mut st = base();
    st.open_status();
    type_text(&mut st, &code);
    if let Ok(tc) = protocol::tracking::TrackingCode::parse(&code) {
        st.status_answer(StatusAnswer {
            tracking_code: tc,
            service_name: catalog.services.first().map(|s| s.name.clone()),
            state: protocol::fleet::RequestState::InProgress,
            note: None,
            updated_at: 1_795_462_440_000,
            offline: true,
            known_at: 1_795_466_040_000,
        });
    }
    out.push(("status", st, chrome.clone()));

    // "My requests": two requests made with the citizen's card, one known only offline.
    let mut mine = base();
    mine.open_status();
    let answer = |seq: u32, i: usize, state, offline| {
        protocol::tracking::TrackingCode::from_parts(1 + seq % 3, seq).map(|tc| StatusAnswer {
            tracking_code: tc,
            service_name: catalog.services.get(i).map(|s| s.name.clone()),
            state,
            note: None,
            updated_at: 1_795_462_440_000 - (i as i64 + 1) * 3 * 86_400_000,
            offline,
            known_at: 1_795_466_040_000,
        })
    };
    use protocol::fleet::RequestState;
    mine.requests_listed(
        [
            answer(0x2345, 1, RequestState::Resolved, false),
            answer(0x0456, 0, RequestState::Received, false),
        ]
        .into_iter()
        .flatten()
        .collect(),
    );
    out.push(("status-card", mine, chrome.clone()));

    let mut idle = base();
    idle.start();
    idle.pick_service(catalog, 0);
    type_text(&mut idle, "Jana");
    out.push((
        "idle-warning",
        idle,
        Chrome {
            idle_warning: Some(17),
            ..chrome.clone()
        },
    ));
    let mut oos = base();
    oos.screen = Screen::OutOfService;
    out.push((
        "out-of-service",
        oos,
        Chrome {
            out_of_service: "agent unreachable".into(),
            ..chrome
        },
    ));
    out
}

/// Selects the UI's static text language.
pub fn select_language(lang: Lang) {
    // English is the source language of the catalogues.
    let code = match lang {
        Lang::En => "",
        other => other.code(),
    };
    if let Err(e) = slint::select_bundled_translation(code) {
        eprintln!("kiosk-app: language {code}: {e}");
    }
}

/// Screens rendered again with the keypad's focus ring on a control: `(sample, focus id)`; the
/// file is named `…-<sample>-focus.png`.
pub const FOCUS_SAMPLES: [(&str, &str); 6] = [
    ("home", "start"),
    ("catalog", "svc:1"),
    ("form-errors", "field:0"),
    ("review-email-typing", "key:2:3"),
    ("status", "lookup"),
    ("done", "code"),
];

/// Renders every screen in every language, both themes and both orientations into `dir`
/// (`<orientation>-<theme>-<lang>-<screen>.png`); with `only` (comma-separated), just those
/// whose name contains one of its parts. Returns the files written.
/// With `size`, only at that size (e.g. the appliance VM's 1280×800 screen, to compare with
/// what it shows), named by orientation as the others. The screens of [`FOCUS_SAMPLES`] are
/// rendered a second time with the focus ring.
pub fn render_screens(
    dir: &Path,
    only: Option<&str>,
    size: Option<(u32, u32)>,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let catalog = demo_catalog();
    let mut off = Offscreen::new(1920, 1080, false)?;
    let mut written = Vec::new();
    let sizes = match size {
        Some((w, h)) if h > w => vec![("portrait", (w, h))],
        Some(wh) => vec![("landscape", wh)],
        None => vec![("landscape", (1920, 1080)), ("portrait", (1080, 1920))],
    };
    for (orientation, (w, h)) in sizes {
        off.resize(w, h);
        for (theme, contrast) in [("normal", false), ("contrast", true)] {
            for lang in [Lang::Cs, Lang::En, Lang::Uk] {
                select_language(lang);
                for (name, mut session, chrome) in sample_screens(lang, &catalog) {
                    let file = format!("{orientation}-{theme}-{}-{name}.png", lang.code());
                    let wanted =
                        |f: &str| only.is_none_or(|o| o.split(',').any(|part| f.contains(part)));
                    let focus = FOCUS_SAMPLES.iter().find(|(n, _)| *n == name);
                    let focus_file =
                        format!("{orientation}-{theme}-{}-{name}-focus.png", lang.code());
                    if !(wanted(&file) || focus.is_some() && wanted(&focus_file)) {
                        continue;
                    }
                    session.high_contrast = contrast;
                    let chrome = Chrome {
                        portrait: h > w,
                        ..chrome
                    };
                    ui::show(&off.ui, &session, Some(&catalog), &chrome);
                    let mut renders = vec![(file, None)];
                    if let Some((_, id)) = focus {
                        renders.push((focus_file, Some(*id)));
                    }
                    for (file, focus) in renders {
                        if !wanted(&file) {
                            continue;
                        }
                        let mut access = crate::access::Access::new();
                        access.focus = focus.map(str::to_owned);
                        ui::show_access(&off.ui, &access);
                        off.render_full();
                        std::fs::write(dir.join(&file), off.png()?)
                            .map_err(|e| format!("{file}: {e}"))?;
                        written.push(file);
                    }
                }
            }
        }
    }
    Ok(written)
}
