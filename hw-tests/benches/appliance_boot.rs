//! Boot benchmark of the appliance image in QEMU (TCG), printing its figures:
//!
//! - **kiosk**: QEMU start → the home screen's first frame (the journal's `kiosk-app: first
//!   frame shown`, and the first screendump whose body matches the offscreen render), and
//!   memory in use at the home screen (MemTotal − MemAvailable, from the lab's meminfo unit);
//! - **bare**: the same image with the agent and the app switched off (credential `okenko.bare`)
//!   → `Reached target multi-user.target`;
//! - **peer** (when `target/image-peer/` holds the Chromium image, `image/build.sh --peer
//!   chromium`): cage + Chromium in kiosk mode showing the equivalent HTML page → its first
//!   frame (the screen's body mostly the page's background colour), and memory.
//!
//! `cargo bench -p hw-tests --bench appliance_boot [-- RUNS]` (default 2 runs of each). Needs
//! the image built (`image/build.sh`) and the debug `kiosk-app` (for the render).

use std::path::Path;
use std::time::{Duration, Instant};

use hw_tests::vm::{self, Vm, VmOptions};

const TIMEOUT: Duration = Duration::from_secs(600);

/// One run: the kiosk's boot, the bare boot, the peer's boot (when its image exists).
type Row = (Boot, Boot, Option<Boot>);

