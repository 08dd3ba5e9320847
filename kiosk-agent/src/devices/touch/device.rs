//! The touchscreen as a device: watched for health, its touches logged for the technician's
//! `touch test`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use protocol::app::{DeviceStatus, TouchPhase, TouchPoint};

use crate::devices::events::EventLog;
use crate::devices::input::{self, input_loop};
use crate::devices::status::StatusCell;
use crate::devices::touch;

/// The touchscreen, watched by its own thread.
#[derive(Debug)]
pub struct TouchDevice {
    pub(crate) path: String,
    pub(crate) cell: Arc<StatusCell>,
    /// Touches, for the technician's touch test.
    pub touches: Arc<EventLog<TouchPoint>>,
}

impl TouchDevice {
    /// The last known state.
    pub fn status(&self) -> DeviceStatus {
        self.cell.get()
    }

    pub(crate) fn resolve(&self) -> std::io::Result<PathBuf> {
        if self.path != "auto" {
            return Ok(PathBuf::from(&self.path));
        }
        input::find_touchscreens(Path::new("/sys/class/input"))
            .into_iter()
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no input device with touch capabilities",
                )
            })
    }

    pub(crate) fn run(&self, stop: &AtomicBool) {
        let touches = Arc::clone(&self.touches);
        let cell = Arc::clone(&self.cell);
        input_loop(
            "touchscreen",
            || self.resolve(),
            false,
            &self.cell,
            stop,
            |source| {
                let x = source
                    .axis_range(touch::ABS_MT_POSITION_X)
                    .or_else(|| source.axis_range(touch::ABS_X))
                    .unwrap_or(input::AxisRange::DEFAULT);
                let y = source
                    .axis_range(touch::ABS_MT_POSITION_Y)
                    .or_else(|| source.axis_range(touch::ABS_Y))
                    .unwrap_or(input::AxisRange::DEFAULT);
                let mut decoder = touch::TouchDecoder::new(x, y);
                let touches = Arc::clone(&touches);
                let cell = Arc::clone(&cell);
                Box::new(move |records: &[input::InputRecord]| {
                    for r in records {
                        for t in decoder.feed(r) {
                            cell.activity(t.phase == TouchPhase::Down);
                            touches.push(|seq| TouchPoint {
                                seq,
                                at: t.time_us / 1000,
                                slot: t.slot,
                                phase: t.phase,
                                x: t.x,
                                y: t.y,
                            });
                        }
                    }
                })
            },
        );
    }
}
