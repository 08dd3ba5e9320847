//! Runs the real binaries for end-to-end tests: `fleet-server` and `kiosk-agent` as child
//! processes on 127.0.0.1 (ephemeral ports), each with its own temporary data directory.
//!
//! The binaries are found beside the test executable (`target/<profile>/`), where
//! `cargo test --workspace` / `cargo nextest run --workspace` builds them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agent_client::Client;
use protocol::app::{RequestBody, ResponseBody};

/// The path of a workspace binary built beside the running test.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = exe.parent().and_then(|d| {
        if d.ends_with("deps") {
            d.parent()
        } else {
            Some(d)
        }
    });
    dir.expect("test executable in target/<profile>/deps")
        .join(name)
}

/// A `kB` figure of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`); 0 when it cannot be read.
pub fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Waits until `cond` holds, polling; `false` on time-out.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temporary directory, removed on drop (kept when `OKENKO_KEEP_TEST_DIRS` is set).
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new(label: &str) -> TempDir {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).expect("OS random source");
        let name = format!(
            "okenko-{label}-{}-{}",
            std::process::id(),
            protocol::tracking::crockford(&b)
        );
        let p = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&p).expect("temp dir is writable");
        TempDir(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("OKENKO_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Sends `signal` to a child (through kill(1): the workspace forbids unsafe code) and reaps it.
fn kill(child: &mut Child, signal: i32) {
    if signal == 9 {
        let _ = child.kill();
    } else {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status();
    }
    let _ = child.wait();
}

/// A free address on 127.0.0.1, for a service started later (until then, connections to it are
/// refused).
pub fn reserve_addr() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().expect("its address")
}

/// A valid submission of the demo catalog's `podnet` service whose text carries `marker`.
pub fn sample_submission(id: uuid::Uuid, marker: &str) -> protocol::app::SubmitRequest {
    let mut values = protocol::validate::FormValues::new();
    values.insert(
        "text".into(),
        protocol::validate::FieldValue::Text(format!("Podnět občana, značka {marker}")),
    );
    values.insert(
        "email".into(),
        protocol::validate::FieldValue::Text(format!("{marker}@example.cz")),
    );
    protocol::app::SubmitRequest {
        submission_id: id,
        service_id: "podnet".into(),
        form_version: 1,
        language: protocol::Lang::Cs,
        values,
        identity: None,
        notify: None,
    }
}

/// Submits through a fresh connection; the ack, or the error as text.
pub fn submit(
    agent: &Agent,
    req: &protocol::app::SubmitRequest,
) -> Result<protocol::app::SubmitAck, String> {
    submit_at(&agent.socket, req)
}

/// [`submit`] to the agent whose socket is `socket` (from another thread).
pub fn submit_at(
    socket: &Path,
    req: &protocol::app::SubmitRequest,
) -> Result<protocol::app::SubmitAck, String> {
    let mut c = Client::connect(socket, Duration::from_secs(30))
        .map_err(|_| "agent socket not answering")?;
    match c.call(RequestBody::Submit(req.clone())) {
        Ok(ResponseBody::Submitted(ack)) => Ok(ack),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Every (id, tracking code, values JSON) the fleet stored.
pub fn fleet_rows(fleet: &Fleet) -> Vec<(String, String, String)> {
    let db = fleet.db();
    let mut stmt = db
        .prepare("SELECT id, tracking_code, body FROM submissions")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query runs")
        .collect::<Result<_, _>>()
        .expect("rows read")
}

/// A read-only connection to a database another process writes, for assertions.
fn open_readonly(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("{} opens: {e}", path.display()));
    c.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    c
}

/// The demo catalog shipped with the fleet server.
pub fn demo_catalog() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fleet-server/data/demo-catalog.json")
}

/// `extra` config with `disk_used_max_percent = 100` in the table that `header` opens, unless
/// the test sets it: the tests' data directories share the host's disk, whose use is not theirs
/// to decide, so only a test about the disk limit meets it.
fn with_disk_limit(extra: &str, header: &str) -> String {
    const KEY: &str = "disk_used_max_percent = 100\n";
    if extra.contains("disk_used_max_percent") {
        extra.to_owned()
    } else if header.is_empty() {
        format!("{KEY}{extra}")
    } else if let Some((before, after)) = extra.split_once(header) {
        format!("{before}{header}{KEY}{after}")
    } else {
        format!("{extra}\n{header}{KEY}")
    }
}

/// A running fleet server.
#[derive(Debug)]
pub struct Fleet {
    child: Option<Child>,
    addr: SocketAddr,
    dir: PathBuf,
    data_dir: PathBuf,
    config: PathBuf,
    /// The admin API token.
    pub admin_token: String,
    extra: String,
    /// The CA of its TLS certificate, when it serves HTTPS ([`Fleet::trust`]).
    tls_ca: Option<PathBuf>,
}

impl Fleet {
    /// Writes a config in `dir` (plus `extra` TOML lines in `[server]`, then any further
    /// sections) and starts the server.
    pub fn start(dir: &Path, extra: &str) -> Fleet {
        Fleet::start_in(dir, &dir.join("data"), extra)
    }

    /// As [`Fleet::start`], with its data (release bundles, the SQLite file) in `data_dir`:
    /// several instances of one fleet share it.
    pub fn start_in(dir: &Path, data_dir: &Path, extra: &str) -> Fleet {
        std::fs::create_dir_all(dir).expect("fleet dir is writable");
        let mut f = Fleet {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir: dir.to_owned(),
            data_dir: data_dir.to_owned(),
            config: dir.join("fleet.toml"),
            admin_token: "test-admin-token-0123456789".into(),
            extra: with_disk_limit(extra, "[alerts]\n"),
            tls_ca: None,
        };
        f.write_config("127.0.0.1:0");
        f.spawn();
        f
    }

    fn write_config(&self, listen: &str) {
        let text = format!(
            "[server]\nlisten = \"{listen}\"\ndata_dir = \"{}\"\nadmin_token = \"{}\"\n{}\n",
            self.data_dir.display(),
            self.admin_token,
            self.extra
        );
        std::fs::write(&self.config, text).expect("config is writable");
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("fleet.log"))
            .expect("log is writable");
        let mut child = Command::new(bin("fleet-server"))
            .args(["--config"])
            .arg(&self.config)
            .arg("serve")
            .env(
                "RUST_LOG",
                std::env::var("OKENKO_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("OKENKO_NOTICE_CLOCK", self.dir.join("notice-clock"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("fleet-server starts (is it built?)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        let addr = line
            .rsplit("://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let log = self.log();
                let tail: Vec<&str> = log.lines().rev().take(60).collect();
                panic!(
                    "fleet-server did not start: {line:?}; see {}; its log ends:\n{}",
                    self.dir.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            });
        std::thread::spawn(move || for _ in lines {});
        self.addr = addr;
        self.child = Some(child);
    }

    /// Moves the clock the server's notice courier reads (and only that clock) `ms` ahead of
    /// the system's.
    pub fn shift_notice_clock(&self, ms: i64) {
        std::fs::write(self.dir.join("notice-clock"), ms.to_string())
            .expect("the clock file is writable");
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        match self.tls_ca {
            Some(_) => format!("https://{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// For a server started with `tls_cert`: the admin calls trust `ca` and use HTTPS.
    pub fn trust(&mut self, ca: &Path) {
        self.tls_ca = Some(ca.to_owned());
    }

    /// The CA [`Fleet::trust`] was given, if any.
    pub fn tls_ca(&self) -> Option<&Path> {
        self.tls_ca.as_deref()
    }

    /// Runs a `fleet-server` sub-command on this server's config.
    pub fn command(&self, args: &[&str]) -> String {
        let out = Command::new(bin("fleet-server"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("fleet-server runs");
        assert!(
            out.status.success(),
            "fleet-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `GET /api/admin/v1/kiosks/{kiosk_id}`: the kiosk and its newest heartbeat, as the
    /// server shows them (`None` for an unknown kiosk or a failed call).
    pub fn kiosk_now(&self, kiosk_id: &str) -> Option<serde_json::Value> {
        self.admin_get(&format!("/api/admin/v1/kiosks/{kiosk_id}"))
    }

    /// A GET on the admin API with the admin token: its JSON (`None` for a failed call).
    pub fn admin_get(&self, path: &str) -> Option<serde_json::Value> {
        serde_json::from_str(&self.admin_text(path)?).ok()
    }

    /// A GET with the admin token: the body (`None` for a failed call).
    pub fn admin_text(&self, path: &str) -> Option<String> {
        self.admin_call(path, None)
    }

    /// A POST of `body` on the admin API with the admin token: its JSON (`None` for a failed
    /// call).
    pub fn admin_post(&self, path: &str, body: &serde_json::Value) -> Option<serde_json::Value> {
        serde_json::from_str(&self.admin_call(path, Some(body))?).ok()
    }

    fn admin_call(&self, path: &str, body: Option<&serde_json::Value>) -> Option<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(async {
            let url = format!("{}{path}", self.url());
            let client = match &self.tls_ca {
                Some(ca) => client_trusting(ca)?,
                None => http_client(),
            };
            let req = match body {
                Some(b) => client.post(url).json(b),
                None => client.get(url),
            };
            let r = req.bearer_auth(&self.admin_token).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            r.text().await.ok()
        })
    }

    /// The console secret of an enrolled kiosk, derived as the dashboard and the kiosk do
    /// ([`protocol::totp::secret`]) from the credential hash this server stores.
    pub fn console_secret(&self, kiosk_id: &str) -> Vec<u8> {
        let hash: String = self
            .db()
            .query_row(
                "SELECT credential_hash FROM kiosks WHERE kiosk_id = ?1",
                [kiosk_id],
                |r| r.get(0),
            )
            .expect("the kiosk is enrolled");
        protocol::totp::secret(&hash)
    }

    /// Makes a staff account (`fleet-server user add`, the password on standard input).
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        use std::io::Write as _;
        let mut child = Command::new(bin("fleet-server"))
            .arg("--config")
            .arg(&self.config)
            .args(["user", "add", name, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("fleet-server runs");
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "{password}").expect("password written");
        }
        assert!(child.wait().expect("it ends").success(), "user add {name}");
    }

    /// Issues a bootstrap token for `kiosk_id`.
    pub fn token(&self, kiosk_id: &str) -> String {
        self.command(&["token", kiosk_id, "--name", &format!("Kiosk {kiosk_id}")])
    }

    /// Publishes a catalog file.
    pub fn publish(&self, catalog: &Path) {
        let path = catalog.to_string_lossy().into_owned();
        self.command(&["publish", &path]);
    }

    /// Stops the server with SIGTERM and waits for it to end.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c, 15);
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c, 9);
        }
    }

    /// Starts it again on the same address with other `extra` configuration (as for
    /// [`Fleet::start`]).
    pub fn reconfigure(&mut self, extra: &str) {
        self.extra = with_disk_limit(extra, "[alerts]\n");
        self.restart();
    }

    /// Starts it again on the same address.
    pub fn restart(&mut self) {
        self.kill();
        self.write_config(&self.addr.to_string());
        self.spawn();
    }

    /// A read-only connection to its database, for assertions.
    pub fn db(&self) -> rusqlite::Connection {
        open_readonly(&self.data_dir.join("fleet.sqlite"))
    }

    /// Submissions stored, counted in the database.
    pub fn submission_count(&self) -> i64 {
        self.db()
            .query_row("SELECT COUNT(*) FROM submissions", [], |r| r.get(0))
            .unwrap_or(-1)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("fleet.log")).unwrap_or_default()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    child: Option<Child>,
    dir: PathBuf,
    config: PathBuf,
    /// The socket path.
    pub socket: PathBuf,
    /// Extra environment for the agent process (applies from the next start).
    pub env: Vec<(String, String)>,
}

impl Agent {
    /// Writes a config in `dir` pointing at `fleet_url` with `token`, plus `extra` lines in
    /// `[fleet]` (or in the tables `extra` opens; an `[agent]` table there is merged into the
    /// written one), and starts the agent.
    pub fn start(dir: &Path, fleet_url: &str, token: &str, extra: &str) -> Agent {
        Agent::start_env(dir, fleet_url, token, extra, &[])
    }

    /// [`Agent::start`] with extra environment variables for the process.
    pub fn start_env(
        dir: &Path,
        fleet_url: &str,
        token: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Agent {
        std::fs::create_dir_all(dir).expect("agent dir is writable");
        let socket = dir.join("agent.sock");
        let config = dir.join("agent.toml");
        // Keys of an `[agent]` table in `extra` join the one written here (TOML allows one).
        let (agent_keys, extra) = match extra.split_once("[agent]\n") {
            Some((before, rest)) => {
                let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
                (rest[..end].to_owned(), format!("{before}{}", &rest[end..]))
            }
            None => (String::new(), extra.to_owned()),
        };
        let agent_keys = with_disk_limit(&agent_keys, "");
        let text = format!(
            "[agent]\nsocket = \"{}\"\ndata_dir = \"{}\"\n{agent_keys}\n[fleet]\nurl = \"{fleet_url}\"\n\
             bootstrap_token = \"{token}\"\nbackoff_initial_ms = 50\nbackoff_max_s = 1\n{extra}\n",
            socket.display(),
            dir.join("data").display(),
        );
        std::fs::write(&config, text).expect("config is writable");
        let mut a = Agent {
            child: None,
            dir: dir.to_owned(),
            config,
            socket,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        a.spawn();
        a
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("agent.log"))
            .expect("log is writable");
        let child = Command::new(bin("kiosk-agent"))
            .arg("--config")
            .arg(&self.config)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(
                "RUST_LOG",
                std::env::var("OKENKO_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kiosk-agent starts (is it built?)");
        self.child = Some(child);
        let ok = wait_until(Duration::from_secs(20), || self.client().is_some());
        assert!(
            ok,
            "kiosk-agent did not open its socket; see {}",
            self.dir.display()
        );
    }

    /// A fresh connection, if the socket answers.
    pub fn client(&self) -> Option<Client> {
        Client::connect(&self.socket, Duration::from_secs(30)).ok()
    }

    /// Waits until the agent is enrolled and holds a catalog.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let Some(mut c) = self.client() else {
                return false;
            };
            matches!(c.call(RequestBody::Catalog), Ok(ResponseBody::Catalog(v)) if v.version > 0)
        })
    }

    /// Kills it with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c, 9);
        }
    }

    /// Stops it with SIGTERM.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill(&mut c, 15);
        }
    }

    /// Starts it again after a kill.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A read-only connection to its database.
    pub fn db(&self) -> rusqlite::Connection {
        open_readonly(&self.dir.join("data/agent.sqlite"))
    }

    /// Outbox rows matching an SQL condition (`state = 'queued'`); -1 when the query fails.
    pub fn outbox_count(&self, condition: &str) -> i64 {
        self.db()
            .query_row(
                &format!("SELECT COUNT(*) FROM outbox WHERE {condition}"),
                [],
                |r| r.get(0),
            )
            .unwrap_or(-1)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
        // The app a `dir` slot ran (its own process group) goes with it.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("data/slots/app.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The receipt the printer proofs and benchmarks print: Ostrava's residents' parking card,
/// 23 November 2026 20:34 local time, in Czech.
pub fn sample_receipt() -> kiosk_agent::devices::printer::ReceiptContent {
    kiosk_agent::devices::printer::ReceiptContent {
        city: "Statutární město Ostrava".into(),
        service: "Rezidentní parkovací karta".into(),
        // 23 November 2026 19:34 UTC = 20:34 in Ostrava.
        created_at: 1_795_462_440_000,
        kiosk: "Nová radnice, přízemí".into(),
        code: protocol::tracking::TrackingCode::from_parts(1, 0x1234)
            .expect("1 and 0x1234 make a valid code"),
        status_base: "https://fleet.ostrava.cz".into(),
        lang: protocol::Lang::Cs,
    }
}

/// [`http_client`] trusting only the CA in the PEM file `ca`.
pub fn client_trusting(ca: &Path) -> Option<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(ca).ok()?;
    let cert = reqwest::Certificate::from_pem(&pem).ok()?;
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([cert])
        .build()
        .ok()
}

/// An HTTP client for tests (rustls with the ring provider, 10 s time-out).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client can be built")
}
