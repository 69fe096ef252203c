//! What `cargo xtask ci` installs before it runs anything: toolchain components, a Python virtual environment and the Node SDK under `target/`, headless Chromium.
//!
//! A fresh machine has cargo and python3 and nothing else the checks need, so
//! every step here checks first and installs only what is missing: a second run
//! on the same machine installs nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

/// The DuckDB Python package the SQL conformance check runs; `tests/duckdb/run_queries.py` pins the same version.
pub(crate) const DUCKDB_VERSION: &str = "2.0.0";

/// The official Python SDK that `tests/sdk/pydomo_check.py` drives against `domo serve`.
pub(crate) const PYDOMO_VERSION: &str = "0.3.0.16";

/// The official Node SDK (npm `domo-sdk`) that `tests/sdk/domo_sdk_check.js` drives against `domo serve --tls`.
pub(crate) const NODE_SDK_VERSION: &str = "2.0.1";

/// Adds `rustfmt` and `clippy` to the active toolchain when rustup has them missing.
pub(crate) fn rust_components(sh: &Shell) -> anyhow::Result<()> {
    let installed = cmd!(sh, "rustup component list --installed").quiet().ignore_stderr().read().unwrap_or_default();
    for component in ["rustfmt", "clippy"] {
        if !installed.lines().any(|line| line.starts_with(component)) {
            cmd!(sh, "rustup component add {component}").run().with_context(|| format!("cannot add `{component}`"))?;
        }
    }
    Ok(())
}

/// The Python interpreter of the CI virtual environment (`target/ci-venv`), with DuckDB and pydomo installed.
///
/// Creates the environment on first use; when python3 has no `venv` module (Debian
/// ships it separately) installs `python3-venv` with apt-get first.
pub(crate) fn python_env(sh: &Shell, target_dir: &Path) -> anyhow::Result<PathBuf> {
    let venv = target_dir.join("ci-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        if cmd!(sh, "python3 -m venv --help").quiet().ignore_stdout().ignore_stderr().run().is_err() {
            apt_install(sh, &["python3-venv"])?;
        }
        cmd!(sh, "python3 -m venv {venv}").run().context("cannot create the Python virtual environment")?;
    }
    let check = format!("import duckdb, sys; sys.exit(duckdb.__version__ != '{DUCKDB_VERSION}')");
    pip_install_unless(sh, &python, &check, &format!("duckdb=={DUCKDB_VERSION}"))?;
    // pydomo has no `__version__`; importing it also checks that pandas and requests came along.
    let check =
        format!("import importlib.metadata as m, sys, pydomo; sys.exit(m.version('pydomo') != '{PYDOMO_VERSION}')");
    pip_install_unless(sh, &python, &check, &format!("pydomo=={PYDOMO_VERSION}"))?;
    Ok(python)
}

/// Installs `package` with the environment's pip unless the Python `check` exits 0.
fn pip_install_unless(sh: &Shell, python: &Path, check: &str, package: &str) -> anyhow::Result<()> {
    if cmd!(sh, "{python} -c {check}").quiet().ignore_stderr().run().is_ok() {
        return Ok(());
    }
    cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check {package}")
        .run()
        .with_context(|| format!("cannot install `{package}` with {}", python.display()))
}

/// The `node_modules` folder under `target/ci-node` holding the Node SDK,
/// installed with npm when missing or of another version.
pub(crate) fn node_sdk(sh: &Shell, target_dir: &Path) -> anyhow::Result<PathBuf> {
    let prefix = target_dir.join("ci-node");
    let modules = prefix.join("node_modules");
    let manifest = modules.join("domo-sdk").join("package.json");
    let installed = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|manifest| manifest.get("version").and_then(serde_json::Value::as_str) == Some(NODE_SDK_VERSION));
    if installed {
        return Ok(modules);
    }
    for tool in ["node", "npm"] {
        if cmd!(sh, "{tool} --version").quiet().ignore_stdout().ignore_stderr().run().is_err() {
            bail!(
                "`{tool}` is not installed: the Node SDK test needs Node.js and npm (for example \
                 `apt-get install nodejs npm`), then run `cargo xtask provision` again"
            );
        }
    }
    let package = format!("domo-sdk@{NODE_SDK_VERSION}");
    cmd!(sh, "npm install --prefix {prefix} --no-audit --no-fund --loglevel=error {package}")
        .run()
        .with_context(|| format!("cannot install `{package}` into {}", prefix.display()))?;
    Ok(modules)
}

