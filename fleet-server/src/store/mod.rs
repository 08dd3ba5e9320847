//! The fleet server's storage, behind one trait so that the embedded SQLite store and a
//! PostgreSQL store (for national deployments) are interchangeable.
//!
//! Methods are synchronous; handlers call them on the blocking pool. Every method that changes
//! data does so in one transaction: an ingest either stores a submission with its status and
//! its delivery entry, or none of them.

pub mod config;
pub mod contract;
pub mod copy;
pub mod postgres;
mod rows;
pub mod sqlite;

use protocol::Text;
use protocol::UnixMillis;
use protocol::fleet::{
    AgendaDelivery, Catalog, Heartbeat, ItemAck, NoticeChannel, RequestState, StatusRecord,
    SubmissionUpload,
};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(String),
    /// Stored data could not be read back.
    #[error("stored {what} is unreadable: {message}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// A request that conflicts with stored data.
    #[error("{0}")]
    Conflict(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
}

/// A kiosk as the server knows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KioskRecord {
    /// Fleet identifier.
    pub kiosk_id: String,
    /// Number carried in its tracking codes (assigned at enrolment; 0 before).
    pub number: u32,
    /// Human name.
    pub name: String,
    /// Group.
    pub group: String,
    /// When it enrolled.
    pub enrolled_at: Option<UnixMillis>,
    /// Last heartbeat received.
    pub last_seen: Option<UnixMillis>,
    /// Last reported agent version.
    pub agent_version: Option<String>,
    /// Last reported outbox length.
    pub outbox_len: Option<u64>,
    /// The server's clock minus the kiosk's, from the newest heartbeat that said when it was
    /// sent.
    pub clock_skew_ms: Option<i64>,
}

/// A condition on a kiosk that needs staff: open until it clears by itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    /// Id.
    pub id: i64,
    /// The kiosk.
    pub kiosk_id: String,
    /// What it is about.
    pub kind: crate::model::AlertKind,
    /// For people: what was seen.
    pub detail: String,
    /// When it opened.
    pub opened_at: UnixMillis,
    /// When someone acknowledged it.
    pub acked_at: Option<UnixMillis>,
    /// Who.
    pub acked_by: Option<String>,
    /// Their comment.
    pub ack_comment: Option<String>,
    /// When the condition cleared.
    pub resolved_at: Option<UnixMillis>,
}

/// One change staff made: who, what, to what, when.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// When.
    pub at: UnixMillis,
    /// Who (a person's name where the request gave one; `admin-token` or `cli` otherwise).
    pub actor: String,
    /// What, e.g. `catalog.publish`, `alert.ack`.
    pub action: String,
    /// To what: a kiosk, an alert id, a catalog version.
    pub target: String,
    /// More, without personal data.
    pub detail: String,
}

/// A member of staff who signs in to the dashboard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StaffUser {
    /// Sign-in name.
    pub username: String,
    /// `viewer`, `operator`, `release_manager` or `admin`.
    pub role: String,
    /// Argon2id PHC string; never shown.
    #[serde(skip)]
    pub password_hash: String,
    /// When the account was made.
    pub created_at: UnixMillis,
    /// Disabled accounts cannot sign in; their sessions are gone.
    pub disabled: bool,
    /// Wrong sign-ins to the name since its last good sign-in, from every source.
    pub failed_logins: u32,
    /// The latest end of a lock on the name (for one source, or for all), if any.
    pub locked_until: Option<UnixMillis>,
    /// Last good sign-in.
    pub last_login: Option<UnixMillis>,
}

/// One change to a staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// A new role (`viewer` …).
    Role(String),
    /// Disabled (`true`) or enabled again.
    Disabled(bool),
    /// A new argon2id password hash.
    Password(String),
    /// A new password, only if the current hash is still `old` (the account page, after it
    /// checked the current password): `Conflict` otherwise.
    PasswordFrom {
        /// The hash the current password was checked against.
        old: String,
        /// The new hash.
        new: String,
    },
    /// Every sign-in lock and count of the name lifted.
    Unlock,
}

