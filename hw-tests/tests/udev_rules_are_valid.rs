//! The udev rules parse (with `udevadm verify` where the installed systemd has it, systemd ≥ 253,
//! and always with the checker below), give every kiosk device its stable name, and hand it to
//! the agent's group with systemd tags; the agent's documented defaults use the same names.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::path::Path;

const RULES: &str = include_str!("../../udev-rules/60-okenko-kiosk.rules");
const MATCH_KEYS: &[&str] = &["SUBSYSTEM", "KERNEL", "ATTRS", "ENV", "ACTION", "DRIVERS"];
const ASSIGN_KEYS: &[&str] = &["SYMLINK", "GROUP", "MODE", "TAG", "ENV", "OWNER"];

#[derive(Debug, PartialEq)]
struct Term {
    key: String,
    op: &'static str,
    value: String,
}

/// Parses one rule line into terms, or says what is wrong.
fn parse(line: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '{' || c == '}'))
            .ok_or_else(|| format!("no operator after {rest:?}"))?;
        let key = &rest[..key_end];
        let after = &rest[key_end..];
        let op = ["==", "!=", "+=", "-=", ":=", "="]
            .into_iter()
            .find(|op| after.starts_with(op))
            .ok_or_else(|| format!("unknown operator after {key}"))?;
        let after = &after[op.len()..];
        let body = after
            .strip_prefix('"')
            .ok_or_else(|| format!("{key}: value is not quoted"))?;
        let close = body
            .find('"')
            .ok_or_else(|| format!("{key}: unterminated value"))?;
        let value = &body[..close];
        let base = key.split('{').next().unwrap_or(key);
        let matching = matches!(op, "==" | "!=");
        let known = if matching { MATCH_KEYS } else { ASSIGN_KEYS };
        if !known.contains(&base) {
            return Err(format!(
                "{key}{op} is not a {} key this project uses",
                if matching { "match" } else { "assignment" }
            ));
        }
        if key.contains('{') != matches!(base, "ATTRS" | "ENV") {
            return Err(format!("{key}: attribute braces misplaced"));
        }
        terms.push(Term {
            key: key.to_owned(),
            op,
            value: value.to_owned(),
        });
        rest = body[close + 1..].trim_start();
        rest = match rest.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if rest.is_empty() => rest,
            None => return Err(format!("missing comma before {rest:?}")),
        };
    }
    Ok(terms)
}

fn rules() -> Vec<Vec<Term>> {
    RULES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| parse(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn value<'a>(rule: &'a [Term], key: &str, op: &str) -> Option<&'a str> {
    rule.iter()
        .find(|t| t.key == key && t.op == op)
        .map(|t| t.value.as_str())
}

#[test]
fn every_rule_parses_and_hands_the_device_to_its_group() {
    let rules = rules();
    assert!(rules.len() >= 8);
    for r in &rules {
        // The touchscreen is read by the app (libinput) and the agent; everything else is the
        // agent's alone.
        let group = if value(r, "SYMLINK", "+=") == Some("input/kiosk-touch") {
            "input"
        } else {
            "kiosk"
        };
        assert_eq!(value(r, "GROUP", "="), Some(group), "{r:?}");
        assert_eq!(value(r, "MODE", "="), Some("0660"), "{r:?}");
        assert_eq!(value(r, "TAG", "+="), Some("systemd"), "{r:?}");
        assert!(value(r, "SUBSYSTEM", "==").is_some(), "{r:?}");
        if let Some(v) = value(r, "ATTRS{idVendor}", "==") {
            assert!(
                v.len() == 4
                    && v.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{v}"
            );
        }
    }
    let links: Vec<&str> = rules
        .iter()
        .filter_map(|r| value(r, "SYMLINK", "+="))
        .collect();
    for name in ["kiosk/printer", "kiosk/card-reader", "input/kiosk-touch"] {
        assert!(links.contains(&name), "no rule names /dev/{name}");
    }
    // The USB-serial chips card readers use, as documented in docs/hardware.md.
    let readers = || {
        rules
            .iter()
            .filter(|r| value(r, "SYMLINK", "+=") == Some("kiosk/card-reader"))
    };
    let chips: Vec<(&str, &str)> = readers()
        .filter(|r| value(r, "SUBSYSTEM", "==") == Some("tty"))
        .map(|r| {
            (
                value(r, "ATTRS{idVendor}", "==").unwrap(),
                value(r, "ATTRS{idProduct}", "==").unwrap(),
            )
        })
        .collect();
    for chip in [
        ("0403", "6001"),
        ("10c4", "ea60"),
        ("1a86", "7523"),
        ("067b", "2303"),
    ] {
        assert!(chips.contains(&chip), "{chip:?}");
    }
    // Keyboard-wedge readers: event nodes that libinput must ignore too.
    let wedges: Vec<_> = readers()
        .filter(|r| value(r, "SUBSYSTEM", "==") == Some("input"))
        .collect();
    assert!(wedges.len() >= 2);
    // Every event node that is the agent's alone (the wedges, the headset jack) is one the
    // app's libinput must not try to open.
    let agents_input = rules.iter().filter(|r| {
        value(r, "SUBSYSTEM", "==") == Some("input")
            && value(r, "SYMLINK", "+=").is_some_and(|l| l.starts_with("kiosk/"))
    });
    assert!(
        agents_input.clone().count() > wedges.len(),
        "the headset jack"
    );
    for w in agents_input {
        assert_eq!(
            value(w, "ENV{LIBINPUT_IGNORE_DEVICE}", "="),
            Some("1"),
            "{w:?}"
        );
        assert_eq!(value(w, "KERNEL", "=="), Some("event[0-9]*"));
    }
    let touch = rules
        .iter()
        .find(|r| value(r, "SYMLINK", "+=") == Some("input/kiosk-touch"))
        .unwrap();
    assert_eq!(value(touch, "ENV{ID_INPUT_TOUCHSCREEN}", "=="), Some("1"));
}

