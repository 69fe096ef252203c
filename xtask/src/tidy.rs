//! Tidy checks: layers point one way, the libraries' dependency trees hold what they should, no
//! module cycles, every module says what it holds, no ignored tests.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

/// The layer of each workspace crate; a crate may depend only on lower layers.
/// `domo-pdp` and `domo-http` share a layer and so may never depend on each other.
const LAYERS: &[(&str, u8)] =
    &[("domo-model", 0), ("domo-pdp", 1), ("domo-http", 1), ("domo-emulator", 2), ("domo-cli", 3)];

/// Packages that sit above every layer: they may use any crate, and none may use them.
const TOOLS: &[&str] = &["xtask", "domo-tests", "domo-benches"];

/// Crates that speak HTTP or run async code: `domo-pdp` does no I/O of its own
/// and has no async, so none may appear in its dependency tree.
const HTTP_OR_ASYNC: &[&str] = &[
    "async-compression",
    "async-std",
    "async-trait",
    "axum",
    "futures",
    "futures-core",
    "futures-util",
    "h2",
    "http",
    "http-body",
    "hyper",
    "hyper-rustls",
    "hyper-util",
    "mio",
    "reqwest",
    "rustls",
    "smol",
    "tokio",
    "tokio-rustls",
    "tokio-util",
    "tower",
    "tower-http",
    "ureq",
];

/// What `domo-model` may depend on: serde and its helpers (JSON, paths of
/// errors, unknown fields, the derive's proc-macro crates, number formatting),
/// `jiff` for timestamps and `thiserror`. A new entry is a decision, not a habit.
const MODEL_DEPENDENCIES: &[&str] = &[
    "domo-model",
    "itoa",
    "jiff",
    "jiff-core",
    "memchr",
    "proc-macro2",
    "quote",
    "ryu",
    "serde",
    "serde_core",
    "serde_derive",
    "serde_ignored",
    "serde_json",
    "serde_path_to_error",
    "syn",
    "thiserror",
    "thiserror-impl",
    "unicode-ident",
    "zmij",
];

