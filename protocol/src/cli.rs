//! What every program's `main` does with its result: success, or the error and its causes on
//! one line of standard error (`fleetctl: cannot read key.pk8: No such file or directory`) and
//! exit status 1. Standard output closed by its reader (`fleetctl status | head`) is not an
//! error: the program ends quietly. Command-line mistakes never get here: the parser (clap)
//! prints them with the usage and exits with status 2.

use std::error::Error;
use std::process::ExitCode;

/// The exit code for `result`, after printing an error as `program: error: cause: cause`.
pub fn finish<E>(program: &str, result: Result<(), E>) -> ExitCode
where
    E: AsRef<dyn Error + Send + Sync + 'static>,
{
    let Err(e) = result else {
        return ExitCode::SUCCESS;
    };
    let mut causes = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e.as_ref());
    while let Some(cause) = next {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return ExitCode::SUCCESS;
        }
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes.dedup();
    eprintln!("{program}: {}", causes.join(": "));
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read key.pk8")]
    struct Outer(#[source] std::io::Error);

    type Boxed = Box<dyn Error + Send + Sync>;

    #[test]
    fn a_closed_pipe_is_success_and_other_errors_are_failure() {
        let pipe: Boxed = Box::new(Outer(std::io::ErrorKind::BrokenPipe.into()));
        assert_eq!(finish("t", Err(pipe)), ExitCode::SUCCESS);
        let missing: Boxed = Box::new(Outer(std::io::ErrorKind::NotFound.into()));
        assert_eq!(finish("t", Err(missing)), ExitCode::FAILURE);
        assert_eq!(finish::<Boxed>("t", Ok(())), ExitCode::SUCCESS);
    }
}
