//! Input that must be refused: a directory that lists a user twice, values over Domo's limit,
//! and files that would take unbounded memory (`/dev/zero`, a huge row, a huge header).

use std::time::{Duration, Instant};

use crate::{EXAMPLE, check, fixture, run};

/// Every offline command that reads the directory, with the arguments it needs.
const COMMANDS: &[&[&str]] = &[
    &["pdp", "preview", EXAMPLE, "--user", "31"],
    &["pdp", "matrix", EXAMPLE],
    &["pdp", "who", EXAMPLE, "--row", "2"],
    &["pdp", "explain", EXAMPLE, "--user", "31", "--row", "2"],
    &["pdp", "diff", EXAMPLE, "--against", EXAMPLE],
    &["pdp", "test", EXAMPLE, "examples/euler-party/tests.json"],
    &["pdp", "sql", EXAMPLE, "--user", "31"],
];

#[test]
fn a_directory_listing_a_user_twice_is_refused_by_every_command() {
    // User 31, a Participant, is listed again as an Admin: `explain` used to say "Admin" and exit 0.
    let directory = fixture("directory-duplicate-user.json");
    check!(
        "hostile_directory_duplicate_user",
        &["pdp", "explain", EXAMPLE, "--user", "31", "--row", "2", "--directory", &directory]
    );
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.extend(["--directory", &directory]);
        let text = run(&args);
        assert!(text.contains("\nexit: 2\n"), "{text}");
        assert!(
            text.contains("is not a usable directory (2 problems):\n  users[6]: user 31 `Ada Lovelace` is listed again (first at users[2])\n  groups[0].userIds[2]: group 1324037627 `Party Planners` lists user 99, who is not in `users`"),
            "{text}"
        );
        assert!(!text.contains("--- stdout"), "nothing may be printed before the refusal: {text}");
    }
}

#[test]
fn lint_reports_directory_problems_as_errors() {
    let directory = fixture("directory-duplicate-user.json");
    check!("hostile_lint_directory", &["pdp", "lint", EXAMPLE, "--directory", &directory]);
    check!("hostile_lint_directory_json", &["pdp", "lint", EXAMPLE, "--directory", &directory, "--format", "json"]);
}

#[test]
fn lint_fails_on_values_over_domos_limit() {
    // Domo's API rejects such a policy; lint used to warn and exit 0.
    check!(
        "hostile_lint_values_too_long",
        &["pdp", "lint", EXAMPLE, "--policies", &fixture("policies-values-too-long.json")]
    );
}

#[test]
fn serve_refuses_a_directory_listing_a_user_twice() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = assert_cmd::cargo::cargo_bin_cmd!("domo")
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir.path())
        .args(["--directory", &fixture("directory-duplicate-user.json")])
        .current_dir(crate::root())
        .env("NO_COLOR", "1")
        .env("DOMO_LOG", "warn")
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not a usable directory (2 problems):"), "{stderr}");
    assert!(stderr.contains("users[6]: user 31 `Ada Lovelace` is listed again (first at users[2])"), "{stderr}");
}

/// Runs a command that must fail fast; snapshots it and checks it took seconds, not minutes.
fn check_fast(name: &str, args: &[&str]) {
    let start = Instant::now();
    let text = run(args);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "{name} took {took:?}");
    insta::assert_snapshot!(name, text);
}

#[test]
fn dev_zero_as_data_fails_fast() {
    // It used to abort the process on an 8 GiB allocation.
    check_fast("hostile_dev_zero_data", &["pdp", "matrix", EXAMPLE, "--data", "/dev/zero"]);
    check_fast("hostile_dev_zero_data_preview", &["pdp", "preview", EXAMPLE, "--user", "27", "--data", "/dev/zero"]);
}

#[test]
fn dev_zero_as_json_fails_fast() {
    // It used to read 4 GB before failing.
    check_fast("hostile_dev_zero_policies", &["pdp", "matrix", EXAMPLE, "--policies", "/dev/zero"]);
    check_fast(
        "hostile_dev_zero_directory_small_cap",
        &["pdp", "lint", EXAMPLE, "--directory", "/dev/zero", "--max-json-size", "1K"],
    );
}

#[test]
fn a_stream_over_the_json_limit_is_refused_at_the_limit() {
    // A pipe has no size up front: reading stops one byte past the limit.
    let mut body = String::from("[");
    body.push_str(&" ".repeat(1 << 20));
    let output = assert_cmd::cargo::cargo_bin_cmd!("domo")
        .args(["pdp", "matrix", EXAMPLE, "--policies", "/dev/stdin", "--max-json-size", "1K"])
        .current_dir(crate::root())
        .env("NO_COLOR", "1")
        .write_stdin(body)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: `/dev/stdin` is larger than 1 KiB, the most a JSON input may be (--max-json-size or DOMO_MAX_JSON_SIZE raises the limit)\n"
    );
}

