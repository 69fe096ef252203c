//! `pdp-ratios`: runs the PDP benchmark scenarios of issue 14 on the generated workload at each size and prints each one's ratio to the csv-crate scan and DuckDB's load, with peak memory, against the targets.
//!
//! The workload of each size is generated once under `target/domo-bench/`
//! (deterministic by seed, reused while its recorded seed and size match).
//! Each scenario runs in a child process (this binary, with `--child`) so
//! that its peak resident memory (`VmHWM`) is its own, under a memory cap
//! that stops it before it takes the shared machine's memory. Every scenario
//! runs end to end from the CSV file, several times, each run after a
//! csv-crate scan of the same file; the best of each counts.
//!
//! Usage: see [`USAGE`] (also `cargo xtask bench`).

mod duckdb;
mod report;
mod scenario;
mod watch;
mod workload_file;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use domo_benches::Workload;

use report::{Line, Measured, Outcome, Scenario, SizeReport};
use scenario::ChildArgs;

pub(crate) type Result<T> = std::result::Result<T, Box<dyn Error>>;

const USAGE: &str = "usage: pdp-ratios [--rows SIZE]... [--seed S] [--runs R] [--json] [--max-memory MB] [--generate-only] [--file PATH]

  --rows SIZE       rows of the workload: 1M (the default), 10M, 100M, or a number (2000, 500K);
                    several sizes run one after the other (--rows 1M --rows 10M, or --rows 1M,10M)
  --seed S          the workload's seed (42)
  --runs R          runs per scenario, the best counts (3 up to 2M rows, 2 up to 20M, 1 beyond)
  --json            print the results as JSON instead of markdown tables
  --max-memory MB   stop a scenario whose resident memory passes this (half the available memory, at most 8 GiB)
  --generate-only   generate (or reuse) the workload files and stop
  --file PATH       the workload's CSV file (one size only; default target/domo-bench/sales-seedS-rowsN.csv)";

/// Largest default memory cap of a scenario.
const DEFAULT_CAP: u64 = 8 << 30;

#[derive(Debug, Clone)]
struct Options {
    sizes: Vec<u64>,
    seed: u64,
    runs: Option<u32>,
    json: bool,
    max_memory: Option<u64>,
    generate_only: bool,
    file: Option<PathBuf>,
    child: Option<String>,
    user: Option<u64>,
}

/// `1M`, `10M`, `500K`, `2000`: a row count.
fn parse_size(text: &str) -> Result<u64> {
    let bad = || format!("`{text}` is not a row count (say 1M, 10M, 100M or a number)");
    let digits = text.trim().replace('_', "");
    let (number, scale) = match digits.char_indices().last() {
        Some((at, 'k' | 'K')) => (digits.get(..at).unwrap_or_default(), 1_000),
        Some((at, 'm' | 'M')) => (digits.get(..at).unwrap_or_default(), 1_000_000),
        Some((at, 'g' | 'G' | 'b' | 'B')) => (digits.get(..at).unwrap_or_default(), 1_000_000_000),
        _ => (digits.as_str(), 1),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let rows = n.checked_mul(scale).ok_or_else(bad)?;
    if rows == 0 || rows > u64::from(u32::MAX) {
        return Err(format!("`{text}` rows: the engine counts rows in 32 bits, say 1 to 4,294,967,295").into());
    }
    Ok(rows)
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options> {
    let mut options = Options {
        sizes: Vec::new(),
        seed: 42,
        runs: None,
        json: false,
        max_memory: None,
        generate_only: false,
        file: None,
        child: None,
        user: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("`{arg}` needs a value"));
        let number =
            |text: String, what: &str| text.parse::<u64>().map_err(|_| format!("{what} `{text}` is not a number"));
        match arg.as_str() {
            "--rows" => {
                for size in value()?.split(',') {
                    options.sizes.push(parse_size(size)?);
                }
            }
            "--seed" => options.seed = number(value()?, "seed")?,
            "--runs" => {
                let runs = number(value()?, "runs")?;
                options.runs = Some(u32::try_from(runs).ok().filter(|r| *r > 0).ok_or("runs must be 1 or more")?);
            }
            "--json" => options.json = true,
            "--max-memory" => {
                let mb = number(value()?, "memory cap")?;
                if mb < 64 {
                    return Err(format!("a memory cap of `{mb}` MB stops every scenario: give 64 or more").into());
                }
                options.max_memory = Some(mb.saturating_mul(1 << 20));
            }
            "--generate-only" => options.generate_only = true,
            "--file" => options.file = Some(PathBuf::from(value()?)),
            "--child" => options.child = Some(value()?),
            "--user" => options.user = Some(number(value()?, "user")?),
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}").into()),
        }
    }
    if options.sizes.is_empty() {
        options.sizes.push(1_000_000);
    }
    if options.file.is_some() && options.sizes.len() > 1 {
        return Err("`--file` names one workload: give one `--rows` with it".into());
    }
    Ok(options)
}

