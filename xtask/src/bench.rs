//! `cargo xtask bench`: the PDP benchmark of issue 14 at 1M, 10M or 100M rows, printing each scenario's ratio to the csv-crate scan and DuckDB's load, peak memory, and the targets.

use xshell::{Shell, cmd};

/// Builds `domo-benches` in release and runs `pdp-ratios`, which generates the
/// workload of each size once (under `target/domo-bench/`, deterministic by
/// seed, reused while its record matches; refused when the disk is short),
/// runs every scenario end to end from the CSV file in its own process under a
/// memory cap, and prints a markdown table against issue 14's targets (or JSON).
///
/// Extra arguments after `bench` are passed on: `--rows 1M|10M|100M` (several
/// allowed), `--seed S`, `--runs R`, `--json`, `--max-memory MB`,
/// `--generate-only`; `cargo xtask bench --help` lists them. CI builds the
/// benchmarks (`bench-build`) but never runs this.
pub(crate) fn run() -> anyhow::Result<()> {
    let sh = Shell::new()?;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if let Some(workspace) = root.parent() {
        sh.change_dir(workspace);
    }
    let args: Vec<String> = std::env::args().skip(2).collect();
    cmd!(sh, "cargo run --release --locked -p domo-benches --bin pdp-ratios -- {args...}").run()?;
    Ok(())
}
