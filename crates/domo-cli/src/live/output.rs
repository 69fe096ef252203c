//! The live commands' terminal interaction: confirmations, progress bars and sizes (the output plumbing they
//! print through is `crate::output`, re-exported here).

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::bail;
use domo_http::{Progress, Transferred};

pub(crate) use crate::output::{Align, Format, REPORT, TABULAR, count, formats, json, note, plural, rows, table, text};

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
