//! `cargo xtask scale`: a whole Domo instance against `domo serve` (issue 13's scale benchmark): seeds DataSets with
//! rows, writes the instance tree with its policies, then times `plan`, `apply`, a re-plan, `pull --all`, `lint` and
//! `generate` with the release `domo` binary, and prints one table.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

/// The instance's size; the defaults are issue 13's.
#[derive(Debug, Clone, Copy)]
struct Size {
    datasets: usize,
    users: usize,
    groups: usize,
    policies: usize,
    rows: usize,
    entitlements: usize,
    jobs: usize,
}

impl Size {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut size = Self {
            datasets: 1000,
            users: 10_000,
            groups: 300,
            policies: 50,
            rows: 1000,
            entitlements: 1_000_000,
            jobs: 8,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value: usize = args
                .next()
                .with_context(|| format!("`{flag}` needs a number"))?
                .replace('_', "")
                .parse()
                .with_context(|| format!("`{flag}` needs a number"))?;
            match flag.as_str() {
                "--datasets" => size.datasets = value,
                "--users" => size.users = value,
                "--groups" => size.groups = value.max(1),
                "--policies" => size.policies = value,
                "--rows" => size.rows = value,
                "--entitlements" => size.entitlements = value,
                "--jobs" => size.jobs = value.max(1),
                other => bail!(
                    "unknown option `{other}` (known: --datasets, --users, --groups, --policies, --rows, --entitlements, --jobs)"
                ),
            }
        }
        Ok(size)
    }
}

/// The regions, reps and products the rows and policies draw from.
const REGIONS: [&str; 6] = ["EMEA", "NA", "LATAM", "APAC", "ANZ", "MEA"];
const PRODUCTS: [&str; 8] = ["Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Fjord", "Garnet", "Harbor"];
/// The admin the emulator's client acts as; it owns every DataSet.
const ADMIN: u64 = 1;
const CLIENT: &str = "scale";
const SECRET: &str = "scale-benchmark-secret";

pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let size = Size::parse(args)?;
    let work = root.join("target/domo-scale");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("cannot empty `{}`", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    let started = Instant::now();
    let status =
        Command::new("cargo").args(["build", "--release", "--locked", "-p", "domo-cli"]).current_dir(root).status()?;
    if !status.success() {
        bail!("cargo build --release -p domo-cli failed");
    }
    let domo = root.join("target/release/domo");
    let mut report = Report::default();
    report.note(format!(
        "instance: {} DataSets × {} rows, {} users, {} groups, {} policies per DataSet ({} in all); {} entitlement rows",
        size.datasets,
        size.rows,
        size.users,
        size.groups,
        size.policies,
        size.datasets * size.policies,
        size.entitlements
    ));

    let directory = work.join("directory.json");
    write_directory(&directory, size)?;
    let port = free_port()?;
    let server = Server::start(&domo, &directory, port)?;
    let host = format!("http://127.0.0.1:{port}");
    let env = [("DOMO_API_HOST", host.as_str()), ("DOMO_CLIENT_ID", CLIENT), ("DOMO_CLIENT_SECRET", SECRET)];
    let domo_cmd = |args: &[&str]| -> Command {
        let mut command = Command::new(&domo);
        command.args(args).envs(env).env_remove("DOMO_PROFILE").current_dir(&work);
        command
    };

    // Seed: the DataSets with their rows, live, as an instance would have them before `domo` manages it.
    let seeding = Instant::now();
    let ids = seed_datasets(&work, size, &domo_cmd)?;
    report.row("seed DataSets and rows (not a target)", seeding.elapsed(), None);

    // The tree: what `pull --all` would give, plus the policies to create.
    let tree = work.join("instance");
    write_tree(&tree, &directory, &ids, size)?;

    let lint = time(domo_cmd(&["pdp", "lint", "instance"]), "lint")?;
    report.row("lint of the whole tree (offline)", lint, Some(10.0));
    let plan = time(domo_cmd(&["pdp", "plan", "instance", "--out", "plan.json"]), "plan")?;
    report.row(&format!("plan of {} creates against the live instance", size.datasets * size.policies), plan, None);
    let apply = time(domo_cmd(&["pdp", "apply", "--plan", "plan.json", "--yes"]), "apply")?;
    report.row(&format!("apply creating {} policies", size.datasets * size.policies), apply, Some(120.0));
    let replanning = Instant::now();
    let replan = run_capture(domo_cmd(&["pdp", "plan", "instance"]), "re-plan")?;
    report.row("re-plan after apply", replanning.elapsed(), None);
    report.note(format!("re-plan after apply says: {}", last_line(&replan)));
    let pull = time(
        domo_cmd(&["pull", "--all", "pulled", "--sample", &size.rows.to_string(), "--jobs", &size.jobs.to_string()]),
        "pull --all",
    )?;
    report.row(&format!("pull --all with {}-row samples", size.rows), pull, Some(60.0));

    let entitlements = work.join("entitlements.csv");
    write_entitlements(&entitlements, &ids, size)?;
    let generate = time(domo_cmd(&["pdp", "generate", "entitlements.csv", "instance"]), "generate")?;
    report.row(&format!("generate from {} entitlement rows", size.entitlements), generate, Some(10.0));

    drop(server);
    report.note(format!("whole run: {:.0} s", started.elapsed().as_secs_f64()));
    let text = report.markdown();
    std::fs::write(work.join("report.md"), &text)?;
    println!("{text}");
    Ok(())
}

