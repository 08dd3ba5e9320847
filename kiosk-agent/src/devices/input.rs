//! Linux input devices (evdev): the touchscreen and keyboard-wedge card readers.
//!
//! Drivers see a device as a stream of [`InputRecord`]s, whatever it comes from: an evdev node
//! read through the `evdev` crate (optionally grabbed exclusively, so that nothing else — the UI
//! included — receives its events), or a raw stream of kernel `struct input_event` records (a
//! recording, or a FIFO a simulator writes to). The decoders ([`super::touch`],
//! [`super::card::wedge`]) therefore run on recorded streams exactly as on real devices.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocol::app::DeviceState;

use super::status::StatusCell;
use crate::backoff::Backoff;

/// `EV_SYN`: frame boundaries.
pub const EV_SYN: u16 = 0x00;
/// `EV_KEY`: keys and buttons.
pub const EV_KEY: u16 = 0x01;
/// `EV_ABS`: absolute axes.
pub const EV_ABS: u16 = 0x03;
/// `SYN_REPORT`: the end of one frame of events.
pub const SYN_REPORT: u16 = 0;
/// `SYN_DROPPED`: the kernel's buffer overflowed; events were lost.
pub const SYN_DROPPED: u16 = 3;

/// Size of one `struct input_event` on 64-bit Linux: two 64-bit time fields, type, code, value.
pub const RECORD_SIZE: usize = 24;

/// One input event, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputRecord {
    /// Kernel time stamp, µs since the Unix epoch.
    pub time_us: i64,
    /// Event type (`EV_*`).
    pub kind: u16,
    /// Event code (`KEY_*`, `ABS_*`, `SYN_*`).
    pub code: u16,
    /// Value: 1 press / 0 release / 2 repeat for keys, the position for axes.
    pub value: i32,
}

impl InputRecord {
    /// A record at `time_us`.
    pub fn new(time_us: i64, kind: u16, code: u16, value: i32) -> InputRecord {
        InputRecord {
            time_us,
            kind,
            code,
            value,
        }
    }

    /// Parses a native (little-endian, 64-bit) `struct input_event`.
    pub fn from_bytes(b: &[u8; RECORD_SIZE]) -> InputRecord {
        let i64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            i64::from_le_bytes(a)
        };
        let sec = i64_at(0);
        let usec = i64_at(8);
        InputRecord {
            time_us: sec.saturating_mul(1_000_000).saturating_add(usec),
            kind: u16::from_le_bytes([b[16], b[17]]),
            code: u16::from_le_bytes([b[18], b[19]]),
            value: i32::from_le_bytes([b[20], b[21], b[22], b[23]]),
        }
    }

    /// The record as a native `struct input_event`, for recordings and simulators.
    pub fn to_bytes(&self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        b[0..8].copy_from_slice(&self.time_us.div_euclid(1_000_000).to_le_bytes());
        b[8..16].copy_from_slice(&self.time_us.rem_euclid(1_000_000).to_le_bytes());
        b[16..18].copy_from_slice(&self.kind.to_le_bytes());
        b[18..20].copy_from_slice(&self.code.to_le_bytes());
        b[20..24].copy_from_slice(&self.value.to_le_bytes());
        b
    }

    /// The end of a frame.
    pub fn is_report(&self) -> bool {
        self.kind == EV_SYN && self.code == SYN_REPORT
    }
}

impl From<evdev::InputEvent> for InputRecord {
    fn from(e: evdev::InputEvent) -> InputRecord {
        let time_us = e
            .timestamp()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        InputRecord::new(time_us, e.event_type().0, e.code(), e.value())
    }
}

/// Splits a raw byte stream into records; a record cut short at the end of the stream is
/// dropped.
pub fn parse_records(bytes: &[u8]) -> Vec<InputRecord> {
    bytes
        .chunks_exact(RECORD_SIZE)
        .filter_map(|c| <&[u8; RECORD_SIZE]>::try_from(c).ok())
        .map(InputRecord::from_bytes)
        .collect()
}

/// What a driver does with each batch of records from its device.
pub type InputHandler = Box<dyn FnMut(&[InputRecord]) + Send>;

/// The range an absolute axis reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisRange {
    /// Smallest value.
    pub min: i32,
    /// Largest value.
    pub max: i32,
}

impl AxisRange {
    /// The range most resistive and many capacitive controllers report (12 bits).
    pub const DEFAULT: AxisRange = AxisRange { min: 0, max: 4095 };

