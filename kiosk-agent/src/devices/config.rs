//! The devices' sections of the agent's configuration (`[printer]`, `[card_reader]`,
//! `[touchscreen]`), owned here; [`crate::config::Config`] composes them and reads the card key.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::card::Framing;
use super::printer::{Charset, Transport};

/// What [`super::Devices`] are built from.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The printer, if any.
    pub printer: Option<PrinterSection>,
    /// The card reader and the deployment's card key, if any.
    pub card_reader: Option<(CardReaderSection, Vec<u8>)>,
    /// The touchscreen, if watched.
    pub touchscreen: Option<TouchscreenSection>,
    /// How often the printer and the serial reader are checked.
    pub poll: Duration,
}

/// `[printer]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterSection {
    /// Serial device (or USB-serial adapter) of the printer. Default `/dev/kiosk/printer` (the
    /// udev rules' name). Give either `path` or `address`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A network printer's raw port instead, e.g. `192.0.2.10:9100`.
    #[serde(default)]
    pub address: Option<String>,
    /// How `path` is driven: `serial`, or `usb` for a USB printer-class node. Default: `usb`
    /// when `path` resolves to `/dev/usb/lp*`, else `serial`.
    #[serde(default)]
    pub transport: Option<PrinterLink>,
    /// Baud rate of the serial line. Default 115200.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// The printer's character table: `pc852` (Czech with diacritics) or `ascii` (transliterated).
    /// Default `pc852`.
    #[serde(default)]
    pub charset: Charset,
    /// How long to wait for a status answer, milliseconds. Default 1000.
    #[serde(default = "default_status_timeout_ms")]
    pub status_timeout_ms: u64,
    /// How long a receipt may take to print, seconds. Default 20.
    #[serde(default = "default_job_timeout")]
    pub job_timeout_s: u64,
}

/// How a printer given by `path` is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterLink {
    /// A serial line (or USB-serial adapter).
    Serial,
    /// A USB printer-class node (`usblp`).
    Usb,
}

/// What kind of card reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardReaderKind {
    /// Sends frames on a serial line.
    #[default]
    Serial,
    /// A USB keyboard-wedge reader (an evdev node); grabbed exclusively.
    Keyboard,
}

/// `[card_reader]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardReaderSection {
    /// `serial` or `keyboard` (a keyboard-wedge reader, read through evdev). Default `serial`.
    #[serde(default)]
    pub kind: CardReaderKind,
    /// Device of the reader: a serial port, or an evdev node for `keyboard`. Default
    /// `/dev/kiosk/card-reader` (the udev rules' name for either).
    #[serde(default = "default_card_reader_path")]
    pub path: PathBuf,
    /// Baud rate. Default 9600.
    #[serde(default = "default_card_baud")]
    pub baud: u32,
    /// How the reader frames cards: `stx_etx` or `line`. Default `stx_etx`.
    #[serde(default)]
    pub framing: Framing,
    /// File with the deployment's secret key for the cards' keyed hash (the same on every kiosk
    /// of a deployment, so a citizen's card means the same at each). Required.
    pub key_file: PathBuf,
}

/// `[touchscreen]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchscreenSection {
    /// The evdev node, or `auto` to take the first input device with touch capabilities.
    /// Default `/dev/input/kiosk-touch` (the udev rules' name).
    #[serde(default = "default_touch_path")]
    pub path: String,
}

fn default_touch_path() -> String {
    "/dev/input/kiosk-touch".into()
}

impl PrinterSection {
    /// Where the printer is: its address, or its path and how it is driven.
    pub fn transport(&self) -> Transport {
        let path = || {
            self.path
                .clone()
                .unwrap_or_else(|| "/dev/kiosk/printer".into())
        };
        match (&self.address, self.transport) {
            (Some(addr), _) => Transport::Tcp { addr: addr.clone() },
            (None, Some(PrinterLink::Usb)) => Transport::UsbLp { path: path() },
            (None, Some(PrinterLink::Serial)) => Transport::Serial {
                path: path(),
                baud: self.baud,
            },
            (None, None) => Transport::detect(path(), self.baud),
        }
    }
}

fn default_baud() -> u32 {
    115_200
}
fn default_status_timeout_ms() -> u64 {
    1000
}
fn default_job_timeout() -> u64 {
    20
}
fn default_card_reader_path() -> PathBuf {
    "/dev/kiosk/card-reader".into()
}
fn default_card_baud() -> u32 {
    9600
}
