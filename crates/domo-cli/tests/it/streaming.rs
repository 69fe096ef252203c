//! Commands that stream the CSV a batch at a time (`matrix`, `who`, `explain`, `report`, `test`, `preview`) give
//! whole-file answers on a file of several batches: counts added over batches, a row found in a later batch,
//! failing rows' text read back, JSON converted a chunk at a time.

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

#[test]
fn explain_finds_a_row_of_a_later_batch() {
    let dir = many_rows();
    let path = dir.path().to_str().unwrap();
    let (code, out) = run_stdout(&["pdp", "explain", path, "--user", "27", "--row", "70000"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("row 70000: Friend = `F69999`, Attending = `TRUE`\n"), "{out}");
    assert!(out.contains("sees row 70000"), "{out}");
    let (code, out) = run_stdout(&["pdp", "explain", path, "--user", "27", "--row", "100001"]);
    assert_eq!((code, out.as_str()), (2, ""), "past the last row is an error");
}

#[test]
fn report_counts_every_batch() {
    let dir = many_rows();
    let old = dir.path().join("old.json");
    // Before, user 27 saw the regrets instead of the attendees.
    let policies = std::fs::read_to_string(dir.path().join("policies.json")).unwrap();
    std::fs::write(&old, policies.replacen("[\"TRUE\"]", "[\"FALSE\"]", 1)).unwrap();
    let out = dir.path().join("report.html");
    let (code, text) = run_stdout(&[
        "pdp",
        "report",
        dir.path().to_str().unwrap(),
        "--against",
        old.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    let page = std::fs::read_to_string(out).unwrap();
    let (attending, regrets) = (ROWS.div_ceil(3), ROWS - ROWS.div_ceil(3));
    for part in [
        format!("<dd id=\"rows\">{ROWS}</dd>"),
        format!("<dd class=\"policy-rows\" data-rows=\"{attending}\">"),
        format!("<dd class=\"policy-rows\" data-rows=\"{regrets}\">"),
        // User 27 gains the attendees and loses the regrets.
        format!(
            "<td>DomoSupport (27)</td><td class=\"num\">{regrets}</td><td class=\"num\">{attending}</td>\
             <td class=\"num gain\">+{attending}</td><td class=\"num lose\">-{regrets}</td>"
        ),
    ] {
        assert!(page.contains(&part), "missing `{part}`");
    }
}

#[test]
fn preview_as_json_converts_chunk_after_chunk_keeping_nulls_apart_from_empty_strings() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["dataset.json", "policies.json", "directory.json"] {
        std::fs::copy(root().join(EXAMPLE).join(name), dir.path().join(name)).unwrap();
    }
    // About 9 MB: more than two of the chunks the JSON is converted in. Every row is an attendee's;
    // the last rows hold a NULL, an empty string and a quoted line end.
    let rows = 120_000;
    let mut csv = String::from("Friend,Attending\n");
    for i in 0..rows {
        writeln!(csv, "F{i:070},TRUE").unwrap();
    }
    csv.push_str(",TRUE\n\"\",TRUE\n\"two\nlines\",TRUE");
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    let (code, out) = run_stdout(&["pdp", "preview", dir.path().to_str().unwrap(), "--user", "27", "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let json = json.as_array().unwrap();
    assert_eq!(json.len(), rows + 3);
    assert_eq!(json[0]["Friend"], format!("F{:070}", 0));
    assert_eq!(json[rows - 1]["Friend"], format!("F{:070}", rows - 1));
    assert_eq!(json[rows]["Friend"], serde_json::Value::Null);
    assert_eq!(json[rows + 1]["Friend"], "");
    assert_eq!(json[rows + 2]["Friend"], "two\nlines");
    assert!(out.starts_with("[\n  {") && out.ends_with("}\n]\n"), "one object a line");
    let (code, out) = run_stdout(&["pdp", "preview", dir.path().to_str().unwrap(), "--user", "40", "--format", "json"]);
    assert_eq!((code, out.as_str()), (0, "[]\n"), "a user who sees nothing gets an empty array");
}
