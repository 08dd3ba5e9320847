//! The local API between `kiosk-app` and `kiosk-agent`: versioned JSON envelopes in
//! length-delimited frames (see [`crate::frame`]) on a Unix socket.
//!
//! Every request carries `v` (the protocol version, [`VERSION`]) and a client-chosen `id` that
//! the reply echoes. A reply is either a result or an [`ApiError`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::UnixMillis;
use crate::fleet::{Notice, RequestState};
use crate::form::{Category, Service};
use crate::tracking::TrackingCode;
use crate::validate::{FieldError, FormValues};
use crate::{Lang, Text};

/// The version of the local API this crate defines.
pub const VERSION: u32 = 1;

/// A request from the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Protocol version, [`VERSION`].
    pub v: u32,
    /// Echoed in the reply.
    pub id: u64,
    /// What is asked.
    pub body: RequestBody,
}

/// What the app can ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RequestBody {
    /// Who this kiosk is.
    KioskInfo,
    /// The services this kiosk offers, with their forms, and current notices.
    Catalog,
    /// Store a filled form durably and issue its tracking code.
    Submit(SubmitRequest),
    /// The state of a request by its tracking code.
    Status {
        /// The code as the citizen typed or scanned it.
        tracking_code: String,
    },
    /// The state of the kiosk's devices.
    Devices,
    /// Current notices.
    Notices,
    /// Wait for the citizen to present a card, at most `timeout_ms` (at most 60,000).
    ReadCard {
        /// How long to wait.
        timeout_ms: u32,
    },
    /// Print the receipt of a submission this kiosk stored (after [`RequestBody::Submit`]).
    PrintReceipt {
        /// The code the agent answered with.
        tracking_code: String,
    },
    /// The requests submitted with this card (its token from [`ResponseBody::Card`]), newest
    /// first: "my requests".
    MyRequests {
        /// The card's token.
        identity: String,
    },
    /// Speak this (audio mode): whatever is being said stops first.
    Speak(Utterance),
    /// Stop speaking now.
    StopSpeaking,
    /// Whether a headset is plugged in; after a change past `after` (a [`ResponseBody::Headset`]
    /// `seq`), or after up to `wait_ms` (at most 30,000) when there is none.
    Headset {
        /// The last sequence number the caller has seen.
        after: u64,
        /// How long to wait for a change.
        #[serde(default)]
        wait_ms: u32,
    },
    /// Device state changes after `after` (a [`DeviceEvent::seq`]; 0 for all that are kept).
    /// When there is none yet, waits up to `wait_ms` (at most 30,000) for one.
    DeviceEvents {
        /// The last sequence number the caller has seen.
        after: u64,
        /// How long to wait for a change.
        #[serde(default)]
        wait_ms: u32,
    },
    /// Touches on the touchscreen after `after` (a [`TouchPoint::seq`]), for the technician's
    /// touch test; waits up to `wait_ms` (at most 30,000) when there is none yet.
    TouchEvents {
        /// The last sequence number the caller has seen.
        after: u64,
        /// How long to wait for a touch.
        #[serde(default)]
        wait_ms: u32,
    },
}

/// A device state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceEvent {
    /// Increasing number of the change, per agent run.
    pub seq: u64,
    /// The device's new state.
    pub status: DeviceStatus,
}

/// What a finger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchPhase {
    /// Put down.
    Down,
    /// Moved while down.
    Move,
    /// Lifted.
    Up,
}

/// One touch, as the technician's touch test shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TouchPoint {
    /// Increasing number, per agent run.
    pub seq: u64,
    /// When the touchscreen reported it.
    pub at: UnixMillis,
    /// Which finger (multi-touch slot).
    pub slot: u16,
    /// What it did.
    pub phase: TouchPhase,
    /// Position across the panel, 0 (left) to 10,000 (right).
    pub x: u16,
    /// Position down the panel, 0 (top) to 10,000 (bottom).
    pub y: u16,
}

/// A filled form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Chosen by the app once per citizen submission; a retry with the same id returns the
    /// original reply instead of storing a second submission.
    pub submission_id: Uuid,
    /// The service applied for.
    pub service_id: String,
    /// The form version the citizen filled in.
    pub form_version: u32,
    /// The language the citizen used.
    pub language: Lang,
    /// The values, by field id.
    pub values: FormValues,
    /// Keyed hash of the citizen's card, when the citizen identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Where the citizen asked (on the review screen) to be told about changes, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::fleet::NoticeRequest>,
}

