//! `domo pdp report`: the access review page, its numbers against `domo pdp matrix`, names that cannot become
//! markup, bad paths, and the page opened in headless Chromium (search, no console errors, a screenshot).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{EXAMPLE, root, run, run_stdout};

const BEFORE: &str = "examples/euler-party/policies-before.json";

/// Runs `domo pdp report` with `args` into `dir/report.html`; returns the page.
fn check(dir: &Path, args: &[&str]) -> String {
    let out = dir.join("report.html");
    let (code, _) = run_stdout(&[&["pdp", "report"][..], args, &["--out", out.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "domo pdp report {args:?} failed");
    std::fs::read_to_string(out).unwrap()
}

/// `(id, visible, reason)` of every row of the page's "who sees what" table, in page order.
fn matrix_rows(page: &str) -> Vec<(String, u64, String)> {
    let attr = |tag: &str, name: &str| -> String {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        tag[start..].split('"').next().unwrap().to_owned()
    };
    page.split("<tr data-search=")
        .skip(1)
        .filter(|tag| tag.contains("data-visible="))
        .map(|tag| (attr(tag, "data-id"), attr(tag, "data-visible").parse().unwrap(), attr(tag, "data-reason")))
        .collect()
}

/// `domo pdp matrix --format json` as `(id, visible, reason)`, most rows first, like the page.
fn matrix_json(folder: &str) -> Vec<(String, u64, String)> {
    matrix_json_with(&[folder])
}

fn matrix_json_with(args: &[&str]) -> Vec<(String, u64, String)> {
    let (code, json) = run_stdout(&[&["pdp", "matrix"][..], args, &["--format", "json"]].concat());
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut users: Vec<(String, u64, String)> = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].to_string(), u["visible"].as_u64().unwrap(), u["reason"].as_str().unwrap().to_owned()))
        .collect();
    users.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    users
}

fn sorted(mut rows: Vec<(String, u64, String)>) -> Vec<(String, u64, String)> {
    rows.sort();
    rows
}

#[test]
fn the_page_shows_the_numbers_of_matrix_and_needs_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let page = check(dir.path(), &[EXAMPLE, "--against", BEFORE]);
    let shown = matrix_rows(&page);
    assert_eq!(sorted(shown.clone()), sorted(matrix_json(EXAMPLE)));
    let visible: Vec<u64> = shown.iter().map(|r| r.1).collect();
    assert!(visible.windows(2).all(|w| w[0] >= w[1]), "most rows first: {visible:?}");
    for part in [
        "<dd id=\"rows\">6</dd>",
        "<dd id=\"users\">6</dd>",
        "<dd id=\"policy-count\">2</dd>",
        "<dd id=\"pdp\">on: policies decide who sees which rows</dd>",
        "<dt>Owner</dt><dd>Leonhard Euler (1001)</dd><dt>Admins</dt><dd>Emmy Noether (50)</dd>",
        "<td class=\"note\">note</td><td>user-sees-nothing</td>",
        "<h3 id=\"see-nothing\">Users who see nothing: 1</h3>",
        "<p>Carl Gauss (40)</p>",
        "<dd>Attending is FALSE</dd>",
        "group Party Planners (1324037627), 2 members: Ada Lovelace (31), Sophie Germain (35)",
        "<dd class=\"policy-rows\" data-rows=\"4\">4 of 6 (67%)</dd>",
        "1 user: DomoSupport (27)",
        "<p>2 users gain rows, 1 user loses rows.</p>",
    ] {
        assert!(page.contains(part), "missing `{part}`");
    }
    // Gains first in the changes.
    let ada = page.find("<td>Ada Lovelace (31)</td><td class=\"num\">0</td>").unwrap();
    let carl = page.find("<td>Carl Gauss (40)</td><td class=\"num\">4</td>").unwrap();
    assert!(ada < carl);
    // Self-contained: nothing is fetched from anywhere.
    for fetch in ["http://", "https://", "<link", " src=", "@import", "url("] {
        assert!(!page.contains(fetch), "the page holds `{fetch}`");
    }
}

