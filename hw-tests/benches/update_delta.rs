//! What a release that changes only the agent binary costs to send to each kiosk: the full
//! RAUC bundle against a block-level delta (what RAUC's adaptive `block-hash-index` mode
//! fetches when it streams a bundle: only the 4 KiB blocks of the new root whose hash the kiosk
//! does not already have in a slot).
//!
//! Takes the image's root (`target/image/okenko-<v>.root.ext4`), makes the next release's root
//! from a copy with a new `/usr/bin/kiosk-agent` (same size, every block new: the worst case for
//! a rebuilt binary), builds both bundles with the image's keys as `image/build.sh` does, and
//! counts. Needs `rauc`, `debugfs`, `zstd` and the image.
//!
//! `cargo bench -p hw-tests --bench update_delta`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench: a failed set-up should fail loudly

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BLOCK: usize = 4096;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the program runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A RAUC verity bundle of `root` (as image/build.sh makes it); its size.
fn bundle(root: &Path, work: &Path, name: &str, keys: &Path) -> u64 {
    let dir = work.join(format!("bundle-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root, dir.join("rootfs.ext4")).unwrap();
    std::fs::write(
        dir.join("manifest.raucm"),
        format!(
            "[update]\ncompatible=okenko-x86_64\nversion={name}\n\n[bundle]\nformat=verity\n\n\
             [image.rootfs]\nfilename=rootfs.ext4\n"
        ),
    )
    .unwrap();
    let out = work.join(format!("{name}.raucb"));
    let _ = std::fs::remove_file(&out);
    run(Command::new("rauc")
        .arg(format!("--cert={}", keys.join("rauc-signer.pem").display()))
        .arg(format!("--key={}", keys.join("rauc-signer.key").display()))
        .arg("--mksquashfs-args=-comp zstd -Xcompression-level 6 -quiet")
        .arg("bundle")
        .arg(&dir)
        .arg(&out));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::metadata(&out).unwrap().len()
}

fn blocks(image: &[u8]) -> impl Iterator<Item = &[u8]> {
    image.chunks(BLOCK)
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = repo.join("target/image");
    let root: PathBuf = std::fs::read_dir(&dir)
        .expect("target/image: run image/build.sh first")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".root.ext4"))
        .max()
        .expect("a root file system in target/image");
    let keys = repo.join("target/image-keys");
    let work = repo.join("target/bench-update-delta");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    // The next release: the same root with another agent binary of the same size.
    let next = work.join("next.root.ext4");
    std::fs::copy(&root, &next).unwrap();
    let agent = work.join("kiosk-agent");
    let dump = Command::new("debugfs")
        .args(["-R", "cat /usr/bin/kiosk-agent"])
        .arg(&root)
        .output()
        .unwrap();
    let old_agent = dump.stdout;
    assert!(old_agent.len() > 1 << 20, "the agent binary is in the root");
    // Every byte different from the old one (and from any block elsewhere in the root).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let new_agent: Vec<u8> = old_agent
        .iter()
        .map(|b| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b ^ (x as u8 | 1)
        })
        .collect();
    std::fs::write(&agent, &new_agent).unwrap();
    let cmds = format!(
        "rm /usr/bin/kiosk-agent\nwrite {} /usr/bin/kiosk-agent\nsif /usr/bin/kiosk-agent mode 0100755\n",
        agent.display()
    );
    let mut child = Command::new("debugfs")
        .args(["-w", "-f", "-"])
        .arg(&next)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(cmds.as_bytes())
            .unwrap();
    }
    assert!(child.wait().unwrap().success());

    let old = std::fs::read(&root).unwrap();
    let new = std::fs::read(&next).unwrap();
    let have: HashSet<String> = blocks(&old).map(protocol::sha256_hex).collect();
    let mut missing = Vec::new();
    let mut changed_in_place = 0usize;
    for (i, b) in blocks(&new).enumerate() {
        if !have.contains(&protocol::sha256_hex(b)) {
            missing.extend_from_slice(b);
        }
        if old.get(i * BLOCK..(i + 1) * BLOCK) != Some(b) {
            changed_in_place += 1;
        }
    }
    std::fs::write(work.join("missing.blocks"), &missing).unwrap();
    run(Command::new("zstd")
        .args(["-q", "-6", "-f"])
        .arg(work.join("missing.blocks"))
        .arg("-o")
        .arg(work.join("missing.blocks.zst")));
    let missing_zst = std::fs::metadata(work.join("missing.blocks.zst"))
        .unwrap()
        .len();

    let t = std::time::Instant::now();
    let full_bundle = bundle(&next, &work, "next", &keys);
    let bundle_s = t.elapsed().as_secs_f64();
    let used_blocks = blocks(&new).filter(|b| b.iter().any(|&x| x != 0)).count();
    let mib = |n: u64| n as f64 / 1048576.0;
    println!("update_delta: a release that changes only kiosk-agent");
    println!(
        "  agent binary            {:>9.1} MiB",
        mib(new_agent.len() as u64)
    );
    println!(
        "  root file system        {:>9.1} MiB ({:.1} MiB of it in use)",
        mib(new.len() as u64),
        mib((used_blocks * BLOCK) as u64)
    );
    println!(
        "  full bundle (verity, zstd squashfs) {:>9.1} MiB, built in {bundle_s:.0} s",
        mib(full_bundle)
    );
    println!(
        "  blocks changed in place {:>9} ({:.1} MiB)",
        changed_in_place,
        mib((changed_in_place * BLOCK) as u64)
    );
    println!(
        "  blocks the kiosk lacks  {:>9} ({:.1} MiB raw, {:.1} MiB zstd -6)",
        missing.len() / BLOCK,
        mib(missing.len() as u64),
        mib(missing_zst)
    );
    println!(
        "  delta / full bundle     {:>9.1} %",
        missing_zst as f64 * 100.0 / full_bundle as f64
    );
    let _ = std::fs::remove_dir_all(&work);
}
