//! Every way input can be wrong: each prints a message naming the file and position, and exits 2.

use crate::{EXAMPLE, check, fixture};

#[test]
fn missing_folder() {
    check!("error_missing_folder", &["pdp", "matrix", "no/such/folder"]);
}

#[test]
fn missing_file_override() {
    check!("error_missing_directory", &["pdp", "matrix", EXAMPLE, "--directory", "nope.json"]);
    check!("error_missing_data", &["pdp", "preview", EXAMPLE, "--user", "27", "--data", "nope.csv"]);
}

#[test]
fn bad_json_names_file_and_line() {
    check!("error_policies_syntax", &["pdp", "matrix", EXAMPLE, "--policies", &fixture("policies-syntax.json")]);
}

#[test]
fn unknown_field_names_json_path() {
    check!(
        "error_policies_unknown_field",
        &["pdp", "matrix", EXAMPLE, "--policies", &fixture("policies-unknown-field.json")]
    );
}

#[test]
fn misspelt_field_in_a_test_file_suggests_the_known_one() {
    check!("error_tests_misspelt_field", &["pdp", "test", EXAMPLE, &fixture("tests-misspelt-field.json")]);
}

#[test]
fn unknown_column_names_policy_and_suggests() {
    check!("error_unknown_column", &["pdp", "matrix", EXAMPLE, "--policies", &fixture("policies-unknown-column.json")]);
}

#[test]
fn bad_csv_cell_names_row_and_column() {
    // The schema says Attending is LONG; the CSV holds TRUE and FALSE.
    let dataset = fixture("dataset-attending-long.json");
    let policies = fixture("policies-attending-long.json");
    check!("error_bad_cell_matrix", &["pdp", "matrix", EXAMPLE, "--dataset", &dataset, "--policies", &policies]);
    check!(
        "error_bad_cell_preview",
        &["pdp", "preview", EXAMPLE, "--dataset", &dataset, "--policies", &policies, "--user", "27"]
    );
}

#[test]
fn policy_values_that_do_not_parse_name_policy_and_filter() {
    let dataset = fixture("dataset-attending-long.json");
    check!("error_bad_policy_value", &["pdp", "matrix", EXAMPLE, "--dataset", &dataset]);
}

#[test]
fn bad_csv_shape() {
    check!("error_field_count", &["pdp", "matrix", EXAMPLE, "--data", &fixture("data-field-count.csv")]);
    check!("error_bad_header", &["pdp", "matrix", EXAMPLE, "--data", &fixture("data-bad-header.csv")]);
}

#[test]
fn unknown_user() {
    check!("error_unknown_user", &["pdp", "preview", EXAMPLE, "--user", "999"]);
    check!("error_unknown_user_explain", &["pdp", "explain", EXAMPLE, "--user", "999", "--row", "1"]);
}

#[test]
fn row_out_of_range() {
    check!("error_row_zero", &["pdp", "who", EXAMPLE, "--row", "0"]);
    check!("error_row_past_end", &["pdp", "explain", EXAMPLE, "--user", "27", "--row", "7"]);
}

#[test]
fn bad_test_files() {
    check!("error_test_two_claims", &["pdp", "test", EXAMPLE, &fixture("tests-bad-case.json")]);
    check!("error_test_bad_row", &["pdp", "test", EXAMPLE, &fixture("tests-bad-row.json")]);
    check!("error_test_missing", &["pdp", "test", EXAMPLE, "no-tests.json"]);
    check!("error_test_where_unknown_column", &["pdp", "test", EXAMPLE, &fixture("tests-where-unknown-column.json")]);
    check!("error_test_unknown_user", &["pdp", "test", EXAMPLE, &fixture("tests-unknown-user.json")]);
}

#[test]
fn diff_against_missing_file() {
    check!("error_diff_missing", &["pdp", "diff", EXAMPLE, "--against", "old.json"]);
}