/// Runs per scenario: fewer for the big sizes.
fn default_runs(rows: u64) -> u32 {
    match rows {
        0..=2_000_000 => 3,
        2_000_001..=20_000_000 => 2,
        _ => 1,
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("pdp-ratios: error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let options = parse_args(std::env::args().skip(1))?;
    let target = target_dir();
    let path_of = |rows: u64| {
        options
            .file
            .clone()
            .unwrap_or_else(|| workload_file::default_path(&target.join("domo-bench"), options.seed, rows))
    };
    if let Some(scenario) = &options.child {
        let rows = options.sizes.first().copied().unwrap_or(1_000_000);
        let args = ChildArgs {
            scenario: scenario.clone(),
            rows,
            seed: options.seed,
            runs: options.runs.unwrap_or(1),
            user: options.user,
        };
        return scenario::run(&args, &path_of(rows));
    }
    let cap = options
        .max_memory
        .unwrap_or_else(|| watch::available_memory().map_or(DEFAULT_CAP / 4, |a| a / 2).min(DEFAULT_CAP));
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let markdown = !options.json && !options.generate_only;
    let header = || {
        println!("## PDP benchmark (issue 14)\n");
        println!(
            "9 columns of all six types, 2% NULL; 2,000 policies, 10,000 users, 200 groups. Each scenario runs end to end \
             from the file in its own process, each run after a csv-crate scan of the file (the ratio uses the best of each); \
             peak memory is the process's `VmHWM` after its first run. Targets from 10M rows on are issue 14's 10M targets.\n"
        );
    };
    let mut reports = Vec::new();
    for &rows in &options.sizes {
        let path = path_of(rows);
        let existing =
            if options.file.is_some() { workload_file::Existing::Keep } else { workload_file::Existing::Replace };
        let origin = workload_file::ensure(&path, options.seed, rows, threads, existing)?;
        match origin {
            workload_file::Origin::Reused => {
                eprintln!("reused {} (its record matches seed {} and {rows} rows)", path.display(), options.seed);
            }
            workload_file::Origin::Generated(seconds) => eprintln!("generated {} in {seconds:.1} s", path.display()),
        }
        if options.generate_only {
            continue;
        }
        let report = measure(&options, &path, rows, origin, cap)?;
        if markdown {
            if reports.is_empty() {
                header();
            }
            // Each size as soon as it is measured: a long run shows its first sizes early.
            println!("{}", report.markdown());
        }
        reports.push(report);
    }
    if options.json {
        let reports: Vec<serde_json::Value> = reports.iter().map(SizeReport::json).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "sizes": reports }))?);
    }
    if reports.iter().any(|r| r.lines.iter().any(|l| matches!(l.outcome, Outcome::Failed(_)))) {
        return Err("a scenario failed (see its line)".into());
    }
    Ok(())
}

