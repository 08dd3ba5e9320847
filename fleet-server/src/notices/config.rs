//! `[notices]` and `[notices.sms]`: when and how citizens are told about their requests.

use std::path::PathBuf;

use serde::Deserialize;

/// `[notices]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoticesSection {
    /// When text messages may go out, Czech local time (`Mo-Su 08:00-20:00`); one due outside
    /// waits for the next opening. E-mails go at any hour. Default `Mo-Su 08:00-20:00`.
    pub sms_hours: String,
    /// Notices one address gets in an hour at most; more wait. Default 6.
    pub per_address_per_hour: u32,
    /// Attempts before a notice fails for good (staff see it and may resend). Default 12.
    pub max_attempts: u32,
    /// Longest pause between attempts, seconds. Default 3600.
    pub retry_max_s: u64,
    /// Days a citizen's address is kept at most, however long the request stays open.
    /// Default 180.
    pub retention_days: u32,
    /// Also tell the citizen that the fleet has their request (the first notice). Default true.
    pub tell_receipt: bool,
    /// The key that seals citizens' addresses (32 random bytes as 64 hex digits). Default
    /// `<data_dir>/contact.key`, made at the first start. Instances that share a database
    /// share this file; it must not be stored with the database's backups.
    pub key_file: Option<PathBuf>,
    /// The SMS gateway; without it no text messages are sent.
    pub sms: Option<SmsGatewaySection>,
}

impl Default for NoticesSection {
    fn default() -> Self {
        NoticesSection {
            sms_hours: "Mo-Su 08:00-20:00".into(),
            per_address_per_hour: 6,
            max_attempts: 12,
            retry_max_s: 3600,
            retention_days: 180,
            tell_receipt: true,
            key_file: None,
            sms: None,
        }
    }
}

/// `[notices.sms]`: an HTTP SMS gateway, described rather than coded, since every city has
/// another provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsGatewaySection {
    /// Where messages are posted.
    pub url: String,
    /// `POST` (default) or `PUT`.
    #[serde(default = "default_method")]
    pub method: String,
    /// The body's type: `application/json` (default; placeholders are JSON-escaped),
    /// `application/x-www-form-urlencoded` (percent-encoded) or `text/plain` (as is).
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// The body, with `{to}` (the number, `+420…`), `{text}` and `{id}` (the notice's
    /// unique reference). Default `{"to": "{to}", "text": "{text}", "reference": "{id}"}`.
    #[serde(default = "default_body")]
    pub body: String,
    /// A header that authenticates the server, e.g. `Authorization`.
    pub auth_header: Option<String>,
    /// Its value, e.g. `Bearer …`, or read from `auth_value_file`.
    pub auth_value: Option<String>,
    /// A file holding the header's value.
    pub auth_value_file: Option<PathBuf>,
    /// A header in which the gateway takes an idempotency key (the notice's reference), e.g.
    /// `Idempotency-Key`. With it a message whose answer was lost is sent again (the gateway
    /// drops the repeat); without it such a message is never repeated and shows as
    /// "unconfirmed".
    pub idempotency_header: Option<String>,
    /// Text a successful answer's body must contain (some gateways answer 200 to everything).
    pub success_contains: Option<String>,
    /// Statuses that mean "too many, slow down". Default `[429]`.
    #[serde(default = "default_throttled")]
    pub throttled_status: Vec<u16>,
    /// Text in a body that means the same.
    pub throttled_contains: Option<String>,
    /// Seconds to wait for an answer. Default 10.
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
}

fn default_method() -> String {
    "POST".into()
}
fn default_content_type() -> String {
    "application/json".into()
}
fn default_body() -> String {
    r#"{"to": "{to}", "text": "{text}", "reference": "{id}"}"#.into()
}
fn default_throttled() -> Vec<u16> {
    vec![429]
}
fn default_timeout() -> u64 {
    10
}

impl NoticesSection {
    /// The first broken rule: the key it is about and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        crate::hours::OpeningHours::parse(&self.sms_hours).map_err(|e| ("notices.sms_hours", e))?;
        if self.per_address_per_hour == 0 {
            return Err(("notices.per_address_per_hour", "must be at least 1".into()));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(("notices.max_attempts", "must be 1 to 100".into()));
        }
        if !(1..=86_400).contains(&self.retry_max_s) {
            return Err(("notices.retry_max_s", "must be 1 to 86400 seconds".into()));
        }
        if self.retention_days == 0 {
            return Err(("notices.retention_days", "must be at least 1".into()));
        }
        let Some(sms) = &self.sms else {
            return Ok(());
        };
        if !(sms.url.starts_with("https://") || sms.url.starts_with("http://")) {
            return Err(("notices.sms.url", "must be an http(s) URL".into()));
        }
        if !matches!(sms.method.as_str(), "POST" | "PUT") {
            return Err(("notices.sms.method", "must be POST or PUT".into()));
        }
        if !matches!(
            sms.content_type.as_str(),
            "application/json" | "application/x-www-form-urlencoded" | "text/plain"
        ) {
            return Err((
                "notices.sms.content_type",
                "must be application/json, application/x-www-form-urlencoded or text/plain".into(),
            ));
        }
        if !(sms.body.contains("{to}") && sms.body.contains("{text}")) {
            return Err(("notices.sms.body", "must contain {to} and {text}".into()));
        }
        if sms.auth_value.is_some() && sms.auth_value_file.is_some() {
            return Err((
                "notices.sms.auth_value",
                "give the value or its file, not both".into(),
            ));
        }
        if sms.auth_header.is_some() != (sms.auth_value.is_some() || sms.auth_value_file.is_some())
        {
            return Err((
                "notices.sms.auth_header",
                "auth_header needs auth_value or auth_value_file, and they need it".into(),
            ));
        }
        for (key, name) in [
            ("notices.sms.auth_header", &sms.auth_header),
            ("notices.sms.idempotency_header", &sms.idempotency_header),
        ] {
            if let Some(n) = name
                && reqwest::header::HeaderName::from_bytes(n.as_bytes()).is_err()
            {
                return Err((key, format!("{n:?} is not a header name")));
            }
        }
        if !(1..=120).contains(&sms.timeout_s) {
            return Err(("notices.sms.timeout_s", "must be 1 to 120 seconds".into()));
        }
        Ok(())
    }
}
