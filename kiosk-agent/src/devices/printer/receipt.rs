//! The citizen's receipt: city header, service, date and time, kiosk, the tracking code large,
//! a QR code with the public status URL, short instructions, cut.
//!
//! Encoded with the `escpos` crate into a buffer (its drivers cannot read the printer's status
//! replies, so [`super::EscPosPrinter`] writes the bytes itself). Czech goes through PC852
//! (`ESC t 18`); text the printer's table lacks (Ukrainian, or Czech on a PC437-only printer) is
//! transliterated rather than printed as garbage.

use std::sync::{Arc, Mutex};

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{
    JustifyMode, PageCode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption,
};
use protocol::tracking::TrackingCode;
use protocol::{Lang, UnixMillis};

use super::transliterate::transliterate;

/// The character table the printer is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Charset {
    /// PC852 (Latin 2): Czech prints with its diacritics.
    #[default]
    Pc852,
    /// Plain ASCII for printers without PC852: Czech loses its diacritics.
    Ascii,
}

impl Charset {
    fn page_code(self) -> PageCode {
        match self {
            Charset::Pc852 => PageCode::PC852,
            Charset::Ascii => PageCode::PC437,
        }
    }

    fn printable(self, c: char) -> bool {
        match self {
            Charset::Ascii => c.is_ascii() && !c.is_ascii_control(),
            Charset::Pc852 => {
                (c.is_ascii() && !c.is_ascii_control())
                    || oem_cp::encode_string_checked(
                        &c.to_string(),
                        &oem_cp::code_table::ENCODING_TABLE_CP852,
                    )
                    .is_some()
            }
        }
    }

    /// `s` as this table can print it.
    pub fn fit(self, s: &str) -> String {
        transliterate(s, |c| self.printable(c))
    }
}

/// What a receipt says.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiptContent {
    /// City or office, e.g. "Statutární město Ostrava".
    pub city: String,
    /// The service's name in the citizen's language.
    pub service: String,
    /// When the submission was stored.
    pub created_at: UnixMillis,
    /// The kiosk's name.
    pub kiosk: String,
    /// The tracking code.
    pub code: TrackingCode,
    /// The public address status pages are under; the QR code is the code's page there
    /// ([`TrackingCode::status_url`]), so it cannot show another code than the one printed.
    pub status_base: String,
    /// The citizen's language.
    pub lang: Lang,
}

