//! The command line itself: help with examples, version, completions, usage errors.

use crate::{check, run_stdout};

#[test]
fn every_command_help_shows_an_example() {
    for command in ["preview", "matrix", "who", "explain", "lint", "diff", "test"] {
        let (code, stdout) = run_stdout(&["pdp", command, "--help"]);
        assert_eq!(code, 0, "{command}");
        assert!(
            stdout.contains(&format!("domo pdp {command} examples/euler-party")),
            "{command} --help has no example:\n{stdout}"
        );
    }
}

#[test]
fn pdp_help() {
    check!("help_pdp", &["pdp", "--help"]);
}

#[test]
fn test_help_documents_the_format() {
    check!("help_test", &["pdp", "test", "--help"]);
}

#[test]
fn version() {
    let (code, stdout) = run_stdout(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, format!("domo {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout) = run_stdout(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(stdout.contains("preview") && stdout.contains("fail-on-new-access"), "{shell}");
    }
}

#[test]
fn usage_errors_exit_2() {
    check!("usage_missing_user", &["pdp", "preview", "examples/euler-party"]);
    check!("usage_bad_format", &["pdp", "matrix", "examples/euler-party", "--format", "xml"]);
    check!("usage_bad_user_id", &["pdp", "preview", "examples/euler-party", "--user", "abc"]);
}
