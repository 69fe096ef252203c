//! The README's live quickstart, run as written: `domo serve` from its first block, then its second block through bash.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

/// The heading of the README section whose blocks are run.
const SECTION: &str = "## Quick start against the live API";
/// The address the README uses; the test's emulator listens on a free port instead.
const README_HOST: &str = "http://127.0.0.1:8470";

/// The fenced `sh` blocks of the README section, in order.
fn readme_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(crate::root().join("README.md")).unwrap();
    let start = readme.find(SECTION).unwrap_or_else(|| panic!("README.md has no `{SECTION}`"));
    let section = &readme[start + SECTION.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").unwrap();
        blocks.push(body[..close].to_owned());
        rest = &body[close + 3..];
    }
    blocks
}

#[test]
fn the_readme_quickstart_runs_as_written_against_domo_serve() {
    let blocks = readme_blocks();
    assert!(blocks.len() >= 2, "the section needs the serve block and the commands block");
    let serve_line = blocks[0].lines().find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).unwrap();
    assert!(serve_line.starts_with("domo serve ") && !serve_line.contains(['"', '\'', '$']), "{serve_line}");
    let script = &blocks[1];
    assert!(script.contains(README_HOST), "the commands talk to {README_HOST}");

    let temp = tempfile::tempdir().unwrap();
    let work = temp.path();
    std::os::unix::fs::symlink(crate::root().join("examples"), work.join("examples")).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_domo")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let clean = |command: &mut Command| {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOMO_") {
                command.env_remove(key);
            }
        }
        command.current_dir(work).env("PATH", &path).env("HOME", work.join("home")).env("NO_COLOR", "1");
    };

    // Terminal 1, on a free port and a scratch data folder.
    let args: Vec<&str> = serve_line.split_whitespace().skip(1).collect();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_domo"));
    serve.args(&args).args(["--port", "0", "--data-dir", "serve-data"]).stdout(Stdio::piped()).stderr(Stdio::null());
    clean(&mut serve);
    let mut server = serve.spawn().unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("Domo API emulator listening on ").map(str::to_owned))
        .unwrap_or_else(|| panic!("domo serve did not start"));
    std::thread::spawn(move || lines.for_each(drop));

    // Terminal 2, as written but for the port.
    let mut bash = Command::new("bash");
    bash.args(["-euo", "pipefail", "-c", &script.replace(README_HOST, &url)]);
    clean(&mut bash);
    let output = bash.output().unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "the quickstart failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("acts as:   user 1001 `Leonhard Euler`"), "{stdout}");
    assert!(stdout.contains("PDP enabled on DataSet"), "{stdout}");
    assert!(
        stdout
            .ends_with("Friend,Attending\nAlan Turing,TRUE\nGeorge Boole,TRUE\nBrook Taylor,TRUE\nAda Lovelace,TRUE\n"),
        "the preview as user 27 shows the four attendees:\n{stdout}"
    );
    assert!(work.join("euler-live/policies.json").exists());
}
