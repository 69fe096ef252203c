//! `domo pull --all DIR`: a whole instance into the tree, filters, re-runs that say what changed, local edits kept,
//! shared policies left out, and DataSets that fail (403, 404, 429) reported while the others go on.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::live::support::{EULER_CSV, Live, Run};

/// Creates a DataSet named `name` holding the Euler party's six rows; returns its id.
fn dataset(live: &Live, name: &str) -> String {
    let id = live.ok(&["datasets", "create", "--name", name, "--infer-schema", EULER_CSV]).trim().to_owned();
    live.ok(&["data", "import", &id, EULER_CSV, "--header"]);
    id
}

/// Creates a policy on `id` for user 27: `Attending EQUALS value`; returns its id.
fn policy(live: &Live, id: &str, name: &str, value: &str) -> String {
    let filter = format!("Attending EQUALS {value}");
    live.ok(&["policies", "create", id, "--name", name, "--filter", &filter, "--user", "27"]).trim().to_owned()
}

/// `domo pull --all TREE ARGS`.
fn pull(live: &Live, tree: &Path, args: &[&str]) -> Run {
    live.run(&[&["pull", "--all", tree.to_str().unwrap()][..], args].concat())
}

/// `text` with each DataSet id replaced by its `<name>`, so that outputs compare as text.
fn named(text: &str, ids: &[(&str, &str)]) -> String {
    ids.iter().fold(text.to_owned(), |text, (id, name)| text.replace(id, &format!("<{name}>")))
}

/// The policy names of a DataSet folder's policies.json.
fn policy_names(folder: &Path) -> Vec<String> {
    let policies: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("policies.json")).unwrap()).unwrap();
    policies.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

/// Every file of the tree and its bytes.
fn snapshot(tree: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(tree, &mut files);
    files
}