/// One timed step per row: seconds and the target.
#[derive(Debug, Default)]
struct Report {
    rows: Vec<(String, Duration, Option<f64>)>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, step: &str, took: Duration, target: Option<f64>) {
        eprintln!("scale: {step}: {:.2} s", took.as_secs_f64());
        self.rows.push((step.to_owned(), took, target));
    }

    fn note(&mut self, note: String) {
        eprintln!("scale: {note}");
        self.notes.push(note);
    }

    fn markdown(&self) -> String {
        let mut text = String::from("| step | seconds | target | |\n|---|---|---|---|\n");
        for (step, took, target) in &self.rows {
            let seconds = took.as_secs_f64();
            let (target, mark) = match target {
                Some(t) => (format!("≤ {t:.0} s"), if seconds <= *t { "pass" } else { "FAIL" }),
                None => (String::new(), ""),
            };
            let _ = writeln!(text, "| {step} | {seconds:.2} | {target} | {mark} |");
        }
        for note in &self.notes {
            let _ = writeln!(text, "\n{note}");
        }
        text
    }
}

/// The `k`-th of `items`, cycling.
fn pick<'a>(items: &[&'a str], k: usize) -> &'a str {
    items.get(k % items.len().max(1)).copied().unwrap_or_default()
}

fn last_line(text: &str) -> &str {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Runs a command to its end, failing with its stderr when it fails.
fn run_capture(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command.output().with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// How long a command takes, failing when it fails.
fn time(command: Command, what: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    run_capture(command, what)?;
    Ok(started.elapsed())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// `domo serve` on loopback, stopped when dropped.
struct Server(Child);

impl Server {
    fn start(domo: &Path, directory: &Path, port: u16) -> anyhow::Result<Self> {
        let child = Command::new(domo)
            .args(["serve", "--ephemeral", "--port", &port.to_string(), "--directory"])
            .arg(directory)
            .args(["--client", &format!("{CLIENT}:{SECRET}:{ADMIN}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start domo serve")?;
        let server = Self(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if Instant::now() > deadline {
                bail!("domo serve did not listen on port {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn user_id(index: usize) -> u64 {
    1000 + index as u64
}

fn group_id(index: usize) -> u64 {
    5000 + index as u64
}

fn write_directory(path: &Path, size: Size) -> anyhow::Result<()> {
    let mut users = vec![json!({"id": ADMIN, "name": "Scale Admin", "email": "admin@example.com", "role": "Admin"})];
    users.extend((0..size.users).map(|i| {
        json!({"id": user_id(i), "name": format!("User {i:05}"), "email": format!("user{i:05}@example.com"), "role": "Participant"})
    }));
    let groups: Vec<_> = (0..size.groups)
        .map(|g| {
            let members: Vec<u64> = (0..size.users).filter(|u| u % size.groups == g).map(user_id).collect();
            json!({"id": group_id(g), "name": format!("Group {g:03}"), "userIds": members})
        })
        .collect();
    std::fs::write(path, serde_json::to_vec_pretty(&json!({"users": users, "groups": groups}))?)?;
    Ok(())
}

fn schema() -> serde_json::Value {
    json!({"columns": [
        {"type": "STRING", "name": "Region"},
        {"type": "STRING", "name": "Rep"},
        {"type": "STRING", "name": "Product"},
        {"type": "DECIMAL", "name": "Amount"},
        {"type": "DATE", "name": "Ordered"}
    ]})
}

/// Deterministic rows of DataSet `d`.
fn rows_csv(d: usize, size: Size) -> String {
    let mut text = String::from("Region,Rep,Product,Amount,Ordered\n");
    for r in 0..size.rows {
        let k = d * 7919 + r * 104_729;
        let _ = writeln!(
            text,
            "{},User {:05},{},{}.{:02},2026-{:02}-{:02}",
            pick(&REGIONS, k),
            k % size.users.max(1),
            pick(&PRODUCTS, k / 7),
            k % 10_000,
            k % 100,
            1 + k % 12,
            1 + k % 28
        );
    }
    text
}

/// Creates every DataSet live and imports its rows, `size.jobs` at a time; returns the ids in order.
fn seed_datasets(work: &Path, size: Size, domo: &(dyn Fn(&[&str]) -> Command + Sync)) -> anyhow::Result<Vec<String>> {
    let schema_path = work.join("schema.json");
    std::fs::write(&schema_path, serde_json::to_vec(&schema())?)?;
    let rows_dir = work.join("rows");
    std::fs::create_dir_all(&rows_dir)?;
    let ids = Mutex::new(vec![String::new(); size.datasets]);
    let next = Mutex::new(0_usize);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..size.jobs {
            scope.spawn(|| {
                loop {
                    let d = {
                        let Ok(mut next) = next.lock() else { return };
                        let d = *next;
                        *next += 1;
                        d
                    };
                    if d >= size.datasets || failure.lock().is_ok_and(|f| f.is_some()) {
                        return;
                    }
                    let seeded = (|| -> anyhow::Result<String> {
                        let name = format!("Scale {d:04}");
                        let created = run_capture(
                            domo(&["datasets", "create", "--name", &name, "--schema", "schema.json"]),
                            "datasets create",
                        )?;
                        let id = created.trim().to_owned();
                        let csv = rows_dir.join(format!("{d}.csv"));
                        std::fs::write(&csv, rows_csv(d, size))?;
                        let csv = csv.display().to_string();
                        run_capture(domo(&["data", "import", &id, &csv, "--header"]), "data import")?;
                        Ok(id)
                    })();
                    match seeded {
                        Ok(id) => {
                            if let Ok(mut ids) = ids.lock()
                                && let Some(slot) = ids.get_mut(d)
                            {
                                *slot = id;
                            }
                        }
                        Err(error) => {
                            if let Ok(mut failure) = failure.lock() {
                                failure.get_or_insert(error);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().ok().flatten() {
        return Err(error);
    }
    ids.into_inner().map_err(|_| anyhow::anyhow!("a seeding thread panicked"))
}

/// `policies` policies of DataSet `d`: one per group on a region, the rest one rep each.
fn policies(d: usize, size: Size) -> serde_json::Value {
    let policies: Vec<_> = (0..size.policies)
        .map(|p| {
            let k = d * 31 + p;
            if p % 2 == 0 {
                json!({"type": "user", "name": format!("Region {p:02}"),
                    "filters": [{"column": "Region", "values": [pick(&REGIONS, k)], "operator": "EQUALS", "not": false},
                                {"column": "Amount", "values": [format!("{}", k % 500)], "operator": "GREATER_THAN", "not": false}],
                    "users": [], "virtualUsers": [], "groups": [group_id(k % size.groups)]})
            } else {
                let rep = k * 37 % size.users.max(1);
                json!({"type": "user", "name": format!("Rep {p:02}"),
                    "filters": [{"column": "Rep", "values": [format!("User {rep:05}")], "operator": "EQUALS", "not": false}],
                    "users": [user_id(rep)], "virtualUsers": [], "groups": []})
            }
        })
        .collect();
    json!(policies)
}

fn write_tree(tree: &Path, directory: &Path, ids: &[String], size: Size) -> anyhow::Result<()> {
    std::fs::create_dir_all(tree.join("datasets"))?;
    std::fs::copy(directory, tree.join("directory.json"))?;
    for (d, id) in ids.iter().enumerate() {
        let dir: PathBuf = tree.join("datasets").join(id);
        std::fs::create_dir_all(&dir)?;
        let dataset = json!({"id": id, "name": format!("Scale {d:04}"), "rows": size.rows, "columns": 5,
            "schema": schema(), "owner": {"id": ADMIN, "name": "Scale Admin"}, "pdpEnabled": true});
        std::fs::write(dir.join("dataset.json"), serde_json::to_vec_pretty(&dataset)?)?;
        std::fs::write(dir.join("policies.json"), serde_json::to_vec_pretty(&policies(d, size))?)?;
        std::fs::write(dir.join("data.csv"), rows_csv(d, size))?;
    }
    Ok(())
}

/// Entitlement rows in the PDP Automation layout, spread over the DataSets.
fn write_entitlements(path: &Path, ids: &[String], size: Size) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "target_ds,policy_name,policy_column,user_group,value")?;
    for e in 0..size.entitlements {
        let Some(id) = ids.get(e % ids.len().max(1)) else { break };
        let user = (e / ids.len().max(1)) % size.users.max(1);
        // One policy per rep and DataSet; a second row for the same policy adds a value.
        writeln!(
            out,
            "{id},Rep {user:05},Rep,{},User {user:05}|User {:05}",
            user_id(user),
            (user + 1) % size.users.max(1)
        )?;
    }
    out.flush()?;
    Ok(())
}
