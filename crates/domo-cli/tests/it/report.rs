//! `domo pdp report`: the access review page, its numbers against `domo pdp matrix`, names that cannot become
//! markup, bad paths, and the page opened in headless Chromium (search, no console errors, a screenshot).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

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

/// Headless Chromium driven over the DevTools protocol: a minimal WebSocket client (text frames,
/// no fragmentation: what DevTools sends) talking to one page on 127.0.0.1.
struct Browser {
    _child: KillOnDrop,
    socket: TcpStream,
    next_id: u64,
    /// Every line Chromium wrote on stderr, console messages among them.
    log: Arc<Mutex<Vec<String>>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn open(url: &str) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium())
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            .args(["--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr"])
            .args(["--v=0", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            // Its own process group, so that the helpers it starts stop with it.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        // Stopped however the test ends, even by a failed assertion below.
        let child = KillOnDrop(child);
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, endpoint) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://") {
                    let _ = found.send(rest.split('/').next().unwrap_or_default().to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(address) = endpoint.recv_timeout(Duration::from_secs(30)) else {
            panic!("Chromium printed no DevTools address: {:?}", log.lock().unwrap())
        };
        // The page's WebSocket, from the target list (plain HTTP on the same port).
        let started = Instant::now();
        let path = loop {
            let list = http_get(&address, "/json/list");
            let targets: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
            let page = targets.as_array().into_iter().flatten().find(|t| t["type"] == "page");
            if let Some(ws) = page.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
                break ws.split_once(address.as_str()).unwrap().1.to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no page target: {list}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut socket = TcpStream::connect(&address).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            socket,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            socket.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        let mut browser = Browser { _child: child, socket, next_id: 0, log, _profile: profile };
        // Wait for the page and its script.
        let started = Instant::now();
        let ready = "String(location.protocol === 'file:' && document.readyState === 'complete' && !!window.apply)";
        while browser.eval(ready) != "true" {
            assert!(started.elapsed() < Duration::from_secs(30), "the page did not finish loading");
            std::thread::sleep(Duration::from_millis(50));
        }
        browser
    }

    /// Runs `expression` in the page (`Runtime.evaluate`); returns its value as text, or panics
    /// with the exception it threw.
    fn eval(&mut self, expression: &str) -> String {
        self.next_id += 1;
        let id = self.next_id;
        let call = serde_json::json!({"id": id, "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true}});
        self.send(&call.to_string());
        loop {
            let message: serde_json::Value = serde_json::from_str(&self.receive()).unwrap();
            if message["id"] != id {
                continue;
            }
            let result = &message["result"];
            assert!(result.get("exceptionDetails").is_none(), "`{expression}` threw: {result}");
            let value = &result["result"]["value"];
            return value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        }
    }

    fn send(&mut self, text: &str) {
        // A masked text frame; a zero mask leaves the payload as it is.
        let mut frame = vec![0x81u8];
        match text.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65_536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(text.as_bytes());
        self.socket.write_all(&frame).unwrap();
    }

    fn receive(&mut self) -> String {
        let mut head = [0u8; 2];
        self.socket.read_exact(&mut head).unwrap();
        assert_eq!(head[0] & 0x0f, 1, "a text frame");
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                self.socket.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0u8; 8];
                self.socket.read_exact(&mut n).unwrap();
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        self.socket.read_exact(&mut payload).unwrap();
        String::from_utf8(payload).unwrap()
    }

    /// The console messages (and uncaught errors) Chromium logged so far.
    fn console(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().filter(|l| l.contains(":CONSOLE")).cloned().collect()
    }
}

/// A Chromium this test started, asked to stop (SIGTERM to its process group, by id) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let stopped = Command::new("kill").args(["-TERM", "--", &group]).status().is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn http_get(address: &str, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(address) else { return String::new() };
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").is_err() {
        return String::new();
    }
    // The server keeps the connection open: read the head, then Content-Length bytes.
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return String::new();
    }
    String::from_utf8(body).unwrap_or_default()
}

#[test]
fn typing_in_the_search_box_filters_users_and_policies_through_devtools() {
    let dir = tempfile::tempdir().unwrap();
    check(dir.path(), &[EXAMPLE, "--against", BEFORE]);
    let mut browser = Browser::open(&file_url(&dir.path().join("report.html")));
    // What the browser shows in the table equals matrix's JSON.
    let shown = browser.eval(
        "JSON.stringify([...document.querySelectorAll('#matrix tbody tr')].map(r => [r.cells[1].textContent, \
         Number(r.cells[3].textContent), r.dataset.reason]))",
    );
    let shown: Vec<(String, u64, String)> = serde_json::from_str(&shown).unwrap();
    assert_eq!(sorted(shown), sorted(matrix_json(EXAMPLE)));
    assert_eq!(browser.eval("String(document.getElementById('find').hidden)"), "false", "the search box shows");

    let search = |browser: &mut Browser, text: &str| {
        browser.eval(&format!(
            "(() => {{ const box = document.getElementById('search'); box.value = {text:?}; \
             box.dispatchEvent(new Event('input')); \
             return JSON.stringify([[...document.querySelectorAll('#matrix tbody tr')].filter(r => !r.hidden) \
             .map(r => r.dataset.id), [...document.querySelectorAll('article.policy')].filter(a => !a.hidden) \
             .map(a => a.querySelector('h3').textContent), document.getElementById('shown').textContent]) }})()"
        ))
    };
    assert_eq!(search(&mut browser, "Ada"), r#"[["31"],["policy 9 `Planners See Regrets`"],"1 user shown"]"#);
    assert_eq!(search(&mut browser, "attendees"), r#"[[],["policy 8 `Only Show Attendees`"],"0 users shown"]"#);
    assert_eq!(search(&mut browser, "1001"), r#"[["1001"],[],"1 user shown"]"#);
    let all = search(&mut browser, "");
    assert!(all.starts_with(r#"[["50","1001","27","31","35","40"],["#), "{all}");
    assert_eq!(browser.console(), Vec::<String>::new(), "console messages");
}