#[test]
fn a_file_over_the_json_limit_is_refused_before_reading() {
    check!("hostile_json_over_limit", &["pdp", "matrix", EXAMPLE, "--max-json-size", "100"]);
}

#[test]
fn a_row_over_the_record_limit_names_row_and_limit() {
    let data = fixture("data-long-cell.csv");
    check!("hostile_long_row", &["pdp", "matrix", EXAMPLE, "--data", &data, "--max-record-size", "1K"]);
    // Within a larger limit the same file loads.
    let text = run(&["pdp", "matrix", EXAMPLE, "--data", &data, "--max-record-size", "4K"]);
    assert!(text.contains("\nexit: 0\n"), "{text}");
}

#[test]
fn a_header_of_thousands_of_columns_gives_a_short_error() {
    let text = run(&["pdp", "matrix", EXAMPLE, "--data", &fixture("data-wide-header.csv")]);
    assert!(text.len() < 1000, "{} bytes: {text}", text.len());
    insta::assert_snapshot!("hostile_wide_header", text);
}

#[test]
fn a_policy_without_filters_must_say_so() {
    // Left out, `filters` read as none, and the policy's members saw every row with only a warning.
    check!(
        "hostile_policy_without_filters",
        &["pdp", "matrix", EXAMPLE, "--policies", &fixture("policies-no-filters.json")]
    );
}

#[test]
fn a_dataset_without_pdp_enabled_must_say_so() {
    // Left out, `pdpEnabled` read as false, and every user was shown every row.
    check!(
        "hostile_dataset_without_pdp_enabled",
        &["pdp", "preview", EXAMPLE, "--user", "31", "--dataset", &fixture("dataset-no-pdp-enabled.json")]
    );
}

#[test]
fn a_test_file_without_cases_is_not_a_pass() {
    // It said "ok: 0 passed, 0 failed" and exited 0.
    check!("hostile_tests_empty", &["pdp", "test", EXAMPLE, &fixture("tests-empty.json")]);
}

#[test]
fn a_filter_on_a_column_the_schema_holds_twice_does_not_compile() {
    check!(
        "hostile_duplicate_column",
        &[
            "pdp",
            "preview",
            EXAMPLE,
            "--user",
            "27",
            "--dataset",
            &fixture("dataset-duplicate-column.json"),
            "--data",
            &fixture("data-duplicate-column.csv"),
        ]
    );
}

#[test]
fn many_compile_errors_are_listed_up_to_twenty() {
    check!(
        "hostile_many_compile_errors",
        &["pdp", "matrix", EXAMPLE, "--policies", &fixture("policies-many-errors.json")]
    );
}

#[test]
fn diff_counts_access_granted_beyond_the_directory() {
    // A policy change that grants rows to a user missing from the directory and to a virtual
    // user passed `--fail-on-new-access` with exit 0 ("0 users change").
    let policies = fixture("policies-widened-beyond-directory.json");
    check!(
        "hostile_diff_beyond_directory",
        &["pdp", "diff", EXAMPLE, "--policies", &policies, "--against", EXAMPLE, "--fail-on-new-access"]
    );
    check!(
        "hostile_diff_beyond_directory_json",
        &["pdp", "diff", EXAMPLE, "--policies", &policies, "--against", EXAMPLE, "--format", "json", "--show-rows"]
    );
}

#[test]
fn matrix_and_who_show_principals_beyond_the_directory() {
    // User 4242 (not in directory.json) and virtual user `partner-portal` are granted rows; the
    // matrix and `who` listed directory users only, so they looked like no one saw those rows.
    let policies = fixture("policies-widened-beyond-directory.json");
    check!("hostile_matrix_beyond_directory", &["pdp", "matrix", EXAMPLE, "--policies", &policies]);
    check!(
        "hostile_matrix_beyond_directory_json",
        &["pdp", "matrix", EXAMPLE, "--policies", &policies, "--format", "json"]
    );
    check!("hostile_who_beyond_directory", &["pdp", "who", EXAMPLE, "--policies", &policies, "--row", "1"]);
    check!(
        "hostile_who_beyond_directory_json",
        &["pdp", "who", EXAMPLE, "--policies", &policies, "--row", "2", "--format", "json"]
    );
}

#[test]
fn matrix_shows_an_owner_missing_from_the_directory() {
    // The owner sees every row; the matrix left them out when directory.json did not list them.
    check!(
        "hostile_matrix_owner_outside_directory",
        &["pdp", "matrix", EXAMPLE, "--dataset", &fixture("dataset-owner-outside-directory.json")]
    );
}

#[test]
fn a_json_file_that_is_not_utf8_names_the_byte() {
    check!("hostile_json_not_utf8", &["pdp", "matrix", EXAMPLE, "--policies", &fixture("policies-not-utf8.json")]);
}
