//! The results of each size against issue 14's targets: a markdown table for people, JSON (`--json`) for machines.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::duckdb::{Load, Missing};
use crate::workload_file::Origin;

/// Issue 14's memory bound from 10M rows on: 256 MiB whatever the row count.
const LARGE_PEAK: u64 = 256 << 20;

/// From this many rows on, the 10M-row targets apply.
const LARGE_ROWS: u64 = 10_000_000;

/// The scenarios, in the order they run and print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    Baseline,
    Counts,
    CountsOneThread,
    TypicalUser,
    MostRowsUser,
    Diff,
    Lint,
}

impl Scenario {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Counts => "counts",
            Scenario::CountsOneThread => "counts_one_thread",
            Scenario::TypicalUser => "typical_user",
            Scenario::MostRowsUser => "most_rows_user",
            Scenario::Diff => "diff",
            Scenario::Lint => "lint",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline: csv crate scan, reused `ByteRecord`",
            Scenario::Counts => "all users' visible counts (10,000 users)",
            Scenario::CountsOneThread => "all users' counts on one thread",
            Scenario::TypicalUser => "typical user's rows as CSV",
            Scenario::MostRowsUser => "most-rows user's rows as CSV",
            Scenario::Diff => "`diff` of 50 changed policies",
            Scenario::Lint => "`lint` with the data",
        }
    }

    /// Issue 14's goals for this scenario at `rows` rows.
    pub(crate) fn target(self, rows: u64) -> Target {
        let large = rows >= LARGE_ROWS;
        let memory = if large {
            Target { peak_bytes: Some(LARGE_PEAK), ..Target::default() }
        } else {
            Target { file_ratio: Some(0.5), ..Target::default() }
        };
        match self {
            Scenario::Baseline | Scenario::CountsOneThread => Target::default(),
            Scenario::Counts => Target { scan_ratio: Some(2.5), duckdb_ratio: large.then_some(1.0), ..memory },
            Scenario::Diff | Scenario::Lint => Target { counts_ratio: Some(2.0), ..memory },
            Scenario::TypicalUser | Scenario::MostRowsUser => memory,
        }
    }
}

/// A goal of issue 14: each bound that is set must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Target {
    /// Time at most this many times the csv-crate scan's.
    pub(crate) scan_ratio: Option<f64>,
    /// Time at most this many times DuckDB's typed load's.
    pub(crate) duckdb_ratio: Option<f64>,
    /// Time at most this many times all users' counts'.
    pub(crate) counts_ratio: Option<f64>,
    /// Peak memory at most this many times the file's size.
    pub(crate) file_ratio: Option<f64>,
    /// Peak memory at most this many bytes.
    pub(crate) peak_bytes: Option<u64>,
}

impl Target {
    fn is_none(&self) -> bool {
        *self == Target::default()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.scan_ratio {
            parts.push(format!("≤ {r}× scan"));
        }
        if let Some(r) = self.duckdb_ratio {
            parts.push(format!("≤ {r}× DuckDB"));
        }
        if let Some(r) = self.counts_ratio {
            parts.push(format!("≤ {r}× counts"));
        }
        if let Some(r) = self.file_ratio {
            parts.push(format!("peak ≤ {r}× file"));
        }
        if let Some(b) = self.peak_bytes {
            parts.push(format!("peak ≤ {} MiB", b >> 20));
        }
        parts.join(", ")
    }
}

/// What a scenario's child measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    pub(crate) seconds: f64,
    /// The best csv-crate scan run between this scenario's runs (the baseline's own time for the baseline).
    pub(crate) baseline_seconds: f64,
    /// Peak resident memory of the first run, in bytes.
    pub(crate) peak_bytes: u64,
    /// Peak resident memory over all runs in the one process, in bytes.
    pub(crate) peak_all_runs_bytes: u64,
    pub(crate) cpu_per_run: f64,
    /// The scenario's own `key=value` findings (row counts, users, findings).
    pub(crate) detail: Vec<(String, String)>,
}

impl Measured {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.detail.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// How a scenario ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Measured(Measured),
    /// Stopped for passing the memory cap (both in bytes).
    OverMemory {
        cap: u64,
        rss: u64,
    },
    /// An error, with its message.
    Failed(String),
}

/// One scenario's line.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) scenario: Scenario,
    pub(crate) outcome: Outcome,
}