#[test]
fn an_instance_is_pulled_into_a_tree_and_a_rerun_says_what_changed() {
    let live = Live::start();
    let emea = dataset(&live, "Sales EMEA");
    let apac = dataset(&live, "Sales APAC");
    let hr = dataset(&live, "HR");
    let attendees = policy(&live, &emea, "Attendees", "TRUE");
    live.ok(&["pdp", "enable", &emea]);
    let ids = [(emea.as_str(), "emea"), (apac.as_str(), "apac"), (hr.as_str(), "hr")];
    let tree = live.path("tree");

    let run = pull(&live, &tree, &["--sample", "2"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        named(&run.stdout, &ids),
        "directory.json written: 6 users, 1 group\n\
         added    <hr> `HR`: 1 policy, PDP off\n\
         added    <apac> `Sales APAC`: 1 policy, PDP off\n\
         added    <emea> `Sales EMEA`: 2 policies, PDP on\n"
    );
    assert!(run.stderr.contains(&format!("pulled 3 DataSets into `{}` in ", tree.display())), "{}", run.all());
    assert!(run.stderr.trim_end().ends_with(": 3 added"), "{}", run.all());
    let folder = tree.join("datasets").join(&emea);
    let dataset_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("dataset.json")).unwrap()).unwrap();
    assert_eq!((dataset_json["name"].as_str(), dataset_json["pdpEnabled"].as_bool()), (Some("Sales EMEA"), Some(true)));
    assert_eq!(dataset_json["owner"]["id"], 1001);
    assert!(dataset_json.get("policies").is_none(), "policies live in policies.json");
    assert_eq!(policy_names(&folder), ["All Rows", "Attendees"]);
    assert_eq!(
        std::fs::read_to_string(folder.join("data.csv")).unwrap(),
        "Friend,Attending\nPythagoras,FALSE\nAlan Turing,TRUE\n",
        "the header row and the first two rows, no more"
    );
    let directory: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tree.join("directory.json")).unwrap()).unwrap();
    assert_eq!(directory["users"].as_array().unwrap().len(), 6);
    assert_eq!(directory["groups"][0]["userIds"], serde_json::json!([31, 35]));
    // Every DataSet folder reads as a one-DataSet folder once directory.json is beside it.
    std::fs::copy(tree.join("directory.json"), folder.join("directory.json")).unwrap();
    let matrix = live.ok(&["pdp", "matrix", folder.to_str().unwrap(), "--format", "csv"]);
    assert!(matrix.contains("27,DomoSupport"), "{matrix}");
    std::fs::remove_file(folder.join("directory.json")).unwrap();

    // Nothing changed live: nothing changes on disk, but for what a killed run left behind.
    let before = snapshot(&tree);
    std::fs::write(folder.join(".domo-pull-tmp-killed"), "half a file").unwrap();
    let run = pull(&live, &tree, &["--sample", "2"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.all());
    assert!(run.stderr.trim_end().ends_with(": no changes, 3 unchanged"), "{}", run.all());
    assert_eq!(snapshot(&tree), before);

    // Changes live: a policy changed and one added, PDP turned on, an owner changed, a DataSet deleted, one created.
    live.ok(&["policies", "update", &emea, &attendees, "--filter", "Attending EQUALS FALSE"]);
    policy(&live, &apac, "APAC attendees", "TRUE");
    live.ok(&["pdp", "enable", &apac]);
    live.ok(&["datasets", "update", &hr, "--owner", "50"]);
    let finance = dataset(&live, "Finance");
    live.ok(&["datasets", "delete", &emea, "--yes"]);
    let ids = [(emea.as_str(), "emea"), (apac.as_str(), "apac"), (hr.as_str(), "hr"), (finance.as_str(), "finance")];
    let run = pull(&live, &tree, &["--sample", "3"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let stdout = named(&run.stdout, &ids);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0], "added    <finance> `Finance`: 1 policy, PDP off");
    assert_eq!(lines[1], "updated  <hr> `HR`: owner 1001 → 50; sample changed; updatedAt changed");
    assert_eq!(
        lines[2],
        "updated  <apac> `Sales APAC`: pdpEnabled false → true; policies added `APAC attendees`; sample changed; \
         updatedAt changed"
    );
    assert_eq!(lines[3], "deleted  <emea> `Sales EMEA`: deleted live, its folder kept (--prune removes it)");
    assert!(run.stderr.contains("1 added, 2 updated, 1 deleted live (kept)"), "{}", run.all());
    assert!(folder.join("policies.json").exists(), "a DataSet deleted live keeps its folder");
    assert_eq!(std::fs::read_to_string(tree.join("datasets").join(&hr).join("data.csv")).unwrap().lines().count(), 4);

    // --prune removes it; then the tree is in step.
    let run = pull(&live, &tree, &["--sample", "3", "--prune"]);
    assert_eq!(named(&run.stdout, &ids), "deleted  <emea> `Sales EMEA`: deleted live, its folder removed\n");
    assert!(!folder.exists());
    let run = pull(&live, &tree, &["--sample", "3"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.all());
    assert!(run.stderr.contains(": no changes, 3 unchanged"), "{}", run.all());
}

#[test]
fn a_changed_policy_is_named_and_a_policy_edited_locally_is_kept_unless_forced() {
    let live = Live::start();
    let party = dataset(&live, "Party");
    let attendees = policy(&live, &party, "Attendees", "TRUE");
    let tree = live.path("tree");
    assert_eq!(pull(&live, &tree, &[]).code, 0);
    let folder = tree.join("datasets").join(&party);
    assert!(!folder.join("data.csv").exists(), "no sample without --sample");

    live.ok(&["policies", "update", &party, &attendees, "--filter", "Attending EQUALS FALSE"]);
    let run = pull(&live, &tree, &[]);
    assert!(
        run.stdout.ends_with(&format!("updated  {party} `Party`: policies changed `Attendees`; updatedAt changed\n")),
        "{}",
        run.all()
    );

    // An edit to policies.json: the DataSet is skipped (exit 1) and the file left as it is.
    let path = folder.join("policies.json");
    let edited = std::fs::read_to_string(&path).unwrap().replace("\"FALSE\"", "\"MAYBE\"");
    std::fs::write(&path, &edited).unwrap();
    live.ok(&["policies", "update", &party, &attendees, "--name", "Guests"]);
    let run = pull(&live, &tree, &[]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "skipped: DataSet {party} `Party`: policies.json was edited since the last pull: against live it changes \
             `Guests` → `Attendees`; --force overwrites it"
        )),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains(": 1 skipped"), "{}", run.all());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);

    // A policies.json that no longer parses is an edit too.
    std::fs::write(&path, "[{").unwrap();
    let run = pull(&live, &tree, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("policies.json does not parse"), "{}", run.all());

    // --force overwrites it with the live policies.
    let run = pull(&live, &tree, &["--force"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("policies.json rewritten (it did not parse)"), "{}", run.all());
    assert_eq!(policy_names(&folder), ["All Rows", "Guests"]);

    // An edit that matches live is no conflict.
    let run = pull(&live, &tree, &[]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.all());
}

