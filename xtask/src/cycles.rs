//! The module-cycle check of tidy: inside a crate, sibling modules never import each other in a circle.
//!
//! It reads `crate::…` and `super::…` paths in the source (not in comments, not in a trailing
//! `#[cfg(test)] mod tests`), resolves each to the longest module it names, and lifts every
//! reference to the two siblings under the modules' common parent: a parent using its child or a
//! child using its parent's shared pieces is fine; two siblings that reach each other are a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::Context;

type Module = Vec<String>;

/// The module cycles of the crate whose sources are under `src`, one line per edge that is part of one.
pub(crate) fn module_cycles(package: &str, src: &Path) -> anyhow::Result<Vec<String>> {
    let mut files: BTreeMap<Module, String> = BTreeMap::new();
    read_modules(src, src, &mut files)?;
    let known: BTreeSet<&Module> = files.keys().collect();
    let mut edges: BTreeSet<(Module, Module)> = BTreeSet::new();
    for (module, text) in &files {
        for target in references(module, text) {
            if let Some(target) = longest_known(&known, &target)
                && target != *module
                && let Some(edge) = sibling_edge(module, &target)
            {
                edges.insert(edge);
            }
        }
    }
    Ok(cycle_edges(&edges)
        .into_iter()
        .map(|(a, b)| {
            format!(
                "`{package}`: module `{}` uses `{}`, which leads back to it (a module cycle)",
                a.join("::"),
                b.join("::")
            )
        })
        .collect())
}

/// Reads every `.rs` file under `dir` (skipping `src/bin`) as a module path and its text.
fn read_modules(src: &Path, dir: &Path, files: &mut BTreeMap<Module, String>) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing `{}`", dir.display()))? {
        let path = entry?.path();
        let relative = path.strip_prefix(src).unwrap_or(&path);
        if path.is_dir() {
            if relative != Path::new("bin") {
                read_modules(src, &path, files)?;
            }
            continue;
        }
        let Some(stem) = relative.to_str().and_then(|r| r.strip_suffix(".rs")) else { continue };
        let mut module: Module = stem.split('/').map(str::to_owned).collect();
        if module.last().is_some_and(|last| matches!(last.as_str(), "mod" | "lib" | "main")) {
            module.pop();
        }
        let text = fs::read_to_string(&path).with_context(|| format!("reading `{}`", path.display()))?;
        files.insert(module, text);
    }
    Ok(())
}

/// The module paths `text` (the source of `module`) refers to through `crate::` and `super::`.
fn references(module: &[String], text: &str) -> Vec<Module> {
    let code = text.find("#[cfg(test)]\nmod tests {").map_or(text, |at| text.get(..at).unwrap_or(text));
    let mut found = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = next_root(rest) {
            let (_, after) = rest.split_at(at);
            let start = if after.starts_with("crate::") { "crate".len() } else { "super".len() };
            let mut path: Module = if after.starts_with("crate::") {
                Vec::new()
            } else {
                module.split_last().map_or(Vec::new(), |(_, p)| p.to_vec())
            };
            let mut tail = after.get(start..).unwrap_or_default();
            while let Some(next) = tail.strip_prefix("::") {
                if let Some(group) = next.strip_prefix('{') {
                    let inside = group.split('}').next().unwrap_or_default();
                    for item in inside.split(',') {
                        let name = item.trim().split([':', ' ']).next().unwrap_or_default();
                        if !name.is_empty() && name != "self" {
                            found.push([path.clone(), vec![name.to_owned()]].concat());
                        }
                    }
                    break;
                }
                let len = next.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(next.len());
                let (segment, remainder) = next.split_at(len);
                if segment.is_empty() {
                    break;
                }
                if segment == "super" {
                    path.pop();
                } else {
                    path.push(segment.to_owned());
                }
                tail = remainder;
            }
            found.push(path);
            rest = after.get(start..).unwrap_or_default();
        }
    }
    found
}

/// Where the next `crate::` or `super::` path starts in `text`, at a word boundary.
fn next_root(text: &str) -> Option<usize> {
    let mut best: Option<usize> = None;
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = text.get(from..).and_then(|t| t.find(root)) {
            let at = from + found;
            let boundary =
                text.get(..at).and_then(|b| b.chars().last()).is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary {
                best = Some(best.map_or(at, |b: usize| b.min(at)));
                break;
            }
            from = at + root.len();
        }
    }
    best
}

/// The longest prefix of `path` that is a module of the crate.
fn longest_known(known: &BTreeSet<&Module>, path: &[String]) -> Option<Module> {
    (0..=path.len()).rev().map(|n| path.get(..n).unwrap_or_default().to_vec()).find(|p| known.contains(p))
}

/// The two siblings under the common parent of `from` and `to`, or `None` when one contains the other.
fn sibling_edge(from: &[String], to: &[String]) -> Option<(Module, Module)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((from.get(..=common)?.to_vec(), to.get(..=common)?.to_vec()))
}

/// The edges that lie on a cycle: `a → b` where `b` reaches `a`.
fn cycle_edges(edges: &BTreeSet<(Module, Module)>) -> Vec<(Module, Module)> {
    let mut next: BTreeMap<&Module, Vec<&Module>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    let reaches = |start: &Module, goal: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(at) = stack.pop() {
            if at == goal {
                return true;
            }
            if seen.insert(at) {
                stack.extend(next.get(at).into_iter().flatten().copied());
            }
        }
        false
    };
    edges.iter().filter(|(a, b)| reaches(b, a)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(path: &str) -> Module {
        path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect()
    }

    #[test]
    fn paths_resolve_from_crate_and_super() {
        let refs = references(
            &module("lint::data"),
            "use super::finding::{LintFinding, PolicyRef};\nuse crate::table::{Table, Value};\n// use crate::ignored;\n",
        );
        assert!(refs.contains(&module("lint::finding::LintFinding")));
        assert!(refs.contains(&module("table::Table")));
        assert!(!refs.iter().any(|r| r.first().is_some_and(|s| s == "ignored")));
    }

    #[test]
    fn siblings_that_reach_each_other_are_a_cycle_and_parents_and_children_are_not() {
        let edges: BTreeSet<(Module, Module)> =
            [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")].iter().map(|(x, y)| (module(x), module(y))).collect();
        assert_eq!(cycle_edges(&edges).len(), 3);
        assert_eq!(sibling_edge(&module("lint"), &module("lint::data")), None);
        assert_eq!(sibling_edge(&module("lint::data"), &module("lint")), None);
        assert_eq!(
            sibling_edge(&module("lint::data"), &module("table::cell")),
            Some((module("lint"), module("table")))
        );
    }
}
