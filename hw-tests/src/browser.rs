//! A real headless Chromium driven over the DevTools protocol, for the dashboard's browser
//! tests and screenshots.
//!
//! Chromium is started with `--remote-debugging-pipe`: it reads protocol messages from its
//! file descriptor 3 and writes to 4, each a JSON object ended by a NUL byte. A small shell
//! `exec` wires those to the child's standard input and output, so no socket, no WebSocket
//! library and no `unsafe` are needed. One tab is opened; the page is driven with real input
//! events (mouse clicks at an element's centre, typed text), never by calling the page's own
//! functions. `confirm()` dialogs are accepted.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The Chromium binary: `$CHROMIUM`, else `chromium` (Debian) or `chromium-browser`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

type Waiters = Arc<Mutex<HashMap<u64, Sender<Value>>>>;

/// A headless Chromium with one tab.
pub struct Browser {
    child: Child,
    writer: Arc<Mutex<ChildStdin>>,
    waiters: Waiters,
    next: AtomicU64,
    session: String,
    _profile: crate::harness::TempDir,
}

impl Browser {
    /// Starts Chromium with a fresh profile and a `width`×`height` window.
    pub fn start(width: u32, height: u32) -> anyhow::Result<Browser> {
        let bin = chromium().context("Chromium is not installed (scripts/setup.sh installs it)")?;
        let profile = crate::harness::TempDir::new("chromium");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 0</dev/null 1>/dev/null")
            .arg(&bin)
            .args([
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--font-render-hinting=none",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .env("FONTCONFIG_FILE", fonts_conf())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let writer = Arc::new(Mutex::new(child.stdin.take().context("no stdin")?));
        let reader = child.stdout.take().context("no stdout")?;
        let waiters: Waiters = Arc::default();
        let (w, wr) = (Arc::clone(&waiters), Arc::clone(&writer));
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                buf.pop_if(|b| *b == 0);
                let Ok(msg) = serde_json::from_slice::<Value>(&buf) else {
                    continue;
                };
                if let Some(id) = msg.get("id").and_then(Value::as_u64) {
                    if let Some(tx) = w.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
                        let _ = tx.send(msg);
                    }
                } else if msg["method"] == "Page.javascriptDialogOpening" {
                    // Accept confirm() at once (no id: nobody waits for the answer).
                    let session = msg["sessionId"].as_str().unwrap_or_default();
                    let m = json!({"id": 0, "sessionId": session,
                        "method": "Page.handleJavaScriptDialog", "params": {"accept": true}});
                    let mut out = wr.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = out.write_all(m.to_string().as_bytes());
                    let _ = out.write_all(&[0]);
                    let _ = out.flush();
                }
            }
        });
        let mut b = Browser {
            child,
            writer,
            waiters,
            next: AtomicU64::new(1),
            session: String::new(),
            _profile: profile,
        };
        let target = b.send("Target.createTarget", json!({"url": "about:blank"}), false)?;
        let target = target["targetId"]
            .as_str()
            .context("no target id")?
            .to_owned();
        let att = b.send(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
            false,
        )?;
        b.session = att["sessionId"].as_str().context("no session")?.to_owned();
        b.call("Page.enable", json!({}))?;
        b.call("Runtime.enable", json!({}))?;
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(b)
    }

    fn send(&self, method: &str, params: Value, in_tab: bool) -> anyhow::Result<Value> {
        self.send_within(method, params, in_tab, Duration::from_secs(30))
    }

    fn send_within(
        &self,
        method: &str,
        params: Value,
        in_tab: bool,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if in_tab {
            msg["sessionId"] = json!(self.session);
        }
        let (tx, rx) = channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        {
            let mut out = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            out.write_all(msg.to_string().as_bytes())?;
            out.write_all(&[0])?;
            out.flush()?;
        }
        let reply = rx.recv_timeout(timeout);
        if reply.is_err() {
            // A late answer finds no waiter and is dropped.
            self.waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
        let reply = reply.with_context(|| format!("{method}: no answer from Chromium"))?;
        if let Some(e) = reply.get("error") {
            bail!("{method}: {e}");
        }
        Ok(reply["result"].clone())
    }

    /// A DevTools call in the tab.
    pub fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.send(method, params, true)
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call("Page.navigate", json!({"url": url}))?;
        self.wait_for(
            &format!(
                "document.readyState === 'complete' && location.href.startsWith({})",
                json!(url.split('#').next().unwrap_or(url))
            ),
            Duration::from_secs(20),
        )
        .map(drop)
    }

    /// Evaluates a JavaScript expression (promises awaited) and returns its value.
    pub fn eval(&self, js: &str) -> anyhow::Result<Value> {
        self.eval_within(js, Duration::from_secs(30))
    }

    /// [`Browser::eval`] that gives up after `timeout`: an evaluation sent just as the page
    /// navigates away can be dropped with its document, unanswered.
    fn eval_within(&self, js: &str, timeout: Duration) -> anyhow::Result<Value> {
        let r = self.send_within(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            true,
            timeout,
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            bail!("{js}: {}", e["exception"]["description"]);
        }
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `js` is truthy (errors while a page loads count as false); its value.
    pub fn wait_for(&self, js: &str, timeout: Duration) -> anyhow::Result<Value> {
        let end = Instant::now() + timeout;
        loop {
            let last = match self.eval_within(js, Duration::from_secs(2)) {
                Ok(v) if !(v.is_null() || v == false || v == "" || v == 0) => return Ok(v),
                Ok(v) => v.to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() > end {
                bail!("timed out waiting for {js} (last: {last})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the centre of the first element matching `selector` with real mouse events.
    pub fn click(&self, selector: &str) -> anyhow::Result<()> {
        let js = format!(
            "(() => {{ const e = document.querySelector({s}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            s = json!(selector)
        );
        let at = self.wait_for(&js, Duration::from_secs(10))?;
        let (x, y) = (at[0].as_f64().unwrap_or(0.0), at[1].as_f64().unwrap_or(0.0));
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )?;
        }
        Ok(())
    }

    /// Clicks a field and types `text` into it.
    pub fn type_into(&self, selector: &str, text: &str) -> anyhow::Result<()> {
        self.click(selector)?;
        self.call("Input.insertText", json!({"text": text}))?;
        Ok(())
    }

    /// Fills in the dashboard's sign-in form of the fleet at `url` and sends it.
    pub fn sign_in(&self, url: &str, user: &str, password: &str) -> anyhow::Result<()> {
        self.goto(&format!("{url}/login"))?;
        self.type_into("#username", user)?;
        self.type_into("#password", password)?;
        self.click("button[type=submit]")
    }

    /// The page's visible text.
    pub fn text(&self) -> anyhow::Result<String> {
        Ok(self
            .eval("document.body ? document.body.innerText : ''")?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// A PNG of the whole page (taller than the window when the page is).
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )?;
        let data = decode_base64(r["data"].as_str().context("no image")?)?;
        std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
    }
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The project's fontconfig file, so that pages render with the same fonts everywhere.
fn fonts_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/fonts/fonts.conf")
}

/// Standard base64 (the screenshot's encoding, and e-mail headers' encoded words).
pub(crate) fn decode_base64(s: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("not base64: {:?}", c as char),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(super::decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(super::decode_base64("aGk=").unwrap(), b"hi");
        assert!(super::decode_base64("a$").is_err());
    }
}
