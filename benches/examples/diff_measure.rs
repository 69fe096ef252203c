//! `diff_measure`: time and peak memory of `diff` of 50 changed policies on the benchmark workload, before and after the bounded-memory rework.
//!
//! Each scenario runs in a child process (this program with `--child`) so that its peak
//! resident memory (`VmHWM`) is its own. Scenarios: `baseline` (the csv crate reads every
//! record), `counts` (load, evaluate, all users' counts), `old` (the diff as it was: both
//! sets evaluated on the whole table, every gained and lost row listed per user), `whole`
//! (the whole table, then `DiffAccumulator` on it, as `domo pdp diff` does now), `stream`
//! (batches of `--batch` rows loaded one at a time and fed to `DiffAccumulator`).
//!
//! Usage: `cargo run --release -p domo-benches --example diff_measure -- [--rows N] [--runs R] [--batch B]`
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "a measurement stops at its first failure")]

use std::collections::HashMap;
use std::error::Error;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use domo_benches::Workload;
use domo_model::Policy;
use domo_pdp::{DiffAccumulator, DiffOptions, Evaluation, HeaderRow, PolicySet, RowSet, Table};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// CPU time (user + system, all threads) of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// The diff as it was before the rework (commit e51cecb): per distinct pair of policy sets, both
/// sides' row sets built in full and every gained and lost row listed, cloned to each user.
fn old_diff(old: &Evaluation<'_>, new: &Evaluation<'_>) -> (usize, usize) {
    type Key = (Option<Vec<usize>>, Option<Vec<usize>>);
    let key = |access: &domo_pdp::Access| {
        (!access.sees_everything()).then(|| access.policies.iter().map(|m| m.policy.index()).collect::<Vec<_>>())
    };
    let mut memo: HashMap<Key, (Vec<usize>, Vec<usize>, usize, usize)> = HashMap::new();
    let mut users = Vec::new();
    for user in new.policy_set().directory().users.iter().map(|u| u.id) {
        let (oa, na) = (old.policy_set().access(user), new.policy_set().access(user));
        let change = memo
            .entry((key(&oa), key(&na)))
            .or_insert_with(|| {
                let (before, after): (RowSet, RowSet) = (old.rows_for(&oa), new.rows_for(&na));
                let gained: Vec<usize> = after.iter().filter(|r| !before.contains(*r)).collect();
                let lost: Vec<usize> = before.iter().filter(|r| !after.contains(*r)).collect();
                (gained, lost, before.len(), after.len())
            })
            .clone();
        if !change.0.is_empty() || !change.1.is_empty() {
            users.push((user, change));
        }
    }
    (users.len(), users.iter().map(|(_, c)| c.0.len()).sum())
}

