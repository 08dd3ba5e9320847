//! Notices to citizens: a text message or an e-mail when their request changes state.
//!
//! The citizen asks on the kiosk's review screen; the address travels with the submission and
//! the kiosk forgets it at the ack. Here it is sealed with the contact key ([`ContactKey`]) and
//! kept apart from the submission (`request_contacts`); staff see it masked. A state change from
//! the agenda system (and the fleet's receipt, when asked) queues one notice in the same
//! transaction ([`crate::store::Submissions::set_status`]), so each change is told once.
//!
//! The [`Courier`] (one per instance) claims due notices, and for each:
//! - text messages only within `notices.sms_hours` (Czech local time): one due at night waits
//!   for the morning;
//! - at most `per_address_per_hour` to one address (by its keyed hash): more wait;
//! - a failure is tried again with a growing pause, up to `max_attempts`; a refusal fails at
//!   once; both show to staff (the call centre's request page), who may resend;
//! - a message whose answer was lost is sent again only to a gateway that takes an idempotency
//!   key (the notice's reference, the same on every attempt), so the gateway drops the repeat;
//!   to one that does not, it is never repeated and shows as "unconfirmed".
//!
//! When a closed request's last notice is done, its address is deleted; every address goes
//! after `retention_days` anyway ([`crate::store::Notices::forget_contacts`], hourly). Logs name
//! notices by id and tracking code, never by address.
//!
//! Tests move the courier's clock (and only its clock) with `OKENKO_NOTICE_CLOCK`: the name of
//! a file holding milliseconds to add to the system time, read at every look.

pub mod config;
mod seal;
pub mod sms;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::UnixMillis;
use protocol::fleet::{NoticeChannel, RequestState};
use protocol::tracking::TrackingCode;
use tokio::sync::{Notify, watch};

pub use seal::ContactKey;
use sms::{SendError, SmsGateway};

use crate::hours::OpeningHours;
use crate::store::{NoticeJob, NoticeOutcome, Store};

/// The courier's clock.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system's.
    System,
    /// The system's plus the milliseconds in this file (tests).
    Shifted(PathBuf),
}

impl Clock {
    /// `Shifted` when `OKENKO_NOTICE_CLOCK` names a file, `System` otherwise.
    pub fn from_env() -> Clock {
        match std::env::var_os("OKENKO_NOTICE_CLOCK") {
            Some(p) if !p.is_empty() => Clock::Shifted(PathBuf::from(p)),
            _ => Clock::System,
        }
    }

    /// Now.
    pub fn now(&self) -> UnixMillis {
        let shift = match self {
            Clock::System => 0,
            Clock::Shifted(p) => std::fs::read_to_string(p)
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .unwrap_or(0),
        };
        crate::now_ms() + shift
    }
}

/// The city's SMTP relay, for e-mails (`alerts.smtp_server`, `alerts.mail_from`).
#[derive(Debug, Clone)]
pub struct MailRelay {
    /// `host:port`.
    pub server: String,
    /// The sender.
    pub from: String,
}

/// What the courier needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// When text messages may go.
    pub sms_hours: OpeningHours,
    /// Notices per address per hour.
    pub per_address_per_hour: u32,
    /// Attempts before a notice fails.
    pub max_attempts: u32,
    /// Longest pause between attempts.
    pub retry_max_ms: i64,
    /// The fleet's public address, for the status link.
    pub public_url: String,
    /// The SMS gateway.
    pub sms: Option<SmsGateway>,
    /// The SMTP relay.
    pub mail: Option<MailRelay>,
}

impl Settings {
    /// From the whole configuration.
    pub fn from_config(c: &crate::config::Config) -> Result<Settings, String> {
        let n = &c.notices;
        Ok(Settings {
            sms_hours: OpeningHours::parse(&n.sms_hours)
                .map_err(|e| format!("notices.sms_hours: {e}"))?,
            per_address_per_hour: n.per_address_per_hour,
            max_attempts: n.max_attempts,
            retry_max_ms: n.retry_max_s as i64 * 1000,
            public_url: c.server.public_url.clone(),
            sms: n.sms.as_ref().map(SmsGateway::new).transpose()?,
            mail: match (&c.alerts.smtp_server, &c.alerts.mail_from) {
                (Some(server), Some(from)) => Some(MailRelay {
                    server: server.clone(),
                    from: from.clone(),
                }),
                _ => None,
            },
        })
    }
}

