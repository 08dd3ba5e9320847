//! The one place the agent starts other programs (`Command::new` is disallowed elsewhere in
//! this crate, see its `clippy.toml`): each with its standard input closed, a time limit where
//! it is waited for, and an error that names the program. The power actions the fleet and the
//! technician ask for are in [`crate::power`], on top of this.

#![allow(clippy::disallowed_methods)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Why a program did not give what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// Nothing is configured for this action.
    #[error("{0} is not configured on this kiosk")]
    NotConfigured(String),
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Start {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It ran past its time limit and was killed.
    #[error("{program} did not finish within {} s", limit.as_secs())]
    TimedOut {
        /// The program.
        program: String,
        /// The limit.
        limit: Duration,
    },
    /// It ended with a failure status.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program and its arguments.
        program: String,
        /// Its exit.
        status: ExitStatus,
        /// The end of its standard error.
        stderr: String,
    },
    /// Waiting for it failed.
    #[error("{program}: {source}")]
    Wait {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How a program ended: its status and the end of its output (standard output, then error).
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its exit.
    pub status: ExitStatus,
    /// At most the last 4,000 characters of what it printed.
    pub tail: String,
}

/// Runs `argv` (program, then arguments) for at most `limit`, whatever its status.
pub fn run_for(argv: &[String], limit: Duration) -> Result<Finished, ProgramError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(ProgramError::NotConfigured("the program".into()));
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ProgramError::Start {
            program: program.clone(),
            source,
        })?;
    let end = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProgramError::TimedOut {
                    program: program.clone(),
                    limit,
                });
            }
            Err(source) => {
                return Err(ProgramError::Wait {
                    program: program.clone(),
                    source,
                });
            }
        }
    };
    let text = child
        .wait_with_output()
        .map(|o| {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            text
        })
        .unwrap_or_default();
    Ok(Finished {
        status,
        tail: tail(&text, 4000),
    })
}

/// Runs `program args` to its end: its standard output when it succeeds.
pub fn output(program: &str, args: &[&str]) -> Result<String, ProgramError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ProgramError::Start {
            program: program.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(ProgramError::Failed {
            program: format!("{program} {}", args.join(" ")),
            status: out.status,
            stderr: tail(String::from_utf8_lossy(&out.stderr).trim(), 1000),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `argv` runs and exits with success (a check, its output ignored).
pub fn succeeds(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `program` in `dir` in a process group of its own (so it can be stopped with all its
/// children), with `env` set; it runs on beside the agent.
pub fn spawn_in_group(
    program: &Path,
    args: &[String],
    dir: &Path,
    env: (&str, &OsStr),
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env(env.0, env.1)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Starts `program` with `args` in a process group of its own, its output to `stdout` and its
/// input from `stdin` (another program's output, or nothing): the speech pipeline, which the
/// agent stops by killing the group.
pub fn spawn_piped(
    program: &Path,
    args: &[String],
    stdin: Stdio,
    stdout: Stdio,
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new(program)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Replaces this process with the same program and arguments (same process id, so systemd's
/// watchdog and notifications follow); returns only when that failed.
pub fn exec_self() -> std::io::Error {
    use std::os::unix::process::CommandExt;
    match std::env::current_exe() {
        Ok(exe) => Command::new(exe).args(std::env::args_os().skip(1)).exec(),
        Err(e) => e,
    }
}

/// The last `max` characters of `text`.
fn tail(text: &str, max: usize) -> String {
    let skip = text.chars().count().saturating_sub(max);
    text.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_program_that_hangs_is_killed_at_its_limit() {
        let e = run_for(&argv(&["sleep", "30"]), Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, ProgramError::TimedOut { .. }), "{e}");
    }

    #[test]
    fn output_and_status_come_back() {
        let f = run_for(
            &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(f.status.code(), Some(3));
        assert_eq!(f.tail, "out\nerr\n");
        assert!(succeeds(&argv(&["true"])));
        assert!(!succeeds(&argv(&["false"])));
        assert!(!succeeds(&[]));
    }

    #[test]
    fn failures_name_the_program() {
        let e = output("sh", &["-c", "echo broken >&2; exit 1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sh -c echo broken >&2; exit 1 failed (exit status: 1): broken"
        );
        let e = output("/nonexistent/okenko-program", &[]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot start /nonexistent/okenko-program"),
            "{e}"
        );
        assert!(matches!(
            run_for(&[], Duration::from_secs(1)),
            Err(ProgramError::NotConfigured(_))
        ));
    }

    #[test]
    fn the_tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("žluť", 10), "žluť");
    }
}
