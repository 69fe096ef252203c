//! The workload's CSV file of each size: generated once under `target/domo-bench/`, reused while its recorded seed, size and version match.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use domo_benches::{CSV_VERSION, Workload};

use crate::Result;

/// Bytes a row takes at most in the generated CSV (85.3 on average at 1M rows,
/// about 88 at 100M where the ids have two more digits), for the disk check.
const BYTES_PER_ROW: u64 = 90;

/// Disk space left free for the other users of the disk after generating.
const KEEP_FREE: u64 = 2 << 30;

/// The file of `rows` rows from `seed` in the directory `dir`.
pub(crate) fn default_path(dir: &Path, seed: u64, rows: u64) -> PathBuf {
    dir.join(format!("sales-seed{seed}-rows{rows}.csv"))
}

/// Where the seed, size, version and length of a generated file are recorded.
fn record_path(csv: &Path) -> PathBuf {
    let mut name = csv.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

fn record(seed: u64, rows: u64, bytes: u64) -> String {
    format!("version={CSV_VERSION}\nseed={seed}\nrows={rows}\nbytes={bytes}\n")
}

/// Whether `csv` is the workload of `seed` and `rows`: its record says so and its length is the recorded one.
fn matches_record(csv: &Path, seed: u64, rows: u64) -> bool {
    let Ok(bytes) = std::fs::metadata(csv).map(|m| m.len()) else { return false };
    std::fs::read_to_string(record_path(csv)).is_ok_and(|text| text == record(seed, rows, bytes))
}

/// How the file came to be there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Origin {
    /// Present with a matching record.
    Reused,
    /// Written now, in this many seconds.
    Generated(f64),
}

/// What may happen to a file at the workload's path that is not the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Our own directory: a stale workload file is written again.
    Replace,
    /// A path the user named (`--file`): never overwritten.
    Keep,
}

/// Reuses `csv` if its record matches `seed` and `rows`, else generates it
/// (with `threads` threads typing rows), after checking the free disk space.
pub(crate) fn ensure(csv: &Path, seed: u64, rows: u64, threads: usize, existing: Existing) -> Result<Origin> {
    if matches_record(csv, seed, rows) {
        return Ok(Origin::Reused);
    }
    if let Ok(metadata) = std::fs::symlink_metadata(csv)
        && (existing == Existing::Keep || !metadata.is_file())
    {
        return Err(format!(
            "`{}` is there but is not the workload of seed {seed} and {rows} rows (`{}` does not say so): \
             it is left alone; remove it or name another file",
            csv.display(),
            record_path(csv).display()
        )
        .into());
    }
    let dir = csv.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let partial = csv.with_extension("csv.partial");
    // What is there now is replaced: its space counts as free.
    let replaced: u64 =
        [csv, partial.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    check_space(rows, free_bytes(dir)?.saturating_add(replaced), dir)?;
    let _ = std::fs::remove_file(record_path(csv));
    let _ = std::fs::remove_file(csv);
    eprintln!(
        "generating {} ({rows} rows, about {:.1} GB) with {threads} threads",
        csv.display(),
        estimate(rows) as f64 / 1e9
    );
    let started = Instant::now();
    let workload = Workload::generate(seed, rows);
    let file = File::create(&partial).map_err(|e| format!("cannot create `{}`: {e}", partial.display()))?;
    if let Err(e) = workload.write_csv_parallel(file, threads) {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("cannot write `{}`: {e}", partial.display()).into());
    }
    std::fs::rename(&partial, csv).map_err(|e| format!("cannot rename `{}`: {e}", partial.display()))?;
    let bytes = std::fs::metadata(csv)?.len();
    std::fs::write(record_path(csv), record(seed, rows, bytes))?;
    Ok(Origin::Generated(started.elapsed().as_secs_f64()))
}

/// The largest size the CSV of `rows` rows can take.
fn estimate(rows: u64) -> u64 {
    rows.saturating_mul(BYTES_PER_ROW).saturating_add(1 << 20)
}

