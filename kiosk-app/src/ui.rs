//! Shows a [`Session`] on the Slint window: every property of its `View` global is set from
//! the session on each change, so the window never holds anything the session does not (and a
//! reset session leaves nothing of the previous citizen in any model).

use protocol::Lang;
use protocol::app::CatalogView;
use protocol::form::FieldKind;
use slint::{
    ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel,
};

use crate::keyboard;
use crate::session::{Screen as S, Session};
use crate::{
    AppWindow, CategoryView, FieldView, Key, KeyRow, NoticeView, OptionView, ReviewRow, Screen,
    ServiceView, StatusRow, Theme, View,
};

/// What the window shows beside the session.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// The city, in the top bar.
    pub city: String,
    /// The kiosk's name, on the home screen.
    pub kiosk_name: String,
    /// Whether a card reader is configured.
    pub has_card_reader: bool,
    /// Seconds left before the idle reset, while the warning shows.
    pub idle_warning: Option<u32>,
    /// Why the kiosk is out of service.
    pub out_of_service: String,
    /// Smallest touch target, px (19 mm at the panel's DPI).
    pub touch_px: f32,
    /// A portrait panel.
    pub portrait: bool,
    /// The printer cannot print now (out of paper, cover open, missing).
    pub printer_down: bool,
}

fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

/// Puts `rows` into the window's model: rows that did not change are left alone, so the
/// renderer redraws only what changed (a key press redraws one field, not the screen).
fn sync<T: Clone + PartialEq + 'static>(
    current: ModelRc<T>,
    rows: Vec<T>,
    set: impl FnOnce(ModelRc<T>),
) {
    use slint::Model;
    if let Some(vec) = current.as_any().downcast_ref::<VecModel<T>>()
        && vec.row_count() == rows.len()
    {
        for (i, row) in rows.into_iter().enumerate() {
            if vec.row_data(i).as_ref() != Some(&row) {
                vec.set_row_data(i, row);
            }
        }
        return;
    }
    set(model(rows));
}

/// `old` when it holds exactly `new` (a model compares by identity: a fresh one with the same
/// rows would make its row look changed and be redrawn), else a new model of `new`.
fn same_or_new<T: Clone + PartialEq + 'static>(old: Option<ModelRc<T>>, new: Vec<T>) -> ModelRc<T> {
    use slint::Model;
    match old {
        Some(old) if old.row_count() == new.len() && old.iter().eq(new.iter().cloned()) => old,
        _ => model(new),
    }
}

fn s(text: impl AsRef<str>) -> SharedString {
    SharedString::from(text.as_ref())
}

/// The QR code of `payload` as an image (black modules on white, one pixel per module plus the
/// quiet zone; the UI scales it up without smoothing).
pub fn qr_image(payload: &str) -> Image {
    let Ok(code) = qrcode::QrCode::new(payload.as_bytes()) else {
        return Image::default();
    };
    let n = code.width() as u32;
    let side = n + 8;
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(side, side);
    let colors = code.to_colors();
    for (i, px) in buf.make_mut_slice().iter_mut().enumerate() {
        let (x, y) = (i as u32 % side, i as u32 / side);
        let dark = x >= 4
            && y >= 4
            && x < n + 4
            && y < n + 4
            && colors[((y - 4) * n + (x - 4)) as usize] == qrcode::Color::Dark;
        let v = if dark { 0 } else { 255 };
        *px = Rgb8Pixel { r: v, g: v, b: v };
    }
    Image::from_rgb8(buf)
}

fn keys(layout: Option<keyboard::Layout>, shift: bool) -> ModelRc<KeyRow> {
    let rows = layout
        .map(|l| keyboard::rows(l, shift))
        .unwrap_or_default()
        .into_iter()
        .map(|row| KeyRow {
            keys: model(
                row.into_iter()
                    .map(|k| Key {
                        label: s(&k.label),
                        action: s(k.action),
                        width: k.width,
                    })
                    .collect(),
            ),
        })
        .collect();
    model(rows)
}

fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text { .. } => "text",
        FieldKind::Multiline { .. } => "multiline",
        FieldKind::Number { .. } => "number",
        FieldKind::Date { .. } => "date",
        FieldKind::Choice { .. } => "choice",
        FieldKind::MultiChoice { .. } => "multi_choice",
        FieldKind::Checkbox => "checkbox",
        FieldKind::Email => "email",
        FieldKind::Phone => "phone",
    }
}

/// Sets every property of `ui` from `session`.
pub fn show(ui: &AppWindow, session: &Session, catalog: Option<&CatalogView>, chrome: &Chrome) {
    let lang = session.lang;
    let view = ui.global::<View>();
    let theme = ui.global::<Theme>();
    theme.set_high_contrast(session.high_contrast);
    theme.set_large_text(session.large_text);
    if chrome.touch_px > 0.0 {
        theme.set_touch(chrome.touch_px);
    }
    view.set_lang(s(lang.code()));
    view.set_portrait(chrome.portrait);
    view.set_city(s(&chrome.city));
    view.set_kiosk_name(s(&chrome.kiosk_name));
    view.set_has_card_reader(chrome.has_card_reader);
    view.set_printer_ok(!chrome.printer_down);
    view.set_screen(match session.screen {
        S::Home => Screen::Home,
        S::Catalog => Screen::Catalog,
        S::Form => Screen::Form,
        S::Identify => Screen::Identify,
        S::Review => Screen::Review,
        S::Submitting => Screen::Submitting,
        S::Done => Screen::Done,
        S::Status => Screen::Status,
        S::OutOfService => Screen::OutOfService,
    });
    view.set_out_of_service_reason(s(&chrome.out_of_service));
    view.set_idle_warning(chrome.idle_warning.is_some());
    view.set_idle_seconds(chrome.idle_warning.unwrap_or(0) as i32);
    view.set_message(s(&session.message));

    let notices = catalog
        .map(|c| {
            c.notices
                .iter()
                .map(|n| NoticeView {
                    title: s(n.title.get(lang)),
                    body: s(n.body.get(lang)),
                })
                .collect()
        })
        .unwrap_or_default();
    sync(view.get_notices(), notices, |m| view.set_notices(m));

    let (categories, services) = match catalog {
        Some(c) => (
            c.categories
                .iter()
                .enumerate()
                .map(|(i, cat)| CategoryView {
                    id: s(&cat.id),
                    title: s(cat.name.get(lang)),
                    selected: session.category == Some(i),
                })
                .collect(),
            session
                .visible_services(c)
                .into_iter()
                .map(|svc| ServiceView {
                    id: s(&svc.id),
                    title: s(svc.name.get(lang)),
                    description: s(svc.description.get(lang)),
                    needs_card: svc.requires_identity,
                })
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    sync(view.get_categories(), categories, |m| {
        view.set_categories(m)
    });
    sync(view.get_services(), services, |m| view.set_services(m));
    view.set_search(s(&session.search));
    view.set_searching(session.searching);

    let title = session
        .service
        .as_ref()
        .map(|svc| svc.name.get(lang).to_owned())
        .unwrap_or_default();
    view.set_form_title(s(&title));
    let page_title = session
        .service
        .as_ref()
        .and_then(|svc| svc.form.pages.get(session.page))
        .map(|p| p.title.get(lang).to_owned())
        .unwrap_or_default();
    view.set_page_title(s(&page_title));
    view.set_page(session.page as i32);
    view.set_pages(session.pages() as i32);
    view.set_last_page(session.page + 1 >= session.pages());

    let current = view.get_fields();
    let fields = session
        .page_fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let shown = session.shown(f);
            let options = match &f.kind {
                FieldKind::Choice { options } | FieldKind::MultiChoice { options, .. } => options
                    .iter()
                    .map(|o| OptionView {
                        label: s(o.label.get(lang)),
                        selected: session.chosen(f, &o.value),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            FieldView {
                kind: s(kind_name(&f.kind)),
                label: s(f.label.get(lang)),
                help: s(f.help.as_ref().map(|h| h.get(lang)).unwrap_or("")),
                value: s(&shown),
                error: s(session.error_for(f)),
                required: f.required,
                focused: session.focused == Some(i),
                options: same_or_new(
                    slint::Model::row_data(&current, i).map(|r| r.options),
                    options,
                ),
            }
        })
        .collect();
    sync(view.get_fields(), fields, |m| view.set_fields(m));
    let layout = session.keyboard_layout();
    view.set_keyboard(layout.is_some());
    let key_id = format!("{layout:?}{}", session.shift);
    if view.get_key_layout() != key_id.as_str() {
        view.set_key_layout(key_id.into());
        view.set_key_rows(keys(layout, session.shift));
    }

    sync(
        view.get_review_rows(),
        session
            .review_rows()
            .into_iter()
            .map(|(label, value)| ReviewRow {
                label: s(label),
                value: s(value),
            })
            .collect(),
        |m| view.set_review_rows(m),
    );
    view.set_notify(match session.notify {
        None => 0,
        Some(protocol::fleet::NoticeChannel::Sms) => 1,
        Some(protocol::fleet::NoticeChannel::Email) => 2,
    });
    view.set_notify_to(s(&session.notify_to));
    view.set_identity(s(session
        .identity
        .as_ref()
        .map(|(_, masked)| masked.as_str())
        .unwrap_or("")));
    match &session.receipt {
        Some(r) => {
            view.set_tracking_code(s(&r.code));
            view.set_printed(r.printed);
            let payload = if r.url.is_empty() { &r.code } else { &r.url };
            if view.get_qr_payload() != payload.as_str() {
                view.set_qr_payload(payload.into());
                view.set_qr(qr_image(payload));
            }
        }
        None => {
            view.set_tracking_code(SharedString::new());
            view.set_printed(false);
            view.set_qr(Image::default());
            view.set_qr_payload(SharedString::new());
        }
    }
    view.set_status_code(s(&session.status_code));
    let rows = session
        .statuses
        .iter()
        .map(|a| StatusRow {
            code: s(a.tracking_code.to_string()),
            service: s(a.service_name.as_ref().map(|n| n.get(lang)).unwrap_or("")),
            state: s(a.state.label().get(lang)),
            when: s(status_when(lang, a.updated_at, a.offline, a.known_at)),
        })
        .collect();
    sync(view.get_status_rows(), rows, |m| view.set_status_rows(m));
}

/// Shows the keypad's focus (the ring) and the privacy screen.
pub fn show_access(ui: &AppWindow, access: &crate::access::Access) {
    let view = ui.global::<View>();
    let focus = access.focus.as_deref().unwrap_or("");
    if view.get_focus() != focus {
        view.set_focus(s(focus));
    }
    view.set_blank(access.blank);
}

/// When a request's state changed, and whether the kiosk only knows it from before it went
/// offline, as the status screen says it.
pub fn status_when(lang: Lang, updated: i64, offline: bool, known: i64) -> String {
    let t = |cs: &str, en: &str, uk: &str| match lang {
        Lang::Cs => cs.to_owned(),
        Lang::En => en.to_owned(),
        Lang::Uk => uk.to_owned(),
    };
    let mut out = format!(
        "{} {}",
        t("Změněno:", "Changed:", "Змінено:"),
        protocol::time::format_czech(updated)
    );
    if offline {
        out.push_str(&format!(
            " — {} {}",
            t(
                "kiosek je offline, stav ke dni",
                "the kiosk is offline, as known on",
                "кіоск офлайн, стан станом на"
            ),
            protocol::time::format_czech(known)
        ));
    }
    out
}
