//! One scenario, run in a child process of its own so that its peak memory is its own; prints `key=value` pairs for the parent.
//!
//! The analyses stream the file a batch of rows at a time, as the `domo pdp` commands do:
//! `PolicySet::all_counts_csv` for the counts, `DiffAccumulator` and `Linter` fed by
//! `Table::for_each_batch` for `diff` and `lint`; memory does not grow with the rows.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use domo_benches::Workload;
use domo_model::UserId;
use domo_pdp::{BatchOptions, DiffAccumulator, DiffOptions, Linter, PolicySet, Reason, Severity, StreamOptions};

use crate::Result;

/// How many policies the `diff` scenario changes.
pub(crate) const CHANGED_POLICIES: usize = 50;

/// What the parent asks a child to run.
#[derive(Debug, Clone)]
pub(crate) struct ChildArgs {
    pub(crate) scenario: String,
    pub(crate) rows: u64,
    pub(crate) seed: u64,
    pub(crate) runs: u32,
    pub(crate) user: Option<u64>,
}

/// Peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:").and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// CPU time (user + system, all threads) this process has used, in seconds
/// (from `/proc/self/stat`, in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// What [`best_of`] measured.
#[derive(Debug, Default)]
struct Timing {
    /// The best run, in seconds.
    seconds: f64,
    /// The best paired baseline run, in seconds (none for the baseline itself).
    baseline_seconds: Option<f64>,
    /// CPU seconds of the scenario's own runs, per run.
    cpu_per_run: f64,
    /// Peak resident memory after the first run, in KiB (later runs reuse, and fragment, the heap).
    first_peak_kib: u64,
}

/// Runs `f` `runs` times, each run right after a baseline run over the same
/// file when `paired` (so that both see the same machine load; the ratio
/// uses the best of each); returns the timing and the last result.
fn best_of<T>(runs: u32, paired: Option<&Path>, mut f: impl FnMut() -> Result<T>) -> Result<(Timing, T)> {
    let best_baseline_ns = AtomicU64::new(u64::MAX);
    let mut timing = Timing { seconds: f64::INFINITY, ..Timing::default() };
    let mut cpu_total = 0.0;
    let mut last = None;
    for run in 0..runs.max(1) {
        if let Some(path) = paired {
            let started = Instant::now();
            baseline(path)?;
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            best_baseline_ns.fetch_min(ns, Ordering::Relaxed);
        }
        let started = Instant::now();
        let cpu = cpu_seconds();
        let result = f()?;
        cpu_total += (cpu_seconds() - cpu).max(0.0);
        timing.seconds = timing.seconds.min(started.elapsed().as_secs_f64());
        if run == 0 {
            timing.first_peak_kib = peak_rss_kib();
        }
        last = Some(result);
    }
    timing.cpu_per_run = cpu_total / f64::from(runs.max(1));
    let ns = best_baseline_ns.load(Ordering::Relaxed);
    timing.baseline_seconds = (ns != u64::MAX).then(|| ns as f64 / 1e9);
    Ok((timing, last.ok_or("no run")?))
}

/// The csv crate's scan of the file with a reused `ByteRecord`, one thread: the baseline.
pub(crate) fn baseline(path: &Path) -> Result<u64> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(File::open(path)?);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record)? {
        rows += 1;
    }
    Ok(rows)
}

fn ensure(holds: bool, what: impl FnOnce() -> String) -> Result<()> {
    if holds { Ok(()) } else { Err(what().into()) }
}

/// Runs the scenario of `args` on the file at `path` and prints its report on stdout.
pub(crate) fn run(args: &ChildArgs, path: &Path) -> Result<()> {
    let workload = Workload::generate(args.seed, args.rows);
    let runs = args.runs;
    let (timing, detail) = match args.scenario.as_str() {
        "baseline" => {
            let (timing, rows) = best_of(runs, None, || baseline(path))?;
            ensure(rows == args.rows, || format!("the baseline read {rows} rows, not {}", args.rows))?;
            (timing, format!("rows={rows}"))
        }
        "counts" => {
            let (timing, detail) = best_of(runs, Some(path), || all_users_counts(&workload, path))?;
            (timing, detail)
        }
        "user" => {
            let id = args.user.ok_or("--user is required")?;
            let (timing, rows) = best_of(runs, Some(path), || one_user_as_csv(&workload, UserId(id), path))?;
            (timing, format!("user={id} rows={rows}"))
        }
        "diff" => best_of(runs, Some(path), || diff_changed_policies(&workload, path))?,
        "lint" => best_of(runs, Some(path), || lint_with_data(&workload, path))?,
        other => return Err(format!("unknown scenario `{other}`").into()),
    };
    let baseline = timing.baseline_seconds.map_or_else(String::new, |b| format!(" baseline_seconds={b}"));
    println!(
        "seconds={}{baseline} cpu_per_run={:.3} peak_kib={} peak_all_runs_kib={} {detail}",
        timing.seconds,
        timing.cpu_per_run,
        timing.first_peak_kib,
        peak_rss_kib()
    );
    Ok(())
}

