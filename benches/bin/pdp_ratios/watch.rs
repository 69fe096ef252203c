//! Running a measuring child process under a memory cap: its resident memory is watched and it is stopped past the cap, so one analysis cannot take the shared machine's memory.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use crate::Result;

/// How a watched child ended.
#[derive(Debug)]
pub(crate) struct Watched {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The largest resident memory seen while polling, in bytes.
    pub(crate) max_rss: u64,
    /// The resident memory at which the child was stopped for passing the cap, in bytes.
    pub(crate) stopped_at: Option<u64>,
}

/// Resident memory of process `pid` now, in bytes (0 once it is gone).
fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib * 1024)
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Runs `command` to its end, stopping it if its resident memory passes `cap` bytes.
pub(crate) fn run(mut command: Command, cap: u64) -> Result<Watched> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command.spawn().map_err(|e| format!("cannot start `{program}`: {e}"))?;
    let pid = child.id();
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut max_rss = 0;
    let mut stopped_at = None;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let rss = rss_bytes(pid);
        max_rss = max_rss.max(rss);
        if rss > cap && stopped_at.is_none() {
            // Our own child, by its handle.
            child.kill()?;
            stopped_at = Some(rss);
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().map_err(|_| "the stdout reader stopped")?;
    let stderr = stderr.join().map_err(|_| "the stderr reader stopped")?;
    Ok(Watched { status, stdout, stderr, max_rss, stopped_at })
}

/// Memory available for a new process now (`MemAvailable`), in bytes.
pub(crate) fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find_map(|line| {
            line.strip_prefix("MemAvailable:")
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_past_the_cap_is_stopped_and_one_under_it_runs_to_its_end() {
        let sh = |script: &str| {
            let mut command = Command::new("sh");
            command.args(["-c", script]);
            command
        };
        // The shell keeps the whole output of `$(…)` in its own memory.
        let grow = "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo ${#x}";
        let watched = run(sh(grow), 50 << 20).unwrap();
        assert!(!watched.status.success());
        assert!(watched.stopped_at.is_some_and(|rss| rss > 50 << 20), "{watched:?}");
        assert_eq!(watched.stdout, "");

        let watched = run(sh("echo out; echo err >&2"), 50 << 20).unwrap();
        assert!(watched.status.success());
        assert_eq!(watched.stopped_at, None);
        assert_eq!((watched.stdout.as_str(), watched.stderr.as_str()), ("out\n", "err\n"));
    }
}