/// Everything measured at one size.
#[derive(Debug, Clone)]
pub(crate) struct SizeReport {
    pub(crate) rows: u64,
    pub(crate) seed: u64,
    pub(crate) file: PathBuf,
    pub(crate) file_bytes: u64,
    pub(crate) origin: Origin,
    pub(crate) runs: u32,
    pub(crate) memory_cap: u64,
    /// The 1-minute load average before and after the scenarios: the machine's other work.
    pub(crate) load_average: (f64, f64),
    /// How the one-thread run was limited to one thread.
    pub(crate) one_thread: String,
    pub(crate) duckdb: Result<Load, Missing>,
    pub(crate) lines: Vec<Line>,
}

/// Whether a target holds: a verdict per bound, `None` where it cannot be measured.
#[derive(Debug, Clone, Default)]
struct Verdict {
    failed: Vec<&'static str>,
    unmeasured: Vec<&'static str>,
}

impl Verdict {
    fn text(&self, target: &Target) -> String {
        if target.is_none() {
            return String::new();
        }
        let mut text =
            if self.failed.is_empty() { "pass".to_owned() } else { format!("FAIL ({})", self.failed.join(", ")) };
        if !self.unmeasured.is_empty() {
            let _ = write!(text, "; not measured: {}", self.unmeasured.join(", "));
        }
        text
    }
}

impl SizeReport {
    fn measured(&self, scenario: Scenario) -> Option<&Measured> {
        self.lines.iter().find(|l| l.scenario == scenario).and_then(|l| match &l.outcome {
            Outcome::Measured(m) => Some(m),
            _ => None,
        })
    }

    fn duckdb_seconds(&self) -> Option<f64> {
        self.duckdb.as_ref().ok().map(|l| l.seconds)
    }

    /// One thread's time over two threads' for all users' counts.
    pub(crate) fn speed_up(&self) -> Option<f64> {
        let two = self.measured(Scenario::Counts)?;
        let one = self.measured(Scenario::CountsOneThread)?;
        Some(one.seconds / two.seconds)
    }

    fn verdict(&self, line: &Line) -> Verdict {
        let target = line.scenario.target(self.rows);
        let mut verdict = Verdict::default();
        let m = match &line.outcome {
            Outcome::Measured(m) => m,
            Outcome::OverMemory { .. } => {
                verdict.failed.push("over the memory cap");
                return verdict;
            }
            Outcome::Failed(_) => {
                verdict.failed.push("error");
                return verdict;
            }
        };
        if target.scan_ratio.is_some_and(|t| m.seconds / m.baseline_seconds > t) {
            verdict.failed.push("time");
        }
        if let Some(t) = target.duckdb_ratio {
            match self.duckdb_seconds() {
                Some(d) if m.seconds / d > t => verdict.failed.push("slower than DuckDB"),
                Some(_) => {}
                None => verdict.unmeasured.push("DuckDB"),
            }
        }
        if let Some(t) = target.counts_ratio {
            match self.measured(Scenario::Counts) {
                Some(c) if m.seconds / c.seconds > t => verdict.failed.push("time"),
                Some(_) => {}
                None => verdict.unmeasured.push("counts"),
            }
        }
        let peak = m.peak_bytes as f64;
        if target.file_ratio.is_some_and(|t| peak / self.file_bytes as f64 > t)
            || target.peak_bytes.is_some_and(|t| m.peak_bytes > t)
        {
            verdict.failed.push("memory");
        }
        verdict
    }

    /// Whether every target at this size holds (an unmeasurable bound does not count against it).
    pub(crate) fn passes(&self) -> bool {
        self.lines.iter().all(|l| self.verdict(l).failed.is_empty())
    }

