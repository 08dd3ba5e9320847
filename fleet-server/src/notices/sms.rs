//! The SMS gateway connector: one HTTP request per message, as `[notices.sms]` describes it
//! (URL, method, body template, authentication, how success and throttling look).

use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::config::SmsGatewaySection;

/// Why a message did not go.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Nothing was sent, or the gateway failed in a way worth another try.
    Transient(String),
    /// The gateway asks to slow down (`Retry-After`, when it says).
    Throttled {
        /// What it said.
        detail: String,
        /// When to come back.
        retry_after: Option<Duration>,
    },
    /// Refused for good (a bad number, bad credentials): trying again will not help.
    Permanent(String),
    /// The request went out and no answer came: it may have been sent.
    Unanswered(String),
}

/// A configured gateway.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    url: String,
    method: reqwest::Method,
    content_type: String,
    body: String,
    auth: Option<(HeaderName, HeaderValue)>,
    idempotency: Option<HeaderName>,
    success_contains: Option<String>,
    throttled_status: Vec<u16>,
    throttled_contains: Option<String>,
    timeout: Duration,
}

impl SmsGateway {
    /// From a checked `[notices.sms]`; reads the authentication value's file.
    pub fn new(c: &SmsGatewaySection) -> Result<SmsGateway, String> {
        let auth = match &c.auth_header {
            Some(name) => {
                let value = match (&c.auth_value, &c.auth_value_file) {
                    (Some(v), _) => v.clone(),
                    (None, Some(f)) => std::fs::read_to_string(f)
                        .map_err(|e| format!("notices.sms.auth_value_file {}: {e}", f.display()))?
                        .trim()
                        .to_owned(),
                    (None, None) => return Err("notices.sms.auth_header needs a value".into()),
                };
                let mut value = HeaderValue::from_str(&value)
                    .map_err(|_| "notices.sms.auth_value: not a header value".to_owned())?;
                value.set_sensitive(true);
                Some((
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("notices.sms.auth_header {name:?}"))?,
                    value,
                ))
            }
            None => None,
        };
        Ok(SmsGateway {
            url: c.url.clone(),
            method: if c.method == "PUT" {
                reqwest::Method::PUT
            } else {
                reqwest::Method::POST
            },
            content_type: c.content_type.clone(),
            body: c.body.clone(),
            auth,
            idempotency: c
                .idempotency_header
                .as_deref()
                .map(|n| HeaderName::from_bytes(n.as_bytes()))
                .transpose()
                .map_err(|_| "notices.sms.idempotency_header".to_owned())?,
            success_contains: c.success_contains.clone(),
            throttled_status: c.throttled_status.clone(),
            throttled_contains: c.throttled_contains.clone(),
            timeout: Duration::from_secs(c.timeout_s),
        })
    }

    /// Whether the gateway takes an idempotency key (a message whose answer was lost may then
    /// be sent again).
    pub fn idempotent(&self) -> bool {
        self.idempotency.is_some()
    }

    /// The body for one message, each value escaped for the body's type.
    pub fn render(&self, reference: &str, to: &str, text: &str) -> String {
        let escape = |v: &str| match self.content_type.as_str() {
            "application/json" => {
                let quoted = serde_json::to_string(v).unwrap_or_default();
                quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default()
                    .to_owned()
            }
            "application/x-www-form-urlencoded" => {
                serde_urlencoded::to_string([("", v)]).unwrap_or_default()[1..].to_owned()
            }
            _ => v.to_owned(),
        };
        // One pass, so that a value containing `{text}` is not expanded again.
        let mut out = String::with_capacity(self.body.len() + text.len());
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let (value, skip) = if tail.starts_with("{to}") {
                (Some(escape(to)), 4)
            } else if tail.starts_with("{text}") {
                (Some(escape(text)), 6)
            } else if tail.starts_with("{id}") {
                (Some(escape(reference)), 4)
            } else {
                (None, 1)
            };
            out.push_str(value.as_deref().unwrap_or("{"));
            rest = &tail[skip..];
        }
        out.push_str(rest);
        out
    }

    /// Sends one message; `reference` is the notice's unique reference (the idempotency key).
    pub async fn send(
        &self,
        http: &reqwest::Client,
        reference: &str,
        to: &str,
        text: &str,
    ) -> Result<(), SendError> {
        let mut req = http
            .request(self.method.clone(), &self.url)
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, &self.content_type)
            .body(self.render(reference, to, text));
        if let Some((name, value)) = &self.auth {
            req = req.header(name, value);
        }
        if let Some(name) = &self.idempotency {
            req = req.header(name, reference);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() || e.is_builder() => {
                return Err(SendError::Transient(format!("gateway unreachable: {e}")));
            }
            Err(e) => {
                return Err(SendError::Unanswered(format!(
                    "no answer from the gateway: {e}"
                )));
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) if status.is_success() => {
                return Err(SendError::Unanswered(format!("the answer broke off: {e}")));
            }
            Err(_) => String::new(),
        };
        let excerpt: String = body.chars().take(200).collect();
        let detail = format!("gateway answered {}: {}", status.as_u16(), excerpt.trim());
        let throttled = self.throttled_status.contains(&status.as_u16())
            || self
                .throttled_contains
                .as_deref()
                .is_some_and(|t| body.contains(t));
        if throttled {
            return Err(SendError::Throttled {
                detail,
                retry_after,
            });
        }
        if status.is_success() {
            return match &self.success_contains {
                Some(t) if !body.contains(t.as_str()) => Err(SendError::Transient(detail)),
                _ => Ok(()),
            };
        }
        if status.is_server_error() || status.as_u16() == 408 {
            Err(SendError::Transient(detail))
        } else {
            Err(SendError::Permanent(detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(content_type: &str, body: &str) -> SmsGateway {
        SmsGateway::new(&SmsGatewaySection {
            url: "http://127.0.0.1:9/sms".into(),
            method: "POST".into(),
            content_type: content_type.into(),
            body: body.into(),
            auth_header: None,
            auth_value: None,
            auth_value_file: None,
            idempotency_header: None,
            success_contains: None,
            throttled_status: vec![429],
            throttled_contains: None,
            timeout_s: 5,
        })
        .unwrap()
    }

    #[test]
    fn values_are_escaped_for_the_body_and_never_expanded_twice() {
        let g = gateway(
            "application/json",
            r#"{"to":"{to}","msg":"{text}","ref":"{id}"}"#,
        );
        let body = g.render("n-7", "+420777123456", "Žádost \"A\" {to}\nhotovo");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["msg"], "Žádost \"A\" {to}\nhotovo");
        assert_eq!(v["to"], "+420777123456");
        assert_eq!(v["ref"], "n-7");
        let g = gateway(
            "application/x-www-form-urlencoded",
            "to={to}&text={text}&x={y}",
        );
        assert_eq!(
            g.render("n", "+420777123456", "a b&c"),
            "to=%2B420777123456&text=a+b%26c&x={y}"
        );
    }
}