/// When wrong sign-ins lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Wrong sign-ins to one name from one source that lock that pair.
    pub per_source: u32,
    /// Wrong sign-ins to one name from all sources together that lock the name everywhere.
    pub per_name: u32,
    /// How long a lock lasts.
    pub lock_ms: i64,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffSession {
    /// SHA-256 of the cookie's token.
    pub id_hash: String,
    /// Whose.
    pub username: String,
    /// The token every change from this session must carry.
    pub csrf: String,
    /// When it signed in.
    pub created_at: UnixMillis,
    /// Its last request (to a minute).
    pub last_seen: UnixMillis,
}

/// A remote command as staff see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CommandRecord {
    /// Id.
    pub id: i64,
    /// The kiosk.
    pub kiosk_id: String,
    /// What.
    pub action: protocol::fleet::CommandAction,
    /// Who queued it.
    pub issued_by: String,
    /// When.
    pub issued_at: UnixMillis,
    /// When a heartbeat reply first carried it.
    pub delivered_at: Option<UnixMillis>,
    /// When its result arrived.
    pub finished_at: Option<UnixMillis>,
    /// Whether it did what it was asked.
    pub ok: Option<bool>,
    /// Its report.
    pub output: Option<String>,
}

/// A kiosk's health in one hour (raw heartbeats or their hourly aggregate), or in one day for
/// history older than 90 days.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HealthPoint {
    /// Start of the hour (or day).
    pub hour: UnixMillis,
    /// Heartbeats in it.
    pub samples: u64,
    /// Hottest reading.
    pub temperature_max: Option<f64>,
    /// Fullest data partition, 0-1.
    pub disk_used_max: Option<f64>,
    /// Longest outbox.
    pub outbox_max: u64,
}

/// An alert that opened or resolved in a reconciliation, for notifications.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertEvent {
    /// `opened` or `resolved`.
    pub event: &'static str,
    /// The alert after the change.
    pub alert: Alert,
}

/// What became of an enrolment.
#[derive(Debug, Clone, PartialEq)]
pub enum Enrolment {
    /// The kiosk is enrolled (now, or earlier with the same token and credential).
    Enrolled(KioskRecord),
    /// No such token.
    UnknownToken,
    /// The token was used by another credential.
    TokenUsed,
    /// The token expired.
    Expired,
}

/// A submission as listed for admins: metadata only, never values.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SubmissionMeta {
    /// Id.
    pub id: uuid::Uuid,
    /// Tracking code.
    pub tracking_code: String,
    /// Kiosk.
    pub kiosk_id: String,
    /// Service.
    pub service_id: String,
    /// State.
    pub state: RequestState,
    /// Created on the kiosk.
    pub created_at: UnixMillis,
    /// Received here.
    pub received_at: UnixMillis,
    /// Delivered to the agenda system.
    pub delivered_at: Option<UnixMillis>,
}

/// A citizen's address for notices as the store keeps it: sealed (only the server's contact key
/// opens it), a keyed hash for the per-address rate limit, and the masked form staff see.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedContact {
    /// SMS or e-mail.
    pub channel: NoticeChannel,
    /// The address, sealed ([`crate::notices::ContactKey`]).
    pub sealed: String,
    /// A keyed hash of the address (the same for every request to it).
    pub address_key: String,
    /// As staff may see it.
    pub masked: String,
    /// The citizen's language.
    pub language: protocol::Lang,
}

/// A notice due to be sent, claimed by the instance that asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeJob {
    /// Id (the gateway sees it as the message's idempotency key).
    pub id: i64,
    /// The request.
    pub tracking_code: String,
    /// The state it tells of.
    pub state: RequestState,
    /// Where to.
    pub contact: SealedContact,
    /// Attempts so far.
    pub attempts: u32,
}