    /// The markdown section of this size.
    pub(crate) fn markdown(&self) -> String {
        let mb = |bytes: f64| bytes / 1e6;
        let mut out = String::new();
        let origin = match self.origin {
            Origin::Reused => "reused".to_owned(),
            Origin::Generated(s) => format!("generated in {s:.1} s"),
        };
        let _ = writeln!(
            out,
            "### {} rows ({:.1} MB CSV, seed {}, {origin}; best of {} runs; memory cap {:.0} MB; load average {:.1} before, {:.1} after)\n",
            group_digits(self.rows),
            mb(self.file_bytes as f64),
            self.seed,
            self.runs,
            mb(self.memory_cap as f64),
            self.load_average.0,
            self.load_average.1
        );
        let _ = writeln!(
            out,
            "| scenario | seconds | rows/s | × csv scan | × DuckDB load | peak MB | × file | CPU s/run | target (issue 14) | result |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
        for line in &self.lines {
            let target = line.scenario.target(self.rows);
            let verdict = self.verdict(line).text(&target);
            let title = self.title(line);
            match &line.outcome {
                Outcome::Measured(m) => {
                    let duckdb =
                        self.duckdb_seconds().map_or_else(|| "–".to_owned(), |d| format!("{:.2}", m.seconds / d));
                    let _ = writeln!(
                        out,
                        "| {title} | {:.3} | {:.2} M | {:.2} | {duckdb} | {:.0} | {:.2} | {:.2} | {} | {verdict} |",
                        m.seconds,
                        self.rows as f64 / m.seconds / 1e6,
                        m.seconds / m.baseline_seconds,
                        mb(m.peak_bytes as f64),
                        m.peak_bytes as f64 / self.file_bytes as f64,
                        m.cpu_per_run,
                        target.describe()
                    );
                }
                Outcome::OverMemory { cap, rss } => {
                    let _ = writeln!(
                        out,
                        "| {title} | stopped at {:.0} MB, over the {:.0} MB cap | | | | > {:.0} | > {:.2} | | {} | {verdict} |",
                        mb(*rss as f64),
                        mb(*cap as f64),
                        mb(*cap as f64),
                        *cap as f64 / self.file_bytes as f64,
                        target.describe()
                    );
                }
                Outcome::Failed(e) => {
                    let _ = writeln!(
                        out,
                        "| {title} | failed: {} | | | | | | | {} | {verdict} |",
                        e.replace('|', "\\|"),
                        target.describe()
                    );
                }
            }
        }
        out.push('\n');
        match &self.duckdb {
            Ok(load) => {
                let _ = writeln!(
                    out,
                    "DuckDB {} typed load (`CREATE TABLE … AS SELECT * FROM read_csv(…)`, {} threads): {:.3} s = {:.2}× the csv scan, peak {:.0} MB.",
                    load.version,
                    load.threads,
                    load.seconds,
                    self.measured(Scenario::Baseline).map_or(f64::NAN, |b| load.seconds / b.seconds),
                    mb(load.peak_bytes as f64)
                );
            }
            Err(Missing::NotInstalled(why)) => {
                let _ = writeln!(out, "DuckDB: not measured ({why}).");
            }
            Err(Missing::Failed(why)) => {
                let _ = writeln!(out, "DuckDB: {why}.");
            }
        }
        if let Some(speed_up) = self.speed_up() {
            let _ = writeln!(
                out,
                "All users' counts, speed-up from one thread to two: {speed_up:.2}× (one thread: {}).",
                self.one_thread
            );
        }
        if let Some(c) = self.measured(Scenario::Counts) {
            let _ = writeln!(
                out,
                "Users by reason: {} through policies, {} in no policy, {} admins (+ the owner); peak over all runs in one process {:.0} MB.",
                c.get("policies").unwrap_or("?"),
                c.get("no_policy").unwrap_or("?"),
                c.get("admin").unwrap_or("?"),
                mb(c.peak_all_runs_bytes as f64)
            );
        }
        if let Some(d) = self.measured(Scenario::Diff) {
            let _ = writeln!(
                out,
                "`diff`: {} policies changed, {} users' rows change ({} rows gained, {} lost in all).",
                d.get("changed_policies").unwrap_or("?"),
                d.get("changed_users").unwrap_or("?"),
                d.get("rows_gained").unwrap_or("?"),
                d.get("rows_lost").unwrap_or("?")
            );
        }
        if let Some(l) = self.measured(Scenario::Lint) {
            let _ = writeln!(
                out,
                "`lint`: {} findings ({} errors, {} warnings).",
                l.get("findings").unwrap_or("?"),
                l.get("errors").unwrap_or("?"),
                l.get("warnings").unwrap_or("?")
            );
        }
        out
    }

    fn title(&self, line: &Line) -> String {
        let m = match &line.outcome {
            Outcome::Measured(m) => Some(m),
            _ => None,
        };
        let rows = m.and_then(|m| m.get("rows")).unwrap_or("?");
        match line.scenario {
            Scenario::TypicalUser | Scenario::MostRowsUser => {
                let user = m.and_then(|m| m.get("user")).unwrap_or("?");
                format!("{} (user {user}, {rows} rows)", line.scenario.title())
            }
            other => other.title().to_owned(),
        }
    }

    /// The JSON of this size.
    pub(crate) fn json(&self) -> Value {
        let scenarios: Vec<Value> = self
            .lines
            .iter()
            .map(|line| {
                let target = line.scenario.target(self.rows);
                let verdict = self.verdict(line);
                let mut value = json!({
                    "scenario": line.scenario.key(),
                    "target": {
                        "ratio_to_baseline": target.scan_ratio,
                        "ratio_to_duckdb": target.duckdb_ratio,
                        "ratio_to_counts": target.counts_ratio,
                        "peak_ratio_to_file": target.file_ratio,
                        "peak_bytes": target.peak_bytes,
                    },
                    "pass": (!target.is_none()).then_some(verdict.failed.is_empty()),
                    "failed": verdict.failed,
                    "not_measured": verdict.unmeasured,
                });
                let fields = match &line.outcome {
                    Outcome::Measured(m) => json!({
                        "outcome": "measured",
                        "seconds": m.seconds,
                        "baseline_seconds": m.baseline_seconds,
                        "ratio_to_baseline": m.seconds / m.baseline_seconds,
                        "ratio_to_duckdb": self.duckdb_seconds().map(|d| m.seconds / d),
                        "peak_bytes": m.peak_bytes,
                        "peak_all_runs_bytes": m.peak_all_runs_bytes,
                        "peak_ratio_to_file": m.peak_bytes as f64 / self.file_bytes as f64,
                        "cpu_seconds_per_run": m.cpu_per_run,
                        "detail": m.detail.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<String, Value>>(),
                    }),
                    Outcome::OverMemory { cap, rss } => {
                        json!({"outcome": "over_memory_cap", "cap_bytes": cap, "stopped_at_bytes": rss})
                    }
                    Outcome::Failed(e) => json!({"outcome": "failed", "error": e}),
                };
                if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), fields) {
                    object.extend(extra);
                }
                value
            })
            .collect();
        let duckdb = match &self.duckdb {
            Ok(load) => {
                json!({"seconds": load.seconds, "threads": load.threads, "version": load.version, "peak_bytes": load.peak_bytes})
            }
            Err(Missing::NotInstalled(why) | Missing::Failed(why)) => json!({"seconds": null, "why": why}),
        };
        json!({
            "rows": self.rows,
            "seed": self.seed,
            "file": self.file.display().to_string(),
            "file_bytes": self.file_bytes,
            "reused": self.origin == Origin::Reused,
            "runs": self.runs,
            "memory_cap_bytes": self.memory_cap,
            "load_average_before": self.load_average.0,
            "load_average_after": self.load_average.1,
            "duckdb_load": duckdb,
            "one_thread": self.one_thread,
            "speed_up_one_to_two_threads": self.speed_up(),
            "pass": self.passes(),
            "scenarios": scenarios,
        })
    }
}

