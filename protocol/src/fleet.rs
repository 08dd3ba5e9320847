//! The HTTP API between `kiosk-agent` and `fleet-server`, version 1 (paths under
//! `/api/kiosk/v1/`). Every call but enrolment carries the kiosk's credential as
//! `Authorization: Bearer <kiosk_id>:<secret>`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::form::{Category, Service};
use crate::tracking::TrackingCode;
use crate::validate::FormValues;
use crate::{Lang, Text, UnixMillis};

/// The version of the kiosk API this crate defines; the path carries it.
pub const VERSION: u32 = 1;
/// The path prefix of the kiosk API.
pub const PREFIX: &str = "/api/kiosk/v1";
/// Most submissions in one upload batch.
pub const MAX_BATCH: usize = 100;

/// `POST /enrol`: exchange a one-time bootstrap token for the kiosk's own identity.
///
/// The agent chooses its credential secret itself and keeps it before calling, so a retried
/// enrolment (the reply was lost) with the same token and secret gets the same answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The one-time token an admin issued for this kiosk.
    pub bootstrap_token: String,
    /// The credential secret the agent chose (at least 32 random bytes, base32).
    pub credential: String,
    /// The agent's version.
    pub agent_version: String,
}

/// The kiosk's identity in the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// Fleet identifier, e.g. `ostrava-01`.
    pub kiosk_id: String,
    /// The kiosk's number, carried in its tracking codes.
    pub kiosk_number: u32,
    /// Human name.
    pub name: String,
    /// The group that decides its services and releases.
    pub group: String,
}

/// One queued submission as uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionUpload {
    /// Idempotency key: the id the app chose.
    pub id: Uuid,
    /// The code the kiosk issued; its kiosk part must be the uploader's number.
    pub tracking_code: TrackingCode,
    /// The service.
    pub service_id: String,
    /// The form version filled in.
    pub form_version: u32,
    /// The citizen's language.
    pub language: Lang,
    /// The values.
    pub values: FormValues,
    /// Keyed hash of the citizen's card, when identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// When the kiosk stored it.
    pub created_at: UnixMillis,
    /// Where the citizen asked to be told about changes (SMS or e-mail), if they did. Personal
    /// data: the fleet keeps it apart and sealed, and forgets it when the request closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NoticeRequest>,
}

/// How a citizen asked to hear about changes to their request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeChannel {
    /// A text message through the city's SMS gateway.
    Sms,
    /// An e-mail through the city's SMTP relay.
    Email,
}

impl NoticeChannel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeChannel::Sms => "sms",
            NoticeChannel::Email => "email",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<NoticeChannel> {
        [NoticeChannel::Sms, NoticeChannel::Email]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// The citizen's choice on the review screen: be told about changes by `channel` at `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeRequest {
    /// SMS or e-mail.
    pub channel: NoticeChannel,
    /// The phone number or e-mail address.
    pub to: String,
}

impl NoticeRequest {
    /// The request with its address in one canonical form (a phone number as `+` and digits,
    /// a Czech nine-digit number with `+420`; an e-mail address with its domain in lower
    /// case), or why it cannot be used. Both ends check it: the agent before it stores a
    /// submission, the fleet before it keeps the address.
    pub fn normalized(&self) -> Result<NoticeRequest, String> {
        let to = match self.channel {
            NoticeChannel::Sms => normalize_phone(&self.to)?,
            NoticeChannel::Email => {
                let t = self.to.trim();
                if t.len() > 254 || !crate::validate::is_email(t) {
                    return Err("not an e-mail address".into());
                }
                let (local, domain) = t.split_once('@').unwrap_or((t, ""));
                format!("{local}@{}", domain.to_ascii_lowercase())
            }
        };
        Ok(NoticeRequest {
            channel: self.channel,
            to,
        })
    }