/// What became of an attempt to send a notice.
#[derive(Debug, Clone, PartialEq)]
pub enum NoticeOutcome {
    /// The gateway or relay took it.
    Sent,
    /// Not now (quiet hours, the address's rate limit): at `at`, no attempt counted.
    Deferred {
        /// When to try.
        at: UnixMillis,
        /// Why, for staff.
        why: String,
    },
    /// Failed for now: again at `at`.
    Retry {
        /// What happened.
        error: String,
        /// When to try again.
        at: UnixMillis,
    },
    /// Failed for good (refused, attempts used up): staff see it and may resend.
    Failed {
        /// What happened.
        error: String,
    },
    /// Perhaps sent (the gateway did not answer, and it has no idempotency key to ask again
    /// with): not tried again, so that the citizen gets no second message; staff see it.
    Unconfirmed {
        /// What happened.
        error: String,
    },
}

/// A notice as staff see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NoticeRecord {
    /// Id.
    pub id: i64,
    /// The state it tells of.
    pub state: RequestState,
    /// SMS or e-mail.
    pub channel: NoticeChannel,
    /// Where to, masked.
    pub to: String,
    /// `pending`, `sent`, `failed`, `unconfirmed` or `cancelled`.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: UnixMillis,
    /// When it is due (pending ones).
    pub next_attempt_at: UnixMillis,
    /// When it was sent.
    pub sent_at: Option<UnixMillis>,
    /// The last error, or why it waits.
    pub last_error: Option<String>,
    /// `citizen`, or the member of staff who resent it.
    pub requested_by: String,
}

/// One entry of a request's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RequestEvent {
    /// When.
    pub at: UnixMillis,
    /// The new state, or `None` for a note.
    pub state: Option<RequestState>,
    /// `kiosk`, `fleet`, `agenda` or a member of staff.
    pub by: String,
    /// A staff note's text.
    pub text: Option<String>,
}

/// A request as the call centre sees it: where it stands, its history and its notices; no form
/// values, no identity.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RequestView {
    /// The tracking code.
    pub tracking_code: String,
    /// The service.
    pub service_id: String,
    /// The kiosk it was filed at.
    pub kiosk_id: String,
    /// Its name.
    pub kiosk_name: String,
    /// The citizen's language.
    pub language: String,
    /// Now.
    pub state: RequestState,
    /// Filed on the kiosk.
    pub created_at: UnixMillis,
    /// Received by the fleet.
    pub received_at: UnixMillis,
    /// Taken by the agenda system.
    pub delivered_at: Option<UnixMillis>,
    /// Where notices go, masked (`None`: none asked for, or the address is forgotten).
    pub contact: Option<(NoticeChannel, String)>,
    /// Changes of state and staff notes, oldest first.
    pub events: Vec<RequestEvent>,
    /// Notices, oldest first.
    pub notices: Vec<NoticeRecord>,
}

/// Every part of [`Store`], for code that holds a concrete store rather than a `&dyn Store`
/// (whose methods need no import).
pub mod prelude {
    pub use super::{
        Alerts, Audit, Catalogs, Commands, Deliveries, History, Kiosks, Notices, Releases,
        StaffAccounts, Store, Submissions, Upkeep,
    };
}

/// The storage the server needs, by domain: each part a trait, so that a second implementation
/// (PostgreSQL) is written and tested one domain at a time. Callers hold a `&dyn Store`.
pub trait Store:
    Kiosks
    + Submissions
    + Deliveries
    + Catalogs
    + Alerts
    + Commands
    + History
    + StaffAccounts
    + Audit
    + Releases
    + Upkeep
    + Notices
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
}

impl<T> Store for T where
    T: Kiosks
        + Submissions
        + Deliveries
        + Catalogs
        + Alerts
        + Commands
        + History
        + StaffAccounts
        + Audit
        + Releases
        + Upkeep
        + Notices
        + Send
        + Sync
        + std::fmt::Debug
        + 'static
{
}

