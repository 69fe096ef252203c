//! The command line itself: help with examples, version, completions, usage errors.

use crate::{check, run_stdout};

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

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // Far more output than a pipe buffers, so the writer meets a closed pipe.
    let dir = std::env::temp_dir().join(format!("domo-cli-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.csv");
    let mut csv = String::from("Friend,Attending\n");
    for i in 0..50_000 {
        csv.push_str(&format!("Guest number {i},TRUE\n"));
    }
    std::fs::write(&data, csv).unwrap();
    for format in ["csv", "table", "json"] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("domo"))
            .args(["pdp", "preview", "examples/euler-party", "--user", "50", "--format", format, "--data"])
            .arg(&data)
            .current_dir(crate::root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut start = [0u8; 16];
        stdout.read_exact(&mut start).unwrap();
        drop(stdout);
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{format}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "", "{format}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
