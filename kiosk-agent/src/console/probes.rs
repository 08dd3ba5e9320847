//! What the console reports: the kiosk's status, its devices, the update, the network.

#[allow(clippy::wildcard_imports)] // the session's helpers, shared with mod.rs
use super::*;

impl Console<'_> {
    pub(super) fn status(&self) -> String {
        let mut s = String::new();
        let health = crate::devices::system::read_health_with_disk(
            std::path::Path::new("/"),
            &self.agent.config.agent.data_dir,
        );
        let _ = writeln!(s, "agent      {}", env!("CARGO_PKG_VERSION"));
        if let Some(u) = health.uptime_s {
            let _ = writeln!(s, "uptime     {}", protocol::time::days_hours_minutes(u));
        }
        // The updater knows the slot it booted (either backend); the kernel's word otherwise.
        let slot = match self.agent.updates.as_ref().and_then(|u| u.report()) {
            Some(r) => format!("{} (release {})", r.slot, r.running),
            None => boot_slot(),
        };
        let _ = writeln!(s, "boot slot  {slot}");
        let _ = writeln!(s, "root       {}", root_mount());
        let _ = writeln!(s, "memory     {}", memory_in_use());
        let contact = self.agent.contact.now();
        let now = crate::store::now_ms();
        let _ = writeln!(
            s,
            "fleet      {} ({})",
            self.agent.fleet.base(),
            match (&contact.last_error, contact.last_ok_at) {
                (Some(e), _) => format!("failing: {e}"),
                (None, Some(_)) => "connected".into(),
                (None, None) => "not contacted yet".into(),
            }
        );
        let _ = writeln!(
            s,
            "heartbeat  {}",
            contact
                .last_ok_at
                .map_or("none answered yet".into(), |t| format!(
                    "{} s ago",
                    (now - t) / 1000
                ))
        );
        match self.agent.store.now(|st| st.outbox_stats()) {
            Ok(o) => {
                let _ = write!(
                    s,
                    "outbox     {} waiting{}, {} refused",
                    o.queued,
                    o.oldest_queued_at.map_or(String::new(), |t| format!(
                        ", oldest {} min",
                        (now - t) / 60_000
                    )),
                    o.rejected
                );
            }
            Err(e) => {
                let _ = write!(s, "outbox     cannot read the database: {e}");
            }
        }
        s
    }

    pub(super) fn devices(&self) -> String {
        let mut s = String::new();
        for d in self.agent.devices.statuses() {
            let _ = writeln!(
                s,
                "{:<12} {:<15} {}",
                d.device.words(),
                d.state.words(),
                d.detail.unwrap_or_default()
            );
        }
        s.trim_end().to_owned()
    }

    pub(super) fn printer_status(&self) -> String {
        match &self.agent.devices.printer {
            None => "no printer configured".into(),
            Some(p) => {
                let d = p.refresh();
                format!(
                    "printer {}{}",
                    d.state.words(),
                    d.detail.map(|x| format!(": {x}")).unwrap_or_default()
                )
            }
        }
    }

    pub(super) fn update_status(&self) -> String {
        let agent = format!("agent {}", env!("CARGO_PKG_VERSION"));
        let Some(up) = &self.agent.updates else {
            return format!(
                "updates are not configured on this kiosk ([update] in agent.toml); {agent}"
            );
        };
        let Some(r) = up.report() else {
            return format!("the updater is starting; {agent}");
        };
        let mut out = format!("release: {} (slot {}); {agent}\n", r.running, r.slot);
        let what = match (&r.target, r.rollout_id) {
            (Some(t), Some(id)) => format!(" {t} (rollout {id})"),
            (Some(t), None) => format!(" {t}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "update:  {}{what}{}, since {}",
            r.state.as_str().replace('_', " "),
            r.progress.map(|p| format!(", {p} %")).unwrap_or_default(),
            protocol::time::format_czech(r.since)
        ));
        if let Some(why) = &r.reason {
            out.push_str(&format!("\nreason:  {why}"));
        }
        out
    }

    pub(super) fn net(&self) -> String {
        let mut s = String::new();
        let health = crate::devices::system::read_health(std::path::Path::new("/"));
        let _ = writeln!(
            s,
            "links      {}",
            if health.links_up.is_empty() {
                "none up".into()
            } else {
                health.links_up.join(", ")
            }
        );
        let _ = writeln!(s, "addresses  {}", addresses());
        let dns: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver").map(|n| n.trim().to_owned()))
            .collect();
        let _ = writeln!(
            s,
            "dns        {}",
            if dns.is_empty() {
                "none configured".into()
            } else {
                dns.join(", ")
            }
        );
        if !crate::provision::is_provisioned(&self.agent.config) {
            let _ = writeln!(s, "fleet      not provisioned yet (enrol)");
            let _ = write!(s, "time       {}", time_sync());
            return s;
        }
        let base = self.agent.fleet.base();
        let host = base.host_str().unwrap_or_default().to_owned();
        let port = base.port_or_known_default().unwrap_or(443);
        let _ = writeln!(
            s,
            "resolve    {host}: {}",
            match std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)) {
                Ok(a) => a.map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", "),
                Err(e) => format!("FAILED ({e})"),
            }
        );
        let probe = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), self.agent.fleet.probe()).await
        });
        let _ = writeln!(
            s,
            "fleet      {base}: {}",
            match probe {
                Ok(Ok(d)) => format!(
                    "reachable{}, answered in {} ms",
                    if base.scheme() == "https" {
                        ", TLS handshake OK"
                    } else {
                        ""
                    },
                    d.as_millis()
                ),
                Ok(Err(e)) => format!("FAILED: {e}"),
                Err(_) => "FAILED: no answer in 10 s".into(),
            }
        );
        let _ = write!(s, "time       {}", time_sync());
        s
    }
}