    /// The address as staff may see it: a phone number's last three digits, an e-mail
    /// address's first letters and top-level domain.
    pub fn masked(&self) -> String {
        match self.channel {
            NoticeChannel::Sms => {
                let digits: Vec<char> = self.to.chars().filter(char::is_ascii_digit).collect();
                let tail: String = digits[digits.len().saturating_sub(3)..].iter().collect();
                format!("+••• ••• ••{tail}")
            }
            NoticeChannel::Email => {
                let (local, domain) = self.to.split_once('@').unwrap_or((&self.to, ""));
                let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
                let tld = domain.rsplit('.').next().unwrap_or("");
                format!("{}•••@{}•••.{tld}", first(local), first(domain))
            }
        }
    }
}

/// A phone number as `+` and 8-15 digits: spaces, dashes, dots and brackets dropped, `00`
/// read as `+`, a bare nine-digit number read as Czech (`+420`).
fn normalize_phone(s: &str) -> Result<String, String> {
    let kept: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
        .collect();
    let digits = if let Some(rest) = kept.strip_prefix('+') {
        rest.to_owned()
    } else if let Some(rest) = kept.strip_prefix("00") {
        rest.to_owned()
    } else if kept.len() == 9 {
        format!("420{kept}")
    } else {
        return Err("a phone number needs its country code (+420 …)".into());
    };
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(8..=15).contains(&digits.len()) {
        return Err("not a phone number".into());
    }
    Ok(format!("+{digits}"))
}

/// `POST /submissions`: a batch of queued submissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBatch {
    /// At most [`MAX_BATCH`] items.
    pub items: Vec<SubmissionUpload>,
}

/// The answer to a batch: one ack per item, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchAck {
    /// One per uploaded item.
    pub items: Vec<ItemAck>,
}

/// The server's answer for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemAck {
    /// The item's id.
    pub id: Uuid,
    /// What happened.
    pub outcome: ItemOutcome,
}

/// What happened to one uploaded item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Stored now.
    Accepted {
        /// When the server stored it.
        received_at: UnixMillis,
    },
    /// Stored earlier (a retry); the original time.
    Duplicate {
        /// When the server first stored it.
        received_at: UnixMillis,
    },
    /// Refused for good; retrying will not help. The kiosk keeps it for a technician.
    Rejected {
        /// Why.
        reason: String,
    },
}

impl ItemOutcome {
    /// The server holds the item (now or from before).
    pub fn is_stored(&self) -> bool {
        matches!(
            self,
            ItemOutcome::Accepted { .. } | ItemOutcome::Duplicate { .. }
        )
    }
}

/// `GET /catalog` (with `If-None-Match`): the catalog for the calling kiosk's group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Increases with every publication.
    pub version: u64,
    /// When it was published.
    pub published_at: UnixMillis,
    /// Categories.
    pub categories: Vec<Category>,
    /// Services (for the kiosk: only those of its group).
    pub services: Vec<Service>,
    /// Notices (for the kiosk: only current ones of its group).
    #[serde(default)]
    pub notices: Vec<Notice>,
}

/// A notice shown on the kiosks' home screen ("water outage in …").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Identifier.
    pub id: String,
    /// Title.
    pub title: Text,
    /// Body.
    pub body: Text,
    /// Shown from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<UnixMillis>,
    /// Shown until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<UnixMillis>,
    /// Groups it is shown in; empty means every kiosk.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Notice {
    /// Whether the notice is shown at `now`.
    pub fn is_current(&self, now: UnixMillis) -> bool {
        self.valid_from.is_none_or(|f| f <= now) && self.valid_until.is_none_or(|u| now < u)
    }
}

/// The state of a citizen's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Stored on the kiosk, not yet at the fleet server.
    Queued,
    /// At the fleet server, not yet at the office.
    Submitted,
    /// The office's agenda system has it.
    Received,
    /// Someone works on it.
    InProgress,
    /// The office waits for the citizen.
    WaitingForCitizen,
    /// Done.
    Resolved,
    /// Refused.
    Rejected,
}

