//! Character code tables selected by `ESC t n` (Epson numbering).

use oem_cp::code_table::{
    DECODING_TABLE_CP437, DECODING_TABLE_CP737, DECODING_TABLE_CP775, DECODING_TABLE_CP850,
    DECODING_TABLE_CP852, DECODING_TABLE_CP855, DECODING_TABLE_CP857, DECODING_TABLE_CP858,
    DECODING_TABLE_CP860, DECODING_TABLE_CP862, DECODING_TABLE_CP863, DECODING_TABLE_CP865,
    DECODING_TABLE_CP866, DECODING_TABLE_CP869,
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
    /// Another table of the OEM family, by its number (737, 775, 855, 857, 860, 862, 863, 865,
    /// 866, 869).
    Oem(u16),
    /// ISO 8859-15 (Latin-9, with €): `ESC t 40`.
    Iso8859_15,
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
            // Epson's numbering of the other OEM tables.
            3 => CodePage::Oem(860),
            4 => CodePage::Oem(863),
            5 => CodePage::Oem(865),
            13 => CodePage::Oem(857),
            14 => CodePage::Oem(737),
            15 => CodePage::Oem(869),
            17 => CodePage::Oem(866),
            23 => CodePage::Oem(855),
            25 => CodePage::Oem(862),
            33 => CodePage::Oem(775),
            40 => CodePage::Iso8859_15,
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
            CodePage::Oem(n) => (0..=255u8)
                .find(|&k| CodePage::from_esc_t(k) == Some(CodePage::Oem(n)))
                .unwrap_or(0),
            CodePage::Iso8859_15 => 40,
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
            CodePage::Iso8859_15 => match b {
                0xA4 => '€',
                0xA6 => 'Š',
                0xA8 => 'š',
                0xB4 => 'Ž',
                0xB8 => 'ž',
                0xBC => 'Œ',
                0xBD => 'œ',
                0xBE => 'Ÿ',
                _ => char::from(b),
            },
            CodePage::Oem(857) => DECODING_TABLE_CP857[i].unwrap_or('\u{FFFD}'),
            CodePage::Oem(n) => {
                let table = match n {
                    737 => &DECODING_TABLE_CP737,
                    775 => &DECODING_TABLE_CP775,
                    855 => &DECODING_TABLE_CP855,
                    860 => &DECODING_TABLE_CP860,
                    862 => &DECODING_TABLE_CP862,
                    863 => &DECODING_TABLE_CP863,
                    865 => &DECODING_TABLE_CP865,
                    866 => &DECODING_TABLE_CP866,
                    869 => &DECODING_TABLE_CP869,
                    _ => &DECODING_TABLE_CP437,
                };
                table[i]
            }
        }
    }
}
