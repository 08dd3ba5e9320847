//! The kiosk computer's health from `/proc` and `/sys`: memory, load, uptime, the hottest
//! thermal zone or hwmon sensor, network link state, and (by `statvfs`) the space on the data
//! partition. Read under a root directory (`/` on a kiosk), so tests
//! can point it at a fake tree. Anything unreadable is left out, never guessed.

use std::path::Path;

use protocol::fleet::SystemHealth;

fn read(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

fn meminfo(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Temperature files, in millidegrees: thermal zones and hwmon `temp*_input` sensors.
fn sensors(root: &Path) -> impl Iterator<Item = std::path::PathBuf> {
    let entries = |dir: &str| {
        std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
    };
    let zones = entries("sys/class/thermal")
        .filter(|(name, _)| name.starts_with("thermal_zone"))
        .map(|(_, path)| path.join("temp"));
    let hwmon = entries("sys/class/hwmon").flat_map(|(_, dir)| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with("temp") && n.ends_with("_input")
            })
            .map(|e| e.path())
    });
    zones.chain(hwmon)
}

/// Size and free space (for an unprivileged process) of the file system holding `dir`, kB.
pub fn disk(dir: &Path) -> Option<(u64, u64)> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    let unit = s.fragment_size() as u64;
    let kb = |blocks: u64| blocks.saturating_mul(unit) / 1024;
    Some((kb(s.blocks() as u64), kb(s.blocks_available() as u64)))
}

/// Reads the health under `root`, with the data partition's space from `data_dir`.
pub fn read_health_with_disk(root: &Path, data_dir: &Path) -> SystemHealth {
    let mut h = read_health(root);
    if let Some((total, free)) = disk(data_dir) {
        h.disk_total_kb = Some(total);
        h.disk_free_kb = Some(free);
    }
    h
}

/// Reads the health under `root`.
pub fn read_health(root: &Path) -> SystemHealth {
    let mem = read(root, "proc/meminfo").unwrap_or_default();
    let uptime = read(root, "proc/uptime")
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .map(|s| s as u64);
    let load1 = read(root, "proc/loadavg").and_then(|l| l.split_whitespace().next()?.parse().ok());
    let temperature_c = sensors(root)
        .filter_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<i64>().ok())
        .filter(|milli| (-40_000..=150_000).contains(milli))
        .max()
        .map(|milli| milli as f32 / 1000.0);
    let (mut links_up, mut links_down) = (Vec::new(), Vec::new());
    for e in std::fs::read_dir(root.join("sys/class/net"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "lo" {
            continue;
        }
        match std::fs::read_to_string(e.path().join("operstate")).map(|s| s.trim().to_owned()) {
            Ok(s) if s == "up" => links_up.push(name),
            Ok(_) => links_down.push(name),
            Err(_) => {}
        }
    }
    links_up.sort();
    links_down.sort();
    SystemHealth {
        temperature_c,
        mem_total_kb: meminfo(&mem, "MemTotal"),
        mem_available_kb: meminfo(&mem, "MemAvailable"),
        uptime_s: uptime,
        load1,
        disk_total_kb: None,
        disk_free_kb: None,
        links_up,
        links_down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_tree_and_leaves_out_what_is_missing() {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let root =
            std::env::temp_dir().join(format!("okenko-sys-{}", protocol::tracking::crockford(&b)));
        let w = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w(
            "proc/meminfo",
            "MemTotal:        4028300 kB\nMemFree:  100 kB\nMemAvailable:    2514000 kB\n",
        );
        w("proc/uptime", "86461.25 170000.00\n");
        w("proc/loadavg", "0.42 0.30 0.20 1/123 4567\n");
        w("sys/class/thermal/thermal_zone0/temp", "48000\n");
        w("sys/class/thermal/thermal_zone1/temp", "61500\n");
        w("sys/class/thermal/thermal_zone2/temp", "garbage\n");
        w("sys/class/thermal/cooling_device0/temp", "99000\n");
        w("sys/class/hwmon/hwmon0/temp1_input", "55000\n");
        w("sys/class/hwmon/hwmon0/temp1_crit", "105000\n");
        w("sys/class/net/lo/operstate", "unknown\n");
        w("sys/class/net/eth0/operstate", "up\n");
        w("sys/class/net/wlan0/operstate", "down\n");
        let h = read_health(&root);
        assert_eq!(h.mem_total_kb, Some(4_028_300));
        assert_eq!(h.mem_available_kb, Some(2_514_000));
        assert_eq!(h.uptime_s, Some(86_461));
        assert_eq!(h.load1, Some(0.42));
        assert_eq!(h.temperature_c, Some(61.5));
        assert_eq!(
            (h.links_up, h.links_down),
            (vec!["eth0".to_owned()], vec!["wlan0".to_owned()])
        );
        w("sys/class/hwmon/hwmon1/temp2_input", "72250\n");
        assert_eq!(read_health(&root).temperature_c, Some(72.25));
        let empty = read_health(&root.join("nothing-here"));
        assert_eq!(empty, SystemHealth::default());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_machine_reports_memory_and_uptime() {
        let h = read_health(Path::new("/"));
        assert!(h.mem_total_kb.unwrap_or(0) > 0 && h.uptime_s.is_some());
    }

    #[test]
    fn data_partition_space_is_read_and_bounded_by_its_size() {
        let dir = std::env::temp_dir();
        let h = read_health_with_disk(Path::new("/"), &dir);
        let (total, free) = (h.disk_total_kb.unwrap(), h.disk_free_kb.unwrap());
        assert!(total > 0 && free <= total, "{free} of {total}");
        assert_eq!(disk(&dir.join("no-such-dir-okenko")), None);
    }
}