/// Refuses when the file would leave less than [`KEEP_FREE`] of the disk free.
fn check_space(rows: u64, free: u64, dir: &Path) -> Result<()> {
    let needed = estimate(rows).saturating_add(KEEP_FREE);
    if free < needed {
        return Err(format!(
            "not enough free disk space for the {rows}-row workload in `{}`: it needs about {:.1} GB and {:.1} GB must stay free, but {:.1} GB is free",
            dir.display(),
            estimate(rows) as f64 / 1e9,
            KEEP_FREE as f64 / 1e9,
            free as f64 / 1e9
        )
        .into());
    }
    Ok(())
}

/// Free bytes of the file system holding `dir`, as `df` reports them to an unprivileged user.
fn free_bytes(dir: &Path) -> Result<u64> {
    let refuse = |why: String| format!("cannot tell the free disk space of `{}`: {why}", dir.display());
    let output = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .map_err(|e| refuse(format!("`df` did not run: {e}")))?;
    if !output.status.success() {
        return Err(refuse(format!("`df` failed: {}", String::from_utf8_lossy(&output.stderr).trim())).into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let value = text.lines().nth(1).map(str::trim).unwrap_or_default();
    Ok(value.parse().map_err(|_| refuse(format!("`df` printed `{}`", text.trim())))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rows: u64, free_gb: f64) -> String {
        match check_space(rows, (free_gb * 1e9) as u64, Path::new("target/domo-bench")) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_disk_check_refuses_a_workload_that_would_fill_the_disk() {
        assert_eq!(check(1_000_000, 3.0), "ok");
        assert_eq!(check(100_000_000, 24.0), "ok");
        assert_eq!(
            check(100_000_000, 10.0),
            "not enough free disk space for the 100000000-row workload in `target/domo-bench`: it needs about 9.0 GB and 2.1 GB must stay free, but 10.0 GB is free"
        );
        assert!(check(10_000_000, 2.5).starts_with("not enough free disk space for the 10000000-row workload"));
    }

    #[test]
    fn the_free_space_of_a_real_directory_is_read_and_a_missing_one_is_refused() {
        assert!(free_bytes(Path::new(".")).unwrap() > 0);
        let error = free_bytes(Path::new("/no/such/dir")).unwrap_err().to_string();
        assert!(error.starts_with("cannot tell the free disk space of `/no/such/dir`: `df` failed:"), "{error}");
    }

    #[test]
    fn a_file_is_reused_only_with_its_own_record() {
        /// Removes the folder however the test ends.
        struct Scratch(PathBuf);
        impl Drop for Scratch {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = Scratch(std::env::temp_dir().join(format!("domo-bench-test-{}", std::process::id())));
        let csv = default_path(&dir.0, 5, 100);
        assert!(matches!(ensure(&csv, 5, 100, 2, Existing::Replace).unwrap(), Origin::Generated(_)));
        assert_eq!(ensure(&csv, 5, 100, 2, Existing::Keep).unwrap(), Origin::Reused);
        let mut expected = Vec::new();
        Workload::generate(5, 100).write_csv(&mut expected).unwrap();
        assert!(std::fs::read(&csv).unwrap() == expected);
        // Another seed is another file name; the same name with a changed file is written again.
        std::fs::write(&csv, b"order_id\n1\n").unwrap();
        let error = ensure(&csv, 5, 100, 1, Existing::Keep).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "`{}` is there but is not the workload of seed 5 and 100 rows (`{}.meta` does not say so): it is left alone; remove it or name another file",
                csv.display(),
                csv.display()
            )
        );
        assert_eq!(std::fs::read(&csv).unwrap(), b"order_id\n1\n", "a file the user named stays");
        assert!(matches!(ensure(&csv, 5, 100, 1, Existing::Replace).unwrap(), Origin::Generated(_)));
        assert!(std::fs::read(&csv).unwrap() == expected);
        // Not a regular file: never removed, even in our own directory.
        let error = ensure(Path::new("/dev/null"), 5, 100, 1, Existing::Replace).unwrap_err().to_string();
        assert!(error.starts_with("`/dev/null` is there but is not the workload"), "{error}");
        assert!(!matches_record(&csv, 6, 100));
        assert!(!matches_record(&csv, 5, 101));
    }
}
