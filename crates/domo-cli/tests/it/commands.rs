//! Every `domo pdp` command on the bundled example, in every format.

use crate::{EXAMPLE, check, fixture, run_stdout};

#[test]
fn matrix_table() {
    check!("matrix_table", &["pdp", "matrix", EXAMPLE]);
}

#[test]
fn matrix_json() {
    check!("matrix_json", &["pdp", "matrix", EXAMPLE, "--format", "json"]);
}

#[test]
fn matrix_json_has_exactly_the_documented_shape() {
    let (code, stdout) = run_stdout(&["pdp", "matrix", EXAMPLE, "--format", "json"]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let expected = serde_json::json!({"rows": 6, "users": [
        {"id": 1001, "name": "Leonhard Euler", "visible": 6, "reason": "owner"},
        {"id": 27, "name": "DomoSupport", "visible": 4, "reason": "policies"},
        {"id": 31, "name": "Ada Lovelace", "visible": 2, "reason": "policies"},
        {"id": 35, "name": "Sophie Germain", "visible": 2, "reason": "policies"},
        {"id": 40, "name": "Carl Gauss", "visible": 0, "reason": "no-policy"},
        {"id": 50, "name": "Emmy Noether", "visible": 6, "reason": "admin"},
    ]});
    assert_eq!(value, expected);
}

#[test]
fn matrix_csv() {
    check!("matrix_csv", &["pdp", "matrix", EXAMPLE, "--format", "csv"]);
}

#[test]
fn preview_csv_is_byte_exact() {
    let (code, stdout) = run_stdout(&["pdp", "preview", EXAMPLE, "--user", "27"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "Friend,Attending\nAlan Turing,TRUE\nGeorge Boole,TRUE\nBrook Taylor,TRUE\nAda Lovelace,TRUE\n");
}

#[test]
fn preview_table() {
    check!("preview_table", &["pdp", "preview", EXAMPLE, "--user", "31", "--format", "table"]);
}

#[test]
fn preview_json_keeps_column_order() {
    check!("preview_json", &["pdp", "preview", EXAMPLE, "--user", "31", "--format", "json"]);
}

#[test]
fn preview_limit() {
    check!("preview_limit", &["pdp", "preview", EXAMPLE, "--user", "50", "--limit", "2"]);
    check!("preview_limit_table", &["pdp", "preview", EXAMPLE, "--user", "50", "--limit", "1", "--format", "table"]);
}

#[test]
fn preview_count() {
    check!("preview_count", &["pdp", "preview", EXAMPLE, "--user", "27", "--count"]);
}

#[test]
fn preview_of_a_user_in_no_policy_is_only_the_header() {
    let (code, stdout) = run_stdout(&["pdp", "preview", EXAMPLE, "--user", "40"]);
    assert_eq!((code, stdout.as_str()), (0, "Friend,Attending\n"));
}

#[test]
fn preview_without_header_row_keeps_quoting_and_writes_a_header() {
    let data = fixture("data-no-header.csv");
    check!("preview_no_header", &["pdp", "preview", EXAMPLE, "--data", &data, "--no-header", "--user", "27"]);
}

#[test]
fn who() {
    check!("who_row_1", &["pdp", "who", EXAMPLE, "--row", "1"]);
    check!("who_row_2_json", &["pdp", "who", EXAMPLE, "--row", "2", "--format", "json"]);
}

#[test]
fn explain() {
    check!("explain_refused", &["pdp", "explain", EXAMPLE, "--user", "27", "--row", "1"]);
    check!("explain_via_group", &["pdp", "explain", EXAMPLE, "--user", "31", "--row", "1"]);
    check!("explain_no_policy", &["pdp", "explain", EXAMPLE, "--user", "40", "--row", "1"]);
    check!("explain_owner", &["pdp", "explain", EXAMPLE, "--user", "1001", "--row", "1"]);
    check!("explain_admin_json", &["pdp", "explain", EXAMPLE, "--user", "50", "--row", "3", "--format", "json"]);
    check!("explain_refused_json", &["pdp", "explain", EXAMPLE, "--user", "27", "--row", "4", "--format", "json"]);
}

#[test]
fn lint_example_is_clean() {
    check!("lint_example", &["pdp", "lint", EXAMPLE]);
    check!("lint_example_json", &["pdp", "lint", EXAMPLE, "--format", "json"]);
}

#[test]
fn diff_against_itself_changes_nothing() {
    check!("diff_same", &["pdp", "diff", EXAMPLE, "--against", EXAMPLE, "--fail-on-new-access"]);
}

#[test]
fn test_example_passes() {
    check!("test_example", &["pdp", "test", EXAMPLE, "examples/euler-party/tests.json"]);
    check!("test_example_json", &["pdp", "test", EXAMPLE, "examples/euler-party/tests.json", "--format", "json"]);
}

#[test]
fn matrix_with_pdp_off_shows_everything_to_everyone() {
    let dataset = fixture("dataset-pdp-off.json");
    check!("matrix_pdp_off", &["pdp", "matrix", EXAMPLE, "--dataset", &dataset, "--format", "csv"]);
}

#[test]
fn who_csv() {
    check!("who_row_4_csv", &["pdp", "who", EXAMPLE, "--row", "4", "--format", "csv"]);
}

#[test]
fn matrix_without_header_row() {
    let data = fixture("data-no-header.csv");
    check!("matrix_no_header", &["pdp", "matrix", EXAMPLE, "--data", &data, "--no-header", "--format", "csv"]);
}

#[test]
fn preview_table_stops_at_a_thousand_rows_and_says_so() {
    let dir = std::env::temp_dir().join(format!("domo-cli-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.csv");
    let mut csv = String::from("Friend,Attending\n");
    for i in 0..1500 {
        csv.push_str(&format!("Guest {i},TRUE\n"));
    }
    std::fs::write(&data, csv).unwrap();
    let data = data.to_str().unwrap();
    let (code, stdout) = run_stdout(&["pdp", "preview", EXAMPLE, "--user", "27", "--format", "table", "--data", data]);
    assert_eq!(code, 0);
    assert!(stdout.contains("│ Guest 999 "), "{stdout}");
    assert!(!stdout.contains("│ Guest 1000 "), "{stdout}");
    assert!(stdout.ends_with("showing 1000 of 1500 rows (--limit N to show more, --format csv for all)\n"), "{stdout}");
    let (_, stdout) = run_stdout(&[
        "pdp", "preview", EXAMPLE, "--user", "27", "--format", "table", "--limit", "1200", "--data", data,
    ]);
    assert!(stdout.contains("│ Guest 1199 ") && !stdout.contains("│ Guest 1200 "), "{stdout}");
    // An explicit --limit that cuts says so too.
    assert!(stdout.ends_with("showing 1200 of 1500 rows (--limit N to show more, --format csv for all)\n"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn preview_json_tells_null_from_empty_string() {
    // An unquoted empty field is NULL; a quoted empty field is the empty string.
    let data = fixture("data-null-and-empty.csv");
    let (code, stdout) = run_stdout(&["pdp", "preview", EXAMPLE, "--data", &data, "--user", "27", "--format", "json"]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value, serde_json::json!([{"Friend": null, "Attending": "TRUE"}, {"Friend": "", "Attending": "TRUE"}]));
}

#[test]
fn a_role_granted_dataset_manage_all_sees_every_row_and_explain_says_why() {
    let directory = fixture("directory-analyst.json");
    check!("explain_role_grant", &["pdp", "explain", EXAMPLE, "--directory", &directory, "--user", "40", "--row", "1"]);
    let (code, stdout) = run_stdout(&["pdp", "preview", EXAMPLE, "--directory", &directory, "--user", "40", "--count"]);
    assert_eq!((code, stdout.trim()), (0, "6"), "Carl Gauss, in no policy, sees all 6 rows as an Analyst");
}