/// How the one-thread run is held to one thread.
fn one_thread_command(exe: &Path) -> (Command, String) {
    let taskset = Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success());
    let mut command = if taskset {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(exe);
        command
    } else {
        Command::new(exe)
    };
    command.env("DOMO_PDP_THREADS", "1").env("RAYON_NUM_THREADS", "1");
    let how = if taskset {
        "`DOMO_PDP_THREADS=1`, `RAYON_NUM_THREADS=1` and pinned to one core with `taskset -c 0`"
    } else {
        "`DOMO_PDP_THREADS=1`, `RAYON_NUM_THREADS=1` (no `taskset` to pin it to one core)"
    };
    (command, how.to_owned())
}

/// Runs every scenario at one size.
fn measure(options: &Options, path: &Path, rows: u64, origin: workload_file::Origin, cap: u64) -> Result<SizeReport> {
    let runs = options.runs.unwrap_or_else(|| default_runs(rows));
    let exe = std::env::current_exe()?;
    let file_bytes = std::fs::metadata(path)?.len();
    let child = |mut command: Command, scenario: &str, user: Option<u64>| -> Result<Outcome> {
        command
            .args(["--child", scenario, "--rows", &rows.to_string(), "--seed", &options.seed.to_string()])
            .args(["--runs", &runs.to_string(), "--file"])
            .arg(path);
        if let Some(user) = user {
            command.args(["--user", &user.to_string()]);
        }
        eprintln!("{rows} rows: {scenario}{}", user.map_or_else(String::new, |u| format!(" (user {u})")));
        let watched = watch::run(command, cap)?;
        for line in watched.stderr.lines() {
            eprintln!("  {line}");
        }
        if let Some(rss) = watched.stopped_at {
            return Ok(Outcome::OverMemory { cap, rss });
        }
        if !watched.status.success() {
            let last = watched.stderr.lines().last().unwrap_or("no message").to_owned();
            return Ok(Outcome::Failed(format!("{} ({last})", watched.status)));
        }
        parse_child(&watched.stdout).map(Outcome::Measured)
    };
    let load_before = load_average();
    let mut lines = Vec::new();
    let mut push = |scenario: Scenario, outcome: Outcome| {
        lines.push(Line { scenario, outcome: outcome.clone() });
        outcome
    };
    // The baseline prints no paired time: its ratio is to itself.
    push(Scenario::Baseline, child(Command::new(&exe), "baseline", None)?);
    let counts = push(Scenario::Counts, child(Command::new(&exe), "counts", None)?);
    let (one_thread, how) = one_thread_command(&exe);
    push(Scenario::CountsOneThread, child(one_thread, "counts", None)?);
    let typical = Workload::generate(options.seed, rows).typical_user.get();
    push(Scenario::TypicalUser, child(Command::new(&exe), "user", Some(typical))?);
    let most = match &counts {
        Outcome::Measured(m) => m.get("most_user").and_then(|u| u.parse::<u64>().ok()),
        _ => None,
    };
    let most = match most {
        Some(user) => child(Command::new(&exe), "user", Some(user))?,
        None => Outcome::Failed("no counts to find the user who sees the most rows".to_owned()),
    };
    push(Scenario::MostRowsUser, most);
    push(Scenario::Diff, child(Command::new(&exe), "diff", None)?);
    push(Scenario::Lint, child(Command::new(&exe), "lint", None)?);
    eprintln!("{rows} rows: DuckDB's typed load");
    let python = duckdb::python(&target_dir());
    let duckdb = duckdb::load(&python, path, &Workload::schema(), rows, runs, cap)?;
    Ok(SizeReport {
        rows,
        seed: options.seed,
        file: path.to_path_buf(),
        file_bytes,
        origin,
        runs,
        memory_cap: cap,
        load_average: (load_before, load_average()),
        one_thread: how,
        duckdb,
        lines,
    })
}

/// The 1-minute load average (0 where unknown).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(0.0)
}

