//! An ESC/POS printer, simulated: the decoder turns the byte stream a receipt printer receives
//! into a receipt model ([`Receipt`]: lines of styled text, QR codes, barcodes, images, cuts),
//! and reports the status requests (`DLE EOT n`) a printer must answer.
//!
//! It decodes the ESC/POS subset that receipt encoders use (Epson TM-series semantics):
//! text with print modes (bold, underline, italic `ESC 4`, upside-down `ESC {`), alignment
//! (of text, codes and images alike), character size, line spacing (`ESC 3`/`ESC 2`), tab
//! stops (`ESC D`), code pages (`ESC t`: PC437, 737, 775, 850, 852, 855, 857, 858, 860, 862,
//! 863, 865, 866, 869, WPC1252 and ISO 8859-15), feeds, cuts, QR codes (their payload kept as
//! the bytes sent) and other 2D codes (`GS ( k`), barcodes (`GS k`), raster (`GS v 0`,
//! `GS ( L`) and column images (`ESC *` strips join into one image), and it skips every other
//! command it knows the length of, parameters included. Bytes it cannot interpret are skipped with a warning; it
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