/// Notices claimed per look.
const BATCH: usize = 50;
/// Notices sent at once.
const PARALLEL: usize = 8;
/// How often the courier looks when nothing wakes it (deferred notices come due by time).
const LOOK_EVERY: Duration = Duration::from_secs(5);
/// How long a notice over its address's hourly limit waits before it is looked at again.
const RATE_WAIT_MS: i64 = 5 * 60_000;

/// Sends the notices that are due.
#[derive(Debug)]
pub struct Courier {
    store: Arc<dyn Store>,
    key: Arc<ContactKey>,
    settings: Settings,
    clock: Clock,
    http: reqwest::Client,
}

impl Courier {
    /// A courier over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        key: Arc<ContactKey>,
        settings: Settings,
        clock: Clock,
    ) -> Courier {
        Courier {
            store,
            key,
            settings,
            clock,
            http: crate::connector::http_client(),
        }
    }

    /// Looks for due notices until `stop` turns true: at once when woken, else every few
    /// seconds.
    pub async fn run(self, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        loop {
            let full = match self.round().await {
                Ok(n) => n == BATCH,
                Err(e) => {
                    tracing::error!(error = %e, "notices: cannot read what is due");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// One look: claims what is due, sends it, records each outcome; how many were due.
    pub async fn round(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.clock.now();
        // A claim outlives the slowest send, so no other instance takes it meanwhile.
        let claim = now + 120_000;
        let store = Arc::clone(&self.store);
        let jobs = tokio::task::spawn_blocking(move || store.due_notices(now, BATCH, claim))
            .await
            .map_err(|e| crate::store::StoreError::Db(format!("notices task failed: {e}")))??;
        let n = jobs.len();
        futures_util::stream::iter(jobs)
            .for_each_concurrent(PARALLEL, |job| async move {
                let id = job.id;
                let code = job.tracking_code.clone();
                let outcome = self.deliver(&job).await;
                log(&job, &outcome);
                let store = Arc::clone(&self.store);
                let now = self.clock.now();
                match tokio::task::spawn_blocking(move || store.notice_done(id, &outcome, now))
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(notice = id, %code, error = %e, "notice outcome not recorded");
                    }
                    Err(e) => tracing::error!(notice = id, error = %e, "recording a notice panicked"),
                }
            })
            .await;
        Ok(n)
    }

    /// Decides and (perhaps) sends one notice.
    async fn deliver(&self, job: &NoticeJob) -> NoticeOutcome {
        let now = self.clock.now();
        let s = &self.settings;
        let Ok(code) = TrackingCode::parse(&job.tracking_code) else {
            return NoticeOutcome::Failed {
                error: "the stored tracking code is malformed".into(),
            };
        };
        let to = match self.key.open(&job.tracking_code, &job.contact.sealed) {
            Ok(to) => to,
            Err(error) => return NoticeOutcome::Failed { error },
        };
        let channel = job.contact.channel;
        if channel == NoticeChannel::Sms && s.sms.is_none() {
            return NoticeOutcome::Failed {
                error: "no SMS gateway is configured (notices.sms)".into(),
            };
        }
        if channel == NoticeChannel::Email && s.mail.is_none() {
            return NoticeOutcome::Failed {
                error: "no SMTP relay is configured (alerts.smtp_server, alerts.mail_from)".into(),
            };
        }
        if channel == NoticeChannel::Sms && !s.sms_hours.is_open(now) {
            return match s.sms_hours.next_open(now) {
                Some(at) => NoticeOutcome::Deferred {
                    at,
                    why: format!(
                        "outside the SMS hours: waits until {}",
                        protocol::time::format_czech(at)
                    ),
                },
                None => NoticeOutcome::Failed {
                    error: "notices.sms_hours never open".into(),
                },
            };
        }
        let key = job.contact.address_key.clone();
        let store = Arc::clone(&self.store);
        let sent =
            tokio::task::spawn_blocking(move || store.notices_sent_to(&key, now - 3_600_000)).await;
        match sent {
            Ok(Ok(n)) if n >= s.per_address_per_hour => {
                return NoticeOutcome::Deferred {
                    at: now + RATE_WAIT_MS,
                    why: format!("{n} notices to this address in the last hour: waits"),
                };
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return NoticeOutcome::Retry {
                    error: format!("cannot count the address's notices: {e}"),
                    at: now + self.backoff(job.attempts),
                };
            }
            Err(e) => {
                return NoticeOutcome::Retry {
                    error: format!("counting notices panicked: {e}"),
                    at: now + self.backoff(job.attempts),
                };
            }
        }
        let lang = job.contact.language;
        let reference = format!("okenko-notice-{}", job.id);
        let result = match channel {
            NoticeChannel::Sms => match &s.sms {
                Some(g) => {
                    let body = text::sms(lang, &code, job.state, &s.public_url);
                    g.send(&self.http, &reference, &to, &body).await
                }
                None => Err(SendError::Permanent("no SMS gateway".into())),
            },
            NoticeChannel::Email => match &s.mail {
                Some(m) => {
                    let (subject, body) = text::mail(lang, &code, job.state, &s.public_url);
                    crate::notify::send_mail(&m.server, &m.from, &[to], &subject, &body)
                        .await
                        .map_err(|e| {
                            // A 5xx to the recipient is a refusal of the address.
                            if e.contains("RCPT: server answered 5") {
                                SendError::Permanent(e)
                            } else {
                                SendError::Transient(e)
                            }
                        })
                }
                None => Err(SendError::Permanent("no SMTP relay".into())),
            },
        };
        let idempotent = s.sms.as_ref().is_some_and(SmsGateway::idempotent);
        self.outcome(job, result, idempotent, now)
    }

    fn outcome(
        &self,
        job: &NoticeJob,
        result: Result<(), SendError>,
        idempotent: bool,
        now: UnixMillis,
    ) -> NoticeOutcome {
        let retry = |error: String| {
            if job.attempts + 1 >= self.settings.max_attempts {
                NoticeOutcome::Failed {
                    error: format!("{error} (gave up after {} attempts)", job.attempts + 1),
                }
            } else {
                NoticeOutcome::Retry {
                    error,
                    at: now + self.backoff(job.attempts),
                }
            }
        };
        match result {
            Ok(()) => NoticeOutcome::Sent,
            Err(SendError::Transient(e)) => retry(e),
            Err(SendError::Throttled {
                detail,
                retry_after,
            }) => NoticeOutcome::Deferred {
                at: now
                    + retry_after
                        .map(|d| d.as_millis().min(3_600_000) as i64)
                        .unwrap_or(60_000),
                why: format!("the gateway is throttling: {detail}"),
            },
            Err(SendError::Permanent(error)) => NoticeOutcome::Failed { error },
            Err(SendError::Unanswered(e))
                if idempotent && job.contact.channel == NoticeChannel::Sms =>
            {
                retry(e)
            }
            Err(SendError::Unanswered(error)) => NoticeOutcome::Unconfirmed { error },
        }
    }

    /// The pause after `attempts` attempts: 15 s, doubling, at most `retry_max_s`.
    fn backoff(&self, attempts: u32) -> i64 {
        (15_000i64 << attempts.min(20)).min(self.settings.retry_max_ms)
    }
}

fn log(job: &NoticeJob, outcome: &NoticeOutcome) {
    let (id, code, channel) = (job.id, &job.tracking_code, job.contact.channel.as_str());
    let state = job.state.as_str();
    match outcome {
        NoticeOutcome::Sent => tracing::info!(notice = id, %code, channel, state, "notice sent"),
        NoticeOutcome::Deferred { why, .. } => {
            tracing::info!(notice = id, %code, channel, state, %why, "notice waits");
        }
        NoticeOutcome::Retry { error, .. } => {
            tracing::warn!(notice = id, %code, channel, state, %error, "notice failed; will retry");
        }
        NoticeOutcome::Failed { error } => {
            tracing::error!(notice = id, %code, channel, state, %error, "notice failed for good");
        }
        NoticeOutcome::Unconfirmed { error } => {
            tracing::warn!(notice = id, %code, channel, state, %error, "notice perhaps sent; not repeated");
        }
    }
}

/// Whether a state is one the citizen hears of (every state the agenda system sets, and the
/// fleet's receipt).
pub fn told(state: RequestState) -> bool {
    !matches!(state, RequestState::Queued)
}