#[test]
fn names_and_values_cannot_become_markup() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("hostile");
    std::fs::create_dir(&folder).unwrap();
    for file in ["dataset.json", "data.csv", "policies.json"] {
        std::fs::copy(root().join(EXAMPLE).join(file), folder.join(file)).unwrap();
    }
    let directory = std::fs::read_to_string(root().join(EXAMPLE).join("directory.json"))
        .unwrap()
        .replace("Ada Lovelace", "<script>alert(1)</script> \\\" onload=\\\"x");
    std::fs::write(folder.join("directory.json"), directory).unwrap();
    let page = check(dir.path(), &[folder.to_str().unwrap()]);
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot; onload=&quot;x (31)"));
    assert!(!page.contains("\" onload="));
}

#[test]
fn bad_paths_are_errors_that_name_them_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/report.html");
    let text = run(&["pdp", "report", EXAMPLE, "--out", missing.to_str().unwrap()]);
    assert!(text.contains("exit: 2"), "{text}");
    assert!(text.contains(&format!("cannot write the report to `{}`", missing.display())), "{text}");
    assert!(!missing.exists());
    let out = dir.path().join("report.html");
    let text = run(&["pdp", "report", EXAMPLE, "--against", "no-such-old.json", "--out", out.to_str().unwrap()]);
    assert!(text.contains("exit: 2") && text.contains("`no-such-old.json`"), "{text}");
    assert!(!out.exists(), "no page is written when the input is bad");
}

#[test]
fn pdp_off_and_a_policy_that_does_not_compile_read_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let off = crate::fixture("dataset-pdp-off.json");
    let page = check(dir.path(), &[EXAMPLE, "--dataset", &off]);
    assert!(page.contains("<dd id=\"pdp\">off: everyone with access sees every row</dd>"));
    assert_eq!(sorted(matrix_rows(&page)), sorted(matrix_json_with(&[EXAMPLE, "--dataset", &off])));
    // Fail closed: a policy that does not compile is an error, and no page is written.
    let out = dir.path().join("broken.html");
    let bad = crate::fixture("policies-unknown-column.json");
    let text = run(&["pdp", "report", EXAMPLE, "--policies", &bad, "--out", out.to_str().unwrap()]);
    assert!(text.contains("exit: 2") && text.contains("do not compile"), "{text}");
    assert!(!out.exists());
}

