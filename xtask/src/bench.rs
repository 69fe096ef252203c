//! `cargo xtask bench`: the PDP benchmark on the generated 1M-row workload, printing each scenario's ratio to the csv-crate baseline and peak memory.

use xshell::{Shell, cmd};

/// Builds `domo-benches` in release and runs `pdp-ratios`, which generates the
/// workload once (under the target directory, deterministic by seed), runs
/// every scenario end to end from the CSV file in its own process, and prints
/// the ratios, rows per second and peak memory against the file size.
///
/// Extra arguments after `bench` are passed on (`--rows N`, `--seed S`, `--runs R`).
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