fn t(lang: Lang, cs: &'static str, en: &'static str, uk: &'static str) -> &'static str {
    match lang {
        Lang::Cs => cs,
        Lang::En => en,
        Lang::Uk => uk,
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Driver for Buffer {
    fn name(&self) -> String {
        "buffer".into()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

/// Characters per line in font A on 80 mm paper; longer text is wrapped at spaces, not where
/// the printer would break it.
pub const COLUMNS: usize = 48;

/// `text` broken into lines of at most `width` characters at spaces (a longer word is cut).
pub fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let (len, wlen) = (line.chars().count(), word.chars().count());
        if len > 0 && len + 1 + wlen > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(head);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join("\n")
}

/// Why a receipt could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the receipt: {0}")]
pub struct EncodeError(String);

/// The receipt as ESC/POS bytes for a printer with `charset`.
pub fn encode(r: &ReceiptContent, charset: Charset) -> Result<Vec<u8>, EncodeError> {
    let buf = Buffer::default();
    let e = |e: escpos::errors::PrinterError| EncodeError(e.to_string());
    let f = |s: &str| charset.fit(s);
    let lang = r.lang;
    let when = protocol::time::format_czech(r.created_at);
    let qr = QRCodeOption::new(QRCodeModel::Model2, 6, QRCodeCorrectionLevel::M);
    Printer::new(buf.clone(), Protocol::default(), None)
        .init()
        .map_err(e)?
        .page_code(charset.page_code())
        .map_err(e)?
        .justify(JustifyMode::CENTER)
        .map_err(e)?
        .bold(true)
        .map_err(e)?
        .writeln(&f(&r.city))
        .map_err(e)?
        .bold(false)
        .map_err(e)?
        .writeln(&f(t(
            lang,
            "Potvrzení o podání žádosti",
            "Receipt for your request",
            "Підтвердження подання заяви",
        )))
        .map_err(e)?
        .feed()
        .map_err(e)?
        .justify(JustifyMode::LEFT)
        .map_err(e)?
        .writeln(&f(&format!(
            "{} {}",
            t(lang, "Služba:", "Service:", "Послуга:"),
            r.service
        )))
        .map_err(e)?
        .writeln(&f(&format!(
            "{} {when}",
            t(lang, "Podáno:", "Submitted:", "Подано:")
        )))
        .map_err(e)?
        .writeln(&f(&format!(
            "{} {}",
            t(lang, "Kiosek:", "Kiosk:", "Кіоск:"),
            r.kiosk
        )))
        .map_err(e)?
        .feed()
        .map_err(e)?
        .justify(JustifyMode::CENTER)
        .map_err(e)?
        .writeln(&f(t(
            lang,
            "Kód vaší žádosti",
            "Your tracking code",
            "Код вашої заяви",
        )))
        .map_err(e)?
        .bold(true)
        .map_err(e)?
        .size(2, 2)
        .map_err(e)?
        .writeln(&r.code.to_string())
        .map_err(e)?
        .reset_size()
        .map_err(e)?
        .bold(false)
        .map_err(e)?
        .qrcode_option(&r.code.status_url(&r.status_base), qr)
        .map_err(e)?
        .justify(JustifyMode::LEFT)
        .map_err(e)?
        .writeln(&wrap(
            &f(t(
                lang,
                "Stav žádosti zjistíte na kterémkoli kiosku zadáním kódu, nebo naskenujte QR kód.",
                "Check the status at any kiosk by entering the code, or scan the QR code.",
                "Стан заяви перевірте на будь-якому кіоску за кодом або відскануйте QR-код.",
            )),
            COLUMNS,
        ))
        .map_err(e)?
        .feeds(3)
        .map_err(e)?
        .partial_cut()
        .map_err(e)?
        .print()
        .map_err(e)?;
    let bytes = buf.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(bytes)
}

/// The test receipt technicians and the hardware self-test print: the header, "test print" in
/// the three languages, the kiosk, the time, a Czech pangram that shows every diacritic the
/// table has, a ruler for the paper width, a QR code, cut.
pub fn test_page(
    header: &str,
    kiosk: &str,
    now: UnixMillis,
    charset: Charset,
) -> Result<Vec<u8>, EncodeError> {
    let buf = Buffer::default();
    let e = |e: escpos::errors::PrinterError| EncodeError(e.to_string());
    let f = |s: &str| charset.fit(s);
    let qr = QRCodeOption::new(QRCodeModel::Model2, 4, QRCodeCorrectionLevel::M);
    Printer::new(buf.clone(), Protocol::default(), None)
        .init()
        .map_err(e)?
        .page_code(charset.page_code())
        .map_err(e)?
        .justify(JustifyMode::CENTER)
        .map_err(e)?
        .bold(true)
        .map_err(e)?
        .writeln(&f(header))
        .map_err(e)?
        .bold(false)
        .map_err(e)?
        .writeln(&f("Zkušební tisk / Test print / Пробний друк"))
        .map_err(e)?
        .justify(JustifyMode::LEFT)
        .map_err(e)?
        .writeln(&f(&format!("Kiosek: {kiosk}")))
        .map_err(e)?
        .writeln(&f(&protocol::time::format_czech(now)))
        .map_err(e)?
        .writeln(&f("Příliš žluťoučký kůň úpěl ďábelské ódy."))
        .map_err(e)?
        .writeln(&f("PŘÍLIŠ ŽLUŤOUČKÝ KŮŇ ÚPĚL ĎÁBELSKÉ ÓDY."))
        .map_err(e)?
        .writeln("1234567890123456789012345678901234567890123456")
        .map_err(e)?
        .qrcode_option("OKENKO-TEST", qr)
        .map_err(e)?
        .feeds(3)
        .map_err(e)?
        .partial_cut()
        .map_err(e)?
        .print()
        .map_err(e)?;
    let bytes = buf.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_only_overlong_words() {
        let t = "Stav žádosti zjistíte na kterémkoli kiosku zadáním kódu, nebo naskenujte QR kód.";
        let w = wrap(t, 48);
        assert!(w.lines().all(|l| l.chars().count() <= 48), "{w}");
        assert_eq!(w.lines().count(), 2);
        assert_eq!(w.replace('\n', " "), t);
        assert_eq!(wrap("abcdefghij kl", 4), "abcd\nefgh\nij\nkl");
        assert_eq!(wrap("", 10), "");
    }
}