/// Reads `path` in batches of about `rows` records (split outside quotes), each loaded as a table.
fn for_each_batch(path: &Path, schema: &domo_model::Schema, rows: usize, mut f: impl FnMut(&Table)) -> Result<()> {
    let mut file = File::open(path)?;
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut first = true;
    let mut in_quotes = false;
    let mut records = 0usize;
    let mut scanned = 0usize;
    let mut flush = |bytes: &[u8], first: &mut bool| -> Result<()> {
        let header = if *first { HeaderRow::Present } else { HeaderRow::Absent };
        *first = false;
        f(&Table::from_csv(bytes, schema, header)?);
        Ok(())
    };
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        pending.extend_from_slice(&buffer[..read]);
        loop {
            let mut cut = None;
            for (i, &byte) in pending.iter().enumerate().skip(scanned) {
                match byte {
                    b'"' => in_quotes = !in_quotes,
                    b'\n' if !in_quotes => {
                        records += 1;
                        if records >= rows {
                            cut = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(cut) = cut else {
                scanned = pending.len();
                break;
            };
            flush(&pending[..cut], &mut first)?;
            pending.drain(..cut);
            // What is left starts a record, outside quotes.
            (scanned, records, in_quotes) = (0, 0, false);
        }
    }
    if !pending.is_empty() || first {
        flush(&pending, &mut first)?;
    }
    Ok(())
}

fn child(scenario: &str, rows: u64, runs: u32, batch: usize, path: &Path) -> Result<()> {
    let workload = Workload::generate(42, rows);
    let new_policies = workload.relaxed_policies(50);
    let schema = &workload.dataset.schema;
    let compile = |p: &[Policy]| PolicySet::compile(&workload.dataset, p, &workload.directory);
    let mut best = f64::INFINITY;
    let mut detail = String::new();
    let mut first_peak = 0;
    let mut best_cpu = f64::INFINITY;
    for run in 0..runs {
        let started = Instant::now();
        let cpu = cpu_seconds();
        detail = match scenario {
            "baseline" => {
                let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(File::open(path)?);
                let mut record = csv::ByteRecord::new();
                let mut n = 0u64;
                while reader.read_byte_record(&mut record)? {
                    n += 1;
                }
                format!("rows={n}")
            }
            "counts" => {
                let table = Table::from_csv(File::open(path)?, schema, HeaderRow::Present)?;
                let set = compile(&workload.policies)?;
                let counts = set.evaluate(&table)?.visible_counts();
                format!("users={}", counts.len())
            }
            "old" => {
                let table = Table::from_csv(File::open(path)?, schema, HeaderRow::Present)?;
                let (old, new) = (compile(&workload.policies)?, compile(&new_policies)?);
                let (users, gained) = old_diff(&old.evaluate(&table)?, &new.evaluate(&table)?);
                format!("changed_users={users} gained_rows={gained}")
            }
            "whole" => {
                let cpu = cpu_seconds();
                let table = Table::from_csv(File::open(path)?, schema, HeaderRow::Present)?;
                let loaded = cpu_seconds();
                let (old, new) = (compile(&workload.policies)?, compile(&new_policies)?);
                let compiled = cpu_seconds();
                let mut diff = DiffAccumulator::new(&old, &new, DiffOptions::default());
                let planned = cpu_seconds();
                diff.add_batch(&table)?;
                let added = cpu_seconds();
                let diff = diff.finish();
                eprintln!(
                    "cpu: load {:.2} s, compile both {:.2} s, plan {:.2} s, accumulate {:.2} s",
                    loaded - cpu,
                    compiled - loaded,
                    planned - compiled,
                    added - planned
                );
                format!(
                    "changed_users={} gained_rows={}",
                    diff.users.len(),
                    diff.users.iter().map(|u| u.gained.count).sum::<usize>()
                )
            }
            "stream" => {
                let (old, new) = (compile(&workload.policies)?, compile(&new_policies)?);
                let mut diff = DiffAccumulator::new(&old, &new, DiffOptions::default());
                for_each_batch(path, schema, batch, |table| diff.add_batch(table).unwrap())?;
                assert_eq!(diff.rows() as u64, rows);
                let diff = diff.finish();
                format!(
                    "changed_users={} gained_rows={}",
                    diff.users.len(),
                    diff.users.iter().map(|u| u.gained.count).sum::<usize>()
                )
            }
            other => return Err(format!("unknown scenario `{other}`").into()),
        };
        best = best.min(started.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - cpu);
        if run == 0 {
            first_peak = peak_rss_kib();
        }
    }
    println!("seconds={best} peak_kib={first_peak} cpu={best_cpu:.2} {detail}");
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut rows, mut runs, mut batch, mut scenario, mut only) = (1_000_000u64, 3u32, 65_536usize, None, None);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or("a flag needs a value")?;
        match arg.as_str() {
            "--rows" => rows = value.parse()?,
            "--runs" => runs = value.parse()?,
            "--batch" => batch = value.parse()?,
            "--child" => scenario = Some(value),
            "--only" => only = Some(value),
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let path = target.join("domo-bench").join(format!("sales-seed42-rows{rows}.csv"));
    if let Some(scenario) = scenario {
        return child(&scenario, rows, runs, batch, &path);
    }
    if !path.exists() {
        std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        let partial = path.with_extension("partial");
        Workload::generate(42, rows).write_csv(File::create(&partial)?)?;
        std::fs::rename(&partial, &path)?;
    }
    let size = std::fs::metadata(&path)?.len() as f64;
    println!("{} rows, {:.1} MB CSV, 50 changed policies, batches of {batch} rows, best of {runs}", rows, size / 1e6);
    for scenario in ["baseline", "counts", "old", "whole", "stream"] {
        if only.as_deref().is_some_and(|o| !o.split(',').any(|s| s == scenario)) {
            continue;
        }
        let output = Command::new(std::env::current_exe()?)
            .args(["--child", scenario, "--rows", &rows.to_string(), "--runs", &runs.to_string()])
            .args(["--batch", &batch.to_string()])
            .output()?;
        if !output.status.success() {
            return Err(format!("`{scenario}` failed: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        let text = String::from_utf8(output.stdout)?;
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        let field = |key: &str| {
            text.split_whitespace().find_map(|p| p.strip_prefix(key).and_then(|v| v.strip_prefix('='))).unwrap_or("?")
        };
        let peak: f64 = field("peak_kib").parse::<f64>().unwrap_or(0.0) * 1024.0;
        println!(
            "{scenario:<9} {:>8} s (cpu {:>5} s)  peak {:>8.1} MB = {:.2}x the file  {}",
            field("seconds").get(..6).unwrap_or(field("seconds")),
            field("cpu"),
            peak / 1e6,
            peak / size,
            text.split_whitespace().skip(3).collect::<Vec<_>>().join(" ")
        );
    }
    Ok(())
}
