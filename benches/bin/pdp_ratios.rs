//! `pdp-ratios`: runs the PDP benchmark scenarios on the generated 1M-row workload and prints each one's ratio to the csv-crate baseline, with peak memory.
//!
//! Each scenario runs in a child process (this binary, with `--child`) so that
//! its peak resident memory (`VmHWM` in `/proc/self/status`) is its own. Every
//! scenario runs end to end from the CSV file, several times; the best run counts.
//!
//! Usage: `pdp-ratios [--rows N] [--seed S] [--runs R] [--file PATH]`
//! (also `cargo xtask bench`).

use std::error::Error;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use domo_benches::Workload;
use domo_model::UserId;
use domo_pdp::{HeaderRow, PolicySet, Reason, StreamOptions, Table};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[derive(Debug, Clone)]
struct Options {
    rows: u64,
    seed: u64,
    runs: u32,
    file: Option<PathBuf>,
    child: Option<String>,
    user: Option<u64>,
}

fn parse_args() -> Result<Options> {
    let mut options = Options { rows: 1_000_000, seed: 42, runs: 3, file: None, child: None, user: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("`{arg}` needs a value"));
        match arg.as_str() {
            "--rows" => options.rows = value()?.parse()?,
            "--seed" => options.seed = value()?.parse()?,
            "--runs" => options.runs = value()?.parse()?,
            "--file" => options.file = Some(PathBuf::from(value()?)),
            "--child" => options.child = Some(value()?),
            "--user" => options.user = Some(value()?.parse()?),
            "--help" | "-h" => {
                println!("usage: pdp-ratios [--rows N] [--seed S] [--runs R] [--file PATH]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    Ok(options)
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

/// CPU seconds spent in a scenario's own runs (not its paired baseline runs).
static SCENARIO_CPU_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Peak resident memory after the first run, in KiB (later runs reuse, and fragment, the heap).
static FIRST_PEAK_KIB: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The best baseline time measured between a scenario's runs, in nanoseconds.
static PAIRED_BASELINE_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// Runs `f` `runs` times, each run right after a baseline run over the same
/// file (so that both see the same machine load; the ratio uses the best of
/// each); returns the best time in seconds and the last result.
fn best_of<T>(runs: u32, path: Option<&Path>, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for run in 0..runs.max(1) {
        if let Some(path) = path {
            let started = Instant::now();
            baseline(path)?;
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            PAIRED_BASELINE_NS.fetch_min(ns, std::sync::atomic::Ordering::Relaxed);
        }
        let started = Instant::now();
        let cpu = cpu_seconds();
        let result = f()?;
        let used = ((cpu_seconds() - cpu) * 1000.0).max(0.0) as u64;
        SCENARIO_CPU_MS.fetch_add(used, std::sync::atomic::Ordering::Relaxed);
        best = best.min(started.elapsed().as_secs_f64());
        if run == 0 {
            FIRST_PEAK_KIB.store(peak_rss_kib(), std::sync::atomic::Ordering::Relaxed);
        }
        last = Some(result);
    }
    Ok((best, last.ok_or("no run")?))
}

fn baseline(path: &Path) -> Result<u64> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(File::open(path)?);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record)? {
        rows += 1;
    }
    Ok(rows)
}

/// One scenario, run in this process; prints `key=value` pairs for the parent.
fn child(scenario: &str, options: &Options, path: &Path) -> Result<()> {
    let workload = Workload::generate(options.seed, options.rows);
    let schema = &workload.dataset.schema;
    let (seconds, detail) = match scenario {
        "baseline" => {
            let (seconds, rows) = best_of(options.runs, None, || baseline(path))?;
            assert_eq!(rows, options.rows, "the baseline reads every record");
            (seconds, format!("rows={rows}"))
        }
        "counts" => {
            let (seconds, (counts, rows)) = best_of(options.runs, Some(path), || {
                let started = Instant::now();
                let table = Table::from_csv(File::open(path)?, schema, HeaderRow::Present)?;
                let loaded = started.elapsed();
                let set = PolicySet::compile(&workload.dataset, &workload.policies, &workload.directory)?;
                let compiled = started.elapsed();
                let evaluation = set.evaluate(&table)?;
                let evaluated = started.elapsed();
                let counts = evaluation.visible_counts();
                let counted = started.elapsed();
                eprintln!(
                    "load {:.3} s, compile {:.3} s, evaluate {:.3} s, counts {:.3} s",
                    loaded.as_secs_f64(),
                    (compiled - loaded).as_secs_f64(),
                    (evaluated - compiled).as_secs_f64(),
                    (counted - evaluated).as_secs_f64()
                );
                Ok((counts, table.row_count()))
            })?;
            assert_eq!(rows as u64, options.rows);
            assert_eq!(counts.len(), workload.directory.users.len());
            let most = counts
                .iter()
                .filter(|c| c.reason == Reason::Policies)
                .max_by_key(|c| c.rows)
                .ok_or("no user sees rows through policies")?;
            let typical = counts.iter().find(|c| c.user == workload.typical_user).ok_or("typical user missing")?;
            assert_eq!(typical.reason, Reason::Policies);
            let by_reason = |r: Reason| counts.iter().filter(|c| c.reason == r).count();
            (
                seconds,
                format!(
                    "most_user={} most_rows={} typical_rows={} policies={} no_policy={} admin={}",
                    most.user,
                    most.rows,
                    typical.rows,
                    by_reason(Reason::Policies),
                    by_reason(Reason::NoPolicy),
                    by_reason(Reason::Admin)
                ),
            )
        }
        "user" => {
            let user = UserId(options.user.ok_or("--user is required")?);
            let (seconds, summary) = best_of(options.runs, Some(path), || {
                let set = PolicySet::compile(&workload.dataset, &workload.policies, &workload.directory)?;
                let out = BufWriter::with_capacity(1 << 16, io::sink());
                Ok(set.write_visible_csv(user, File::open(path)?, out, StreamOptions::default())?)
            })?;
            assert_eq!(summary.rows_read, options.rows);
            (seconds, format!("rows={}", summary.rows_written))
        }
        other => return Err(format!("unknown scenario `{other}`").into()),
    };
    let paired = PAIRED_BASELINE_NS.load(std::sync::atomic::Ordering::Relaxed);
    let paired = if paired == u64::MAX { seconds } else { paired as f64 / 1e9 };
    println!(
        "seconds={seconds} baseline_seconds={paired} cpu_per_run={:.3} peak_kib={} peak_all_runs_kib={} {detail}",
        SCENARIO_CPU_MS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0 / f64::from(options.runs.max(1)),
        FIRST_PEAK_KIB.load(std::sync::atomic::Ordering::Relaxed),
        peak_rss_kib()
    );
    Ok(())
}

/// The parsed report of a child.
#[derive(Debug)]
struct Report {
    seconds: f64,
    peak_kib: u64,
    fields: Vec<(String, String)>,
}

impl Report {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn run_child(options: &Options, path: &Path, scenario: &str, user: Option<u64>) -> Result<Report> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["--child", scenario, "--rows", &options.rows.to_string(), "--seed", &options.seed.to_string()])
        .args(["--runs", &options.runs.to_string(), "--file"])
        .arg(path);
    if let Some(user) = user {
        command.args(["--user", &user.to_string()]);
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!("scenario `{scenario}` failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let text = String::from_utf8(output.stdout)?;
    let fields: Vec<(String, String)> = text
        .split_whitespace()
        .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let field = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    Ok(Report { seconds: field("seconds").parse()?, peak_kib: field("peak_kib").parse()?, fields })
}

fn main() -> Result<()> {
    let options = parse_args()?;
    let path = match &options.file {
        Some(path) => path.clone(),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
            target.join("domo-bench").join(format!("sales-seed{}-rows{}.csv", options.seed, options.rows))
        }
    };
    if let Some(scenario) = &options.child {
        return child(scenario, &options, &path);
    }
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let started = Instant::now();
        let workload = Workload::generate(options.seed, options.rows);
        let partial = path.with_extension("partial");
        workload.write_csv(File::create(&partial)?)?;
        std::fs::rename(&partial, &path)?;
        eprintln!("generated {} in {:.1} s", path.display(), started.elapsed().as_secs_f64());
    }
    let file_size = std::fs::metadata(&path)?.len();
    let mb = file_size as f64 / 1e6;
    println!(
        "PDP benchmark: {} rows x 9 columns, {:.1} MB CSV ({}), 2,000 policies, 10,000 users, 200 groups; best of {} runs, end to end from the file",
        options.rows,
        mb,
        path.display(),
        options.runs
    );
    let base = run_child(&options, &path, "baseline", None)?;
    let counts = run_child(&options, &path, "counts", None)?;
    let typical_user = Workload::generate(options.seed, options.rows).typical_user.get();
    let typical = run_child(&options, &path, "user", Some(typical_user))?;
    let most_user: u64 = counts.get("most_user").ok_or("no most_user")?.parse()?;
    let most = run_child(&options, &path, "user", Some(most_user))?;
    let rows = options.rows as f64;
    println!();
    println!(
        "{:<46} {:>9} {:>12} {:>9} {:>9} {:>7} {:>8} {:>9}  result",
        "scenario", "seconds", "rows/s", "MB/s", "baseline", "ratio", "target", "cpu s/run"
    );
    let line = |name: String, report: &Report, target: Option<f64>| {
        // Each scenario's own baseline runs alternate with it, under the same load.
        let paired = report.get("baseline_seconds").and_then(|b| b.parse::<f64>().ok()).unwrap_or(base.seconds);
        let ratio = report.seconds / paired;
        let verdict = match target {
            Some(t) if ratio <= t => "ok",
            Some(_) => "OVER TARGET",
            None => "",
        };
        println!(
            "{:<46} {:>9.3} {:>12.0} {:>9.1} {:>9.3} {:>7.2} {:>8} {:>9}  {verdict}",
            name,
            report.seconds,
            rows / report.seconds,
            mb / report.seconds,
            paired,
            ratio,
            target.map_or_else(String::new, |t| format!("<= {t}x")),
            report.get("cpu_per_run").unwrap_or("")
        );
    };
    line("baseline: csv crate, reused ByteRecord".to_owned(), &base, None);
    line("all users' visible counts (10,000 users)".to_owned(), &counts, Some(4.0));
    line(
        format!("typical user {typical_user} as CSV ({} rows)", typical.get("rows").unwrap_or("?")),
        &typical,
        Some(2.0),
    );
    line(format!("most-rows user {most_user} as CSV ({} rows)", most.get("rows").unwrap_or("?")), &most, Some(3.0));
    let peak = counts.peak_kib as f64 * 1024.0;
    let memory_ratio = peak / file_size as f64;
    println!();
    println!(
        "peak memory, all users' counts (first run): {:.1} MB = {:.2}x the {:.1} MB file (target <= 2x): {}",
        peak / 1e6,
        memory_ratio,
        mb,
        if memory_ratio <= 2.0 { "ok" } else { "OVER TARGET" }
    );
    println!(
        "  (peak over all {} runs in one process: {} MB; the allocator keeps freed memory per thread)",
        options.runs,
        counts
            .get("peak_all_runs_kib")
            .and_then(|k| k.parse::<f64>().ok())
            .map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k * 1024.0 / 1e6))
    );
    println!(
        "peak memory, baseline {:.1} MB; typical user {:.1} MB; most-rows user {:.1} MB",
        base.peak_kib as f64 * 1024.0 / 1e6,
        typical.peak_kib as f64 * 1024.0 / 1e6,
        most.peak_kib as f64 * 1024.0 / 1e6
    );
    println!(
        "users by reason: {} through policies, {} in no policy, {} admins (+ the owner)",
        counts.get("policies").unwrap_or("?"),
        counts.get("no_policy").unwrap_or("?"),
        counts.get("admin").unwrap_or("?")
    );
    Ok(())
}