/// Installs Debian packages, running `apt-get update` first (a fresh machine has no package lists).
fn apt_install(sh: &Shell, packages: &[&str]) -> anyhow::Result<()> {
    if cmd!(sh, "which apt-get").quiet().ignore_stdout().run().is_err() {
        bail!("`{}` is missing and this machine has no apt-get: install it by hand", packages.join(" "));
    }
    cmd!(sh, "apt-get update -qq").run().context("apt-get update failed")?;
    cmd!(sh, "apt-get install -y -qq --no-install-recommends {packages...}")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
        .with_context(|| format!("cannot install `{}`", packages.join(" ")))?;
    Ok(())
}

/// The cargo target directory: `CARGO_TARGET_DIR` when set, else `target/` under the workspace.
pub(crate) fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), |dir| workspace.join(dir))
}

/// PySpark for the Spark SQL conformance step; `tests/warehouse/run_queries.py` pins the same version.
pub(crate) const PYSPARK_VERSION: &str = "4.3.0";
/// sqlglot for the syntax check of the Snowflake, BigQuery and Trino SQL; pinned in `run_queries.py` too.
pub(crate) const SQLGLOT_VERSION: &str = "30.30.0";

/// Installs PySpark and sqlglot into the CI virtual environment (made by
/// [`python_env`]) when they are missing or at another version.
pub(crate) fn warehouse_python_packages(sh: &Shell, python: &Path) -> anyhow::Result<()> {
    for (module, version) in [("pyspark", PYSPARK_VERSION), ("sqlglot", SQLGLOT_VERSION)] {
        let check = format!("import {module}, sys; sys.exit({module}.__version__ != '{version}')");
        pip_install_unless(sh, python, &check, &format!("{module}=={version}"))?;
    }
    Ok(())
}

/// The `bin` folder of the newest installed PostgreSQL server (`/usr/lib/postgresql/N/bin`),
/// installing the distribution's `postgresql` package when none is there.
pub(crate) fn postgres_bin(sh: &Shell) -> anyhow::Result<PathBuf> {
    let find = || -> Option<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version: u32 = entry.file_name().to_str()?.parse().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").exists().then_some((version, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, bin)| bin)
    };
    if let Some(bin) = find() {
        return Ok(bin);
    }
    apt_install(sh, &["postgresql"])?;
    find().context("apt-get installed `postgresql` but no /usr/lib/postgresql/N/bin/initdb is there")
}

/// A Java runtime for Spark (17 or newer), installing the distribution's headless JRE when `java` is missing.
pub(crate) fn java_runtime(sh: &Shell) -> anyhow::Result<()> {
    if cmd!(sh, "java -version").quiet().ignore_stdout().ignore_stderr().run().is_ok() {
        return Ok(());
    }
    apt_install(sh, &["openjdk-17-jre-headless"])
}

/// Headless Chromium for the report page test (`domo-cli`'s `report` module), installing the
/// distribution's `chromium` and `chromium-driver` with apt-get when `chromium` is missing.
/// Returns the browser's path, which the tests read from `DOMO_TEST_CHROMIUM`.
pub(crate) fn chromium(sh: &Shell) -> anyhow::Result<PathBuf> {
    let find =
        || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if let Some(path) = find() {
        return Ok(path);
    }
    apt_install(sh, &["chromium", "chromium-driver"])?;
    find().context("apt-get installed `chromium` but no /usr/bin/chromium is there")
}
