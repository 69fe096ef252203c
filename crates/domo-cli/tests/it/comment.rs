//! `--format markdown` on `diff` and `lint`: pull-request comments with a verdict first, a block per change, and
//! GitHub's 65,536-character limit.

use crate::{EXAMPLE, check, run, run_stdout};

const BEFORE: &str = "examples/euler-party/policies-before.json";

#[test]
fn diff_markdown_puts_the_verdict_first_and_gains_before_losses() {
    check!("comment_diff", &["pdp", "diff", EXAMPLE, "--against", BEFORE, "--format", "markdown", "--show-rows"]);
}

#[test]
fn diff_markdown_for_any_row_shows_witness_rows() {
    check!(
        "comment_diff_any_row",
        &["pdp", "diff", EXAMPLE, "--against", BEFORE, "--for-any-row", "--format", "markdown"]
    );
}

#[test]
fn diff_markdown_of_no_change_says_so() {
    check!("comment_diff_same", &["pdp", "diff", EXAMPLE, "--against", EXAMPLE, "--format", "markdown"]);
}

#[test]
fn lint_markdown_lists_findings_by_kind() {
    check!("comment_lint", &["pdp", "lint", EXAMPLE, "--format", "markdown"]);
}

#[test]
fn markdown_is_refused_where_no_comment_is_made() {
    for args in [&["matrix"][..], &["who", "--row", "1"], &["preview", "--user", "27"], &["test", "x.json"]] {
        let text = run(&[&["pdp"][..], args, &[EXAMPLE, "--format", "markdown"]].concat());
        assert!(text.contains("exit: 2"), "{text}");
        assert!(text.contains("invalid value 'markdown' for '--format"), "{text}");
    }
}

/// A folder where every one of `users` users gains every row: the new policy names them all.
fn many_gainers(users: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "dataset.json",
        serde_json::json!({"id": "d", "name": "Big", "owner": {"id": 1, "name": "Owner"}, "pdpEnabled": true,
            "schema": {"columns": [{"type": "STRING", "name": "Region"}]}})
        .to_string(),
    );
    write("data.csv", "Region\nEast\nWest\n".to_owned());
    let ids: Vec<u64> = (100..100 + users).collect();
    let people: Vec<_> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "name": format!("User number {id} | <b>"), "role": "Participant"}))
        .collect();
    write("directory.json", serde_json::json!({"users": people, "groups": []}).to_string());
    let policy = |users: &[u64]| {
        serde_json::json!([{"id": 1, "type": "user", "name": "Everyone", "users": users, "groups": [],
            "virtualUsers": [], "filters": [{"column": "Region", "operator": "EQUALS", "values": ["East", "West"]}]}])
        .to_string()
    };
    write("policies.json", policy(&ids));
    write("old.json", policy(&[]));
    dir
}

#[test]
fn a_long_diff_comment_stays_within_githubs_limit_and_says_what_it_left_out() {
    let dir = many_gainers(3_000);
    let folder = dir.path().to_str().unwrap();
    let old = dir.path().join("old.json");
    let (code, comment) =
        run_stdout(&["pdp", "diff", folder, "--against", old.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(comment.starts_with("### 3000 users gain rows, 0 users lose rows\n"), "{}", &comment[..200]);
    assert!(comment.chars().count() <= 65_536, "{} characters", comment.chars().count());
    let shown = comment.matches("<details>").count();
    assert!(shown > 100 && shown < 3_001, "{shown} blocks");
    // The policy change plus 3,000 users, less those shown.
    let left = 3_001 - shown;
    assert!(comment.contains(&format!("**{left} more changes not shown**")), "{}", &comment[comment.len() - 400..]);
    assert!(comment.contains("Run `domo pdp diff "), "{}", &comment[comment.len() - 400..]);
    // Names cannot break the table or inject HTML.
    assert!(comment.contains("User number 100 \\| &lt;b&gt;"), "{}", &comment[..600]);
    assert!(!comment.contains("<b>"));
}
