//! The official SDKs, unchanged, against `domo serve`: each runs its check
//! script under `tests/sdk/` (docs/emulator-compat.md lists the calls). The
//! SDKs come from `cargo xtask provision`; when one is missing the test fails
//! and says so, it never skips.

use std::io::BufRead as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    /// Holds the data folder (`data/`) and the server's log (`serve.log`).
    data: tempfile::TempDir,
}

impl Serve {
    fn start(extra: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let log_path = data.path().join("serve.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_domo"))
            .current_dir(crate::root())
            .args(["serve", "--port", "0", "--directory", DIRECTORY])
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .args(extra)
            .env("DOMO_SERVE_CLIENT", format!("{}:{}:50,{}:{}:27", ADMIN.0, ADMIN.1, VIEWER.0, VIEWER.1))
            .env("NO_COLOR", "1")
            .env("DOMO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
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
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("domo serve did not start:\n{banner}\n{log}")
            });
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

/// How long a script may run: a few seconds normally; the Node SDK asks for
/// tokens in an endless loop when the emulator keeps answering 401.
const SCRIPT_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Runs a check script; it must exit 0 and end with `done_line`. Prints its output either way.
fn check_script(mut command: Command, done_line: &str) -> String {
    let mut child = command.current_dir(crate::root()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let (out, err) = (read(Box::new(child.stdout.take().unwrap())), read(Box::new(child.stderr.take().unwrap())));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SCRIPT_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the script ran for more than {SCRIPT_TIME_LIMIT:?}:\n{}", out.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    println!("{stdout}");
    assert!(status.success(), "the script failed ({status}):\n{stdout}\n{stderr}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some(done_line), "the script stopped early:\n{stdout}\n{stderr}");
    stdout
}

/// The CI Python with pydomo, or a failure that says to provision.
fn python() -> PathBuf {
    let python = provisioned("DOMO_TEST_PYTHON", "ci-venv/bin/python");
    match Command::new(&python).args(["-c", "import pydomo"]).output() {
        Ok(output) if output.status.success() => python,
        Ok(output) => {
            missing("pydomo", &format!("{}: {}", python.display(), String::from_utf8_lossy(&output.stderr).trim()))
        }
        Err(err) => missing("the CI Python", &format!("{}: {err}", python.display())),
    }
}

/// `node` with `NODE_PATH` set to the provisioned `node_modules`, or a failure that says to provision.
fn node() -> Command {
    let modules = provisioned("DOMO_TEST_NODE_MODULES", "ci-node/node_modules");
    if !modules.join("domo-sdk").join("package.json").is_file() {
        missing("the Node SDK (npm domo-sdk)", &format!("no domo-sdk in {}", modules.display()));
    }
    let node = std::env::var_os("DOMO_TEST_NODE").unwrap_or_else(|| "node".into());
    if let Err(err) = Command::new(&node).arg("--version").output() {
        panic!(
            "Node.js is not installed (`{}`: {err}): install Node.js and npm (or point DOMO_TEST_NODE at node), \
             then run `cargo xtask provision` (this test never skips)",
            node.to_string_lossy()
        );
    }
    let mut command = Command::new(node);
    command.env("NODE_PATH", modules);
    command
}

/// The certificate `domo serve --tls` printed; it also printed how each client trusts it.
fn printed_cert(serve: &Serve) -> PathBuf {
    let banner = &serve.banner;
    let cert = banner.lines().find_map(|l| l.strip_prefix("certificate: ")).unwrap_or_else(|| panic!("{banner}"));
    let cert = PathBuf::from(cert);
    assert_eq!(cert, serve.data.path().join("data/tls/cert.pem"), "the certificate is kept in the data folder");
    for how in ["NODE_EXTRA_CA_CERTS=", "REQUESTS_CA_BUNDLE=", "DOMO_CA_CERT="] {
        assert!(banner.contains(&format!("{how}'{}'", cert.display())), "{how}:\n{banner}");
    }
    cert
}

#[test]
fn pydomo_runs_unchanged_against_domo_serve() {
    let python = python();
    let serve = Serve::start(&[]);
    let mut command = Command::new(&python);
    command.arg("tests/sdk/pydomo_check.py").args([&serve.host, ADMIN.0, ADMIN.1, VIEWER.0, VIEWER.1, DIRECTORY]);
    let out = check_script(command, "pydomo: every check passed");
    assert!(out.contains("ok: with PDP on the viewer sees only the attendees"), "{out}");
    assert!(out.contains("ok: streams.abort_current_execution answers 204"), "{out}");
}

#[test]
fn pydomo_trusts_domo_serve_tls_through_requests_ca_bundle() {
    let python = python();
    let serve = Serve::start(&["--tls"]);
    let cert = printed_cert(&serve);
    let mut command = Command::new(&python);
    command
        .arg("tests/sdk/pydomo_check.py")
        .args([&serve.host, ADMIN.0, ADMIN.1, VIEWER.0, VIEWER.1, DIRECTORY, "--https"])
        .env("REQUESTS_CA_BUNDLE", &cert);
    check_script(command, "pydomo: every check passed");
}

#[test]
fn the_node_sdk_runs_unchanged_against_domo_serve_tls() {
    let mut command = node();
    let serve = Serve::start(&["--tls"]);
    let cert = printed_cert(&serve);
    command
        .arg("tests/sdk/domo_sdk_check.js")
        .args([&serve.host, ADMIN.0, ADMIN.1, VIEWER.0, VIEWER.1, DIRECTORY])
        .env("NODE_EXTRA_CA_CERTS", &cert);
    let out = check_script(command, "domo-sdk: every check passed");
    assert!(out.contains("ok: with PDP on the viewer sees only the attendees"), "{out}");
    assert!(out.contains("ok: streams.abort(id) aborts the active execution"), "{out}");
}