/// Pulls into a new tree with `filters` and checks which DataSets (by name) got a folder.
fn check_filter(live: &Live, filters: &[&str], expected: &[&str]) {
    let tree = live.temp.path().join(format!("tree-{}", filters.join("-").replace(['-', ' '], "")));
    let run = pull(live, &tree, filters);
    assert_eq!(run.code, 0, "{filters:?}: {}", run.all());
    let mut names: Vec<String> = std::fs::read_dir(tree.join("datasets"))
        .unwrap()
        .map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path().join("dataset.json")).unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["name"].as_str().unwrap().to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, expected, "{filters:?}: {}", run.all());
    assert!(tree.join("directory.json").exists(), "{filters:?}: directory.json is written whatever the filters");
}

#[test]
fn filters_select_the_datasets_pulled() {
    let live = Live::start();
    let emea = dataset(&live, "Sales EMEA");
    let apac = dataset(&live, "Sales APAC");
    let hr = dataset(&live, "HR");
    dataset(&live, "Finance");
    policy(&live, &apac, "APAC", "TRUE");
    live.ok(&["pdp", "enable", &emea]);
    live.ok(&["datasets", "update", &hr, "--owner", "50"]);

    check_filter(&live, &[], &["Finance", "HR", "Sales APAC", "Sales EMEA"]);
    check_filter(&live, &["--name-like", "sales"], &["Sales APAC", "Sales EMEA"]);
    check_filter(&live, &["--pdp-only"], &["Sales APAC", "Sales EMEA"]);
    check_filter(&live, &["--owner", "50"], &["HR"]);
    check_filter(&live, &["--owner", "1001", "--name-like", "a"], &["Finance", "Sales APAC", "Sales EMEA"]);
    check_filter(&live, &["--name-like", "nothing like it"], &[]);
    check_filter(&live, &["--limit", "1", "--name-like", "HR"], &["HR"]);
    let tree = live.path("limited");
    let run = pull(&live, &tree, &["--limit", "2", "--jobs", "1"]);
    assert_eq!(std::fs::read_dir(tree.join("datasets")).unwrap().count(), 2, "{}", run.all());

    // A filtered re-run leaves the folders it did not select alone, and does not call them deleted.
    let tree = live.path("tree");
    assert_eq!(pull(&live, &tree, &[]).code, 0);
    let run = pull(&live, &tree, &["--name-like", "sales", "--prune"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.all());
    assert_eq!(std::fs::read_dir(tree.join("datasets")).unwrap().count(), 4);
}

#[test]
fn bad_arguments_are_refused() {
    let live = Live::start();
    let run = live.run(&["pull", "some-id", "dir", "--name-like", "x"]);
    run.fails_with(
        "error: --name-like is an option of `domo pull --all DIR`: a one-DataSet pull writes the whole DataSet",
    );
    live.run(&["pull", "some-id", "dir", "--sample", "5"])
        .fails_with("error: --sample is an option of `domo pull --all");
    live.run(&["pull", "some-id", "--all", "dir"]).fails_with("cannot be used with");
    live.run(&["pull", "--all", "dir", "--jobs", "0"]).fails_with("--jobs <N>");
    live.run(&["pull"]).fails_with("required");
    assert!(!crate::root().join("dir").exists(), "nothing written");

    let id = dataset(&live, "Party");
    let party = live.path("party");
    live.ok(&["pull", &id, party.to_str().unwrap()]);
    pull(&live, &party, &[]).fails_with(&format!(
        "error: `{}` holds dataset.json: it is a one-DataSet folder, not an instance tree; give --all a folder of its own",
        party.display()
    ));
    assert!(!party.join("datasets").exists());
}

#[test]
fn a_listing_that_fails_writes_nothing() {
    let live = Live::start();
    dataset(&live, "Party");
    let proxy = FaultProxy::start(&live.url, |line| {
        line.starts_with("GET /v1/datasets?").then(|| error_response(403, "Forbidden", ""))
    });
    let tree = live.path("new/tree");
    let run = Run::of(
        live.command(&["pull", "--all", tree.to_str().unwrap()]).env("DOMO_API_HOST", &proxy.url).output().unwrap(),
    );
    run.fails_with("error: cannot list the DataSets\n  caused by: GET /v1/datasets: Domo answered 403: Forbidden");
    assert!(!live.path("new").exists(), "the folders this run created are removed");
}

#[test]
fn shared_policy_uses_stay_out_of_policies_json_and_a_bad_use_is_located() {
    let live = Live::start();
    let emea = dataset(&live, "Sales EMEA");
    let apac = dataset(&live, "Sales APAC");
    policy(&live, &emea, "Attendees", "TRUE");
    policy(&live, &emea, "Regional", "TRUE");
    policy(&live, &apac, "Regional", "TRUE");
    let tree = live.path("tree");
    std::fs::create_dir_all(tree.join("shared")).unwrap();
    let shared = r#"{"name": "Regional", "type": "user", "filters": [{"column": "Attending", "values": ["TRUE"],
                     "operator": "EQUALS", "not": false}], "users": [27], "groups": [], "virtualUsers": []}"#;
    std::fs::write(tree.join("shared/regional.json"), shared).unwrap();
    for (id, stem) in [(&emea, "regional"), (&apac, "regionl")] {
        let folder = tree.join("datasets").join(id);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("uses.json"), format!(r#"[{{"policy": "{stem}", "columns": {{}}}}]"#)).unwrap();
    }

    let run = pull(&live, &tree, &[]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert_eq!(policy_names(&tree.join("datasets").join(&emea)), ["All Rows", "Attendees"]);
    let uses = tree.join("datasets").join(&apac).join("uses.json");
    assert!(
        run.stderr.contains(&format!(
            "failed: DataSet {apac} `Sales APAC`: `{}`: use 1 names shared policy `regionl`, but `{}` cannot be read",
            uses.display(),
            tree.join("shared/regionl.json").display()
        )),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("error: 1 DataSet of 2 failed"), "{}", run.all());
    assert!(!tree.join("datasets").join(&apac).join("policies.json").exists(), "nothing written for it");
}

#[test]
fn a_live_copy_of_a_shared_policy_that_differs_from_the_tree_is_reported() {
    let live = Live::start();
    let emea = dataset(&live, "Sales EMEA");
    let apac = dataset(&live, "Sales APAC");
    // Changed live on EMEA: the shared definition says `Attending EQUALS TRUE`.
    policy(&live, &emea, "Regional", "FALSE");
    policy(&live, &apac, "Regional", "TRUE");
    let tree = live.path("tree");
    std::fs::create_dir_all(tree.join("shared")).unwrap();
    let shared = r#"{"name": "Regional", "type": "user", "filters": [{"column": "Attending", "values": ["TRUE"],
                     "operator": "EQUALS", "not": false}], "users": [27], "groups": [], "virtualUsers": []}"#;
    std::fs::write(tree.join("shared/regional.json"), shared).unwrap();
    for id in [&emea, &apac] {
        let folder = tree.join("datasets").join(id);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("uses.json"), r#"[{"policy": "regional"}]"#).unwrap();
    }

    let run = pull(&live, &tree, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "warning: DataSet {emea} `Sales EMEA`: live policy `Regional` differs from shared policy `regional` as \
             uses.json maps it (its filters): the tree does not hold that change, and `domo pdp plan` would undo it"
        )),
        "{}",
        run.all()
    );
    assert!(!run.stderr.contains(&format!("DataSet {apac} `Sales APAC`: live policy")), "{}", run.all());
    assert_eq!(policy_names(&tree.join("datasets").join(&emea)), ["All Rows"]);
    // Said again on every pull while it lasts.
    let again = pull(&live, &tree, &[]);
    assert!(again.stderr.contains("live policy `Regional` differs from shared policy `regional`"), "{}", again.all());
    assert!(!again.stderr.contains("no changes"), "a warning is not `no changes`: {}", again.all());
}

