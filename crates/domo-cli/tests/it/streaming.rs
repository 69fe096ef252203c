//! Commands that stream the CSV a batch at a time (`matrix`, `who`, `test`) give whole-file answers on a file of
//! several batches: counts added over batches, a row found in a later batch, failing rows' text read back.

use std::fmt::Write as _;

use crate::{EXAMPLE, root, run_stdout};

/// Rows of the example's schema: every third one attending.
const ROWS: usize = 100_000;

/// The example's DataSet, policies and directory with `ROWS` generated rows (several batches).
fn many_rows() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["dataset.json", "policies.json", "directory.json"] {
        std::fs::copy(root().join(EXAMPLE).join(name), dir.path().join(name)).unwrap();
    }
    let mut csv = String::from("Friend,Attending\n");
    for i in 0..ROWS {
        writeln!(csv, "F{i},{}", if i % 3 == 0 { "TRUE" } else { "FALSE" }).unwrap();
    }
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    dir
}

#[test]
fn matrix_adds_the_counts_of_every_batch() {
    let dir = many_rows();
    let (code, out) = run_stdout(&["pdp", "matrix", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["rows"], ROWS);
    let visible =
        |id: u64| json["users"].as_array().unwrap().iter().find(|u| u["id"] == id).unwrap()["visible"].clone();
    // User 27 sees the attendees, the planners' group (31, 35) the regrets, the owner everything.
    assert_eq!(visible(27), ROWS.div_ceil(3));
    assert_eq!(visible(31), ROWS - ROWS.div_ceil(3));
    assert_eq!(visible(1001), ROWS);
}

#[test]
fn who_finds_a_row_of_a_later_batch() {
    let dir = many_rows();
    let path = dir.path().to_str().unwrap();
    // Row 70,000 is F69999, attending: the owner, the Admin and user 27 see it.
    let (code, out) = run_stdout(&["pdp", "who", path, "--row", "70000", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<u64> = json["users"].as_array().unwrap().iter().map(|u| u["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1001, 27, 50]);
    let (code, out) = run_stdout(&["pdp", "who", path, "--row", "100001"]);
    assert_eq!((code, out.as_str()), (2, ""), "past the last row is an error");
}

#[test]
fn test_shows_the_failing_rows_of_a_later_batch() {
    let dir = many_rows();
    let tests = dir.path().join("tests.json");
    std::fs::write(&tests, r#"{"cases": [{"name": "late rows", "user": 27, "sees": {"rows": [70000, 70001]}}]}"#)
        .unwrap();
    let (code, out) = run_stdout(&["pdp", "test", dir.path().to_str().unwrap(), tests.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "FAIL case 1 `late rows`: expected at least the 2 selected rows; user 27 sees 33334 of 100000 rows"
        ),
        "{out}"
    );
    assert!(out.contains("row 70001 (should see, but does not): Friend = `F70000`, Attending = `FALSE`"), "{out}");
}