/// A folder of `users` users and `policies` policies, each policy naming 5 users and one group of 40.
fn large(users: u64, policies: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "dataset.json",
        serde_json::json!({"id": "d", "name": "Sales", "owner": {"id": 1, "name": "Owner"}, "pdpEnabled": true,
            "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]}})
        .to_string(),
    );
    let mut csv = String::from("Region,Amount\n");
    for row in 0..2_000 {
        csv.push_str(&format!("Region-{},{row}\n", row % 500));
    }
    write("data.csv", csv);
    let people: Vec<_> = (1..=users)
        .map(|id| serde_json::json!({"id": id, "name": format!("Person Number {id}"), "role": "Participant"}))
        .collect();
    let groups: Vec<_> = (1..=200u64)
        .map(|g| serde_json::json!({"id": g, "name": format!("Group {g}"), "userIds": (0..40).map(|i| 1 + (g * 37 + i * 101) % users).collect::<Vec<_>>()}))
        .collect();
    write("directory.json", serde_json::json!({"users": people, "groups": groups}).to_string());
    let list: Vec<_> = (1..=policies)
        .map(|p| {
            serde_json::json!({"id": p, "type": "user", "name": format!("Region {} for team {p}", p % 500),
                "users": (0..5).map(|i| 1 + (p * 5 + i) % users).collect::<Vec<_>>(), "groups": [1 + p % 200],
                "virtualUsers": [], "filters": [{"column": "Region", "operator": "EQUALS", "values": [format!("Region-{}", p % 500)]}]})
        })
        .collect();
    write("policies.json", serde_json::Value::from(list).to_string());
    dir
}

#[test]
fn ten_thousand_users_and_two_thousand_policies_make_a_page_under_ten_megabytes() {
    let folder = large(10_000, 2_000);
    let dir = tempfile::tempdir().unwrap();
    let page = check(dir.path(), &[folder.path().to_str().unwrap()]);
    assert!(page.len() < 10_000_000, "{} bytes", page.len());
    assert_eq!(matrix_rows(&page).len(), 10_000, "every user, the owner (user 1) among them");
    assert_eq!(page.matches("<article class=\"policy\"").count(), 2_000);
    assert!(page.contains("40 members: Person Number "), "groups are expanded");
}

/// The Chromium the page test drives: `DOMO_TEST_CHROMIUM` (set by `cargo xtask ci`), else /usr/bin/chromium.
fn chromium() -> PathBuf {
    let path = std::env::var_os("DOMO_TEST_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "Chromium is not installed at `{}`: run `cargo xtask provision` (or set DOMO_TEST_CHROMIUM)",
        path.display()
    );
    path
}

/// Opens `url` in headless Chromium; returns the DOM after the page's script ran, and the console
/// messages (`console.*` and uncaught errors) Chromium logged.
fn open(url: &str, extra: &[&str]) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect();
    assert!(output.status.success(), "chromium failed: {stderr}");
    (String::from_utf8(output.stdout).unwrap(), console)
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn the_page_renders_in_chromium_without_console_errors_and_its_search_filters_users_and_policies() {
    let dir = tempfile::tempdir().unwrap();
    check(dir.path(), &[EXAMPLE, "--against", BEFORE]);
    let page = dir.path().join("report.html");

    // The console check can fail: a page with an error is caught.
    let broken = dir.path().join("broken.html");
    std::fs::write(&broken, "<!doctype html><p>x</p><script>undefinedFunction()</script>").unwrap();
    let (_, console) = open(&file_url(&broken), &["--dump-dom"]);
    assert!(console.iter().any(|l| l.contains("Uncaught ReferenceError")), "{console:?}");

    let (dom, console) = open(&file_url(&page), &["--dump-dom"]);
    assert_eq!(console, Vec::<String>::new(), "console messages");
    // The script ran: the search box is shown, nothing is filtered yet.
    assert!(dom.contains("<p id=\"find\">"), "the search box is shown once the script runs");
    assert!(!dom.contains("hidden=\"\""), "nothing is hidden before a search");
    // The numbers the browser shows are matrix's.
    assert_eq!(sorted(matrix_rows(&dom)), sorted(matrix_json(EXAMPLE)));

    // A search (the page applies `#q=` as if typed) hides the other users and policies.
    let (dom, console) = open(&format!("{}#q=ada", file_url(&page)), &["--dump-dom"]);
    assert_eq!(console, Vec::<String>::new(), "console messages");
    let rows: Vec<&str> = dom.split("<tr data-search=").skip(1).filter(|t| t.contains("data-visible=")).collect();
    let shown: Vec<&&str> = rows.iter().filter(|t| !t.split('>').next().unwrap().contains("hidden")).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].contains("data-id=\"31\""));
    assert!(dom.contains("<span id=\"shown\" class=\"muted\">1 user shown</span>"));
    let policies: Vec<&str> = dom.split("<article class=\"policy\"").skip(1).collect();
    let open_policies: Vec<&&str> =
        policies.iter().filter(|p| !p.split('>').next().unwrap().contains("hidden")).collect();
    assert_eq!(open_policies.len(), 1, "only the policy whose group holds Ada");
    assert!(open_policies[0].contains("Planners See Regrets"));

    // It paints: a screenshot is a PNG.
    let shot = dir.path().join("shot.png");
    let (_, console) = open(
        &file_url(&page),
        &["--hide-scrollbars", "--window-size=1200,1600", &format!("--screenshot={}", shot.display())],
    );
    assert_eq!(console, Vec::<String>::new(), "console messages");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
}
