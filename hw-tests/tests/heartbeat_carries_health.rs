//! A kiosk's heartbeat reaches the fleet server with its device states and the computer's
//! health (memory, uptime, load, links), as the fleet's monitoring will use them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::time::Duration;

use hw_tests::harness::{Agent, Fleet, TempDir, demo_catalog, wait_until};
use protocol::fleet::Heartbeat;

#[test]
fn the_heartbeat_carries_devices_and_system_health() {
    let tmp = TempDir::new("heartbeat");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-hb"),
        "",
    );
    assert!(agent.wait_ready(Duration::from_secs(20)));
    let body = || -> Option<serde_json::Value> {
        fleet
            .kiosk_now("kiosk-hb")
            .map(|k| k["heartbeat"].clone())
            .filter(|h| !h.is_null())
    };
    assert!(
        wait_until(Duration::from_secs(20), || body().is_some()),
        "a heartbeat arrived"
    );
    let hb: Heartbeat = serde_json::from_value(body().unwrap()).unwrap();
    assert_eq!(hb.devices.len(), 3);
    let system = hb.system.expect("system health");
    assert!(system.mem_total_kb.unwrap_or(0) > 0, "{system:?}");
    assert!(
        system.uptime_s.is_some() && system.load1.is_some(),
        "{system:?}"
    );
    let kiosk = fleet.kiosk_now("kiosk-hb").unwrap();
    assert!(kiosk["kiosk"]["last_seen"].is_i64(), "{kiosk}");
    // A stopped server has written its newest state into the kiosk's row.
    let mut fleet = fleet;
    fleet.stop();
    let stored: Option<String> = fleet
        .db()
        .query_row(
            "SELECT last_heartbeat FROM kiosks WHERE kiosk_id = 'kiosk-hb'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.is_some_and(|b| b.contains("mem_total_kb")));
}

#[test]
fn a_device_state_change_reaches_the_fleet_before_the_next_heartbeat_is_due() {
    use hw_tests::escpos::sim::{Paper, PrinterSim, PrinterState};
    use protocol::app::{DeviceKind, DeviceState};
    let tmp = TempDir::new("heartbeat-change");
    let fleet = Fleet::start(&tmp.path().join("fleet"), "");
    fleet.publish(&demo_catalog());
    let sim = PrinterSim::start(PrinterState::default()).unwrap();
    // Heartbeats every 10 minutes: only a device change can explain a prompt one.
    let agent = Agent::start(
        &tmp.path().join("agent"),
        &fleet.url(),
        &fleet.token("kiosk-change"),
        &format!(
            "heartbeat_interval_s = 600\n[printer]\npath = \"{}\"\n",
            sim.path().display()
        ),
    );
    assert!(agent.wait_ready(Duration::from_secs(20)));
    let printer_state = || -> Option<DeviceState> {
        let hb: Heartbeat =
            serde_json::from_value(fleet.kiosk_now("kiosk-change")?["heartbeat"].clone()).ok()?;
        hb.devices
            .into_iter()
            .find(|d| d.device == DeviceKind::Printer)
            .map(|d| d.state)
    };
    assert!(
        wait_until(Duration::from_secs(20), || printer_state()
            == Some(DeviceState::Ok)),
        "the printer was reported ready: {:?}",
        printer_state()
    );
    sim.set_state(|s| s.paper = Paper::Out);
    assert!(
        wait_until(Duration::from_secs(30), || printer_state()
            == Some(DeviceState::Fault)),
        "paper out reached the fleet: {:?}",
        printer_state()
    );
}