/// A reply from the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Protocol version, [`VERSION`].
    pub v: u32,
    /// The request's id; 0 when the request could not be read far enough to know it.
    pub id: u64,
    /// The answer.
    pub body: ResponseBody,
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResponseBody {
    /// Answer to [`RequestBody::KioskInfo`].
    KioskInfo(KioskInfo),
    /// Answer to [`RequestBody::Catalog`].
    Catalog(CatalogView),
    /// Answer to [`RequestBody::Submit`], sent only after the submission is durably stored.
    Submitted(SubmitAck),
    /// Answer to [`RequestBody::Status`].
    Status(StatusAnswer),
    /// Answer to [`RequestBody::MyRequests`].
    MyRequests {
        /// The requests, newest first; each says whether it is what the kiosk last knew.
        requests: Vec<StatusAnswer>,
    },
    /// Answer to [`RequestBody::Devices`].
    Devices {
        /// One entry per device.
        devices: Vec<DeviceStatus>,
    },
    /// Answer to [`RequestBody::Notices`].
    Notices {
        /// Current notices.
        notices: Vec<Notice>,
    },
    /// Answer to [`RequestBody::ReadCard`]: the card, as the agent lets it out.
    Card {
        /// An opaque token standing for this card read (the card's keyed hash stays in the
        /// agent), for [`SubmitRequest::identity`] and "my requests"; it expires after a few
        /// minutes.
        identity: String,
        /// The number with all but its last four characters hidden, for the screen.
        masked: String,
    },
    /// Answer to [`RequestBody::ReadCard`] when no card was presented in time.
    NoCard,
    /// Answer to [`RequestBody::PrintReceipt`]: the printer proved the receipt printed.
    Printed {
        /// The printer's state after the job (e.g. paper near end).
        printer: DeviceStatus,
    },
    /// Answer to [`RequestBody::DeviceEvents`].
    DeviceEvents {
        /// The changes, oldest first (the oldest may have been dropped when many happened).
        events: Vec<DeviceEvent>,
        /// The newest sequence number: pass it as `after` next time.
        last: u64,
    },
    /// Answer to [`RequestBody::TouchEvents`].
    TouchEvents {
        /// The touches, oldest first.
        events: Vec<TouchPoint>,
        /// The newest sequence number: pass it as `after` next time.
        last: u64,
    },
    /// Answer to [`RequestBody::Speak`]: speech started on this output.
    Speaking {
        /// The personal headset (true) or the loudspeaker.
        headset: bool,
    },
    /// Answer to [`RequestBody::StopSpeaking`].
    Stopped,
    /// Answer to [`RequestBody::Headset`].
    Headset {
        /// Increases with every plug and pull (per agent run).
        seq: u64,
        /// A headset is plugged in.
        plugged: bool,
        /// The kiosk can tell (it has a jack that reports plugging).
        detected: bool,
    },
    /// The request failed.
    Error(ApiError),
}

/// Something to say in audio mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utterance {
    /// What to say (plain text, at most [`Utterance::MAX_CHARS`] characters).
    pub text: String,
    /// In which language's voice.
    pub lang: Lang,
    /// Speed, 1 (slowest) to 9 (fastest); 5 is the engine's usual pace.
    pub rate: u8,
    /// Loudness, 1 to 9.
    pub volume: u8,
    /// It carries personal data: the agent speaks it only into a headset, never the loudspeaker.
    #[serde(default)]
    pub private: bool,
}

impl Utterance {
    /// The longest text one utterance may carry.
    pub const MAX_CHARS: usize = 4_000;

    /// Why the agent will not speak this, if it will not.
    pub fn check(&self) -> Result<(), String> {
        if self.text.trim().is_empty() {
            return Err("nothing to say".into());
        }
        if self.text.chars().count() > Self::MAX_CHARS {
            return Err(format!("longer than {} characters", Self::MAX_CHARS));
        }
        if !(1..=9).contains(&self.rate) || !(1..=9).contains(&self.volume) {
            return Err("rate and volume go from 1 to 9".into());
        }
        Ok(())
    }
}

/// The kiosk's identity as the UI may show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KioskInfo {
    /// Fleet identifier, e.g. `ostrava-01`.
    pub kiosk_id: String,
    /// Human name, e.g. "Nová radnice, přízemí".
    pub name: String,
    /// Whether the kiosk has enrolled with the fleet and can issue tracking codes.
    pub enrolled: bool,
    /// The agent's version.
    pub agent_version: String,
}

/// The catalog as this kiosk offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogView {
    /// Version of the catalog the services come from; 0 when none was fetched yet.
    pub version: u64,
    /// When the agent last fetched it.
    pub fetched_at: Option<UnixMillis>,
    /// Categories.
    pub categories: Vec<Category>,
    /// Services offered by this kiosk.
    pub services: Vec<Service>,
    /// Current notices.
    pub notices: Vec<Notice>,
}

/// The agent's answer to a stored submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitAck {
    /// The submission's id (the one the app chose).
    pub submission_id: Uuid,
    /// The code to print on the receipt and show on screen.
    pub tracking_code: TrackingCode,
    /// When the agent committed it.
    pub stored_at: UnixMillis,
    /// The public status page of the request, for the QR code on screen.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_url: String,
}

