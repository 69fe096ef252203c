//! The offline commands on an instance tree (`examples/instance`): matrix, lint, diff (with
//! `--against-git`) and test, per DataSet, and located errors for bad shared-policy uses.

use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;

use super::run;

const TREE: &str = "examples/instance";
const PIPELINE: &str = "datasets/8a3d5e71-4f2c-4b9a-8e60-7c1d2b3a4f02";

/// Runs `domo` in `dir` (a copy of the tree), with the temporary path shown as `TMP`.
fn run_in(dir: &Path, args: &[&str]) -> String {
    crate::run_in(dir, args).replace(&dir.display().to_string(), "TMP")
}

/// A copy of the example tree inside a fresh git repository with one commit.
fn committed_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::copy_dir(&super::root().join(TREE), &dir.path().join("instance"));
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "the tree"]);
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn matrix_shows_every_user_on_every_dataset() {
    assert_snapshot!(run(&["pdp", "matrix", TREE]));
}

#[test]
fn matrix_csv_is_one_line_per_user_and_dataset() {
    let text = run(&["pdp", "matrix", TREE, "--format", "csv"]);
    assert!(text.contains("dataset_id,dataset,user,name,visible,rows,reason"), "{text}");
    assert!(text.contains("8a3d5e71-4f2c-4b9a-8e60-7c1d2b3a4f02,Pipeline,101,Astrid Berg,2,6,policies"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(",Headcount,")).count(), 6, "{text}");
}

#[test]
fn lint_reports_per_dataset() {
    assert_snapshot!(run(&["pdp", "lint", TREE]));
}

#[test]
fn a_widened_shared_policy_fails_the_gate_on_every_dataset_using_it() {
    let dir = committed_copy();
    let unchanged = run_in(dir.path(), &["pdp", "diff", "instance", "--against-git", "HEAD", "--fail-on-new-access"]);
    assert!(unchanged.contains("exit: 0"), "{unchanged}");
    edit(&dir.path().join("instance/shared/emea.json"), r#""values": ["EMEA"]"#, r#""values": ["EMEA", "APAC"]"#);
    assert_snapshot!(run_in(dir.path(), &["pdp", "diff", "instance", "--against-git", "HEAD", "--fail-on-new-access"]));
}

#[test]
fn a_narrowed_policy_passes_the_gate_and_shows_who_loses() {
    let dir = committed_copy();
    edit(&dir.path().join("instance/shared/americas.json"), r#"["NA", "LATAM"]"#, r#"["NA"]"#);
    let text = run_in(dir.path(), &["pdp", "diff", "instance", "--against-git", "HEAD", "--fail-on-new-access"]);
    assert!(text.contains("exit: 0"), "{text}");
    assert!(text.contains("user 104 `Dana Okafor`: 3 → 2 rows (+0 -1)"), "{text}");
    assert!(text.contains("no new access: 2 of 3 DataSets changed against git revision `HEAD`"), "{text}");
}

#[test]
fn a_dataset_without_a_sample_is_judged_for_every_possible_row() {
    let dir = committed_copy();
    Command::new("git").args(["rm", "-q", &format!("instance/{PIPELINE}/data.csv")]).current_dir(dir.path());
    std::fs::remove_file(dir.path().join("instance").join(PIPELINE).join("data.csv")).unwrap();
    edit(&dir.path().join("instance/shared/emea.json"), r#""values": ["EMEA"]"#, r#""values": ["EMEA", "APAC"]"#);
    let text = run_in(dir.path(), &["pdp", "diff", "instance", "--against-git", "HEAD", "--fail-on-new-access"]);
    assert!(text.contains("exit: 1"), "{text}");
    assert!(text.contains("no sample: judged for every possible row"), "{text}");
    assert!(text.contains("user 101 `Astrid Berg`: gains (for any row)"), "{text}");
}

#[test]
fn diff_against_a_tree_folder_and_against_a_bad_revision() {
    let dir = committed_copy();
    let text = run_in(dir.path(), &["pdp", "diff", "instance", "--against", "instance"]);
    assert!(text.contains("no new access: 0 of 3 DataSets changed"), "{text}");
    assert_snapshot!(run_in(dir.path(), &["pdp", "diff", "instance", "--against-git", "no-such-branch"]));
}

#[test]
fn a_bad_shared_policy_use_is_located_in_every_command() {
    let dir = committed_copy();
    let uses = dir.path().join("instance").join(PIPELINE).join("uses.json");
    std::fs::write(&uses, r#"[{"policy": "emae"}, {"policy": "americas", "columns": {"Regoin": "Sales Region"}}]"#)
        .unwrap();
    for command in ["matrix", "lint", "test"] {
        let text = run_in(dir.path(), &["pdp", command, "instance"]);
        assert!(text.contains("exit: 2"), "{command}: {text}");
        assert!(
            text.contains("uses.json` at `[0]`: no shared policy `emae`: `instance/shared` has no `emae.json` (did you mean `emea`?)"),
            "{command}: {text}"
        );
    }
    assert_snapshot!(run_in(dir.path(), &["pdp", "lint", "instance"]));
}

#[test]
fn a_shared_policy_value_of_the_wrong_type_is_a_lint_error_of_the_dataset() {
    let dir = committed_copy();
    let shared = dir.path().join("instance/shared/big.json");
    std::fs::write(
        &shared,
        r#"{"name": "Big deals", "filters": [{"column": "Amount", "values": ["lots"], "operator": "GREATER_THAN"}], "users": [105]}"#,
    )
    .unwrap();
    let orders = dir.path().join("instance/datasets/6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7a1b01/uses.json");
    std::fs::write(&orders, r#"[{"policy": "emea"}, {"policy": "americas"}, {"policy": "big"}]"#).unwrap();
    let text = run_in(dir.path(), &["pdp", "lint", "instance"]);
    assert!(text.contains("exit: 1"), "{text}");
    assert!(text.contains("DataSet `Sales Orders` (6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7a1b01)"), "{text}");
    assert!(text.contains("`lots`"), "{text}");
}

#[test]
fn an_unused_shared_policy_is_a_warning() {
    let dir = committed_copy();
    std::fs::write(
        dir.path().join("instance/shared/apac.json"),
        r#"{"name": "APAC", "filters": [{"column": "Region", "values": ["APAC"], "operator": "EQUALS"}], "users": [105]}"#,
    )
    .unwrap();
    let text = run_in(dir.path(), &["pdp", "lint", "instance", "--format", "json"]);
    assert!(text.contains(r#""kind": "unused-shared-policy""#), "{text}");
    assert!(text.contains("shared policy `apac` (`instance/shared/apac.json`) is used by no DataSet"), "{text}");
}

#[test]
fn test_runs_each_datasets_tests() {
    let dir = committed_copy();
    let pipeline = dir.path().join("instance").join(PIPELINE);
    std::fs::write(
        pipeline.join("tests.json"),
        r#"{"cases": [
            {"name": "EMEA sales see the EMEA pipeline", "user": 101, "count": 2},
            {"name": "finance sees closed deals", "user": 105, "count": 3}
        ]}"#,
    )
    .unwrap();
    assert_snapshot!(run_in(dir.path(), &["pdp", "test", "instance"]));
    let none = run_in(dir.path(), &["pdp", "test", "instance", "instance/tests.json"]);
    assert!(none.contains("is an instance tree: its tests are each DataSet folder's tests.json"), "{none}");
}
