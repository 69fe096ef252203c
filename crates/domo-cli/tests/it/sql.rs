//! `domo pdp sql`: the SQL a person copies into a warehouse, per dialect, and the errors they may meet.

use crate::{EXAMPLE, check, run_stdout};

#[test]
fn user_select_in_every_dialect() {
    for dialect in ["duckdb", "postgres", "spark", "snowflake", "bigquery", "trino"] {
        let (code, stdout) = run_stdout(&["pdp", "sql", EXAMPLE, "--user", "27", "--dialect", dialect]);
        assert_eq!(code, 0, "{dialect}");
        insta::assert_snapshot!(format!("sql_user_27_{dialect}"), stdout);
    }
}

#[test]
fn where_only_with_a_qualified_table() {
    check!(
        "sql_where_only_bigquery",
        &["pdp", "sql", EXAMPLE, "--user", "31", "--dialect", "bigquery", "--table", "proj.ds.guests", "--where-only"]
    );
}

#[test]
fn reasons_owner_admin_and_no_policy() {
    let predicate = |user: &str| run_stdout(&["pdp", "sql", EXAMPLE, "--user", user, "--where-only"]);
    assert_eq!(predicate("1001"), (0, "TRUE\n".to_owned()), "owner");
    assert_eq!(predicate("50"), (0, "TRUE\n".to_owned()), "admin");
    assert_eq!(predicate("40"), (0, "FALSE\n".to_owned()), "in no policy");
}

#[test]
fn counts_inline() {
    check!("sql_counts_duckdb", &["pdp", "sql", EXAMPLE, "--counts"]);
}

#[test]
fn counts_with_a_membership_csv() {
    let dir = std::env::temp_dir().join(format!("domo-cli-sql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("membership.csv");
    let (code, stdout) = run_stdout(&[
        "pdp",
        "sql",
        EXAMPLE,
        "--counts",
        "--dialect",
        "trino",
        "--membership-csv",
        csv.to_str().unwrap(),
        "--membership-table",
        "ops.members",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(
            "WITH pdp_membership AS (\n  SELECT seq_no, user_id, reason, access_class, policy_index FROM \"ops\".\"members\"\n)"
        ),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        "seq_no,user_id,reason,access_class,policy_index\n0,1001,owner,,\n1,27,policies,0,0\n2,31,policies,1,1\n3,35,policies,1,1\n4,40,no-policy,,\n5,50,admin,,\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn create_table() {
    check!("sql_create_table_snowflake", &["pdp", "sql", EXAMPLE, "--create-table", "--dialect", "snowflake"]);
}

#[test]
fn errors() {
    check!("sql_unknown_user", &["pdp", "sql", EXAMPLE, "--user", "999"]);
    check!("sql_missing_user", &["pdp", "sql", EXAMPLE]);
    check!("sql_where_only_with_counts", &["pdp", "sql", EXAMPLE, "--counts", "--where-only"]);
    check!("sql_unknown_dialect", &["pdp", "sql", EXAMPLE, "--user", "27", "--dialect", "mysql"]);
    check!(
        "sql_timestamp_digits_too_many",
        &["pdp", "sql", EXAMPLE, "--user", "27", "--dialect", "postgres", "--timestamp-digits", "9"]
    );
    check!("sql_empty_table_part", &["pdp", "sql", EXAMPLE, "--user", "27", "--table", "a..b"]);
}

#[test]
fn load_in_every_dialect() {
    for dialect in ["duckdb", "postgres", "spark", "snowflake", "bigquery", "trino"] {
        let (code, stdout) = run_stdout(&[
            "pdp",
            "sql",
            EXAMPLE,
            "--load",
            "/data/party's.csv",
            "--dialect",
            dialect,
            "--table",
            "guests",
        ]);
        assert_eq!(code, 0, "{dialect}");
        insta::assert_snapshot!(format!("sql_load_{dialect}"), stdout);
    }
}

#[test]
fn load_without_a_header_row_skips_nothing() {
    let (code, stdout) = run_stdout(&["pdp", "sql", EXAMPLE, "--load", "d.csv", "--no-header"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("read_csv('d.csv', header = false,"), "{stdout}");
    let (_, spark) = run_stdout(&["pdp", "sql", EXAMPLE, "--load", "d.csv", "--no-header", "--dialect", "spark"]);
    assert!(spark.contains("header 'false'"), "{spark}");
}

#[test]
fn hidden_rows_viewers_and_diff() {
    check!("sql_hidden_postgres", &["pdp", "sql", EXAMPLE, "--hidden", "--dialect", "postgres"]);
    check!(
        "sql_viewers_spark",
        &["pdp", "sql", EXAMPLE, "--viewers", "Ada Lovelace", "--key", "Friend", "--dialect", "spark"]
    );
    let old = crate::fixture("policies-widened.json");
    check!("sql_diff_duckdb", &["pdp", "sql", EXAMPLE, "--diff", &old]);
}

#[test]
fn analysis_errors() {
    check!("sql_viewers_unknown_key", &["pdp", "sql", EXAMPLE, "--viewers", "x", "--key", "Friends"]);
    let (dataset, policies) =
        (crate::fixture("dataset-attending-long.json"), crate::fixture("policies-attending-long.json"));
    check!(
        "sql_viewers_bad_key_value",
        &[
            "pdp",
            "sql",
            EXAMPLE,
            "--dataset",
            &dataset,
            "--policies",
            &policies,
            "--viewers",
            "yes",
            "--key",
            "Attending"
        ]
    );
    check!("sql_viewers_without_key", &["pdp", "sql", EXAMPLE, "--viewers", "x"]);
    check!("sql_load_with_user", &["pdp", "sql", EXAMPLE, "--load", "d.csv", "--user", "27"]);
    check!("sql_diff_missing", &["pdp", "sql", EXAMPLE, "--diff", "no/such/policies.json"]);
}
