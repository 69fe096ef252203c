//! Exit codes and error printing: 0 ok, 1 findings or failed tests, 2 usage or input error.

use std::io::{self, Write};
use std::process::ExitCode;

/// How a command that ran to the end came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything is fine: exit 0.
    Ok,
    /// The command ran, but found problems (lint errors, failed tests, new access): exit 1.
    Findings,
}

/// Exit code for findings and failed tests.
pub(crate) const EXIT_FINDINGS: u8 = 1;
/// Exit code for usage errors and bad input.
pub(crate) const EXIT_ERROR: u8 = 2;

/// Turns a command's result into the process exit code, printing the whole
/// cause chain of an error. A closed stdout (`| head`) exits quietly with 0;
/// only a failure marked by [`crate::stdout`] counts as one, never any other
/// broken pipe (a server that reset the connection mid-upload is an error).
pub(crate) fn finish(result: anyhow::Result<Outcome>) -> ExitCode {
    finish_with_hint(result, |_| None)
}

/// [`finish`], with a `hint:` line after the causes when `hint` has one for the error.
pub(crate) fn finish_with_hint(
    result: anyhow::Result<Outcome>,
    hint: impl Fn(&anyhow::Error) -> Option<String>,
) -> ExitCode {
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(EXIT_FINDINGS),
        Err(err) if crate::stdout::was_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "error: {err}");
            for cause in err.chain().skip(1) {
                let _ = write!(stderr, "\n  caused by: {cause}");
            }
            if let Some(hint) = hint(&err) {
                let _ = write!(stderr, "\nhint: {hint}");
            }
            let _ = writeln!(stderr);
            ExitCode::from(EXIT_ERROR)
        }
    }
}
