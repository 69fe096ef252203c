//! Every command's `--help`, walked from the top: each leaf shows an example of itself, and the files they name exist.

use std::collections::BTreeMap;

use crate::{root, run_stdout};

/// Every command path (`["datasets", "list"]`) and its `--help`, found by
/// following the command lists of each help from `domo --help` down.
fn every_help() -> BTreeMap<Vec<String>, String> {
    let mut found = BTreeMap::new();
    let mut queue: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, help) = run_stdout(&args);
        assert_eq!(code, 0, "domo {} exits {code}", args.join(" "));
        for sub in subcommands(&help) {
            let mut child = path.clone();
            child.push(sub);
            queue.push(child);
        }
        found.insert(path, help);
    }
    found
}

/// The names listed under the help's command headings (`Commands:`, and
/// `domo pdp`'s `Commands on …:`), without `help`.
fn subcommands(help: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_list = false;
    for line in help.lines() {
        if line.starts_with("Commands") && line.ends_with(':') {
            in_list = true;
        } else if line.trim().is_empty() {
            in_list = false;
        } else if in_list
            && let Some(rest) = line.strip_prefix("  ")
            && !rest.starts_with(' ')
            && let Some(name) = rest.split_whitespace().next()
            && name != "help"
        {
            names.push(name.to_owned());
        }
    }
    names
}

/// A leaf is a command with no subcommands of its own.
fn is_leaf(help: &str) -> bool {
    subcommands(help).is_empty()
}

#[test]
fn every_leaf_command_shows_an_example_of_itself() {
    let helps = every_help();
    let leaves: Vec<_> = helps.iter().filter(|(path, help)| !path.is_empty() && is_leaf(help)).collect();
    // Every command the issue counted is reached, not only the ones whose help parses.
    assert!(leaves.len() >= 30, "only {} leaf commands found: {:?}", leaves.len(), helps.keys());
    let mut missing = Vec::new();
    for (path, help) in leaves {
        let command = format!("domo {}", path.join(" "));
        let has_heading = help.lines().any(|l| l == "Example:" || l == "Examples:");
        let shows_itself = help.lines().any(|l| l.trim_start().starts_with(&format!("{command} ")));
        if !(has_heading && shows_itself) {
            missing.push(command);
        }
    }
    assert!(missing.is_empty(), "commands whose --help has no Examples section using them: {missing:#?}");
}

#[test]
fn files_named_in_examples_exist() {
    let mut named = 0;
    for (path, help) in every_help() {
        for word in help.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | ',' | '=')) {
            let Some(at) = word.find("examples/") else { continue };
            let file = word[at..].trim_end_matches(['.', ':', ';']);
            named += 1;
            assert!(
                root().join(file).exists(),
                "`domo {} --help` names `{file}`, which does not exist",
                path.join(" ")
            );
        }
    }
    assert!(named > 20, "the examples name only {named} files under examples/");
}

#[test]
fn only_the_top_level_shows_version() {
    for (path, help) in every_help() {
        let shows = help.contains("-V, --version");
        assert_eq!(shows, path.is_empty(), "`domo {} --help` and --version", path.join(" "));
    }
}

#[test]
fn aliases_people_type() {
    // Each alias reaches its command: its help is the command's own.
    let cases = [
        (["datasets", "show"], ["datasets", "get"]),
        (["datasets", "view"], ["datasets", "get"]),
        (["datasets", "ls"], ["datasets", "list"]),
        (["datasets", "rm"], ["datasets", "delete"]),
        (["policies", "show"], ["policies", "get"]),
        (["policies", "ls"], ["policies", "list"]),
        (["policies", "rm"], ["policies", "delete"]),
        (["users", "ls"], ["users", "list"]),
        (["groups", "ls"], ["groups", "list"]),
    ];
    for (alias, command) in cases {
        let (code, alias_help) = run_stdout(&[alias[0], alias[1], "--help"]);
        let (_, command_help) = run_stdout(&[command[0], command[1], "--help"]);
        assert_eq!(code, 0, "domo {} {}", alias[0], alias[1]);
        assert_eq!(alias_help, command_help, "domo {} {}", alias[0], alias[1]);
    }
    // And the command list names them.
    let (_, help) = run_stdout(&["datasets", "--help"]);
    assert!(help.contains("[aliases: show, view]") && help.contains("[alias: rm]"), "{help}");
}
