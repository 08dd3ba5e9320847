//! An ESC/POS printer, simulated: the decoder turns the byte stream a receipt printer receives
//! into a receipt model ([`Receipt`]: lines of styled text, QR codes, barcodes, images, cuts),
//! and reports the status requests (`DLE EOT n`) a printer must answer.
//!
//! It decodes the ESC/POS subset that receipt encoders use (Epson TM-series semantics):
//! text with print modes, alignment, character size, code pages (`ESC t`), feeds, cuts, QR and
//! 2D codes (`GS ( k`), barcodes (`GS k`), raster and column images, and it skips every other
//! command it knows the length of. Bytes it cannot interpret are skipped with a warning; it
//! never panics and never allocates from a length a stream announces.

mod codepage;
mod decode;
mod model;
pub mod render;
pub mod sim;

pub use codepage::CodePage;
pub use decode::{Decoder, Event};
pub use model::{Align, Block, Line, Receipt, Span, Style};

/// Decodes a whole byte stream (a file, a captured job).
pub fn decode(bytes: &[u8]) -> Receipt {
    let mut d = Decoder::new();
    d.feed(bytes);
    d.finish()
}