impl RequestState {
    /// Every state.
    pub const ALL: [RequestState; 7] = [
        RequestState::Queued,
        RequestState::Submitted,
        RequestState::Received,
        RequestState::InProgress,
        RequestState::WaitingForCitizen,
        RequestState::Resolved,
        RequestState::Rejected,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Queued => "queued",
            RequestState::Submitted => "submitted",
            RequestState::Received => "received",
            RequestState::InProgress => "in_progress",
            RequestState::WaitingForCitizen => "waiting_for_citizen",
            RequestState::Resolved => "resolved",
            RequestState::Rejected => "rejected",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// What a citizen reads.
    pub fn label(self) -> Text {
        match self {
            RequestState::Queued => Text::new(
                "Čeká na odeslání",
                "Waiting to be sent",
                "Очікує на відправлення",
            ),
            RequestState::Submitted => Text::new("Odesláno", "Sent", "Надіслано"),
            RequestState::Received => Text::new(
                "Přijato úřadem",
                "Received by the office",
                "Отримано установою",
            ),
            RequestState::InProgress => Text::new("Vyřizuje se", "In progress", "В обробці"),
            RequestState::WaitingForCitizen => {
                Text::new("Čeká na vás", "Waiting for you", "Очікує на вас")
            }
            RequestState::Resolved => Text::new("Vyřízeno", "Resolved", "Вирішено"),
            RequestState::Rejected => Text::new("Zamítnuto", "Rejected", "Відхилено"),
        }
    }
}

/// `GET /status/{code}`: a request's state, without personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// The code.
    pub tracking_code: TrackingCode,
    /// The service.
    pub service_id: String,
    /// The service's name.
    pub service_name: Option<Text>,
    /// The state.
    pub state: RequestState,
    /// The office's note, without personal data.
    pub note: Option<Text>,
    /// When the state last changed.
    pub updated_at: UnixMillis,
}

/// `POST /requests/by-identity`: the requests submitted with a card, at any kiosk of the fleet.
/// The card's keyed hash is sent in the body, never in a URL, so it stays out of access logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityQuery {
    /// The card's keyed hash (64 hex digits).
    pub identity: String,
}

/// Reply to [`IdentityQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityRequests {
    /// At most [`MAX_IDENTITY_REQUESTS`], newest first.
    pub requests: Vec<StatusRecord>,
}

/// Most requests listed for one card.
pub const MAX_IDENTITY_REQUESTS: usize = 20;

/// `POST /heartbeat`: the kiosk's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// When it was sampled (buffered heartbeats keep their time).
    pub sampled_at: UnixMillis,
    /// The agent's version.
    pub agent_version: String,
    /// Submissions waiting for upload.
    pub outbox_len: u64,
    /// Age of the oldest waiting submission, seconds.
    pub outbox_oldest_age_s: Option<u64>,
    /// Device states.
    #[serde(default)]
    pub devices: Vec<crate::app::DeviceStatus>,
    /// Catalog version the kiosk holds.
    pub catalog_version: u64,
    /// The kiosk computer's health, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemHealth>,
    /// When a citizen last touched the screen or presented a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_interaction_at: Option<UnixMillis>,
    /// The kiosk's clock when this was sent (a replayed heartbeat is sent long after it was
    /// sampled); the server compares it with its own for the clock-skew alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<UnixMillis>,
    /// What happened on the technician's serial console since the last heartbeat (the fleet
    /// adds it to its audit log); at most [`MAX_CONSOLE_EVENTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub console: Vec<ConsoleEvent>,
    /// The kiosk's release and where its update stands (absent on a kiosk without updates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateReport>,
}

