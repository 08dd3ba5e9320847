//! Every program's command line behaves as people expect: `--help` prints the usage on
//! standard output and exits 0, without starting anything (`kiosk-app --help` used to start the
//! app, `fleetctl --help` to exit 1); each subcommand has its own `--help`; `--version` prints
//! the version; an unknown flag is an error that names it, exits 2 and starts nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed set-up should fail loudly

use std::process::{Command, Output, Stdio};

use hw_tests::harness::bin;

/// Every program, and for each its subcommands (with their own `--help`).
const PROGRAMS: &[(&str, &[&[&str]])] = &[
    (
        "fleet-server",
        &[
            &["serve"],
            &["token"],
            &["publish"],
            &["user"],
            &["user", "add"],
            &["console-code"],
        ],
    ),
    (
        "fleetctl",
        &[
            &["key"],
            &["key", "new"],
            &["release"],
            &["release", "sign"],
            &["release", "upload"],
            &["login"],
            &["rollout"],
            &["rollout", "create"],
            &["rollout", "expand"],
            &["rollback"],
            &["status"],
        ],
    ),
    ("kiosk-agent", &[]),
    (
        "kioskctl",
        &[
            &["info"],
            &["catalog"],
            &["submit"],
            &["status"],
            &["print"],
        ],
    ),
    ("kiosk-app", &[]),
    ("kiosk-sim", &[]),
    ("escpos-sim", &[&["decode"], &["serve"]]),
    ("kiosk-hwtest", &[]),
    ("touch-sim", &[&["serve"], &["corners"]]),
    ("agenda-ref", &[]),
    ("console-pty", &[]),
];

/// Runs `program args…` with nothing on standard input and no display, so that a program
/// that started for real instead of answering would fail or hang visibly (the harness's
/// time-out), not open a window.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(bin(program))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("OKENKO_SOCKET", "/nonexistent/agent.sock")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_is_on_stdout_and_exits_zero_for_every_program_and_subcommand() {
    for (program, subcommands) in PROGRAMS {
        let out = run(program, &["--help"]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "{program} --help: {:?}\n{}",
            out.status,
            text(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("Usage: {program}")),
            "{program} --help printed:\n{stdout}"
        );
        assert!(out.stderr.is_empty(), "{program} --help wrote to stderr");
        for sub in *subcommands {
            let mut args = sub.to_vec();
            args.push("--help");
            let out = run(program, &args);
            let stdout = text(&out.stdout);
            let usage = format!("Usage: {program} {}", sub.join(" "));
            assert!(
                out.status.success() && stdout.contains(&usage),
                "{program} {}: {:?}\n{stdout}{}",
                args.join(" "),
                out.status,
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn version_names_the_program_and_its_version() {
    for (program, _) in PROGRAMS {
        let out = run(program, &["--version"]);
        assert!(
            out.status.success(),
            "{program} --version: {:?}",
            out.status
        );
        assert_eq!(
            text(&out.stdout).trim(),
            format!("{program} {}", env!("CARGO_PKG_VERSION")),
        );
    }
}

#[test]
fn an_unknown_flag_is_named_and_exits_two() {
    for (program, subcommands) in PROGRAMS {
        let mut places: Vec<Vec<&str>> = vec![vec![]];
        places.extend(subcommands.iter().map(|s| s.to_vec()));
        for mut args in places {
            args.push("--frobnicate");
            usage_error(program, &args, "'--frobnicate'");
        }
    }
}

#[test]
fn a_missing_argument_or_a_bad_value_is_a_usage_error() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("fleetctl", &["rollout", "expand", "3"], "--percent"),
        (
            "fleetctl",
            &["rollout", "expand", "3", "--percent", "101"],
            "101",
        ),
        ("fleetctl", &["key", "new"], "<KEYFILE>"),
        ("fleet-server", &["token"], "<KIOSK_ID>"),
        ("kiosk-app", &["--size", "10x10"], "10x10"),
        ("kiosk-app", &["--only", "home"], "--render-screens"),
        (
            "kiosk-sim",
            &["--fleet", "http://127.0.0.1:1"],
            "--admin-token",
        ),
        ("kiosk-hwtest", &["--baud", "fast"], "fast"),
        ("escpos-sim", &["decode", "--paper-width", "70"], "70"),
    ];
    for (program, args, named) in cases {
        usage_error(program, args, named);
    }
}

/// `program args…` is refused as a usage error (status 2, nothing on stdout) that names
/// `named`.
fn usage_error(program: &str, args: &[&str], named: &str) {
    let out = run(program, args);
    let stderr = text(&out.stderr);
    let call = format!("{program} {}", args.join(" "));
    assert_eq!(out.status.code(), Some(2), "{call}: {stderr}");
    assert!(
        stderr.contains(named),
        "{call}: the error names {named}: {stderr}"
    );
    assert!(out.stdout.is_empty(), "{call} printed on stdout");
}
