//! Lint, diff and test each catch a mistake planted in the example's policies.

use crate::{EXAMPLE, check, fixture, run_stdout};

#[test]
fn lint_catches_planted_mistakes_and_exits_1() {
    let policies = fixture("policies-planted-lint.json");
    check!("lint_planted", &["pdp", "lint", EXAMPLE, "--policies", &policies]);
    let (code, stdout) = run_stdout(&["pdp", "lint", EXAMPLE, "--policies", &policies, "--format", "json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let kinds: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for kind in [
        "filter-never-matches",
        "value-not-in-data",
        "identical-policies",
        "redundant-policy",
        "like-without-wildcards",
        "policy-without-members",
        "user-sees-nothing",
        "rows-only-privileged",
    ] {
        assert!(kinds.contains(&kind), "lint missed {kind}: {kinds:?}");
    }
    assert!(report["errors"].as_u64().unwrap() >= 1);
}

#[test]
fn lint_reports_compile_errors_with_exit_1() {
    let policies = fixture("policies-unknown-column.json");
    check!("lint_unknown_column", &["pdp", "lint", EXAMPLE, "--policies", &policies]);
}

#[test]
fn lint_says_a_user_sees_nothing_because_their_policy_does_not_compile() {
    // User 31 is in policy 9 through group 1324037627; a misspelled column must not read as "in no policy".
    let policies = fixture("policies-group-policy-unknown-column.json");
    check!("lint_group_policy_unknown_column", &["pdp", "lint", EXAMPLE, "--policies", &policies]);
}

#[test]
fn diff_catches_widened_access() {
    let policies = fixture("policies-widened.json");
    check!("diff_widened", &["pdp", "diff", EXAMPLE, "--policies", &policies, "--against", EXAMPLE, "--show-rows"]);
    check!(
        "diff_widened_gate",
        &[
            "pdp",
            "diff",
            EXAMPLE,
            "--policies",
            &policies,
            "--against",
            "examples/euler-party/policies.json",
            "--fail-on-new-access"
        ]
    );
    check!(
        "diff_widened_json",
        &["pdp", "diff", EXAMPLE, "--policies", &policies, "--against", EXAMPLE, "--format", "json", "--show-rows"]
    );
}

#[test]
fn diff_narrowing_passes_the_gate() {
    // Dropping the planners' policy only takes rows away: the gate lets it through.
    let policies = fixture("policies-narrowed.json");
    check!(
        "diff_narrowed_gate",
        &["pdp", "diff", EXAMPLE, "--policies", &policies, "--against", EXAMPLE, "--fail-on-new-access"]
    );
}

#[test]
fn test_catches_widened_access() {
    let policies = fixture("policies-widened.json");
    let tests = fixture("tests-planted.json");
    check!("test_planted", &["pdp", "test", EXAMPLE, &tests, "--policies", &policies]);
}

#[test]
fn planted_tests_pass_on_the_original_policies() {
    let (code, _) = run_stdout(&["pdp", "test", EXAMPLE, &fixture("tests-planted.json")]);
    assert_eq!(code, 0);
}

#[test]
fn test_reports_every_kind_of_failure() {
    // The planted policies hide the regrets from everyone but the owner and Admins.
    let policies = fixture("policies-planted-lint.json");
    check!(
        "test_every_kind_fails",
        &["pdp", "test", EXAMPLE, &fixture("tests-every-kind-fails.json"), "--policies", &policies]
    );
}

#[test]
fn diff_shows_the_first_ten_rows_and_counts_them_all() {
    // 30 rows, 15 of them attending: user 40 gains 15 rows, of which the first 10 are shown.
    let policies = fixture("policies-widened.json");
    let data = fixture("data-thirty-rows.csv");
    let args = ["pdp", "diff", EXAMPLE, "--data", &data, "--policies", &policies, "--against", EXAMPLE, "--show-rows"];
    check!("diff_widened_thirty_rows", &args);
    let (code, stdout) = run_stdout(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let carl = report["users"].as_array().unwrap().iter().find(|u| u["id"] == 40).unwrap();
    assert_eq!(
        (carl["before"].as_u64(), carl["after"].as_u64(), carl["gained"].as_u64()),
        (Some(0), Some(15), Some(15))
    );
    let shown: Vec<u64> = carl["gainedRows"].as_array().unwrap().iter().map(|r| r.as_u64().unwrap()).collect();
    assert_eq!(shown, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
}
