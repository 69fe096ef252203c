//! The official SDKs, unchanged, against `domo serve`: each runs its check
//! script under `tests/sdk/` (docs/emulator-compat.md lists the calls). The
//! SDKs come from `cargo xtask provision`; when one is missing the test fails
//! and says so, it never skips.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The directory `domo serve` is started with; the scripts compare the SDKs' user and group lists to it.
const DIRECTORY: &str = "examples/euler-party/directory.json";
/// An Admin's client (Emmy Noether, user 50): creates everything and sees every row.
const ADMIN: (&str, &str) = ("sdk-admin", "sdk-admin-secret");
/// A Participant's client (user 27), whom PDP restricts.
const VIEWER: (&str, &str) = ("sdk-viewer", "sdk-viewer-secret");

/// A `domo serve` on a free loopback port and a scratch data folder, killed on drop.
struct Serve {
    child: Child,
    /// `127.0.0.1:PORT`, as the SDKs take their host.
    host: String,
    /// What `domo serve` printed before it started serving.
    banner: String,
    data: tempfile::TempDir,
}

impl Serve {
    fn start(extra: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_domo"))
            .current_dir(crate::root())
            .args(["serve", "--port", "0", "--directory", DIRECTORY])
            .arg("--data-dir")
            .arg(data.path())
            .arg("--client")
            .arg(format!("{}:{}:50", ADMIN.0, ADMIN.1))
            .arg("--client")
            .arg(format!("{}:{}:27", VIEWER.0, VIEWER.1))
            .args(extra)
            .env("NO_COLOR", "1")
            .env("DOMO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = String::new();
        for line in lines.by_ref().map_while(Result::ok) {
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Ctrl-C stops it") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        let host = banner
            .lines()
            .find_map(|l| l.strip_prefix("Domo API emulator listening on "))
            .and_then(|url| url.split_once("://"))
            .map(|(_, host)| host.to_owned())
            .unwrap_or_else(|| panic!("domo serve did not start:\n{banner}"));
        Self { child, host, banner, data }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cargo target folder, where `cargo xtask provision` installs the SDKs.
fn target_dir() -> PathBuf {
    let domo = Path::new(env!("CARGO_BIN_EXE_domo"));
    domo.parent().and_then(Path::parent).unwrap().to_owned()
}

/// A path from `variable`, or `default` under the target folder.
fn provisioned(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable).filter(|v| !v.is_empty()).map_or_else(|| target_dir().join(default), PathBuf::from)
}

fn missing(what: &str, detail: &str) -> ! {
    panic!(
        "{what} is not installed ({detail}): run `cargo xtask provision`, which installs it under target/ \
         (this test never skips)"
    )
}

/// Runs a check script; it must exit 0 and end with `done_line`. Prints its output either way.
fn check_script(mut command: Command, done_line: &str) -> String {
    let Output { status, stdout, stderr } = command.current_dir(crate::root()).output().unwrap();
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr);
    println!("{stdout}");
    assert!(status.success(), "the script failed ({status}):\n{stdout}\n{stderr}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some(done_line), "the script stopped early:\n{stdout}\n{stderr}");
    stdout
}

#[test]
fn pydomo_runs_unchanged_against_domo_serve() {
    let python = provisioned("DOMO_TEST_PYTHON", "ci-venv/bin/python");
    let probe = Command::new(&python).args(["-c", "import pydomo"]).output();
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            missing("pydomo", &format!("{}: {}", python.display(), String::from_utf8_lossy(&output.stderr).trim()))
        }
        Err(err) => missing("the CI Python", &format!("{}: {err}", python.display())),
    }
    let serve = Serve::start(&[]);
    let mut command = Command::new(&python);
    command.arg("tests/sdk/pydomo_check.py").args([&serve.host, ADMIN.0, ADMIN.1, VIEWER.0, VIEWER.1, DIRECTORY]);
    let out = check_script(command, "pydomo: every check passed");
    assert!(out.contains("ok: with PDP on the viewer sees only the attendees"), "{out}");
    assert!(out.contains("ok: streams.abort_current_execution answers 204"), "{out}");
    assert!(serve.data.path().join("state.json").exists(), "{}", serve.banner);
}