    /// `v` scaled to 0..=10,000, clamped.
    pub fn scale(&self, v: i32) -> u16 {
        let span = i64::from(self.max) - i64::from(self.min);
        if span <= 0 {
            return 0;
        }
        let off = (i64::from(v) - i64::from(self.min)).clamp(0, span);
        (off * 10_000 / span) as u16
    }
}

/// Where a stream of input records comes from.
pub enum InputSource {
    /// A real evdev node.
    Evdev(Box<evdev::Device>),
    /// A raw stream of `struct input_event` records (a FIFO or a recording).
    Raw {
        /// The stream.
        file: File,
        /// Bytes of a record not complete yet.
        pending: Vec<u8>,
    },
}

impl std::fmt::Debug for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Evdev(d) => f
                .debug_struct("Evdev")
                .field("name", &d.name())
                .finish_non_exhaustive(),
            InputSource::Raw { .. } => f.debug_struct("Raw").finish_non_exhaustive(),
        }
    }
}

impl InputSource {
    /// Opens `path`: a FIFO or regular file as a raw record stream, anything else as an evdev
    /// node, grabbed exclusively when `grab` is set.
    pub fn open(path: &Path, grab: bool) -> std::io::Result<InputSource> {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(path)?.file_type();
        if kind.is_fifo() || kind.is_file() {
            return Ok(InputSource::Raw {
                file: File::open(path)?,
                pending: Vec::new(),
            });
        }
        let mut dev = evdev::Device::open(path)?;
        if grab {
            dev.grab()?;
        }
        Ok(InputSource::Evdev(Box::new(dev)))
    }

    /// The range of an absolute axis (`ABS_*` code), when the device reports one.
    pub fn axis_range(&self, code: u16) -> Option<AxisRange> {
        let InputSource::Evdev(dev) = self else {
            return None;
        };
        dev.get_absinfo()
            .ok()?
            .find(|(axis, _)| axis.0 == code)
            .map(|(_, info)| AxisRange {
                min: info.minimum(),
                max: info.maximum(),
            })
    }

    /// Blocks until the device sends something; an error or the end of the stream means the
    /// device is gone.
    pub fn next_batch(&mut self) -> std::io::Result<Vec<InputRecord>> {
        match self {
            InputSource::Evdev(dev) => Ok(dev.fetch_events()?.map(InputRecord::from).collect()),
            InputSource::Raw { file, pending } => {
                let mut buf = [0u8; RECORD_SIZE * 64];
                loop {
                    let n = match file.read(&mut buf) {
                        Ok(0) => {
                            return Err(std::io::Error::new(
                                ErrorKind::UnexpectedEof,
                                "the input stream ended",
                            ));
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    pending.extend_from_slice(&buf[..n]);
                    let whole = pending.len() - pending.len() % RECORD_SIZE;
                    if whole > 0 {
                        let records = parse_records(&pending[..whole]);
                        pending.drain(..whole);
                        return Ok(records);
                    }
                }
            }
        }
    }
}

/// Capabilities of an input device, read from sysfs
/// (`/sys/class/input/eventN/device/capabilities/*`): what discovery needs without opening it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `EV_ABS` bits.
    pub abs: Vec<u64>,
    /// `EV_KEY` bits.
    pub key: Vec<u64>,
}

impl Capabilities {
    /// Parses sysfs bitmaps: hexadecimal words, most significant first.
    pub fn parse_bitmap(text: &str) -> Vec<u64> {
        let mut words: Vec<u64> = text
            .split_whitespace()
            .map(|w| u64::from_str_radix(w, 16).unwrap_or(0))
            .collect();
        words.reverse();
        words
    }

    fn has(bits: &[u64], n: u16) -> bool {
        bits.get(usize::from(n / 64))
            .is_some_and(|w| w & (1 << (n % 64)) != 0)
    }

