//! Receivers for what the fleet server sends out, on 127.0.0.1: a webhook endpoint that keeps
//! every JSON body POSTed to it, and an SMTP relay that keeps every message. Plain std threads
//! speaking the real protocols, so the server's clients are tested against the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Keeps the JSON bodies POSTed to it; answers 200.
#[derive(Debug)]
pub struct WebhookSink {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn serve_forever(listener: TcpListener, handle: impl Fn(TcpStream) + Send + 'static) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(stream);
        }
    });
}

fn read_request(stream: &TcpStream) -> std::io::Result<Vec<u8>> {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    Ok(body)
}

impl WebhookSink {
    /// Listens on an ephemeral port.
    pub fn start() -> std::io::Result<WebhookSink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&bodies);
        serve_forever(listener, move |mut stream| {
            if let Ok(body) = read_request(&stream) {
                if let Ok(v) = serde_json::from_slice(&body) {
                    keep.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Ok(WebhookSink { addr, bodies })
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// What it received so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Keeps every message relayed to it (headers and body, as sent after `DATA`).
#[derive(Debug)]
pub struct SmtpSink {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<String>>>,
}

fn smtp_session(stream: TcpStream, keep: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-sink\r\n250 8BITMIME\r\n")?,
            "MAIL" | "RCPT" => out.write_all(b"250 ok\r\n")?,
            "DATA" => {
                out.write_all(b"354 go on\r\n")?;
                let mut message = String::new();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    message.push_str(&l);
                }
                keep.lock().unwrap_or_else(|p| p.into_inner()).push(message);
                out.write_all(b"250 queued\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 not here\r\n")?,
        }
    }
}

impl SmtpSink {
    /// Listens on an ephemeral port.
    pub fn start() -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let messages = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&messages);
        serve_forever(listener, move |stream| {
            let _ = smtp_session(stream, &keep);
        });
        Ok(SmtpSink { addr, messages })
    }

    /// `host:port`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The subjects of the messages so far, decoded (RFC 2047 `=?UTF-8?B?…?=` words, folded
    /// lines joined).
    pub fn subjects(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter_map(|m| {
                let unfolded = m.replace("\r\n ", " ");
                let line = unfolded.lines().find_map(|l| l.strip_prefix("Subject: "))?;
                Some(
                    line.split(' ')
                        .map(|w| {
                            w.strip_prefix("=?UTF-8?B?")
                                .and_then(|w| w.strip_suffix("?="))
                                .and_then(|b| crate::browser::decode_base64(b).ok())
                                .and_then(|b| String::from_utf8(b).ok())
                                .map_or((w.to_owned(), false), |d| (d, true))
                        })
                        .fold((String::new(), false), |(mut acc, prev), (w, encoded)| {
                            // Space between two encoded words is not part of the text.
                            if !(acc.is_empty() || prev && encoded) {
                                acc.push(' ');
                            }
                            acc.push_str(&w);
                            (acc, encoded)
                        })
                        .0,
                )
            })
            .collect()
    }

    /// What it received so far.
    pub fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
