//! Character code tables selected by `ESC t n` (Epson numbering).

use oem_cp::code_table::{
    DECODING_TABLE_CP437, DECODING_TABLE_CP850, DECODING_TABLE_CP852, DECODING_TABLE_CP858,
};

/// Windows-1252's 0x80-0x9F (0xA0-0xFF equal Latin-1); unassigned bytes decode to U+FFFD.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž',
    '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{FFFD}',
    'ž', 'Ÿ',
];

/// A character code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodePage {
    /// PC437 (USA, standard Europe): `ESC t 0`, the printer's default.
    #[default]
    Pc437,
    /// PC850 (Multilingual): `ESC t 2`.
    Pc850,
    /// WPC1252: `ESC t 16`.
    Wpc1252,
    /// PC852 (Latin 2, Czech): `ESC t 18`.
    Pc852,
    /// PC858 (PC850 with €): `ESC t 19`.
    Pc858,
}

impl CodePage {
    /// The table `ESC t n` selects, if the simulator has it.
    pub fn from_esc_t(n: u8) -> Option<CodePage> {
        Some(match n {
            0 => CodePage::Pc437,
            2 => CodePage::Pc850,
            16 => CodePage::Wpc1252,
            18 => CodePage::Pc852,
            19 => CodePage::Pc858,
            _ => return None,
        })
    }

    /// The `n` of `ESC t n` for this table.
    pub fn esc_t(self) -> u8 {
        match self {
            CodePage::Pc437 => 0,
            CodePage::Pc850 => 2,
            CodePage::Wpc1252 => 16,
            CodePage::Pc852 => 18,
            CodePage::Pc858 => 19,
        }
    }

    /// The character of byte `b` (0x20 and above).
    pub fn decode(self, b: u8) -> char {
        if b < 0x80 {
            return b as char;
        }
        let i = usize::from(b - 0x80);
        match self {
            CodePage::Pc437 => DECODING_TABLE_CP437[i],
            CodePage::Pc850 => DECODING_TABLE_CP850[i],
            CodePage::Pc852 => DECODING_TABLE_CP852[i],
            CodePage::Pc858 => DECODING_TABLE_CP858[i],
            CodePage::Wpc1252 if b < 0xA0 => CP1252_HIGH[i],
            CodePage::Wpc1252 => char::from(b),
        }
    }
}