/// Where a kiosk's update stands, in every heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateReport {
    /// The release running now (the booted slot's).
    pub running: String,
    /// The slot booted, e.g. `A`.
    pub slot: String,
    /// The release being installed or last tried, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The rollout that asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_id: Option<i64>,
    /// The state.
    pub state: UpdateState,
    /// Download progress, percent, while downloading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Why it failed or rolled back, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the state was entered (the kiosk's clock).
    pub since: UnixMillis,
}

/// The states of an update on a kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// Nothing to do: running what the fleet wants.
    Idle,
    /// Fetching the bundle (resumable).
    Downloading,
    /// Checking the bundle against its signed manifest.
    Verifying,
    /// Downloaded and verified; waiting for the maintenance window or for the kiosk to be idle.
    Waiting,
    /// Writing the inactive slot.
    Installing,
    /// Switching to the new slot on trial.
    Rebooting,
    /// Running the new slot on trial: the health check decides.
    Trial,
    /// The new release passed its health check and is the good slot.
    Succeeded,
    /// Refused or could not be installed; the kiosk still runs its previous release.
    Failed,
    /// The new release failed its health check; the kiosk went back to the previous one.
    RolledBack,
}

impl UpdateState {
    /// Its name as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateState::Idle => "idle",
            UpdateState::Downloading => "downloading",
            UpdateState::Verifying => "verifying",
            UpdateState::Waiting => "waiting",
            UpdateState::Installing => "installing",
            UpdateState::Rebooting => "rebooting",
            UpdateState::Trial => "trial",
            UpdateState::Succeeded => "succeeded",
            UpdateState::Failed => "failed",
            UpdateState::RolledBack => "rolled_back",
        }
    }

    /// Every state, in the order an update goes through them.
    pub const ALL: [UpdateState; 10] = [
        UpdateState::Idle,
        UpdateState::Downloading,
        UpdateState::Verifying,
        UpdateState::Waiting,
        UpdateState::Installing,
        UpdateState::Rebooting,
        UpdateState::Trial,
        UpdateState::Succeeded,
        UpdateState::Failed,
        UpdateState::RolledBack,
    ];

    /// Whether the update ended badly.
    pub fn is_failure(self) -> bool {
        matches!(self, UpdateState::Failed | UpdateState::RolledBack)
    }

    /// Whether it is under way (between the first download and the verdict).
    pub fn in_progress(self) -> bool {
        !matches!(
            self,
            UpdateState::Idle
                | UpdateState::Succeeded
                | UpdateState::Failed
                | UpdateState::RolledBack
        )
    }
}

/// The release the fleet wants a kiosk to run, in the heartbeat reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredRelease {
    /// The rollout asking for it.
    pub rollout_id: i64,
    /// The release.
    pub version: String,
    /// Its signed manifest (the kiosk verifies it with its own keyring).
    pub manifest: crate::release::SignedManifest,
    /// Where to download the bundle, a path under [`PREFIX`] (supports `Range`).
    pub url: String,
    /// Whether the kiosk may install now: inside the maintenance window, or forced.
    pub install_now: bool,
    /// Install without waiting for the kiosk to be idle.
    pub force: bool,
    /// Keys the fleet's trusted keys vouch for (key rotation); the kiosk adds each one a key it
    /// trusts signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endorsements: Vec<crate::release::KeyEndorsement>,
    /// Keys withdrawn; the kiosk never trusts them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocations: Vec<crate::release::KeyRevocation>,
    /// When `version` is older than the release the kiosk runs: the signed rollback that lets
    /// it go back (a kiosk refuses a downgrade without one that names both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<crate::release::SignedRollback>,
}

/// Most console events one heartbeat carries.
pub const MAX_CONSOLE_EVENTS: usize = 50;

/// Something that happened on a kiosk's serial console: a session, a wrong code, a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleEvent {
    /// When.
    pub at: UnixMillis,
    /// What, e.g. `session opened`, `wrong code`, `command: printer test` (no personal data).
    pub what: String,
}