/// `1,000,000`.
pub(crate) fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(seconds: f64, baseline: f64, peak_mb: u64) -> Outcome {
        Outcome::Measured(Measured {
            seconds,
            baseline_seconds: baseline,
            peak_bytes: peak_mb << 20,
            peak_all_runs_bytes: peak_mb << 20,
            cpu_per_run: seconds,
            detail: vec![("rows".into(), "358".into()), ("user".into(), "7".into())],
        })
    }

    fn report(rows: u64, duckdb: Option<f64>, lines: Vec<(Scenario, Outcome)>) -> SizeReport {
        SizeReport {
            rows,
            seed: 42,
            file: PathBuf::from("target/domo-bench/sales.csv"),
            file_bytes: rows * 85,
            origin: Origin::Reused,
            runs: 3,
            memory_cap: 8 << 30,
            load_average: (1.0, 2.5),
            one_thread: "taskset -c 0".to_owned(),
            duckdb: duckdb.map_or_else(
                || Err(Missing::NotInstalled("no `duckdb` package".into())),
                |seconds| Ok(Load { seconds, threads: "2".into(), version: "2.0.0".into(), peak_bytes: 900 << 20 }),
            ),
            lines: lines.into_iter().map(|(scenario, outcome)| Line { scenario, outcome }).collect(),
        }
    }

    fn check(report: &SizeReport, scenario: Scenario) -> String {
        let line = report.lines.iter().find(|l| l.scenario == scenario).unwrap();
        report.verdict(line).text(&scenario.target(report.rows))
    }

    #[test]
    fn each_scenario_is_judged_against_issue_14s_target_for_its_size() {
        let small = report(
            1_000_000,
            None,
            vec![
                (Scenario::Baseline, measured(0.12, 0.12, 5)),
                (Scenario::Counts, measured(0.30, 0.12, 40)),
                (Scenario::CountsOneThread, measured(0.50, 0.12, 40)),
                (Scenario::TypicalUser, measured(0.13, 0.12, 60)),
                (Scenario::Diff, measured(0.61, 0.12, 10)),
                (Scenario::Lint, measured(0.59, 0.12, 10)),
            ],
        );
        assert_eq!(check(&small, Scenario::Baseline), "");
        assert_eq!(check(&small, Scenario::Counts), "pass");
        assert_eq!(check(&small, Scenario::TypicalUser), "FAIL (memory)", "60 MiB > 0.5 × 85 MB");
        assert_eq!(check(&small, Scenario::Diff), "FAIL (time)", "0.61 s > 2 × 0.30 s");
        assert_eq!(check(&small, Scenario::Lint), "pass");
        assert!((small.speed_up().unwrap() - 0.5 / 0.3).abs() < 1e-9);
        assert!(!small.passes());

        let large = report(
            10_000_000,
            Some(0.8),
            vec![
                (Scenario::Counts, measured(1.2, 0.4, 300)),
                (Scenario::Diff, Outcome::OverMemory { cap: 8 << 30, rss: 9 << 30 }),
                (Scenario::Lint, Outcome::Failed("cannot open `x`".into())),
            ],
        );
        assert_eq!(check(&large, Scenario::Counts), "FAIL (time, slower than DuckDB, memory)");
        assert_eq!(check(&large, Scenario::Diff), "FAIL (over the memory cap)");
        assert_eq!(check(&large, Scenario::Lint), "FAIL (error)");
        let without_duckdb = report(10_000_000, None, vec![(Scenario::Counts, measured(0.9, 0.4, 200))]);
        assert_eq!(check(&without_duckdb, Scenario::Counts), "pass; not measured: DuckDB");
    }

    #[test]
    fn the_table_shows_ratios_targets_and_results() {
        let small = report(
            1_000_000,
            Some(0.6),
            vec![
                (Scenario::Baseline, measured(0.125, 0.125, 5)),
                (Scenario::Counts, measured(0.25, 0.125, 40)),
                (Scenario::TypicalUser, measured(0.13, 0.125, 6)),
                (Scenario::Lint, Outcome::OverMemory { cap: 1 << 30, rss: 1_100 << 20 }),
            ],
        );
        let text = small.markdown();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "### 1,000,000 rows (85.0 MB CSV, seed 42, reused; best of 3 runs; memory cap 8590 MB; load average 1.0 before, 2.5 after)"
        );
        assert_eq!(
            lines[5],
            "| all users' visible counts (10,000 users) | 0.250 | 4.00 M | 2.00 | 0.42 | 42 | 0.49 | 0.25 | ≤ 2.5× scan, peak ≤ 0.5× file | pass |"
        );
        assert_eq!(
            lines[6],
            "| typical user's rows as CSV (user 7, 358 rows) | 0.130 | 7.69 M | 1.04 | 0.22 | 6 | 0.07 | 0.13 | peak ≤ 0.5× file | pass |"
        );
        assert!(
            lines[7].starts_with("| `lint` with the data | stopped at 1153 MB, over the 1074 MB cap |"),
            "{}",
            lines[7]
        );
        assert!(lines[7].ends_with("| ≤ 2× counts, peak ≤ 0.5× file | FAIL (over the memory cap) |"), "{}", lines[7]);
        assert!(text.contains("DuckDB 2.0.0 typed load (`CREATE TABLE … AS SELECT * FROM read_csv(…)`, 2 threads): 0.600 s = 4.80× the csv scan, peak 944 MB."));
        let json = small.json();
        assert_eq!(json["scenarios"][1]["ratio_to_baseline"], 2.0);
        assert_eq!(json["scenarios"][1]["pass"], true);
        assert_eq!(json["scenarios"][0]["pass"], Value::Null);
        assert_eq!(json["scenarios"][3]["outcome"], "over_memory_cap");
        assert_eq!(json["pass"], false);
        assert_eq!(group_digits(100_000_000), "100,000,000");
        assert_eq!(group_digits(999), "999");
    }
}