struct Boot {
    first_frame_s: Option<f64>,
    screen_s: Option<f64>,
    marker_s: Option<f64>,
    memory_kb: Option<u64>,
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let image = vm::image_path().expect("build the image first: image/build.sh");
    let work = root.join("target/vm-bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("bench dir");
    let home = render_home(&root, &work);
    let peer = vm::newest_image_in(&root.join("target/image-peer"));

    println!("appliance boot under QEMU TCG, 2 vCPUs, 1 GiB; {runs} runs each");
    println!("image: {} ({} MiB)", image.display(), mib(&image));
    if let Some(p) = &peer {
        println!("peer:  {} ({} MiB)", p.display(), mib(p));
    }
    let mut rows: Vec<Row> = Vec::new();
    for run in 0..runs {
        let k = boot(
            &image,
            &work.join(format!("kiosk-{run}")),
            Mode::Kiosk(&home),
        );
        let b = boot(&image, &work.join(format!("bare-{run}")), Mode::Bare);
        let p = peer
            .as_ref()
            .map(|p| boot(p, &work.join(format!("peer-{run}")), Mode::Peer));
        println!(
            "run {run}: kiosk first frame {} s (screen {} s, memory {} MiB); bare multi-user {} s; peer first frame {} s (memory {} MiB)",
            fmt(k.first_frame_s),
            fmt(k.screen_s),
            fmt_kb(k.memory_kb),
            fmt(b.marker_s),
            fmt(p.as_ref().and_then(|p| p.screen_s)),
            fmt_kb(p.as_ref().and_then(|p| p.memory_kb)),
        );
        rows.push((k, b, p));
    }
    let mean = |f: &dyn Fn(&Row) -> Option<f64>| {
        let v: Vec<f64> = rows.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let kiosk = mean(&|r| r.0.screen_s);
    let bare = mean(&|r| r.1.marker_s);
    let peer_s = mean(&|r| r.2.as_ref().and_then(|p| p.screen_s));
    let kiosk_mem = mean(&|r| r.0.memory_kb.map(|m| m as f64));
    let peer_mem = mean(&|r| r.2.as_ref().and_then(|p| p.memory_kb).map(|m| m as f64));
    println!(
        "mean: kiosk home screen {} s, bare multi-user {} s",
        fmt(kiosk),
        fmt(bare)
    );
    if let (Some(k), Some(b)) = (kiosk, bare) {
        println!("ratio kiosk/bare: {:.2} (goal <= 1.1)", k / b);
    }
    if let (Some(k), Some(p)) = (kiosk, peer_s) {
        println!("ratio kiosk/peer first frame: {:.2} (goal <= 0.5)", k / p);
    }
    if let (Some(k), Some(p)) = (kiosk_mem, peer_mem) {
        println!(
            "memory at the home screen: kiosk {:.0} MiB, peer {:.0} MiB, ratio {:.2} (goal <= 0.25)",
            k / 1024.0,
            p / 1024.0,
            k / p
        );
    }
}

enum Mode<'a> {
    Kiosk(&'a [u8]),
    Bare,
    Peer,
}

fn boot(image: &Path, dir: &Path, mode: Mode<'_>) -> Boot {
    std::fs::create_dir_all(dir).expect("run dir");
    let disk = dir.join("disk.img");
    vm::copy_disk(image, &disk).expect("disk copy");
    let mut credentials = vec![("okenko.lab_meminfo".to_owned(), "1".to_owned())];
    if matches!(mode, Mode::Bare) {
        credentials.push(("okenko.bare".into(), "1".into()));
    }
    let opts = VmOptions {
        disk: disk.clone(),
        fleet_port: None,
        printer: None,
        card_reader: None,
        credentials,
        memory_mib: 1024,
    };
    let mut vm = Vm::start(dir, &opts).expect("QEMU starts");
    let mut b = Boot {
        first_frame_s: None,
        screen_s: None,
        marker_s: None,
        memory_kb: None,
    };
    let start = vm.started;
    // The peer gets 5 minutes: under emulation its page may never be painted (docs/benchmarks.md).
    let deadline = start
        + match mode {
            Mode::Peer => TIMEOUT / 2,
            _ => TIMEOUT,
        };
    while Instant::now() < deadline {
        let journal = vm.journal();
        let t = start.elapsed().as_secs_f64();
        match mode {
            Mode::Kiosk(home) => {
                if b.first_frame_s.is_none() && journal.contains("kiosk-app: first frame shown") {
                    b.first_frame_s = Some(t);
                }
                if b.screen_s.is_none()
                    && let Ok((_, _, px)) = vm.screen()
                    && vm::pixel_difference(&px[1280 * 100 * 3..], &home[1280 * 100 * 3..], 40)
                        < 0.01
                {
                    b.screen_s = Some(t);
                }
                if b.screen_s.is_some() && b.first_frame_s.is_some() {
                    break;
                }
            }
            Mode::Bare => {
                if journal.contains("Reached target multi-user.target") {
                    b.marker_s = Some(t);
                    break;
                }
            }
            Mode::Peer => {
                if b.screen_s.is_none()
                    && let Ok((_, _, px)) = vm.screen()
                    && background_share(&px) > 0.4
                {
                    b.screen_s = Some(t);
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    if !matches!(mode, Mode::Bare) {
        // Memory once the screen has settled: the newest of the lab unit's lines after 20 s.
        std::thread::sleep(Duration::from_secs(20));
        b.memory_kb = vm
            .journal()
            .lines()
            .filter_map(|l| l.split("okenko-lab: memory in use ").nth(1))
            .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .next_back();
        let _ = vm.screendump(&dir.join("settled.png"));
    }
    // Where the boot's time went (the lab's systemd-analyze), once per mode and run.
    if hw_tests::harness::wait_until(Duration::from_secs(120), || {
        vm.journal().contains("okenko-lab: blame")
    }) {
        std::thread::sleep(Duration::from_secs(2));
        for line in vm.journal().lines() {
            if let Some(l) = line.split("okenko-lab: ").nth(1)
                && (l.starts_with("analyze") || l.starts_with("blame"))
            {
                println!("  {}: {l}", dir.display());
            }
        }
    }
    vm.power_cut();
    let _ = std::fs::remove_file(&disk);
    b
}

/// The share of the screen's body in the kiosk's background colour (#f3f5f8, which the peer's
/// page uses too).
fn background_share(px: &[u8]) -> f64 {
    let body = &px[1280 * 100 * 3..];
    let bg = [0xf3u8, 0xf5, 0xf8];
    let n = body
        .chunks(3)
        .filter(|p| p.iter().zip(bg).all(|(a, b)| a.abs_diff(b) <= 4))
        .count();
    n as f64 / (body.len() / 3) as f64
}

fn render_home(root: &Path, work: &Path) -> Vec<u8> {
    let out = work.join("render");
    let ok = std::process::Command::new(root.join("target/debug/kiosk-app"))
        .env("FONTCONFIG_FILE", root.join("assets/fonts/fonts.conf"))
        .arg("--render-screens")
        .arg(&out)
        .args([
            "--only",
            "landscape-normal-cs-home.png",
            "--size",
            "1280x800",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "kiosk-app --render-screens (build it: cargo build -p kiosk-app)"
    );
    vm::read_png_rgb(&out.join("landscape-normal-cs-home.png"))
        .expect("the render")
        .2
}

fn mib(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len() >> 20).unwrap_or(0)
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn fmt_kb(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| format!("{}", v / 1024))
}