/// The kiosk computer's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SystemHealth {
    /// Hottest thermal zone, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f32>,
    /// Memory, kB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_total_kb: Option<u64>,
    /// Memory available, kB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_available_kb: Option<u64>,
    /// Seconds since boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
    /// One-minute load average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load1: Option<f32>,
    /// Size of the data partition, kB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_total_kb: Option<u64>,
    /// Space left on the data partition for the agent, kB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_free_kb: Option<u64>,
    /// Network links (not loopback) that are up, by name.
    #[serde(default)]
    pub links_up: Vec<String>,
    /// Network links (not loopback) that are down.
    #[serde(default)]
    pub links_down: Vec<String>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// The server's clock, for skew detection.
    pub server_time: UnixMillis,
    /// Current catalog version for this kiosk, so the agent fetches only when it changed.
    pub catalog_version: u64,
    /// Commands staff queued for this kiosk that have no result yet (delivered again until the
    /// result arrives; the agent runs each id once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<Command>,
    /// The release this kiosk should run, when a rollout includes it; absent: stay on the
    /// current one (and drop an update not yet installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<DesiredRelease>,
}

/// A remote command for one kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Its id; the result is posted to `/commands/{id}/result`.
    pub id: i64,
    /// What to do.
    pub action: CommandAction,
}

/// What a remote command does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandAction {
    /// Print the test receipt.
    PrintTestReceipt,
    /// Restart the citizen app.
    RestartApp,
    /// Reboot the kiosk (the result is sent before it goes down).
    Reboot,
    /// Send the agent's last log lines.
    UploadLogs {
        /// How many (at most [`MAX_LOG_LINES`]).
        lines: u32,
    },
    /// Check every device and the fleet connection and report.
    SelfTest,
}

/// Most log lines one command uploads.
pub const MAX_LOG_LINES: u32 = 2000;

/// The oldest heartbeat sample the fleet accepts (and a kiosk keeps buffered while offline),
/// milliseconds: 7 days.
pub const MAX_SAMPLE_AGE_MS: i64 = 7 * 86_400_000;

/// A heartbeat that reaches the fleet this long after it was sampled was buffered by a kiosk
/// the fleet could not hear; its minutes are marked so in the availability report.
pub const LATE_SAMPLE_MS: i64 = 5 * 60_000;

/// The longest command output the fleet keeps, bytes; a kiosk cuts a longer one to fit
/// ([`fit_output`]).
pub const MAX_COMMAND_OUTPUT: usize = 256 * 1024;

/// `lines` as one output of at most [`MAX_COMMAND_OUTPUT`] bytes: the newest lines (the last)
/// that fit, after a first line that says how many older ones were cut. A single line longer
/// than the limit is cut at a character boundary.
pub fn fit_output(lines: &[String]) -> String {
    let total: usize = lines.iter().map(|l| l.len() + 1).sum();
    if total <= MAX_COMMAND_OUTPUT {
        return lines.join("\n");
    }
    // Room for the marker line.
    let budget = MAX_COMMAND_OUTPUT - 100;
    let mut kept = Vec::new();
    let mut used = 0;
    for line in lines.iter().rev() {
        if used + line.len() + 1 > budget {
            if kept.is_empty() {
                let mut end = budget.min(line.len());
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                kept.push(&line[..end]);
            }
            break;
        }
        used += line.len() + 1;
        kept.push(line.as_str());
    }
    kept.reverse();
    format!(
        "[truncated: {} older lines cut to fit {} KiB]\n{}",
        lines.len() - kept.len(),
        MAX_COMMAND_OUTPUT / 1024,
        kept.join("\n")
    )
}

impl CommandAction {
    /// Its name, e.g. `print_test_receipt`.
    pub fn name(&self) -> &'static str {
        match self {
            CommandAction::PrintTestReceipt => "print_test_receipt",
            CommandAction::RestartApp => "restart_app",
            CommandAction::Reboot => "reboot",
            CommandAction::UploadLogs { .. } => "upload_logs",
            CommandAction::SelfTest => "self_test",
        }
    }
}

