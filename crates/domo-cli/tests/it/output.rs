//! Output conventions (docs/output.md, docs/json.md): one `--format` with the same names everywhere, JSON that
//! holds data (policies, users, groups and memberships as objects), counts with the right noun, and output
//! that says when rows were cut or there are none.

use crate::{EXAMPLE, check, fixture, run, run_stdout};

#[test]
fn json_names_policies_users_groups_and_memberships_as_objects() {
    // The two examples: a policy in `who`, a membership through a group in `explain`.
    check!("json_who_row_2", &["pdp", "who", EXAMPLE, "--row", "2", "--format", "json"]);
    check!("json_explain_via_group", &["pdp", "explain", EXAMPLE, "--user", "31", "--row", "1", "--format", "json"]);
    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&run_stdout(args).1).unwrap() };
    let explain = json(&["pdp", "explain", EXAMPLE, "--user", "31", "--row", "1", "--format", "json"]);
    let grant = &explain["grants"][0];
    assert_eq!(grant["policy"], serde_json::json!({"index": 1, "id": 9, "name": "Planners See Regrets"}));
    assert_eq!(
        grant["via"],
        serde_json::json!([{"kind": "group", "group": {"id": 1324037627_u64, "name": "Party Planners"}}])
    );
    // lint names a policy with the same object as who and explain.
    let lint =
        json(&["pdp", "lint", EXAMPLE, "--policies", &fixture("policies-planted-lint.json"), "--format", "json"]);
    let policy = lint["findings"].as_array().unwrap().iter().find_map(|f| f["policy"].as_object().cloned()).unwrap();
    assert_eq!(policy.keys().collect::<Vec<_>>(), ["id", "index", "name"]);
}

#[test]
fn format_takes_the_same_names_everywhere() {
    // `text`, the old name of the report format, still works; csv is refused where it would make no sense.
    let (code, stdout) = run_stdout(&["pdp", "lint", EXAMPLE, "--format", "text"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("\nok: "), "{stdout}");
    let (code, table) = run_stdout(&["pdp", "lint", EXAMPLE, "--format", "table"]);
    assert_eq!((code, table), (0, stdout));
    check!(
        "format_csv_refused_by_explain",
        &["pdp", "explain", EXAMPLE, "--user", "31", "--row", "1", "--format", "csv"]
    );
}

#[test]
fn preview_says_when_limit_cuts_and_when_there_are_no_rows() {
    check!("preview_limit_csv_says_so", &["pdp", "preview", EXAMPLE, "--user", "50", "--limit", "2"]);
    check!(
        "preview_limit_json_says_so",
        &["pdp", "preview", EXAMPLE, "--user", "50", "--limit", "1", "--format", "json"]
    );
    check!("preview_empty_csv", &["pdp", "preview", EXAMPLE, "--user", "40"]);
    check!("preview_empty_table", &["pdp", "preview", EXAMPLE, "--user", "40", "--format", "table"]);
    // Under the limit, nothing is said.
    let text = run(&["pdp", "preview", EXAMPLE, "--user", "50", "--limit", "6"]);
    assert!(!text.contains("--- stderr"), "{text}");
}

#[test]
fn counts_take_the_singular_for_one() {
    let text = run(&["pdp", "who", EXAMPLE, "--row", "1"]);
    assert!(!text.contains(" 1 users") && !text.contains(" 1 rows"), "{text}");
    let policies = fixture("policies-one-row.json");
    let text = run(&["pdp", "preview", EXAMPLE, "--policies", &policies, "--user", "27", "--format", "table"]);
    assert!(text.contains("\n1 row\n"), "{text}");
    let text = run(&["pdp", "diff", EXAMPLE, "--against", &policies]);
    assert!(text.contains("\n3 users change over 6 rows: 3 gain rows, 1 loses rows\n"), "{text}");
    let text = run(&["pdp", "diff", EXAMPLE, "--against", EXAMPLE]);
    assert!(text.contains("\n0 users change over 6 rows: none gain rows, none lose rows\n"), "{text}");
}

#[test]
fn every_format_flag_takes_the_same_names_and_says_its_default() {
    let tabular = ["table", "json", "csv"];
    let report = ["table", "json"];
    let commands: [(&[&str], &[&str], &str); 21] = [
        (&["pdp", "preview"], &tabular, "csv"),
        (&["pdp", "matrix"], &tabular, "table"),
        (&["pdp", "who"], &tabular, "table"),
        (&["pdp", "explain"], &report, "table"),
        (&["pdp", "lint"], &report, "table"),
        (&["pdp", "diff"], &report, "table"),
        (&["pdp", "test"], &report, "table"),
        (&["pdp", "plan"], &report, "table"),
        (&["pdp", "apply"], &report, "table"),
        (&["auth", "check"], &report, "table"),
        (&["datasets", "list"], &tabular, "table"),
        (&["datasets", "get"], &report, "table"),
        (&["datasets", "create"], &report, "table"),
        (&["datasets", "update"], &report, "table"),
        (&["policies", "list"], &tabular, "table"),
        (&["policies", "get"], &report, "table"),
        (&["policies", "create"], &report, "table"),
        (&["policies", "update"], &report, "table"),
        (&["users", "list"], &tabular, "table"),
        (&["groups", "list"], &tabular, "table"),
        (&["groups", "members"], &tabular, "table"),
    ];
    for (command, values, default) in commands {
        let (code, help) = run_stdout(&[command, &["--help"][..]].concat());
        assert_eq!(code, 0, "{command:?}");
        let at = help.find("--format <FORMAT>").unwrap_or_else(|| panic!("{command:?} has no --format:\n{help}"));
        // The flag's help runs from its name to its `[default: …]`.
        let rest = &help[at..];
        let end = rest.find("[default: ").and_then(|d| rest[d..].find(']').map(|e| d + e + 1));
        let flag = &rest[..end.unwrap_or_else(|| panic!("{command:?} --format says no default:\n{help}"))];
        assert!(flag.contains(&format!("[default: {default}]")), "{command:?}:\n{flag}");
        for value in ["table", "json", "csv"] {
            assert_eq!(flag.contains(&format!("- {value}")), values.contains(&value), "{command:?} `{value}`:\n{flag}");
        }
    }
}