/// The state of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// The code asked about.
    pub tracking_code: TrackingCode,
    /// The service's name, when known.
    pub service_name: Option<Text>,
    /// The state.
    pub state: RequestState,
    /// A note from the office, without personal data.
    pub note: Option<Text>,
    /// When the state was last changed.
    pub updated_at: UnixMillis,
    /// True when the fleet could not be asked and this is what the kiosk last knew.
    pub offline: bool,
    /// When the kiosk learned this state.
    pub known_at: UnixMillis,
}

/// One device's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// Which device.
    pub device: DeviceKind,
    /// Its state.
    pub state: DeviceState,
    /// Detail for technicians, never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When the state last changed.
    pub since: UnixMillis,
    /// For input devices: when the device last sent anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<UnixMillis>,
    /// For input devices: events (touches, cards) in the last minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_per_minute: Option<u32>,
}

/// The kinds of device a kiosk has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// ESC/POS receipt printer.
    Printer,
    /// Card reader.
    CardReader,
    /// Touchscreen.
    Touchscreen,
}

/// The words a printer's [`DeviceStatus::detail`] uses for its paper and cover, written by the
/// agent and read by the fleet's alerts and metrics.
pub mod printer_detail {
    /// No paper.
    pub const PAPER_OUT: &str = "paper out";
    /// The roll's end is near.
    pub const PAPER_NEAR_END: &str = "paper near end";
    /// The cover is open.
    pub const COVER_OPEN: &str = "cover open";

    /// The paper as a detail reports it: `ok`, `near_end` or `out`.
    pub fn paper(detail: &str) -> &'static str {
        if detail.contains(PAPER_OUT) {
            "out"
        } else if detail.contains(PAPER_NEAR_END) {
            "near_end"
        } else {
            "ok"
        }
    }

    /// Whether a detail reports the cover open.
    pub fn cover_open(detail: &str) -> bool {
        detail.contains(COVER_OPEN)
    }
}

/// A device's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Working.
    Ok,
    /// Working, but needs attention soon (paper near end).
    Warning,
    /// Present but not usable (paper out, cover open).
    Fault,
    /// Not found or not answering.
    Missing,
    /// Not configured on this kiosk.
    NotConfigured,
}

impl DeviceState {
    /// In words, for people (the technician's console, the self-test).
    pub fn words(self) -> &'static str {
        match self {
            DeviceState::Ok => "ok",
            DeviceState::Warning => "warning",
            DeviceState::Fault => "fault",
            DeviceState::Missing => "missing",
            DeviceState::NotConfigured => "not configured",
        }
    }
}

impl DeviceKind {
    /// In words, for people.
    pub fn words(self) -> &'static str {
        match self {
            DeviceKind::Printer => "printer",
            DeviceKind::CardReader => "card reader",
            DeviceKind::Touchscreen => "touchscreen",
        }
    }
}

impl TouchPhase {
    /// In words, for people.
    pub fn words(self) -> &'static str {
        match self {
            TouchPhase::Down => "down",
            TouchPhase::Move => "move",
            TouchPhase::Up => "up",
        }
    }
}

/// An error reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Machine-readable kind.
    pub code: ErrorCode,
    /// One sentence for logs and technicians; never personal data.
    pub message: String,
    /// Per-field problems when `code` is [`ErrorCode::Invalid`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_errors: Vec<FieldError>,
}

/// Kinds of error reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame or its JSON could not be read.
    BadRequest,
    /// The frame is over the size limit; the agent closes the connection.
    TooLarge,
    /// The request's protocol version is not spoken.
    UnsupportedVersion,
    /// The service does not exist on this kiosk.
    UnknownService,
    /// The form version is not known to this kiosk.
    UnknownFormVersion,
    /// The filled form does not validate; see `field_errors`.
    Invalid,
    /// The tracking code is malformed or mistyped.
    BadTrackingCode,
    /// No request with this tracking code is known.
    NotFound,
    /// The kiosk has not enrolled with the fleet yet and cannot issue codes.
    NotEnrolled,
    /// The same submission id was used for a different submission.
    Conflict,
    /// Storage failed; nothing was stored.
    Storage,
    /// The receipt did not print (paper out, cover open, printer off or not configured); the
    /// submission is stored all the same: show the code large instead.
    PrinterUnavailable,
    /// The card reader is missing or not configured.
    CardReaderUnavailable,
    /// The card token is not one the agent issued, or it expired: read the card again.
    CardExpired,
    /// The kiosk has no touchscreen configured.
    TouchscreenUnavailable,
    /// Anything else.
    Internal,
}

impl ApiError {
    /// An error without field problems.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field_errors: Vec::new(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