/// `POST /commands/{id}/result`: what became of a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandResult {
    /// Whether it did what it was asked.
    pub ok: bool,
    /// Its report (log lines, the self-test's findings, or why it failed); at most 256 KiB.
    pub output: String,
}

/// An error body from the fleet server (any non-2xx status).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable kind, e.g. `unauthorized`, `bad_request`.
    pub error: String,
    /// One sentence.
    pub message: String,
}

/// `POST /api/agenda/v1/status`: the agenda system reports a state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaStatusUpdate {
    /// The request.
    pub tracking_code: TrackingCode,
    /// The new state (not `queued` or `submitted`: those are the fleet's own).
    pub state: RequestState,
    /// A note the citizen may read, without personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
}

/// What the fleet server delivers to the agenda system for each new submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaDelivery {
    /// Idempotency key.
    pub id: Uuid,
    /// The tracking code.
    pub tracking_code: TrackingCode,
    /// The kiosk it came from.
    pub kiosk_id: String,
    /// The service.
    pub service_id: String,
    /// Its form version.
    pub form_version: u32,
    /// The citizen's language.
    pub language: Lang,
    /// The values.
    pub values: FormValues,
    /// Keyed card hash, when identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// When the kiosk stored it.
    pub created_at: UnixMillis,
    /// When the fleet received it.
    pub received_at: UnixMillis,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(channel: NoticeChannel, to: &str) -> Result<String, String> {
        NoticeRequest {
            channel,
            to: to.into(),
        }
        .normalized()
        .map(|n| n.to)
    }

    #[test]
    fn addresses_are_read_as_people_write_them_and_shown_masked() {
        use NoticeChannel::{Email, Sms};
        for typed in [
            "+420 777 123 456",
            "00420777123456",
            "777 123 456",
            "777-123-456",
        ] {
            assert_eq!(norm(Sms, typed), Ok("+420777123456".into()), "{typed}");
        }
        assert_eq!(norm(Sms, "+380 (44) 123-45-67"), Ok("+380441234567".into()));
        for bad in [
            "12345",
            "777 123 45",
            "+420 777 ABC 456",
            "",
            "+1234567890123456",
        ] {
            assert!(norm(Sms, bad).is_err(), "{bad}");
        }
        assert_eq!(
            norm(Email, " Jana.Novak@Example.CZ "),
            Ok("Jana.Novak@example.cz".into())
        );
        assert!(norm(Email, "jana@").is_err());
        assert!(norm(Email, "jana novak@example.cz").is_err());
        let sms = NoticeRequest {
            channel: Sms,
            to: "+420777123456".into(),
        };
        assert_eq!(sms.masked(), "+••• ••• ••456");
        let mail = NoticeRequest {
            channel: Email,
            to: "jana.novak@example.cz".into(),
        };
        assert_eq!(mail.masked(), "j•••@e•••.cz");
        assert!(!mail.masked().contains("novak"));
    }

    #[test]
    fn output_over_the_limit_keeps_the_newest_lines_and_says_so() {
        let lines: Vec<String> = (0..2000)
            .map(|i| format!("{i:04} {}", "é".repeat(100)))
            .collect();
        let out = fit_output(&lines);
        assert!(out.len() <= MAX_COMMAND_OUTPUT);
        assert!(out.starts_with("[truncated: "), "{}", &out[..80]);
        assert!(out.ends_with(&lines[1999]));
        assert!(!out.contains(&lines[0]));
        let short = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(fit_output(&short), "a\nb");
        // One line over the limit is cut at a character boundary.
        let huge = vec!["ž".repeat(MAX_COMMAND_OUTPUT)];
        let out = fit_output(&huge);
        assert!(out.len() <= MAX_COMMAND_OUTPUT && out.starts_with("[truncated: 0 older"));
    }
}
