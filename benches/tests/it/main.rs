//! Integration tests of `pdp-ratios`: the whole benchmark on a tiny workload, as `cargo xtask bench` runs it.
#![allow(clippy::unwrap_used, reason = "a test stops at its first failure")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A folder of its own under the system's temporary folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("domo-bench-it-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pdp_ratios(target: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdp-ratios"))
        .args(args)
        // The workload and DuckDB's Python are looked up under the target folder: this one is empty.
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap()
}

#[test]
fn every_scenario_runs_and_the_answers_agree_between_them() {
    let scratch = Scratch::new("run");
    let args = ["--rows", "3000", "--runs", "1", "--json", "--max-memory", "4000"];
    let output = pdp_ratios(&scratch.0, &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let size = &json["sizes"][0];
    assert_eq!(size["rows"], 3000);
    assert_eq!(size["reused"], false);
    let csv = scratch.0.join("domo-bench").join("sales-seed42-rows3000.csv");
    assert_eq!(size["file_bytes"], std::fs::metadata(&csv).unwrap().len());
    let scenarios = size["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios.iter().map(|s| s["scenario"].as_str().unwrap()).collect();
    assert_eq!(names, ["baseline", "counts", "counts_one_thread", "typical_user", "most_rows_user", "diff", "lint"]);
    for scenario in scenarios {
        assert_eq!(scenario["outcome"], "measured", "{scenario}");
        assert!(scenario["seconds"].as_f64().unwrap() > 0.0);
        assert!(scenario["peak_bytes"].as_u64().unwrap() > 0);
    }
    let detail = |i: usize, key: &str| scenarios[i]["detail"][key].as_str().unwrap().to_owned();
    // The streamed CSV of one user has exactly the rows the in-memory counts give that user.
    assert_eq!(detail(3, "rows"), detail(1, "typical_rows"));
    assert_eq!(detail(4, "user"), detail(1, "most_user"));
    assert_eq!(detail(4, "rows"), detail(1, "most_rows"));
    // One thread or two: the same counts.
    assert_eq!(scenarios[1]["detail"], scenarios[2]["detail"]);
    assert_eq!(detail(5, "changed_policies"), "50");
    assert!(detail(5, "changed_users").parse::<u64>().unwrap() > 0);
    assert!(detail(6, "findings").parse::<u64>().unwrap() > 0);
    assert!(size["speed_up_one_to_two_threads"].as_f64().unwrap() > 0.0);

    // The second run reuses the file, and says so.
    let output = pdp_ratios(&scratch.0, &["--rows", "3000", "--generate-only"]);
    assert!(output.status.success());
    let reused = format!("reused {} (its record matches seed 42 and 3000 rows)\n", csv.display());
    assert_eq!(String::from_utf8_lossy(&output.stderr), reused);
}

#[test]
fn the_markdown_table_names_the_targets() {
    let scratch = Scratch::new("markdown");
    let output = pdp_ratios(&scratch.0, &["--rows", "2000", "--runs", "1"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("## PDP benchmark (issue 14)\n"), "{stdout}");
    assert!(stdout.contains("### 2,000 rows ("), "{stdout}");
    assert!(stdout.contains("| scenario | seconds | rows/s | × csv scan | × DuckDB load | peak MB | × file | CPU s/run | target (issue 14) | result |"));
    let counts = stdout.lines().find(|l| l.starts_with("| all users' visible counts")).unwrap();
    assert!(counts.contains("| ≤ 2.5× scan, peak ≤ 0.5× file |"), "{counts}");
    assert!(stdout.contains("All users' counts, speed-up from one thread to two: "), "{stdout}");
}

#[test]
fn bad_input_is_refused_with_a_message_naming_it() {
    let scratch = Scratch::new("bad");
    let check = |args: &[&str]| {
        let output = pdp_ratios(&scratch.0, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(output.stdout.is_empty());
        String::from_utf8_lossy(&output.stderr).lines().next().unwrap_or_default().to_owned()
    };
    assert_eq!(
        check(&["--rows", "10X"]),
        "pdp-ratios: error: `10X` is not a row count (say 1M, 10M, 100M or a number)"
    );
    assert_eq!(check(&["--runs"]), "pdp-ratios: error: `--runs` needs a value");
    assert_eq!(check(&["--fast"]), "pdp-ratios: error: unknown argument `--fast`");
    // A file the user names is never overwritten.
    let mine = scratch.0.join("mine.csv");
    std::fs::write(&mine, "a,b\n1,2\n").unwrap();
    let message = check(&["--rows", "2000", "--file", mine.to_str().unwrap()]);
    assert_eq!(
        message,
        format!(
            "pdp-ratios: error: `{}` is there but is not the workload of seed 42 and 2000 rows (`{}.meta` does not say so): it is left alone; remove it or name another file",
            mine.display(),
            mine.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "a,b\n1,2\n");
}
