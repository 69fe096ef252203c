//! `cargo xtask`: the project's automation, one entry point for every check.

mod bench;
mod provision;
mod tidy;

use std::time::Instant;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci         every check CI runs, after installing what is missing (rustfmt, clippy, DuckDB and pydomo
             in a virtual environment under target/, the Node SDK under target/ci-node): fmt, clippy, doc,
             bench build, tidy, SQL conformance, tests
  provision  only the installs `ci` starts with; prints the virtual environment's Python and the
             Node SDK's node_modules folder
  tidy       only the tidy checks (layering, module docs, no ignored tests)
  bench      the PDP benchmark on the generated 1M-row workload: ratios to the csv-crate baseline
             and peak memory (extra arguments go to pdp-ratios: --rows N, --seed S, --runs R)";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sh = Shell::new()?;
    sh.change_dir(workspace_root());
    match args.first().map(String::as_str) {
        Some("ci") => ci(&sh),
        Some("tidy") => tidy::check(&workspace_root()),
        Some("provision") => {
            provision::rust_components(&sh)?;
            let target = provision::target_dir(&workspace_root());
            let python = provision::python_env(&sh, &target)?;
            let node_modules = provision::node_sdk(&sh, &target)?;
            println!("{}", python.display());
            println!("{}", node_modules.display());
            Ok(())
        }
        Some("bench") => bench::run(),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn workspace_root() -> std::path::PathBuf {
    let manifest_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(std::path::Path::to_path_buf).unwrap_or(manifest_dir)
}

/// Runs every section in order and stops at the first failure, naming it.
/// The tests run last so that CI's final lines are cargo test's summary.
fn ci(sh: &Shell) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let mut python = None;
    let mut node_modules = None;
    section("provision", || {
        provision::rust_components(sh)?;
        let target = provision::target_dir(&root);
        python = Some(provision::python_env(sh, &target)?);
        node_modules = Some(provision::node_sdk(sh, &target)?);
        Ok(())
    })?;
    let python = python.context("provisioning found no Python")?;
    let node_modules = node_modules.context("provisioning found no Node SDK")?;
    section("fmt", || Ok(cmd!(sh, "cargo fmt --all --check").run()?))?;
    section("clippy", || Ok(cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?))?;
    section("doc", || {
        Ok(cmd!(sh, "cargo doc --workspace --no-deps --locked").env("RUSTDOCFLAGS", "-D warnings").run()?)
    })?;
    section("bench-build", || Ok(cmd!(sh, "cargo bench --workspace --no-run --locked").run()?))?;
    section("tidy", || tidy::check(&root))?;
    section("sql-conformance", || {
        // DuckDB (the Python package in the CI virtual environment) runs the generated SQL; every row and count must match the engine.
        Ok(cmd!(sh, "cargo run --locked -p domo-tests --bin sql-conformance -- --sets 200 --python {python}").run()?)
    })?;
    section("doctest", || Ok(cmd!(sh, "cargo test --workspace --doc --locked").run()?))?;
    eprintln!("ci: all checks before the tests passed in {:.0?}; running the tests", started.elapsed());
    // No trailer after the tests: CI reads cargo test's summary as the last line.
    eprintln!("\n=== ci: test");
    // The SDK tests (`domo-cli`'s `sdk` module) run pydomo and the Node SDK from here.
    cmd!(sh, "cargo test --workspace --lib --bins --tests --locked")
        .env("DOMO_TEST_PYTHON", &python)
        .env("DOMO_TEST_NODE_MODULES", &node_modules)
        .run()
        .context("ci section `test` failed")?;
    Ok(())
}

fn section(name: &str, run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    eprintln!("\n=== ci: {name}");
    let started = Instant::now();
    run().with_context(|| format!("ci section `{name}` failed"))?;
    eprintln!("=== ci: {name} passed in {:.1?}", started.elapsed());
    Ok(())
}
