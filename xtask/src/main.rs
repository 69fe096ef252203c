//! `cargo xtask`: the project's automation, one entry point for every check.

mod bench;
mod cycles;
mod embed;
mod provision;
mod scale;
mod tidy;

use std::time::Instant;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci         every check CI runs, after installing what is missing (rustfmt, clippy; DuckDB, pydomo,
             PySpark and sqlglot in a virtual environment under target/ci-venv; the Node SDK under
             target/ci-node; PostgreSQL, Java and headless Chromium with apt-get): fmt, clippy, doc, bench build, tidy,
             SQL conformance (DuckDB, PostgreSQL, Spark, and a syntax check of Snowflake, BigQuery,
             Trino), embedding (examples/embed: domo-pdp alone, domo-http alone against domo serve),
             doc tests, tests (headless Chromium for the report page)
  provision  only the installs `ci` starts with; prints the virtual environment's Python, the
             Node SDK's node_modules folder and Chromium's path
  tidy       only the tidy checks (layering, dependency trees, module cycles, module docs, no
             ignored tests)
  embed      only the embedding programs of examples/embed
  bench      the PDP benchmark of issue 14 on the generated workload: ratios to the csv-crate scan and
             DuckDB's load, peak memory, pass/fail against the targets (extra arguments go to pdp-ratios:
             --rows 1M|10M|100M (several allowed), --seed S, --runs R, --json, --max-memory MB)
  scale      a whole instance against `domo serve` (1,000 DataSets, 10,000 users, 300 groups, 50
             policies each): times lint, plan, apply, pull --all and generate (--datasets N, --users N,
             --groups N, --policies N, --rows N, --entitlements N, --jobs N)";

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
            provision::warehouse_python_packages(&sh, &python)?;
            provision::postgres_bin(&sh)?;
            provision::java_runtime(&sh)?;
            let node_modules = provision::node_sdk(&sh, &target)?;
            let chromium = provision::chromium(&sh)?;
            println!("{}", python.display());
            println!("{}", node_modules.display());
            println!("{}", chromium.display());
            Ok(())
        }
        Some("bench") => bench::run(),
        Some("scale") => scale::run(&workspace_root(), args.get(1..).unwrap_or_default()),
        Some("embed") => embed::run(&sh, &workspace_root(), &provision::target_dir(&workspace_root())),
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
    let mut postgres_bin = None;
    let mut chromium = None;
    section("provision", || {
        provision::rust_components(sh)?;
        let target = provision::target_dir(&root);
        let venv_python = provision::python_env(sh, &target)?;
        provision::warehouse_python_packages(sh, &venv_python)?;
        python = Some(venv_python);
        node_modules = Some(provision::node_sdk(sh, &target)?);
        postgres_bin = Some(provision::postgres_bin(sh)?);
        chromium = Some(provision::chromium(sh)?);
        provision::java_runtime(sh)
    })?;
    let python = python.context("provisioning found no Python")?;
    let node_modules = node_modules.context("provisioning found no Node SDK")?;
    let postgres_bin = postgres_bin.context("provisioning found no PostgreSQL")?;
    let chromium = chromium.context("provisioning found no Chromium")?;
    section("fmt", || Ok(cmd!(sh, "cargo fmt --all --check").run()?))?;
    section("clippy", || Ok(cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?))?;
    section("doc", || {
        Ok(cmd!(sh, "cargo doc --workspace --no-deps --locked").env("RUSTDOCFLAGS", "-D warnings").run()?)
    })?;
    section("bench-build", || Ok(cmd!(sh, "cargo bench --workspace --no-run --locked").run()?))?;
    section("tidy", || tidy::check(&root))?;
    // The generated SQL, loads included, runs in real engines; every row and count must match the
    // engine's. An engine that cannot start fails its section: none is skipped.
    let conformance = ["run", "--locked", "-q", "-p", "domo-tests", "--bin", "sql-conformance", "--"];
    section("sql-conformance", || {
        // DuckDB: the Python package in the CI virtual environment.
        Ok(cmd!(sh, "cargo {conformance...} --engine duckdb --sets 200 --python {python}").run()?)
    })?;
    section("sql-conformance-postgres", || {
        // A throwaway cluster of the distribution's PostgreSQL on a private port of 127.0.0.1.
        Ok(cmd!(sh, "cargo {conformance...} --engine postgres --sets 200 --python {python}")
            .env("DOMO_PG_BIN", &postgres_bin)
            .run()?)
    })?;
    section("sql-conformance-spark", || {
        // PySpark in local mode, one session for every query: start-up is slow, so fewer sets.
        Ok(cmd!(sh, "cargo {conformance...} --engine spark --sets 4 --seed 2 --python {python}").run()?)
    })?;
    section("sql-syntax", || {
        // Snowflake, BigQuery and Trino cannot run here: sqlglot parses their SQL (a syntax check only).
        Ok(cmd!(sh, "cargo {conformance...} --engine syntax --sets 50 --python {python}").run()?)
    })?;
    section("embed", || embed::run(sh, &root, &provision::target_dir(&root)))?;
    section("doctest", || Ok(cmd!(sh, "cargo test --workspace --doc --locked").run()?))?;
    eprintln!("ci: all checks before the tests passed in {:.0?}; running the tests", started.elapsed());
    // No trailer after the tests: CI reads cargo test's summary as the last line.
    eprintln!("\n=== ci: test");
    // The SDK tests (`domo-cli`'s `sdk` module) run pydomo and the Node SDK from here; the report
    // test (`report` module) opens the page in this Chromium.
    cmd!(sh, "cargo test --workspace --lib --bins --tests --locked")
        .env("DOMO_TEST_PYTHON", &python)
        .env("DOMO_TEST_CHROMIUM", &chromium)
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