/// Kiosks: bootstrap tokens, enrolment, credentials, and their newest state.
pub trait Kiosks {
    /// Issues a one-time bootstrap token (stored as its hash) for kiosk `kiosk_id`.
    fn create_bootstrap_token(
        &self,
        token_hash: &str,
        kiosk_id: &str,
        name: &str,
        group: &str,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError>;

    /// Binds a credential (its hash) to the kiosk the token was issued for. Idempotent for the
    /// same token and credential.
    fn enrol(
        &self,
        token_hash: &str,
        credential_hash: &str,
        agent_version: &str,
        now: UnixMillis,
    ) -> Result<Enrolment, StoreError>;

    /// The kiosk whose current credential hash is `credential_hash`.
    fn authenticate(
        &self,
        kiosk_id: &str,
        credential_hash: &str,
    ) -> Result<Option<KioskRecord>, StoreError>;

    /// One kiosk with its newest heartbeat.
    fn kiosk_health_of(
        &self,
        kiosk_id: &str,
    ) -> Result<Option<(KioskRecord, Option<Heartbeat>)>, StoreError>;

    /// Every kiosk with its newest heartbeat, by id.
    fn kiosk_health(&self) -> Result<Vec<(KioskRecord, Option<Heartbeat>)>, StoreError>;

    /// The SHA-256 of a kiosk's credential (from which its console codes are derived,
    /// [`protocol::totp`]); `None` before enrolment.
    fn credential_hash(&self, kiosk_id: &str) -> Result<Option<String>, StoreError>;

    /// Kiosks, by id.
    fn kiosks(&self) -> Result<Vec<KioskRecord>, StoreError>;
}

/// The rules a new submission must pass, given the form version it names (`None`: never
/// published): `Err` with the reason it is refused.
pub type ItemCheck<'a> =
    dyn Fn(&SubmissionUpload, Option<&protocol::form::Service>) -> Result<(), String> + 'a;

/// Submissions: ingest (exactly once per id), states from the agenda system, look-ups.
pub trait Submissions {
    /// Stores a batch idempotently: a known id answers its original ack; a new one is checked
    /// by `check` against the form version it names (`None`: never published; the rules are
    /// the caller's, [`crate::ops::submissions::check`]) and, if it passes and its tracking
    /// code is free, stored with its status and delivery entry. One ack per item, in order; all
    /// in one transaction.
    fn ingest(
        &self,
        kiosk: &KioskRecord,
        items: &[SubmissionUpload],
        now: UnixMillis,
        check: &ItemCheck<'_>,
    ) -> Result<Vec<ItemAck>, StoreError>;

    /// A request's state by tracking code.
    fn status(&self, code: &str) -> Result<Option<StatusRecord>, StoreError>;

