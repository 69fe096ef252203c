//! Output of the live commands: `--format table|json`, confirmations, progress bars and sizes.

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::bail;
use clap::ValueEnum;
use domo_http::{Progress, Transferred};

use crate::pdp::output as shared;

pub(crate) use shared::{Align, table};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    /// A table for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Prints a value as pretty JSON on stdout.
pub(crate) fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    shared::write_json(shared::plain_stdout(), value)
}

/// Prints text (a table, a report) on stdout.
pub(crate) fn text(text: &str) -> anyhow::Result<()> {
    let mut out = shared::stdout();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Whether a destructive step may go ahead: `--yes`, or a `y` typed at the
/// prompt. Without a terminal on stdin nothing can be typed, so it refuses.
pub(crate) fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        bail!("{question}: refusing without confirmation because stdin is not a terminal; pass --yes");
    }
    let mut stderr = io::stderr().lock();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// A progress bar with bytes and rate on stderr, when stderr is a terminal,
/// and the callback that drives it.
pub(crate) fn progress_bar(message: &str, total: Option<u64>) -> Option<(indicatif::ProgressBar, Progress)> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    } else {
        "{msg} {spinner} {bytes} ({bytes_per_sec})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    let driven = bar.clone();
    let progress = Progress::new(move |t: Transferred| {
        if let Some(total) = t.total {
            driven.set_length(total);
        }
        driven.set_position(t.bytes);
    });
    Some((bar, progress))
}

/// `1.5 MiB`, `12 B`: a size as a person reads it.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in UNITS.iter().skip(1) {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// `12.3 MiB/s`.
pub(crate) fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    format!("{}/s", size((bytes as f64 / secs) as u64))
}

/// Prints a note on stderr.
pub(crate) fn note(text: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(100 * 1024 * 1024), "100.0 MiB");
        assert_eq!(rate(10 * 1024 * 1024, Duration::from_secs(2)), "5.0 MiB/s");
    }
}