/// Every user's visible row count, end to end from the file, streamed.
fn all_users_counts(workload: &Workload, path: &Path) -> Result<String> {
    let started = Instant::now();
    let set = PolicySet::compile(&workload.dataset, &workload.policies, &workload.directory)?;
    let compiled = started.elapsed();
    let all = set.all_counts_csv(File::open(path)?, BatchOptions::default())?;
    let counted = started.elapsed();
    eprintln!("compile {:.3} s, stream and count {:.3} s", compiled.as_secs_f64(), (counted - compiled).as_secs_f64());
    ensure(all.rows as u64 == workload.rows, || format!("counted {} rows, not {}", all.rows, workload.rows))?;
    let counts = all.users;
    ensure(counts.len() == workload.directory.users.len(), || {
        format!("{} counts for {} users", counts.len(), workload.directory.users.len())
    })?;
    let most = counts
        .iter()
        .filter(|c| c.reason == Reason::Policies)
        .max_by_key(|c| c.rows)
        .ok_or("no user sees rows through policies")?;
    let typical = counts.iter().find(|c| c.user == workload.typical_user).ok_or("the typical user has no count")?;
    ensure(typical.reason == Reason::Policies, || "the typical user sees rows by no policy".to_owned())?;
    let by_reason = |r: Reason| counts.iter().filter(|c| c.reason == r).count();
    Ok(format!(
        "most_user={} most_rows={} typical_rows={} policies={} no_policy={} admin={}",
        most.user,
        most.rows,
        typical.rows,
        by_reason(Reason::Policies),
        by_reason(Reason::NoPolicy),
        by_reason(Reason::Admin)
    ))
}

/// One user's visible rows written as CSV (to nowhere), streamed from the file.
fn one_user_as_csv(workload: &Workload, user: UserId, path: &Path) -> Result<u64> {
    let set = PolicySet::compile(&workload.dataset, &workload.policies, &workload.directory)?;
    let out = BufWriter::with_capacity(1 << 16, io::sink());
    let summary = set.write_visible_csv(user, File::open(path)?, out, StreamOptions::default())?;
    ensure(summary.rows_read == workload.rows, || format!("read {} rows, not {}", summary.rows_read, workload.rows))?;
    Ok(summary.rows_written)
}

/// `diff` of the policies before and after [`CHANGED_POLICIES`] changes, end to end from the file, streamed.
fn diff_changed_policies(workload: &Workload, path: &Path) -> Result<String> {
    let after_policies = workload.changed_policies(CHANGED_POLICIES);
    let before = PolicySet::compile(&workload.dataset, &workload.policies, &workload.directory)?;
    let after = PolicySet::compile(&workload.dataset, &after_policies, &workload.directory)?;
    let mut accumulator = DiffAccumulator::new(&before, &after, DiffOptions::default());
    let rows = accumulator.add_csv(File::open(path)?, BatchOptions::default())?;
    ensure(rows == workload.rows, || format!("read {rows} rows, not {}", workload.rows))?;
    let diff = accumulator.finish();
    ensure(diff.policies.len() == CHANGED_POLICIES, || {
        format!("{} changed policies, not {CHANGED_POLICIES}", diff.policies.len())
    })?;
    let gained: usize = diff.users.iter().map(|u| u.gained.len()).sum();
    let lost: usize = diff.users.iter().map(|u| u.lost.len()).sum();
    Ok(format!(
        "changed_policies={} changed_users={} rows_gained={gained} rows_lost={lost}",
        diff.policies.len(),
        diff.users.len()
    ))
}

/// `lint` with the data (hidden rows, users who see nothing, …), end to end from the file, streamed.
fn lint_with_data(workload: &Workload, path: &Path) -> Result<String> {
    let linter = Linter::new(&workload.dataset, &workload.policies, &workload.directory);
    let rows = linter.rows_csv(File::open(path)?, BatchOptions::default())?;
    let report = linter.finish(rows);
    Ok(format!(
        "findings={} errors={} warnings={}",
        report.findings.len(),
        report.count(Severity::Error),
        report.count(Severity::Warning)
    ))
}