/// A child's `key=value` report.
fn parse_child(stdout: &str) -> Result<Measured> {
    let mut fields: Vec<(String, String)> = stdout
        .split_whitespace()
        .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let mut take = |key: &str| -> Result<String> {
        let at = fields.iter().position(|(k, _)| k == key).ok_or_else(|| format!("the child printed no `{key}`"))?;
        Ok(fields.remove(at).1)
    };
    let seconds: f64 = take("seconds")?.parse()?;
    let baseline_seconds = take("baseline_seconds").ok().map(|b| b.parse::<f64>()).transpose()?.unwrap_or(seconds);
    let cpu_per_run = take("cpu_per_run")?.parse()?;
    let peak_bytes = take("peak_kib")?.parse::<u64>()? * 1024;
    let peak_all_runs_bytes = take("peak_all_runs_kib")?.parse::<u64>()? * 1024;
    Ok(Measured { seconds, baseline_seconds, peak_bytes, peak_all_runs_bytes, cpu_per_run, detail: fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &str) -> String {
        match parse_args(args.split_whitespace().map(str::to_owned)) {
            Ok(o) => format!("{:?} seed={} runs={:?} json={}", o.sizes, o.seed, o.runs, o.json),
            Err(e) => e.to_string().lines().next().unwrap_or_default().to_owned(),
        }
    }

    #[test]
    fn sizes_runs_and_flags_are_read_and_bad_ones_named() {
        assert_eq!(check(""), "[1000000] seed=42 runs=None json=false");
        assert_eq!(check("--rows 10M --rows 100M --json"), "[10000000, 100000000] seed=42 runs=None json=true");
        assert_eq!(check("--rows 1M,10M --seed 7 --runs 2"), "[1000000, 10000000] seed=7 runs=Some(2) json=false");
        assert_eq!(check("--rows 2000 --rows 500K --rows 1_000"), "[2000, 500000, 1000] seed=42 runs=None json=false");
        assert_eq!(check("--rows 10X"), "`10X` is not a row count (say 1M, 10M, 100M or a number)");
        assert_eq!(check("--rows 5G"), "`5G` rows: the engine counts rows in 32 bits, say 1 to 4,294,967,295");
        assert_eq!(check("--rows 0"), "`0` rows: the engine counts rows in 32 bits, say 1 to 4,294,967,295");
        assert_eq!(check("--rows"), "`--rows` needs a value");
        assert_eq!(check("--runs 0"), "runs must be 1 or more");
        assert_eq!(check("--max-memory 10"), "a memory cap of `10` MB stops every scenario: give 64 or more");
        assert_eq!(check("--max-memory lots"), "memory cap `lots` is not a number");
        assert_eq!(check("--seed x"), "seed `x` is not a number");
        assert_eq!(check("--rowz 1M"), "unknown argument `--rowz`");
        assert_eq!(check("--rows 1M,10M --file a.csv"), "`--file` names one workload: give one `--rows` with it");
        assert_eq!([default_runs(1_000_000), default_runs(10_000_000), default_runs(100_000_000)], [3, 2, 1]);
    }

    #[test]
    fn a_childs_report_is_read_and_a_missing_field_named() {
        let m = parse_child(
            "seconds=0.5 baseline_seconds=0.125 cpu_per_run=0.9 peak_kib=1000 peak_all_runs_kib=2000 rows=7\n",
        )
        .unwrap();
        assert_eq!(
            (m.seconds, m.baseline_seconds, m.peak_bytes, m.peak_all_runs_bytes),
            (0.5, 0.125, 1_024_000, 2_048_000)
        );
        assert_eq!(m.detail, vec![("rows".to_owned(), "7".to_owned())]);
        let baseline = parse_child("seconds=0.1 cpu_per_run=0.1 peak_kib=1 peak_all_runs_kib=1 rows=7").unwrap();
        assert_eq!(baseline.baseline_seconds, 0.1);
        assert_eq!(parse_child("seconds=0.1").unwrap_err().to_string(), "the child printed no `cpu_per_run`");
    }
}
