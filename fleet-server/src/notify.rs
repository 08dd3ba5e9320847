//! Alert notifications: a JSON POST to a webhook (chat, paging, ticketing) and an e-mail through
//! the city's SMTP relay. Each is tried three times with a growing pause; a failure is logged and
//! never blocks the alerts themselves.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::AlertsSection;
use crate::store::AlertEvent;

/// Where alert events go.
#[derive(Debug, Clone)]
pub struct Notifier {
    http: reqwest::Client,
    webhook: Option<String>,
    smtp: Option<Smtp>,
}

#[derive(Debug, Clone)]
struct Smtp {
    server: String,
    from: String,
    to: Vec<String>,
}

impl Notifier {
    /// From `[alerts]`.
    pub fn new(c: &AlertsSection) -> Notifier {
        let smtp = match (&c.smtp_server, &c.mail_from) {
            (Some(server), Some(from)) if !c.mail_to.is_empty() => Some(Smtp {
                server: server.clone(),
                from: from.clone(),
                to: c.mail_to.clone(),
            }),
            _ => None,
        };
        Notifier {
            http: crate::connector::http_client(),
            webhook: c.webhook_url.clone(),
            smtp,
        }
    }

    /// Sends `e` everywhere configured.
    pub async fn send(&self, e: &AlertEvent) {
        if let Some(url) = &self.webhook {
            retry("webhook", || async {
                let resp = self
                    .http
                    .post(url)
                    .json(e)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("webhook answered {}", resp.status()))
                }
            })
            .await;
        }
        if let Some(smtp) = &self.smtp {
            let subject = format!(
                "[Okénko] {} {}: {}",
                e.alert.kiosk_id,
                if e.event == "opened" {
                    "alert"
                } else {
                    "resolved"
                },
                e.alert.kind
            );
            let body = format!(
                "Kiosk: {}\r\nAlert: {}\r\nDetail: {}\r\nOpened: {}\r\n{}",
                e.alert.kiosk_id,
                e.alert.kind,
                e.alert.detail,
                protocol::time::format_czech(e.alert.opened_at),
                e.alert
                    .resolved_at
                    .map(|t| format!("Resolved: {}\r\n", protocol::time::format_czech(t)))
                    .unwrap_or_default()
            );
            retry("e-mail", || {
                send_mail(&smtp.server, &smtp.from, &smtp.to, &subject, &body)
            })
            .await;
        }
    }
}

async fn retry<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    for attempt in 1..=3u32 {
        match f().await {
            Ok(()) => return,
            Err(e) if attempt < 3 => {
                tracing::warn!(what, attempt, error = %e, "alert notification failed; retrying");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            Err(e) => tracing::error!(what, error = %e, "alert notification failed; giving up"),
        }
    }
}

/// A header value without line breaks (nothing can be injected into the message's headers).
fn header_safe(v: &str) -> String {
    v.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// One message from `from` to `to` through the plain SMTP relay `server` (RFC 5321: EHLO, MAIL,
/// RCPT, DATA, QUIT).
pub async fn send_mail(
    server: &str,
    from: &str,
    to: &[String],
    subject: &str,
    body: &str,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{server}: {e}");
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(server))
        .await
        .map_err(|_| format!("{server}: connect timed out"))?
        .map_err(io)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Result<u16, String> {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
                .await
                .map_err(|_| "SMTP server did not answer".to_owned())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("SMTP server closed the connection".into());
            }
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| format!("not an SMTP reply: {}", line.trim_end()))?;
            // "250-..." continues, "250 ..." ends.
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(code);
            }
        }
    }
    let expect = |got: u16, want: u16, step: &str| {
        if got == want {
            Ok(())
        } else {
            Err(format!("SMTP {step}: server answered {got}"))
        }
    };
    expect(reply(&mut read).await?, 220, "greeting")?;
    let mut send = async |line: String, want: u16, step: &str| -> Result<(), String> {
        write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(io)?;
        expect(reply(&mut read).await?, want, step)
    };
    send("EHLO okenko-fleet".into(), 250, "EHLO").await?;
    send(format!("MAIL FROM:<{}>", header_safe(from)), 250, "MAIL").await?;
    for to in to {
        send(format!("RCPT TO:<{}>", header_safe(to)), 250, "RCPT").await?;
    }
    send("DATA".into(), 354, "DATA").await?;
    let body = smtp_body(body);
    let message = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n.",
        header_safe(from),
        header_safe(&to.join(", ")),
        encoded_word(&header_safe(subject))
    );
    send(message, 250, "message").await?;
    send("QUIT".into(), 221, "QUIT").await
}

/// A header text as RFC 2047 carries what is not ASCII: `=?UTF-8?B?…?=` (base64), in words
/// of at most 75 characters on folded lines.
fn encoded_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    // 45 bytes are 60 characters of base64: a word of 72.
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > 45 {
            pieces.push(&text[start..i]);
            start = i;
        }
    }
    pieces.push(&text[start..]);
    pieces
        .iter()
        .map(|p| format!("=?UTF-8?B?{}?=", base64(p.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn base64(bytes: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A message body as SMTP's DATA carries it: every line end (`\r\n`, a bare `\n` or `\r`)
/// becomes `\r\n`, and lines starting with a dot are doubled (RFC 5321 §4.5.2), so no text,
/// whatever its line ends, can end the message early or smuggle a second one.
fn smtp_body(body: &str) -> String {
    body.replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_that_is_not_ascii_is_an_encoded_word() {
        assert_eq!(encoded_word("Paper out"), "Paper out");
        // "Žádost" in UTF-8, base64.
        assert_eq!(encoded_word("Žádost"), "=?UTF-8?B?xb3DoWRvc3Q=?=");
        assert_eq!(encoded_word("Ž"), "=?UTF-8?B?xb0=?=");
        let long = encoded_word("Ваша заява K7M2-9XQ4-T: Отримано установою");
        assert!(
            long.split("\r\n ")
                .all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?")),
            "{long}"
        );
    }

    #[test]
    fn no_line_end_in_a_body_can_end_the_smtp_message() {
        for hostile in [
            "paper out\n.\nMAIL FROM:<x>",
            "paper out\r.\rRCPT",
            "paper out\r\n.\r\nQUIT",
            "a\n\r.\n\rb",
            ".",
        ] {
            let body = smtp_body(hostile);
            // Every line end is CRLF, and no line is a lone dot.
            assert!(!body.replace("\r\n", "").contains(['\r', '\n']), "{body:?}");
            assert!(body.split("\r\n").all(|l| l != "."), "{body:?}");
            // The text survives (with its dots doubled).
            assert!(body.contains(".."), "{body:?}");
        }
        assert_eq!(smtp_body("one\ntwo"), "one\r\ntwo");
    }
}
