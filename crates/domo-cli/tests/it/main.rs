//! Tests that run the `domo` binary and snapshot what a person reads.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, reason = "test helpers fail loudly")]

mod any_row;
mod cli;
mod commands;
mod comment;
mod errors;
mod generate;
mod help;
mod hostile;
mod instance;
mod live;
mod logs;
mod output;
mod planted;
mod report;
mod sdk;
mod serve;
mod sql;
mod streaming;
mod tls;
mod tree;

use std::path::PathBuf;

/// The workspace root: commands run there so that paths in messages read `examples/…`.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The bundled example.
const EXAMPLE: &str = "examples/euler-party";

/// A fixture of this test crate, relative to the workspace root.
fn fixture(name: &str) -> String {
    format!("crates/domo-cli/tests/it/fixtures/{name}")
}

/// Runs `domo` with `args` from the workspace root; returns exit code, stdout and stderr as one text.
fn run(args: &[&str]) -> String {
    run_in(&root(), args)
}

/// Runs `domo` with `args` in `dir`; the transcript: command, exit code, stdout, stderr.
fn run_in(dir: &std::path::Path, args: &[&str]) -> String {
    let output = assert_cmd::cargo::cargo_bin_cmd!("domo")
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let code = output.status.code().map_or_else(|| "signal".to_owned(), |c| c.to_string());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "the binary panicked: {stderr}");
    assert!(!stderr.contains("stack backtrace"), "the binary printed a backtrace: {stderr}");
    let mut text = format!("$ domo {}\nexit: {code}\n", args.join(" "));
    if !stdout.is_empty() {
        text.push_str("--- stdout\n");
        text.push_str(&stdout);
    }
    if !stderr.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&stderr);
    }
    text
}

/// Copies the folder `from` to `to`, with everything under it.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `domo` and returns its exit code and stdout only.
fn run_stdout(args: &[&str]) -> (i32, String) {
    let output =
        assert_cmd::cargo::cargo_bin_cmd!("domo").args(args).current_dir(root()).env("NO_COLOR", "1").output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8(output.stdout).unwrap())
}

/// Snapshots a run under `name`.
macro_rules! check {
    ($name:literal, $args:expr) => {
        insta::assert_snapshot!($name, $crate::run($args))
    };
}
pub(crate) use check;
