//! Releases for the update tests: a signing key and keyring made with `fleetctl`, bundles (tar
//! archives of a `dir` slot whose `run` program is the release's app), slots provisioned with
//! a factory release, and `fleetctl` run as staff run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::Duration;

use crate::harness::{Fleet, bin, wait_until};

/// The hardware the test kiosks are.
pub const HARDWARE: &str = "okenko-test";

/// An app that starts and stays up, noting its version beside the slots.
pub fn good_app(version: &str) -> String {
    format!(
        "#!/bin/sh\necho \"{version} started\" >> \"$OKENKO_SLOT_DIR/../app.log\"\nexec sleep 100000\n"
    )
}

/// An app that crashes as it starts.
pub fn crashing_app(version: &str) -> String {
    format!("#!/bin/sh\necho \"{version} crashed\" >> \"$OKENKO_SLOT_DIR/../app.log\"\nexit 3\n")
}

/// Runs `fleetctl` with `args`, `stdin` and extra environment: (success, stdout, stderr).
pub fn fleetctl(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(bin("fleetctl"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fleetctl runs (is it built?)");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("fleetctl ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `fleetctl` against `fleet` with its admin token (and its CA, over HTTPS): (success,
/// stdout, stderr).
pub fn fleetctl_admin(fleet: &Fleet, args: &[&str]) -> (bool, String, String) {
    let url = fleet.url();
    let ca = fleet
        .tls_ca()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut env = vec![
        ("OKENKO_FLEET_URL", url.as_str()),
        ("OKENKO_ADMIN_TOKEN", fleet.admin_token.as_str()),
    ];
    if !ca.is_empty() {
        env.push(("OKENKO_FLEET_CA", ca.as_str()));
    }
    fleetctl(args, "", &env)
}

/// [`fleetctl_admin`] that must succeed: its standard output.
pub fn ctl_admin(fleet: &Fleet, args: &[&str]) -> String {
    let (ok, out, err) = fleetctl_admin(fleet, args);
    assert!(ok, "fleetctl {args:?}: {err}");
    out
}

/// A release manager's signing key, its keyring file, and the bundles signed with it.
#[derive(Debug)]
pub struct Kit {
    dir: PathBuf,
    /// The PKCS#8 key file.
    pub key: PathBuf,
    /// A keyring file trusting it.
    pub keyring: PathBuf,
    /// Its public key, hex.
    pub public: String,
}

impl Kit {
    /// A new key in `dir` (`fleetctl key new`).
    pub fn new(dir: &Path, name: &str) -> Kit {
        std::fs::create_dir_all(dir).expect("kit dir");
        let key = dir.join(format!("{name}.key"));
        let (ok, out, err) = fleetctl(&["key", "new", &key.to_string_lossy()], "", &[]);
        assert!(ok, "fleetctl key new: {err}");
        let public = out.split_whitespace().next().unwrap_or_default().to_owned();
        let keyring = dir.join(format!("{name}.keyring"));
        std::fs::write(&keyring, &out).expect("keyring written");
        Kit {
            dir: dir.to_owned(),
            key,
            keyring,
            public,
        }
    }

    /// The id of its key, as revocations and error messages name it.
    pub fn public_id(&self) -> String {
        let bytes: Vec<u8> = (0..self.public.len() / 2)
            .filter_map(|i| u8::from_str_radix(self.public.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        protocol::release::key_id(&bytes)
    }

    /// A bundle of `version` whose app is `script`, signed for [`HARDWARE`] (its manifest
    /// beside it).
    pub fn bundle(&self, version: &str, script: &str) -> PathBuf {
        self.bundle_with_assets(version, script, 0)
    }

    /// [`Kit::bundle`] that also carries `assets` bytes of data (`assets.bin`), for a bundle of
    /// a given size.
    pub fn bundle_with_assets(&self, version: &str, script: &str, assets: usize) -> PathBuf {
        let path = self.dir.join(format!("{version}.tar"));
        let file = std::fs::File::create(&path).expect("bundle file");
        let mut t = tar::Builder::new(std::io::BufWriter::new(file));
        let mut add = |name: &str, body: &[u8], mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_795_392_000);
            h.set_cksum();
            t.append_data(&mut h, name, body).expect("tar entry");
        };
        add("run", script.as_bytes(), 0o755);
        add("VERSION", format!("{version}\n").as_bytes(), 0o644);
        if assets > 0 {
            let data: Vec<u8> = (0..assets).map(|i| (i * 31 % 253) as u8).collect();
            add("assets.bin", &data, 0o644);
        }
        t.into_inner()
            .and_then(|w| w.into_inner().map_err(std::io::IntoInnerError::into_error))
            .expect("tar written");
        self.sign(&path, version);
        path
    }

    /// Signs `bundle` as `version` (`fleetctl release sign`).
    pub fn sign(&self, bundle: &Path, version: &str) {
        let (ok, _, err) = fleetctl(
            &[
                "release",
                "sign",
                &self.key.to_string_lossy(),
                &bundle.to_string_lossy(),
                "--version",
                version,
                "--compatible",
                HARDWARE,
            ],
            "",
            &[],
        );
        assert!(ok, "fleetctl release sign: {err}");
    }
}

/// Puts `bundle` (release `version`) into slot `a` of the agent in `agent_dir`, as the factory
/// image would, before the agent first starts.
pub fn provision(agent_dir: &Path, bundle: &Path, version: &str) {
    let slot = agent_dir.join("data/slots/a");
    std::fs::create_dir_all(&slot).expect("slot dir");
    let f = std::fs::File::open(bundle).expect("bundle");
    let mut a = tar::Archive::new(f);
    a.set_preserve_permissions(true);
    a.unpack(&slot).expect("bundle unpacks");
    let bytes = std::fs::read(bundle).expect("bundle");
    let label = serde_json::json!({
        "version": version,
        "sha256": protocol::sha256_hex(&bytes),
    });
    std::fs::write(slot.join(".slot.json"), label.to_string()).expect("slot label");
}

/// The `[update]` section for a test kiosk: the `dir` backend, quick health checks.
pub fn update_section(keyring: &Path) -> String {
    format!(
        "[update]\nbackend = \"dir\"\nhardware = \"{HARDWARE}\"\nkeyring = \"{}\"\nrun = [\"run\"]\n\
         idle_s = 0\nsettle_s = 1\nhealth_timeout_s = 20\nboot_attempts = 2\n",
        keyring.display()
    )
}

/// Which slot's app ran, in order (`<version> started|crashed`), from the agent in `agent_dir`.
pub fn app_log(agent_dir: &Path) -> String {
    std::fs::read_to_string(agent_dir.join("data/slots/app.log")).unwrap_or_default()
}

/// The kiosk's (running, target, state, reason) as the fleet has it.
pub fn report(fleet: &Fleet, id: &str) -> (String, String, String, String) {
    let v = fleet.admin_get("/api/admin/v1/updates").unwrap_or_default();
    let k = v["kiosks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kiosk_id"] == id)
        .cloned()
        .unwrap_or_default();
    let r = &k["update"]["report"];
    let s = |key: &str| r[key].as_str().unwrap_or("").to_owned();
    (s("running"), s("target"), s("state"), s("reason"))
}

/// Waits until the kiosk runs `running` and its update of `target` (any, if empty) is in
/// `state`.
pub fn wait_state(fleet: &Fleet, id: &str, running: &str, target: &str, state: &str, secs: u64) {
    assert!(
        wait_until(Duration::from_secs(secs), || {
            let r = report(fleet, id);
            r.0 == running && (target.is_empty() || r.1 == target) && r.2 == state
        }),
        "{id}: wanted {running} {state} of {target:?}, have {:?}",
        report(fleet, id)
    );
}

/// Uploads `bundle` with its `BUNDLE.manifest.json` (`fleetctl release upload`).
pub fn upload(fleet: &Fleet, bundle: &Path) {
    ctl_admin(fleet, &["release", "upload", &bundle.to_string_lossy()]);
}

/// A rollout of `version` to `canary` alone, forced; its number.
pub fn roll(fleet: &Fleet, version: &str, canary: &str) -> String {
    let out = ctl_admin(
        fleet,
        &["rollout", "create", version, "--canary", canary, "--force"],
    );
    out.split_whitespace().nth(1).unwrap_or_default().to_owned()
}

/// Waits for rollout `id` to pause by itself, then aborts it.
pub fn paused_then_abort(fleet: &Fleet, id: &str) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            fleet
                .admin_get(&format!("/api/admin/v1/rollouts/{id}"))
                .is_some_and(|r| r["state"] == "paused")
        }),
        "rollout {id} did not pause: {:?}",
        fleet.admin_get(&format!("/api/admin/v1/rollouts/{id}"))
    );
    ctl_admin(fleet, &["rollout", "abort", id]);
}
