//! `domo pdp diff --for-any-row`: verdicts with witness rows, the gate on gains and unknowns, `explain` agreeing on a witness.

use crate::{check, fixture, run_stdout};

fn folder() -> String {
    fixture("any-row")
}

fn old() -> String {
    fixture("any-row/policies-old.json")
}

#[test]
fn without_data_the_diff_is_for_any_row_and_the_gate_fails_on_a_proven_gain() {
    check!("any_row_gate", &["pdp", "diff", &folder(), "--against", &old(), "--fail-on-new-access"]);
}

#[test]
fn for_any_row_json_has_verdicts_witnesses_and_policies() {
    check!("any_row_json", &["pdp", "diff", &folder(), "--against", &old(), "--format", "json"]);
}

#[test]
fn for_any_row_on_a_folder_with_data_ignores_the_rows() {
    // --for-any-row judges every possible row even when the folder has data: each verdict has a witness.
    let policies = fixture("policies-widened.json");
    check!(
        "any_row_example_widened",
        &["pdp", "diff", crate::EXAMPLE, "--policies", &policies, "--against", crate::EXAMPLE, "--for-any-row"]
    );
}

#[test]
fn an_unchanged_policy_set_passes_the_gate() {
    check!(
        "any_row_same",
        &["pdp", "diff", &folder(), "--against", &fixture("any-row/policies.json"), "--fail-on-new-access"]
    );
}

#[test]
fn an_undecided_gain_fails_the_gate_unless_allowed() {
    let base = ["pdp", "diff", &folder(), "--against", &old(), "--fail-on-new-access", "--budget", "1"];
    check!("any_row_unknown_gate", &base);
    // Within a budget of 1 nothing is decided: the gate fails on the unknowns, and --allow-unknown lets them pass.
    let (allowed, stdout) = run_stdout(&[&base[..], &["--allow-unknown"]].concat());
    assert_eq!(allowed, 0, "{stdout}");
    assert!(stdout.contains("none gain access, none lose access, 5 unknown"), "{stdout}");
}

#[test]
fn allow_unknown_needs_the_gate() {
    check!("any_row_allow_unknown_alone", &["pdp", "diff", &folder(), "--against", &old(), "--allow-unknown"]);
}

#[test]
fn explain_agrees_on_each_witness() {
    let dir = std::env::temp_dir().join(format!("domo-cli-witness-{}", std::process::id()));
    let dir_text = dir.display().to_string();
    let (code, _) =
        run_stdout(&["pdp", "diff", &folder(), "--against", &old(), "--for-any-row", "--witnesses", &dir_text]);
    assert_eq!(code, 0);
    let explain = |user: &str, data: &std::path::Path, policies: &str| -> bool {
        let (code, stdout) = run_stdout(&[
            "pdp",
            "explain",
            &folder(),
            "--data",
            &data.display().to_string(),
            "--policies",
            policies,
            "--user",
            user,
            "--row",
            "1",
            "--format",
            "json",
        ]);
        assert_eq!(code, 0, "{stdout}");
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        json["visible"].as_bool().unwrap()
    };
    let new = fixture("any-row/policies.json");
    // User 2 gains: the new policies show the witness, the old ones do not.
    let gains = dir.join("user-2-gains.csv");
    assert!(explain("2", &gains, &new));
    assert!(!explain("2", &gains, &old()));
    // User 3 loses: the old policies show the witness, the new ones do not.
    let loses = dir.join("user-3-loses.csv");
    assert!(explain("3", &loses, &old()));
    assert!(!explain("3", &loses, &new));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lint_without_data_reports_what_holds_for_every_possible_row() {
    check!("any_row_lint", &["pdp", "lint", &folder(), "--policies", &fixture("any-row/policies-lint.json")]);
    check!(
        "any_row_lint_json",
        &["pdp", "lint", &folder(), "--policies", &fixture("any-row/policies-lint.json"), "--format", "json"]
    );
}

#[test]
fn lint_for_any_row_adds_to_the_findings_on_the_data() {
    let policies = fixture("policies-planted-lint.json");
    check!("any_row_lint_planted", &["pdp", "lint", crate::EXAMPLE, "--policies", &policies, "--for-any-row"]);
}

#[test]
fn witness_options_without_the_for_any_row_diff_are_refused() {
    check!(
        "any_row_witnesses_need_for_any_row",
        &["pdp", "diff", crate::EXAMPLE, "--against", crate::EXAMPLE, "--witnesses", "target/never-written"]
    );
}