    /// Submissions received from one kiosk per day (UTC date, newest first) since `since`: the
    /// counts only.
    fn submission_days(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// How many submissions the fleet holds.
    fn submission_count(&self) -> Result<u64, StoreError>;

    /// The states of the requests submitted with a card (its keyed hash), newest first.
    fn requests_by_identity(
        &self,
        identity: &str,
        limit: usize,
    ) -> Result<Vec<StatusRecord>, StoreError>;

    /// Sets a request's state; `false` when the code is unknown. When the state changes, the
    /// change joins the request's history (by `agenda`) and, if the citizen asked to be told, a
    /// notice of it is queued: all in one transaction, so each change is told once.
    fn set_status(
        &self,
        code: &str,
        state: RequestState,
        note: Option<&Text>,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Forgets the keyed hash of the citizen's card of requests received before `before` (they
    /// no longer show in "my requests"); returns how many.
    fn forget_identities(&self, before: UnixMillis) -> Result<usize, StoreError>;

    /// Submissions, newest first, metadata only.
    fn submissions(&self, limit: usize) -> Result<Vec<SubmissionMeta>, StoreError>;
}

/// Deliveries of submissions to the agenda system: what is due, delivered, failed.
pub trait Deliveries {
    /// Submissions not yet delivered to the agenda system whose retry time has come.
    fn due_deliveries(
        &self,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<AgendaDelivery>, StoreError>;

    /// Takes the form values and the card's hash out of the bodies of submissions the agenda
    /// system took at or before `delivered_before` (their code, state and times stay); returns
    /// how many were purged.
    fn purge_delivered(&self, delivered_before: UnixMillis) -> Result<usize, StoreError>;

    /// Marks a delivery done; the request becomes `received` if it was `submitted`. With
    /// `purge`, the submission's values leave its body in the same transaction (as
    /// [`Deliveries::purge_delivered`] does for older ones).
    fn mark_delivered(
        &self,
        id: uuid::Uuid,
        now: UnixMillis,
        purge: bool,
    ) -> Result<(), StoreError>;

    /// Records a failed delivery and schedules the next attempt `retry_in(attempts so far)`
    /// milliseconds from `now` (the connector's back-off); returns the attempts so far.
    fn delivery_failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        now: UnixMillis,
        retry_in: &dyn Fn(u32) -> i64,
    ) -> Result<u32, StoreError>;
}

/// The catalog of services: published versions, never changed after.
pub trait Catalogs {
    /// Publishes a catalog; returns its version (one more than the previous).
    fn publish_catalog(&self, catalog: &Catalog, now: UnixMillis) -> Result<u64, StoreError>;

    /// The current catalog, unfiltered.
    fn catalog(&self) -> Result<Option<Catalog>, StoreError>;

    /// The form version a service was published with.
    fn service_version(
        &self,
        id: &str,
        version: u32,
    ) -> Result<Option<protocol::form::Service>, StoreError>;

    /// The newest catalog's version (0 when none), without reading the catalog.
    fn catalog_version(&self) -> Result<u64, StoreError>;
}

/// Alerts: opened and resolved by the sweeper, acknowledged by staff.
pub trait Alerts {
    /// Opens the alerts in `active` (kind, detail) that are not open yet, and resolves the open
    /// ones whose kind is in neither `active` nor `keep` (conditions that still hold but have
    /// not lasted long enough to open an alert); what changed.
    fn reconcile_alerts(
        &self,
        kiosk_id: &str,
        active: &[(crate::model::AlertKind, String)],
        keep: &[crate::model::AlertKind],
        now: UnixMillis,
    ) -> Result<Vec<AlertEvent>, StoreError>;

    /// Alerts, newest first: only the open ones, or all.
    fn alerts(&self, open_only: bool, limit: usize) -> Result<Vec<Alert>, StoreError>;

    /// One kiosk's alerts, open and resolved, newest first.
    fn kiosk_alerts(&self, kiosk_id: &str, limit: usize) -> Result<Vec<Alert>, StoreError>;

    /// Acknowledges an open alert; `false` when there is no such open alert.
    fn ack_alert(
        &self,
        id: i64,
        by: &str,
        comment: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;
}

/// Remote commands: queued by staff, answered by kiosks.
pub trait Commands {
    /// Queues a command for an enrolled kiosk; its id, or `None` for an unknown kiosk.
    fn queue_command(
        &self,
        kiosk_id: &str,
        action: &protocol::fleet::CommandAction,
        by: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, StoreError>;

    /// The commands of a kiosk that have no result yet, oldest first (marked delivered).
    fn pending_commands(
        &self,
        kiosk_id: &str,
        now: UnixMillis,
    ) -> Result<Vec<protocol::fleet::Command>, StoreError>;

    /// Records a command's result from the kiosk it was for; `false` when that kiosk has no
    /// such command. A second result for the same command is ignored.
    fn finish_command(
        &self,
        kiosk_id: &str,
        id: i64,
        result: &protocol::fleet::CommandResult,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Cancels a command that has no result yet (it is not delivered again); `false` when the
    /// kiosk has no such pending command.
    fn cancel_command(
        &self,
        kiosk_id: &str,
        id: i64,
        by: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// A kiosk's commands, newest first.
    fn commands(&self, kiosk_id: &str, limit: usize) -> Result<Vec<CommandRecord>, StoreError>;

    /// Kiosks with commands that have no result yet.
    fn kiosks_with_pending_commands(&self) -> Result<Vec<String>, StoreError>;
}

/// Heartbeats and what is kept of them: availability minutes, hourly health.
pub trait History {
    /// Availability bitmaps by (kiosk, local day) for days `from_day..=to_day` (`YYYY-MM-DD`).
    fn uptime(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<std::collections::HashMap<(String, String), Vec<u8>>, StoreError>;

    /// The minutes of `uptime` that are known only from heartbeats a kiosk buffered while the
    /// fleet could not hear it (they arrived over [`protocol::fleet::LATE_SAMPLE_MS`] late).
    fn late_uptime(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<std::collections::HashMap<(String, String), Vec<u8>>, StoreError>;

    /// Writes the pending hourly aggregates, replaces hourly ones older than 90 days (before
    /// `now`) by daily ones, drops daily ones older than 400 days and availability days before
    /// `uptime_before_day`; (hours folded into days, availability days dropped).
    fn prune_history(
        &self,
        now: UnixMillis,
        uptime_before_day: &str,
    ) -> Result<(u64, u64), StoreError>;

    /// A kiosk's health per hour since `since`, oldest first.
    fn health_history(
        &self,
        kiosk_id: &str,
        since: UnixMillis,
    ) -> Result<Vec<HealthPoint>, StoreError>;

    /// Records heartbeats `(kiosk, heartbeat, received at)` in one transaction. The commit
    /// may not be on disk yet when this returns: [`Upkeep::sync`] makes it so (the ingest
    /// answers the kiosks after that, and meanwhile writes the next batch).
    fn record_heartbeats(
        &self,
        batch: &[(String, Heartbeat, UnixMillis)],
    ) -> Result<(), StoreError>;
}

/// Staff accounts, their sign-in lock-out and sessions.
pub trait StaffAccounts {
    /// Adds a staff account; `Conflict` when the name is taken.
    fn create_user(&self, user: &StaffUser) -> Result<(), StoreError>;

    /// One staff account.
    fn user(&self, username: &str) -> Result<Option<StaffUser>, StoreError>;

    /// Every staff account, by name.
    fn users(&self) -> Result<Vec<StaffUser>, StoreError>;

    /// Applies one change to an account in place (never by writing back a row read earlier, so
    /// that changes made meanwhile stand); `NotFound` when absent. A new role, a new password
    /// and disabling end the account's sessions.
    fn change_user(&self, username: &str, change: &UserChange) -> Result<(), StoreError>;

    /// The lock that holds for sign-ins to `username` from `source` at `now`, if any: the
    /// name's lock for that source, or the name's lock for every source.
    fn login_lock(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
    ) -> Result<Option<UnixMillis>, StoreError>;

    /// Counts a wrong sign-in to `username` (whether or not it exists) from `source`, in the
    /// database (`failures = failures + 1`), and locks when a count reaches its limit. Returns
    /// the lock's end when this failure locked.
    fn login_failed(
        &self,
        username: &str,
        source: &str,
        now: UnixMillis,
        limits: LoginLimits,
    ) -> Result<Option<UnixMillis>, StoreError>;

    /// Opens `session` for `user` only if the account is, at this moment, still as it was when
    /// its password was checked (not disabled, same password hash and role), and clears the
    /// counts of `source` and of the name. `false` when the account changed meanwhile.
    fn login_succeeded(
        &self,
        user: &StaffUser,
        session: &StaffSession,
        source: &str,
    ) -> Result<bool, StoreError>;

    /// Remembers a signed-in browser.
    fn create_session(&self, session: &StaffSession) -> Result<(), StoreError>;

    /// A session by its token's hash.
    fn session(&self, id_hash: &str) -> Result<Option<StaffSession>, StoreError>;

    /// Notes a session's activity.
    fn touch_session(&self, id_hash: &str, now: UnixMillis) -> Result<(), StoreError>;

    /// Ends a session (sign-out, expiry).
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
}

/// The audit log.
pub trait Audit {
    /// Adds to the audit log.
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The audit log, newest first.
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Releases, rollouts and kiosks' update reports, as the rollout book writes them through.
pub trait Releases {
    /// Adds or replaces a release.
    fn save_release(&self, r: &crate::model::rollout::Release) -> Result<(), StoreError>;

    /// Every release.
    fn releases(&self) -> Result<Vec<crate::model::rollout::Release>, StoreError>;

    /// Adds or replaces a rollout (by id).
    fn save_rollout(&self, r: &crate::model::rollout::Rollout) -> Result<(), StoreError>;

    /// Every rollout.
    fn rollouts(&self) -> Result<Vec<crate::model::rollout::Rollout>, StoreError>;

    /// Adds or replaces a kiosk's update record.
    fn save_kiosk_update(&self, u: &crate::model::rollout::KioskUpdate) -> Result<(), StoreError>;

    /// Every kiosk's update record.
    fn kiosk_updates(&self) -> Result<Vec<crate::model::rollout::KioskUpdate>, StoreError>;
}

/// Durability and upkeep: commits made durable, write-behind flushed, the log scrubbed.
pub trait Upkeep {
    /// Makes every commit so far durable.
    fn sync(&self) -> Result<(), StoreError>;

    /// Writes what heartbeats left to be written behind (the kiosks' newest state, the hourly
    /// health); the server calls it when it stops.
    fn write_behind(&self) -> Result<(), StoreError>;

    /// Copies the write-ahead log into the database and empties it, so that values purged
    /// (overwritten there, `secure_delete`) survive in no old log frame either. `false` when a
    /// reader held it back (it is tried again later).
    fn scrub_log(&self) -> Result<bool, StoreError>;

    /// Takes (or renews) the lease `name` for `holder` until `now + ttl_ms`, if it is free,
    /// lapsed or already `holder`'s: whether `holder` holds it now. The jobs that must run on
    /// one instance at a time (alert sweeps, history upkeep, rollout waves) run only while
    /// their instance holds the job's lease; when it dies, the lease lapses and another takes it.
    fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Gives a lease up (a stopping instance hands its jobs over at once).
    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// Notices to citizens (SMS, e-mail) and what the call centre sees of a request.
pub trait Notices {
    /// Keeps the address the citizen gave for `code` (if the request is known, still open and
    /// has none yet) and, with `tell_receipt`, queues the notice that the fleet has the request.
    /// Idempotent: a kiosk's retry of the upload changes nothing. Whether it was kept now.
    fn save_contact(
        &self,
        code: &str,
        contact: &SealedContact,
        tell_receipt: bool,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Notices due at `now` (pending, their time come, not claimed by another instance),
    /// claimed until `claim_until`; oldest first.
    fn due_notices(
        &self,
        now: UnixMillis,
        limit: usize,
        claim_until: UnixMillis,
    ) -> Result<Vec<NoticeJob>, StoreError>;

    /// Records what became of a notice. When its request is closed (resolved or rejected) and
    /// nothing more is to be sent, the citizen's address is deleted in the same transaction.
    fn notice_done(
        &self,
        id: i64,
        outcome: &NoticeOutcome,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// Notices sent (or perhaps sent) to the address with keyed hash `address_key` since
    /// `since`.
    fn notices_sent_to(&self, address_key: &str, since: UnixMillis) -> Result<u32, StoreError>;

    /// A request as the call centre sees it.
    fn request_view(&self, code: &str) -> Result<Option<RequestView>, StoreError>;

    /// Queues the notice of the request's current state again, as asked by `by`; its id, or
    /// `None` when no address is kept for it. `NotFound` for an unknown code.
    fn resend_notice(
        &self,
        code: &str,
        by: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, StoreError>;

    /// Adds a note for the office to the request's history; `false` for an unknown code.
    fn add_request_note(
        &self,
        code: &str,
        by: &str,
        text: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Notices that failed for good or are unconfirmed since `since`, newest first, with their
    /// request's code: what staff should look at.
    fn troubled_notices(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(String, NoticeRecord)>, StoreError>;

    /// Deletes the addresses of closed requests with nothing left to send, and every address
    /// kept since before `kept_before` (its pending notices are cancelled); how many.
    fn forget_contacts(&self, kept_before: UnixMillis) -> Result<usize, StoreError>;
}