/// Runs every tidy check on the workspace at `root` and reports all problems at once.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    problems.extend(check_layers(root)?);
    for entry in fs::read_dir(root.join("crates")).context("listing `crates`")? {
        let dir = entry?.path();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if dir.join("src").is_dir() {
            problems.extend(crate::cycles::module_cycles(&name, &dir.join("src"))?);
        }
    }
    problems.extend(crate::cycles::module_cycles("xtask", &root.join("xtask/src"))?);
    let pdp = dependency_tree(root, "domo-pdp")?;
    problems.extend(forbidden_dependencies(
        "domo-pdp",
        &pdp,
        |name| HTTP_OR_ASYNC.contains(&name),
        "an HTTP or async crate",
    ));
    let model = dependency_tree(root, "domo-model")?;
    problems.extend(forbidden_dependencies(
        "domo-model",
        &model,
        |name| !MODEL_DEPENDENCIES.contains(&name),
        "neither serde nor one of its helpers",
    ));
    for file in rust_files(root)? {
        let text = fs::read_to_string(&file).with_context(|| format!("reading `{}`", file.display()))?;
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        problems.extend(check_source(&shown, &text));
    }
    if problems.is_empty() {
        eprintln!("tidy: ok");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("tidy: {problem}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

/// The names of the packages in `package`'s normal (non-dev, non-build) dependency tree.
fn dependency_tree(root: &Path, package: &str) -> anyhow::Result<BTreeSet<String>> {
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", package])
        .current_dir(root)
        .output()
        .with_context(|| format!("running `cargo tree -p {package}`"))?;
    if !output.status.success() {
        bail!("`cargo tree -p {package}` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_owned).collect())
}

/// One problem for each package of `tree` that `forbidden` refuses.
fn forbidden_dependencies(
    package: &str,
    tree: &BTreeSet<String>,
    forbidden: impl Fn(&str) -> bool,
    what: &str,
) -> Vec<String> {
    tree.iter().filter(|name| forbidden(name)).map(|name| format!("`{package}` depends on `{name}`, {what}")).collect()
}

/// Reads every workspace manifest (through `cargo metadata`) and reports
/// dependencies that point the wrong way, and crates that skip workspace lints.
fn check_layers(root: &Path) -> anyhow::Result<Vec<String>> {
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .context("running `cargo metadata`")?;
    if !output.status.success() {
        bail!("`cargo metadata` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout).context("reading `cargo metadata` output")?;
    let packages = array(&metadata, "packages");
    let mut problems = Vec::new();
    for package in packages {
        let name = text(package, "name");
        let deps =
            array(package, "dependencies").iter().map(|d| (text(d, "name"), d.get("kind").and_then(Value::as_str)));
        problems.extend(layer_problems(name, deps));
        let manifest = text(package, "manifest_path");
        let text = fs::read_to_string(manifest).with_context(|| format!("reading `{manifest}`"))?;
        if !text.contains("[lints]\nworkspace = true") {
            problems.push(format!("`{manifest}` does not say `[lints] workspace = true`"));
        }
    }
    Ok(problems)
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn layer(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// The wrong-way dependencies of one package. `kind` is `None` for normal
/// dependencies, `Some("dev")` or `Some("build")` otherwise.
fn layer_problems<'a>(name: &str, deps: impl Iterator<Item = (&'a str, Option<&'a str>)>) -> Vec<String> {
    let mut problems = Vec::new();
    for (dep, kind) in deps {
        if TOOLS.contains(&dep) {
            problems.push(format!("`{name}` depends on the tool package `{dep}`"));
            continue;
        }
        let (Some(own), Some(theirs)) = (layer(name), layer(dep)) else { continue };
        let dev = kind == Some("dev");
        let upward = theirs > own || (theirs == own && !dev);
        let sideways = own == theirs && own == 1;
        if (upward && !dev) || sideways {
            problems.push(format!("`{name}` (layer {own}) must not depend on `{dep}` (layer {theirs})"));
        }
    }
    problems
}

/// Problems in one Rust source file.
fn check_source(shown: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if !first.starts_with("//!") {
        problems.push(format!("`{shown}` does not start with a `//!` line saying what lives there"));
    }
    let ignore = ["#[", "ignore"].concat();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with(&ignore) {
            problems.push(format!("`{shown}` line {}: ignored test (delete it or make it run)", index + 1));
        }
    }
    problems
}

/// Every `.rs` file of the workspace and the fuzz targets, skipping build output.
fn rust_files(root: &Path) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut files = BTreeSet::new();
    let mut stack: Vec<PathBuf> =
        ["crates", "xtask", "tests", "benches", "fuzz"].iter().map(|d| root.join(d)).filter(|p| p.exists()).collect();
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing `{}`", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if !matches!(name, "target" | "corpus" | "artifacts") && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                files.insert(path);
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(name: &str, deps: &[(&'static str, Option<&'static str>)]) -> Vec<String> {
        layer_problems(name, deps.iter().copied())
    }

    #[test]
    fn workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        check(root).unwrap();
    }

    #[test]
    fn downward_dependencies_are_fine() {
        assert!(layers("domo-cli", &[("domo-pdp", None), ("domo-http", None), ("domo-model", None)]).is_empty());
        assert!(layers("domo-emulator", &[("domo-pdp", None), ("domo-http", Some("dev"))]).is_empty());
    }

    #[test]
    fn upward_and_sideways_dependencies_fail() {
        assert_eq!(
            layers("domo-model", &[("domo-pdp", None)]),
            ["`domo-model` (layer 0) must not depend on `domo-pdp` (layer 1)"]
        );
        assert_eq!(
            layers("domo-pdp", &[("domo-http", Some("dev"))]),
            ["`domo-pdp` (layer 1) must not depend on `domo-http` (layer 1)"]
        );
        assert_eq!(
            layers("domo-http", &[("domo-tests", Some("dev"))]),
            ["`domo-http` depends on the tool package `domo-tests`"]
        );
    }

    #[test]
    fn http_or_async_crates_in_the_engine_fail_and_model_dependencies_are_listed() {
        let tree = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>();
        let pdp = tree(&["domo-pdp", "rayon", "tokio", "hyper"]);
        assert_eq!(
            forbidden_dependencies("domo-pdp", &pdp, |n| HTTP_OR_ASYNC.contains(&n), "an HTTP or async crate"),
            [
                "`domo-pdp` depends on `hyper`, an HTTP or async crate",
                "`domo-pdp` depends on `tokio`, an HTTP or async crate"
            ]
        );
        let model = tree(&["domo-model", "serde", "regex"]);
        assert_eq!(
            forbidden_dependencies(
                "domo-model",
                &model,
                |n| !MODEL_DEPENDENCIES.contains(&n),
                "neither serde nor one of its helpers"
            ),
            ["`domo-model` depends on `regex`, neither serde nor one of its helpers"]
        );
    }

    #[test]
    fn module_without_doc_line_fails() {
        assert_eq!(
            check_source("a.rs", "\nuse x;\n"),
            ["`a.rs` does not start with a `//!` line saying what lives there"]
        );
        assert!(check_source("a.rs", "//! Holds a.\nuse x;\n").is_empty());
    }

    #[test]
    fn ignored_test_fails() {
        let text = ["//! T.\n", "#[", "ignore]\nfn t() {}\n"].concat();
        assert_eq!(check_source("t.rs", &text), ["`t.rs` line 2: ignored test (delete it or make it run)"]);
    }
}
