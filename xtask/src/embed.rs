//! The `embed` section of `ci`: programs outside the workspace that depend on one library crate each, built and run.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

/// The programs under `examples/embed/`, each its own workspace.
const PROGRAMS: &[&str] = &["pdp-preview", "list-datasets"];

/// The API client the emulator serves for `list-datasets`: a Participant of the example's directory.
const CLIENT_ID: &str = "embed";
const CLIENT_USER: &str = "1001";

/// Builds each program against a copy of the workspace's `Cargo.lock`, offline (nothing new is
/// fetched) and in the workspace's target folder; runs `pdp-preview` on the example, and
/// `list-datasets` against `domo serve` started on a free loopback port and stopped after.
pub(crate) fn run(sh: &Shell, root: &Path, target: &Path) -> anyhow::Result<()> {
    cmd!(sh, "cargo build --locked -q -p domo-cli --bin domo").run()?;
    for program in PROGRAMS {
        let dir = root.join("examples/embed").join(program);
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))
            .with_context(|| format!("copying Cargo.lock into `{}`", dir.display()))?;
        let manifest = dir.join("Cargo.toml");
        cmd!(sh, "cargo build --offline -q --manifest-path {manifest}").env("CARGO_TARGET_DIR", target).run()?;
    }
    let bin = target.join("debug");
    cmd!(sh, "{bin}/embed-pdp-preview").run()?;

    let secret = format!("embed-{}", std::process::id());
    let port = free_port()?;
    let emulator = Emulator(
        Command::new(bin.join("domo"))
            .args(["serve", "--ephemeral", "--port", &port.to_string(), "--directory"])
            .arg(root.join("examples/euler-party/directory.json"))
            .env("DOMO_SERVE_CLIENT", format!("{CLIENT_ID}:{secret}:{CLIENT_USER}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting `domo serve`")?,
    );
    emulator.wait_until_listening(port)?;
    cmd!(sh, "{bin}/embed-list-datasets")
        .env("DOMO_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("DOMO_CLIENT_ID", CLIENT_ID)
        .env("DOMO_CLIENT_SECRET", &secret)
        .run()?;
    drop(emulator);
    Ok(())
}

/// A loopback port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// The emulator this section started: stopped when dropped, on success and failure alike.
struct Emulator(Child);

impl Emulator {
    fn wait_until_listening(&self, port: u16) -> anyhow::Result<()> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("`domo serve` did not listen on {address} within 30 s")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