/// The groups docs/hardware.md gives a user, from its row in the users table.
fn documented_groups(user: &str) -> Vec<String> {
    let doc = include_str!("../../docs/hardware.md");
    let row = doc
        .lines()
        .find(|l| l.starts_with(&format!("| `{user}` |")))
        .unwrap_or_else(|| panic!("docs/hardware.md has no row for {user}"));
    let groups = row.split('|').nth(2).unwrap();
    groups
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The UI is untrusted: its user reaches the screen and the touchscreen, never the card reader
/// (raw card numbers) or the printer; only the agent's user does.
#[test]
fn only_the_agents_user_reaches_the_printer_and_card_reader() {
    let rules = rules();
    let app = documented_groups("okenko-app");
    let agent = documented_groups("okenko-agent");
    assert!(
        app.contains(&"video".to_owned()) && app.contains(&"input".to_owned()),
        "{app:?}"
    );
    for r in &rules {
        let link = value(r, "SYMLINK", "+=").unwrap();
        let group = value(r, "GROUP", "=").unwrap().to_owned();
        if link.starts_with("kiosk/") {
            assert!(
                !app.contains(&group),
                "the app's groups {app:?} reach {link}"
            );
            assert!(
                agent.contains(&group),
                "the agent's groups {agent:?} miss {link}"
            );
        } else {
            assert!(app.contains(&group), "the app cannot read {link}");
        }
    }
}

#[test]
fn the_checker_refuses_broken_rules() {
    for bad in [
        r#"SUBSYSTEM=="tty" SYMLINK+="x""#,
        r#"SUBSYSTEM=="tty", SYMLINK+="x"#,
        r#"SUBSYSTEM~"tty""#,
        r#"SUBSYSTEM==tty"#,
        r#"FOO=="bar""#,
        r#"ATTRS=="x""#,
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn udevadm_verify_accepts_the_rules_where_it_exists() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../udev-rules/60-okenko-kiosk.rules");
    let Ok(out) = std::process::Command::new("udevadm")
        .arg("verify")
        .arg(&rules)
        .output()
    else {
        eprintln!("udevadm is not installed; the checker above stands in");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Unknown command") {
        eprintln!("this udevadm has no 'verify' (systemd < 253); the checker above stands in");
        return;
    }
    assert!(out.status.success(), "udevadm verify: {stderr}");
}

#[test]
fn the_agent_uses_these_names_by_default() {
    // The example configuration names them, and the agent falls back to them when a section
    // names no path (read through the agent's own configuration code).
    let example = include_str!("../../kiosk-agent/agent.example.toml");
    assert!(example.contains("path = \"/dev/kiosk/printer\""));
    assert!(example.contains("path = \"/dev/kiosk/card-reader\""));
    assert!(example.contains("path = \"/dev/input/kiosk-touch\""));
    let c = kiosk_agent::config::Config::from_toml(
        "[agent]\n[fleet]\nurl = \"https://fleet.example.cz\"\n[printer]\n[card_reader]\n\
         key_file = \"/k\"\n[touchscreen]\n",
    )
    .expect("sections without paths are a valid configuration");
    use kiosk_agent::devices::printer::Transport;
    match c.printer_transport() {
        Some(Transport::Serial { path, .. } | Transport::UsbLp { path }) => {
            assert_eq!(path, std::path::Path::new("/dev/kiosk/printer"));
        }
        other => panic!("the default printer is {other:?}"),
    }
    assert_eq!(
        c.card_reader.expect("[card_reader]").path,
        std::path::Path::new("/dev/kiosk/card-reader")
    );
    assert_eq!(
        c.touchscreen.expect("[touchscreen]").path,
        "/dev/input/kiosk-touch"
    );
}