/// Memory in use (MemTotal − MemAvailable) of the total, from `/proc/meminfo`.
fn memory_in_use() -> String {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    match (kb("MemTotal:"), kb("MemAvailable:")) {
        (Some(t), Some(a)) => format!(
            "{} MiB in use of {} MiB",
            t.saturating_sub(a) / 1024,
            t / 1024
        ),
        _ => "unknown".into(),
    }
}

/// The root file system's device and whether it is mounted read-only, from `/proc/mounts`.
fn root_mount() -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"/")).then(|| (f[0].to_owned(), f.get(3).copied().unwrap_or("")))
        })
        .next_back()
        .map_or("unknown".into(), |(dev, opts)| {
            let ro = opts.split(',').any(|o| o == "ro");
            format!("{dev} {}", if ro { "read-only" } else { "read-write" })
        })
}

/// The slot the system booted from: RAUC's `rauc.slot=` on the kernel command line.
fn boot_slot() -> String {
    std::fs::read_to_string("/proc/cmdline")
        .ok()
        .and_then(|c| {
            c.split_whitespace()
                .find_map(|w| w.strip_prefix("rauc.slot=").map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown (not an A/B appliance image)".into())
}

/// The IPv4 and IPv6 addresses of the interfaces, from `ip -brief address` when available.
fn addresses() -> String {
    match crate::programs::output("ip", &["-brief", "address"]) {
        Ok(text) => {
            let v: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with("lo "))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            if v.is_empty() {
                "none".into()
            } else {
                v.join("; ")
            }
        }
        _ => "unknown (no ip command)".into(),
    }
}

/// Whether the clock is synchronised (systemd-timesyncd's flag), and the local time.
fn time_sync() -> String {
    let synced = std::path::Path::new("/run/systemd/timesync/synchronized").exists();
    format!(
        "{} ({})",
        protocol::time::format_czech(crate::store::now_ms()),
        if synced {
            "synchronised"
        } else {
            "not known to be synchronised"
        }
    )
}