    /// Reports touches: multi-touch positions, or `BTN_TOUCH` with absolute X.
    pub fn is_touchscreen(&self) -> bool {
        let mt = Self::has(&self.abs, super::touch::ABS_MT_POSITION_X);
        let st = Self::has(&self.key, super::touch::BTN_TOUCH)
            && Self::has(&self.abs, super::touch::ABS_X);
        mt || st
    }
}

/// Finds the touchscreens under `sysfs_input` (`/sys/class/input` on a kiosk): the device nodes
/// (`/dev/input/eventN`) of every event device with touch capabilities, sorted.
pub fn find_touchscreens(sysfs_input: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(sysfs_input)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("event"))
        .filter(|e| {
            let caps = e.path().join("device/capabilities");
            let read = |f: &str| {
                std::fs::read_to_string(caps.join(f))
                    .map(|t| Capabilities::parse_bitmap(&t))
                    .unwrap_or_default()
            };
            Capabilities {
                abs: read("abs"),
                key: read("key"),
            }
            .is_touchscreen()
        })
        .map(|e| Path::new("/dev/input").join(e.file_name()))
        .collect();
    found.sort();
    found
}

/// Opens an input device, feeds its records to the handler `start` makes for it, and reopens
/// it with back-off when it goes away, until `stop`.
pub(crate) fn input_loop(
    what: &str,
    resolve: impl Fn() -> std::io::Result<PathBuf>,
    grab: bool,
    cell: &StatusCell,
    stop: &AtomicBool,
    mut start: impl FnMut(&InputSource) -> InputHandler,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    while !stop.load(Ordering::Relaxed) {
        match resolve().and_then(|p| InputSource::open(&p, grab).map(|s| (p, s))) {
            Ok((path, mut source)) => {
                backoff.reset();
                cell.set(DeviceState::Ok, Some(path.display().to_string()));
                let mut handle = start(&source);
                loop {
                    match source.next_batch() {
                        Ok(records) => {
                            cell.activity(false);
                            handle(&records);
                        }
                        Err(e) => {
                            cell.set(DeviceState::Missing, Some(format!("{what} lost: {e}")));
                            break;
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            }
            Err(e) => cell.set(
                DeviceState::Missing,
                Some(format!("cannot open {what}: {e}")),
            ),
        }
        std::thread::sleep(backoff.fail());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_kernel_layout() {
        let r = InputRecord::new(1_700_000_000_123_456, EV_ABS, 0x35, -7);
        let b = r.to_bytes();
        assert_eq!(&b[0..8], &1_700_000_000i64.to_le_bytes());
        assert_eq!(&b[8..16], &123_456i64.to_le_bytes());
        assert_eq!(InputRecord::from_bytes(&b), r);
        let mut two = b.to_vec();
        two.extend_from_slice(&InputRecord::new(5, EV_SYN, 0, 0).to_bytes());
        two.extend_from_slice(&[1, 2, 3]);
        assert_eq!(parse_records(&two).len(), 2);
    }

    #[test]
    fn axis_scaling_is_clamped_and_survives_a_broken_range() {
        let r = AxisRange {
            min: 100,
            max: 1100,
        };
        assert_eq!(
            (r.scale(100), r.scale(600), r.scale(1100)),
            (0, 5_000, 10_000)
        );
        assert_eq!((r.scale(-5), r.scale(9_999)), (0, 10_000));
        assert_eq!(AxisRange { min: 5, max: 5 }.scale(5), 0);
        assert_eq!(
            AxisRange {
                min: i32::MIN,
                max: i32::MAX
            }
            .scale(i32::MAX),
            10_000
        );
    }

    #[test]
    fn discovery_picks_touch_devices_by_their_capabilities() {
        let root = std::env::temp_dir().join(format!("okenko-input-{}", crate::random::secret(6)));
        let caps = |node: &str, abs: &str, key: &str| {
            let d = root.join(node).join("device/capabilities");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("abs"), abs).unwrap();
            std::fs::write(d.join("key"), key).unwrap();
        };
        // Multi-touch panel: ABS_MT_POSITION_X is bit 53.
        caps("event3", "260800000000003\n", "0\n");
        // A keyboard: no absolute axes.
        caps(
            "event0",
            "0\n",
            "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n",
        );
        // A single-touch resistive panel: BTN_TOUCH (330) and ABS_X.
        caps("event5", "3\n", "400 0 0 0 0 0\n");
        // A mouse: relative only (BTN_LEFT, no ABS).
        caps("event7", "0\n", "70000 0 0 0 0\n");
        std::fs::create_dir_all(root.join("mouse0")).unwrap();
        assert_eq!(
            find_touchscreens(&root),
            vec![
                PathBuf::from("/dev/input/event3"),
                PathBuf::from("/dev/input/event5")
            ]
        );
        assert!(find_touchscreens(&root.join("absent")).is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }
}
