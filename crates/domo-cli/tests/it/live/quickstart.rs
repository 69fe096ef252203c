//! The README's live quickstart, run as written: `domo serve` from its first block, then its second block through
//! bash, twice against one emulator and once more against a restarted one, with the same output each time.

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

/// One emulator started from the README's serve line, as terminal 1 runs it.
struct Terminal1 {
    server: std::process::Child,
    url: String,
    data_folder: std::path::PathBuf,
}

impl Terminal1 {
    fn start(serve_line: &str, env: &dyn Fn(&mut Command)) -> Self {
        let args: Vec<&str> = serve_line.split_whitespace().skip(1).collect();
        let mut serve = Command::new(env!("CARGO_BIN_EXE_domo"));
        serve.args(&args).args(["--port", "0"]).stdout(Stdio::piped()).stderr(Stdio::null());
        env(&mut serve);
        let mut server = serve.spawn().unwrap();
        let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
        let (mut url, mut data_folder) = (None, None);
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Domo API emulator listening on ") {
                url = Some(rest.to_owned());
            }
            if let Some(rest) = line.strip_prefix("data folder: ") {
                data_folder = Some(rest.trim_end_matches(" (temporary: removed when it stops)").into());
            }
            if line == "Ctrl-C stops it." {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let (Some(url), Some(data_folder)) = (url, data_folder) else { panic!("domo serve did not start") };
        Self { server, url, data_folder }
    }

    /// Stops it as Ctrl-C would.
    fn stop(mut self) {
        Command::new("kill").args(["-INT", &self.server.id().to_string()]).status().unwrap();
        assert!(self.server.wait().unwrap().success());
    }
}

/// Terminal 2: the commands block as written but for the port; stdout and stderr with what differs between
/// runs by design (the port, the new DataSet's id, the temporary folder, times and rates) replaced.
fn terminal2(script: &str, url: &str, env: &dyn Fn(&mut Command)) -> (String, String) {
    let mut bash = Command::new("bash");
    bash.args(["-euo", "pipefail", "-c", &script.replace(README_HOST, url)]);
    env(&mut bash);
    let output = bash.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "the quickstart failed:\n{stdout}\n{stderr}");
    let uuid = regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let temp = regex::Regex::new(r"`/[^`]*/tmp\.[A-Za-z0-9]+/").unwrap();
    let timing = regex::Regex::new(r" in [0-9.]+(ms|s)( \([0-9.]+ [KMG]?i?B/s\))?").unwrap();
    let normal = |text: &str| {
        let text = text.replace(url, README_HOST);
        let text = uuid.replace_all(&text, "$$ID");
        let text = temp.replace_all(&text, "`$$DIR/");
        timing.replace_all(&text, " in TIME").into_owned()
    };
    (normal(&stdout), normal(&stderr))
}

#[test]
fn the_readme_quickstart_runs_as_written_against_domo_serve_and_again_with_the_same_output() {
    let blocks = readme_blocks();
    assert!(blocks.len() >= 2, "the section needs the serve block and the commands block");
    let serve_line = blocks[0].lines().find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()).unwrap();
    assert!(serve_line.starts_with("domo serve ") && !serve_line.contains(['"', '\'', '$']), "{serve_line}");
    let script = &blocks[1];
    assert!(script.contains(README_HOST), "the commands talk to {README_HOST}");

    let temp = tempfile::tempdir().unwrap();
    let work = temp.path().join("checkout");
    let (home, tmp) = (temp.path().join("home"), temp.path().join("tmp"));
    for dir in [&work, &home, &tmp] {
        std::fs::create_dir(dir).unwrap();
    }
    std::os::unix::fs::symlink(crate::root().join("examples"), work.join("examples")).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_domo")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let env = |command: &mut Command| {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOMO_") {
                command.env_remove(key);
            }
        }
        command.current_dir(&work).env("PATH", &path).env("HOME", &home).env("TMPDIR", &tmp).env("NO_COLOR", "1");
        command.env_remove("XDG_DATA_HOME").env_remove("XDG_CONFIG_HOME");
    };

    // A first run; the commands again against the same emulator; then a restarted emulator, as a user would.
    let first = Terminal1::start(serve_line, &env);
    let once = terminal2(script, &first.url, &env);
    let again = terminal2(script, &first.url, &env);
    let first_folder = first.data_folder.clone();
    first.stop();
    let second = Terminal1::start(serve_line, &env);
    let restarted = terminal2(script, &second.url, &env);
    second.stop();

    let (stdout, stderr) = &once;
    assert!(stdout.contains("acts as:   user 1001 `Leonhard Euler`"), "{stdout}");
    assert!(stdout.contains("PDP enabled on DataSet"), "{stdout}");
    assert!(
        stdout
            .ends_with("Friend,Attending\nAlan Turing,TRUE\nGeorge Boole,TRUE\nBrook Taylor,TRUE\nAda Lovelace,TRUE\n"),
        "the preview as user 27 shows the four attendees:\n{stdout}"
    );
    assert!(stderr.contains("pulled DataSet $ID `Leonhard Euler Party` into `$DIR/euler-live`"), "{stderr}");
    // Policy ids count up across an emulator's DataSets, as Domo's do: the second run's differ.
    let policy_ids = |(stdout, stderr): &(String, String)| {
        let bare = regex::Regex::new(r"(?m)^[0-9]+$").unwrap();
        let created = regex::Regex::new(r"created policy [0-9]+ ").unwrap();
        (
            bare.replace_all(stdout, "POLICY").into_owned(),
            created.replace_all(stderr, "created policy POLICY ").into_owned(),
        )
    };
    assert_ne!(again, once, "the second run against one emulator makes new policies");
    assert_eq!(policy_ids(&again), policy_ids(&once), "the commands run twice against one emulator print the same");
    assert_eq!(restarted, once, "the commands run against a restarted emulator print the same");

    // Nothing kept: not in the checkout, not in the user's data folder, not in the emulator's temporary folder.
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["examples"], "the quickstart leaves nothing in the checkout");
    assert!(!home.join(".local/share/domo").exists(), "--ephemeral keeps nothing in the user's data folder");
    assert!(first_folder.starts_with(&tmp) && !first_folder.exists(), "{}", first_folder.display());
}

/// The README's first quick start, `cargo run --release -- pdp matrix …`, run with the built binary from the root.
#[test]
fn the_readme_offline_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(crate::root().join("README.md")).unwrap();
    let section =
        &readme[readme.find("## Quick start\n").unwrap_or_else(|| panic!("README.md has no `## Quick start`"))..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    let runs: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("cargo run --release -- ")).collect();
    assert!(!runs.is_empty(), "the quick start runs domo through cargo: {block}");
    for run in runs {
        let args: Vec<&str> = run.split_whitespace().collect();
        let once = crate::run(&args);
        assert!(once.starts_with(&format!("$ domo {run}\nexit: 0\n--- stdout\n")), "{once}");
        assert!(!once.contains("--- stderr"), "{once}");
        assert!(once.contains("Ada Lovelace"), "the matrix names the example's users: {once}");
        assert_eq!(crate::run(&args), once, "the same output a second time");
    }
}
