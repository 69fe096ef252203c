//! An emulator on a free loopback port, seeded with the example's directory, and `domo` run against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use domo_emulator::{Emulator, RunningEmulator};
use domo_model::{Directory, read_user_file};

/// The client most tests use: it acts as user 1001, Leonhard Euler, the owner of what it creates.
pub(crate) const CLIENT: &str = "euler-cli";
pub(crate) const SECRET: &str = "s3cret-never-printed-7f3a";
/// The example's rows, with a header row (relative to the workspace root, where `domo` runs).
pub(crate) const EULER_CSV: &str = "examples/euler-party/data.csv";
/// A client acting as user 27, DomoSupport, a Participant.
pub(crate) const GUEST: &str = "guest-cli";
pub(crate) const GUEST_SECRET: &str = "guest-secret-c0ffee-19";

/// A running emulator and a scratch folder, both gone when dropped.
pub(crate) struct Live {
    runtime: tokio::runtime::Runtime,
    emulator: Option<RunningEmulator>,
    pub(crate) url: String,
    pub(crate) temp: tempfile::TempDir,
}

impl Live {
    pub(crate) fn start() -> Self {
        Self::start_with(|builder| builder)
    }

    pub(crate) fn start_with(
        configure: impl FnOnce(domo_emulator::EmulatorBuilder) -> domo_emulator::EmulatorBuilder,
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let text = std::fs::read_to_string(crate::root().join("examples/euler-party/directory.json")).unwrap();
        let directory: Directory = read_user_file("directory.json", &text).unwrap();
        let builder = Emulator::builder().directory(directory).client(CLIENT, SECRET, domo_model::UserId(1001)).client(
            GUEST,
            GUEST_SECRET,
            domo_model::UserId(27),
        );
        let emulator = runtime.block_on(configure(builder).start()).unwrap();
        let url = emulator.base_url();
        Self { runtime, emulator: Some(emulator), url, temp: tempfile::tempdir().unwrap() }
    }

    /// A client of the emulator acting as the owner, for quick setup.
    pub(crate) fn client(&self) -> domo_http::Client {
        let credentials = domo_http::Credentials::client_credentials(CLIENT, SECRET, [domo_model::Scope::Data]);
        domo_http::Client::new(&self.url, credentials).unwrap()
    }

    /// Runs async setup on the emulator's runtime.
    pub(crate) fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }

    /// A path in the scratch folder.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// `domo` with the emulator's address and the owner's credentials in the
    /// environment, nothing else of the caller's `DOMO_*`, and no profile file.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_domo"));
        command.args(args).current_dir(crate::root()).stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("DOMO_") {
                command.env_remove(key);
            }
        }
        let home = self.path("home");
        command
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE")
            .env("DOMO_API_HOST", &self.url)
            .env("DOMO_CLIENT_ID", CLIENT)
            .env("DOMO_CLIENT_SECRET", SECRET)
            .env("DOMO_RETRIES", "0");
        command
    }

    /// Runs `domo` and returns what it did.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().unwrap())
    }

    /// Runs `domo`, expects exit 0, and returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "domo {} failed:\n{}", args.join(" "), run.all());
        run.stdout
    }

    /// Creates the Euler party DataSet with its six rows; returns its id.
    pub(crate) fn euler_party(&self) -> String {
        let id = self.ok(&["datasets", "create", "--name", "Leonhard Euler Party", "--infer-schema", EULER_CSV]);
        let id = id.trim().to_owned();
        self.ok(&["data", "import", &id, EULER_CSV, "--header"]);
        id
    }

    /// Creates the quickstart's "Only Show Attendees" policy (Attending EQUALS TRUE, user 27) on
    /// `id`; returns what `domo policies create` printed (the new policy's id).
    pub(crate) fn only_show_attendees(&self, id: &str) -> String {
        let args = ["--name", "Only Show Attendees", "--filter", "Attending EQUALS TRUE", "--user", "27"];
        self.ok(&[&["policies", "create", id][..], &args[..]].concat())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

/// What a run of `domo` did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn of(output: Output) -> Self {
        let run = Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        };
        assert!(!run.stderr.contains("panicked"), "domo panicked: {}", run.stderr);
        run
    }

    pub(crate) fn all(&self) -> String {
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }

    /// Asserts exit 2 with `needle` in stderr.
    pub(crate) fn fails_with(&self, needle: &str) {
        assert_eq!(self.code, 2, "{}", self.all());
        assert!(self.stderr.contains(needle), "expected `{needle}` in:\n{}", self.all());
    }
}

/// Parses JSON printed by `--format json`.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Whether two files hold the same bytes, read a chunk at a time.
pub(crate) fn same_bytes(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut a, mut b) = (std::fs::File::open(a).unwrap(), std::fs::File::open(b).unwrap());
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut a, &mut x);
        let m = read_full(&mut b, &mut y);
        if n != m || x[..n] != y[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
    fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> usize {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]).unwrap() {
                0 => break,
                n => filled += n,
            }
        }
        filled
    }
}