/// A proxy on 127.0.0.1 in front of the emulator. `fault` sees each request line and may answer it itself (a
/// whole raw HTTP response); the others go to the emulator, one connection each. Stopped when dropped.
struct FaultProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
    flights: Arc<Flights>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The requests of DataSets (`/v1/datasets/…`) held at the same time before they are relayed: now, and the most
/// seen. A request is held before any of its answer exists, so two held at once were sent at once.
#[derive(Default)]
struct Flights {
    now: AtomicUsize,
    most: AtomicUsize,
    /// How long each is held before it is relayed, so that those sent together overlap.
    hold: Duration,
}

impl FaultProxy {
    fn start(upstream: &str, fault: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self::holding(upstream, Duration::ZERO, fault)
    }

    /// [`FaultProxy::start`], holding each DataSet's request for `hold` before it is relayed.
    fn holding(upstream: &str, hold: Duration, fault: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let flights = Arc::new(Flights { hold, ..Flights::default() });
        let (stopped, log, fault, counted) = (stop.clone(), seen.clone(), Arc::new(fault), flights.clone());
        let thread = std::thread::spawn(move || {
            for socket in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(socket) = socket else { continue };
                let (upstream, log, fault, counted) = (upstream.clone(), log.clone(), fault.clone(), counted.clone());
                std::thread::spawn(move || serve(socket, &upstream, &log, &counted, &*fault));
            }
        });
        Self { url, seen, flights, stop, thread: Some(thread) }
    }

    /// The most requests of DataSets that were relayed at once.
    fn most_in_flight(&self) -> usize {
        self.flights.most.load(Ordering::SeqCst)
    }

    fn seen(&self, needle: &str) -> usize {
        self.seen.lock().unwrap().iter().filter(|line| line.contains(needle)).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves one client connection: faults answered in place, anything else relayed and the connection closed.
fn serve(
    mut client: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<String>>,
    flights: &Flights,
    fault: &dyn Fn(&str) -> Option<String>,
) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match client.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let line = text.lines().next().unwrap_or_default().to_owned();
        let length: usize = text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if client.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(line.clone());
        if let Some(response) = fault(&line) {
            if client.write_all(response.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        let mut relayed: String = text
            .trim_end()
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        relayed.push_str("connection: close\r\n\r\n");
        if line.contains(" /v1/datasets/") {
            // Counted while held, before any of its answer is relayed: a client that has read its whole answer
            // may send its next request before this thread sees the upstream close, so counting until then
            // would overlap requests that were sent one after the other.
            let now = flights.now.fetch_add(1, Ordering::SeqCst) + 1;
            flights.most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(flights.hold);
            flights.now.fetch_sub(1, Ordering::SeqCst);
        }
        if let Ok(mut server) = TcpStream::connect(upstream)
            && server.write_all(relayed.as_bytes()).and_then(|()| server.write_all(&body)).is_ok()
        {
            let _ = std::io::copy(&mut server, &mut client);
        }
        return;
    }
}

/// A raw HTTP response with a Domo-shaped JSON error body.
fn error_response(status: u16, reason: &str, extra_header: &str) -> String {
    let body = format!(r#"{{"status":{status},"statusReason":"{reason}","message":"{reason}"}}"#);
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n{extra_header}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_failing_dataset_is_reported_the_others_go_on_and_429_is_retried_after_retry_after() {
    let live = Live::start();
    let forbidden = dataset(&live, "Forbidden");
    let gone = dataset(&live, "Gone");
    let busy = dataset(&live, "Busy");
    let fine = dataset(&live, "Fine");
    let busy_once = AtomicBool::new(true);
    let (forbidden_path, gone_path, busy_path) =
        (format!("/v1/datasets/{forbidden} "), format!("/v1/datasets/{gone} "), format!("/v1/datasets/{busy} "));
    let proxy = FaultProxy::start(&live.url, move |line| {
        if line.contains(&forbidden_path) {
            return Some(error_response(403, "Forbidden", ""));
        }
        if line.contains(&gone_path) {
            // Deleted after the listing: the DataSet's own GET finds nothing.
            return Some(error_response(404, "Not Found", ""));
        }
        if line.contains(&busy_path) && busy_once.swap(false, Ordering::SeqCst) {
            return Some(error_response(429, "Too Many Requests", "retry-after: 1\r\n"));
        }
        None
    });
    let tree = live.path("tree");
    let started = Instant::now();
    let run = Run::of(
        live.command(&["pull", "--all", tree.to_str().unwrap(), "--sample", "1"])
            .env("DOMO_API_HOST", &proxy.url)
            .env("DOMO_RETRIES", "2")
            .output()
            .unwrap(),
    );
    let elapsed = started.elapsed();
    assert_eq!(run.code, 2, "{}", run.all());
    let folders = |id: &str| tree.join("datasets").join(id);
    assert!(folders(&fine).join("policies.json").exists(), "{}", run.all());
    assert!(folders(&busy).join("policies.json").exists(), "the 429 was retried: {}", run.all());
    assert_eq!(proxy.seen(&format!("GET /v1/datasets/{busy} ")), 2);
    assert!(elapsed >= Duration::from_secs(1), "waited as Retry-After said: {elapsed:?}");
    assert!(!folders(&forbidden).exists() && !folders(&gone).exists(), "no folder for a DataSet that failed");
    assert!(
        run.stderr.contains(&format!(
            "failed: DataSet {forbidden} `Forbidden`: GET /v1/datasets/{forbidden}: Domo answered 403"
        )),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains(&format!("failed: DataSet {gone} `Gone`: GET /v1/datasets/{gone}: Domo answered 404")),
        "{}",
        run.all()
    );
    assert_eq!(proxy.seen(&format!("GET /v1/datasets/{forbidden} ")), 1, "a 403 is not retried");
    assert!(run.stderr.contains(": 2 added, 2 failed\n"), "{}", run.all());
    assert!(
        run.stderr.ends_with("error: 2 DataSets of 4 failed (the others were pulled; run again to retry)\n"),
        "{}",
        run.all()
    );
}

#[test]
fn a_dataset_whose_sample_fails_is_left_as_it_was() {
    let live = Live::start();
    let changed = dataset(&live, "Changed");
    let steady = dataset(&live, "Steady");
    let tree = live.path("tree");
    assert_eq!(pull(&live, &tree, &["--sample", "2"]).code, 0);
    let before = snapshot(&tree.join("datasets").join(&changed));

    policy(&live, &changed, "Attendees", "TRUE");
    let new = dataset(&live, "New");
    let failing = [format!("/v1/datasets/{changed}/data"), format!("/v1/datasets/{new}/data")];
    let proxy = FaultProxy::start(&live.url, move |line| {
        failing
            .iter()
            .any(|path| line.contains(path.as_str()))
            .then(|| error_response(500, "Internal Server Error", ""))
    });
    let run = Run::of(
        live.command(&["pull", "--all", tree.to_str().unwrap(), "--sample", "3"])
            .env("DOMO_API_HOST", &proxy.url)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains(&format!("failed: DataSet {changed} `Changed`: GET /v1/datasets/{changed}/data")),
        "{}",
        run.all()
    );
    assert_eq!(snapshot(&tree.join("datasets").join(&changed)), before, "policies.json and data.csv as they were");
    assert!(!tree.join("datasets").join(&new).exists(), "no folder for a new DataSet that failed");
    assert_eq!(
        std::fs::read_to_string(tree.join("datasets").join(&steady).join("data.csv")).unwrap().lines().count(),
        4,
        "the others go on"
    );
    assert!(run.stdout.contains(&format!("updated  {steady} `Steady`: sample changed")), "{}", run.all());
}

#[test]
fn no_more_than_jobs_requests_are_in_flight() {
    let live = Live::start();
    let ids: Vec<String> = (0..8).map(|n| dataset(&live, &format!("Set {n}"))).collect();
    for (jobs, expected) in [("1", 1), ("3", 3)] {
        let proxy = FaultProxy::holding(&live.url, Duration::from_millis(40), |_| None);
        let tree = live.path(&format!("tree-{jobs}"));
        let run = Run::of(
            live.command(&["pull", "--all", tree.to_str().unwrap(), "--sample", "1", "--jobs", jobs])
                .env("DOMO_API_HOST", &proxy.url)
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{}", run.all());
        assert_eq!(std::fs::read_dir(tree.join("datasets")).unwrap().count(), ids.len());
        // Each DataSet's two requests (its details, its sample) are held 40 ms: with 8 of them, 3 at a time overlap.
        assert!(proxy.most_in_flight() <= expected, "--jobs {jobs}: {} at once", proxy.most_in_flight());
        assert!(proxy.most_in_flight() >= expected.min(2), "--jobs {jobs}: {} at once", proxy.most_in_flight());
    }
}
