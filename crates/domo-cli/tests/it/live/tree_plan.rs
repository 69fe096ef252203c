//! `domo pdp plan|apply ROOT` on an instance tree: examples/instance seeded into the emulator, applied, edited,
//! planned and applied again until a re-plan has nothing to do; stale and failing DataSets; refused ones.

use std::path::{Path, PathBuf};

use domo_model::{DatasetCreate, DatasetId, DatasetUpdate, Directory, Schema, UserId, read_user_file};
use serde_json::{Value, json as j};

use super::support::{Live, Run, json};

/// A client acting as Farid (106), the Admin who owns the instance's DataSets.
pub(crate) const FARID: &str = "farid-cli";
pub(crate) const FARID_SECRET: &str = "farid-secret-5ca1ab1e";

/// The emulator with the instance's directory and Farid's client.
pub(crate) fn start() -> Live {
    let text = std::fs::read_to_string(crate::root().join("examples/instance/directory.json")).unwrap();
    let directory: Directory = read_user_file("directory.json", &text).unwrap();
    Live::start_with(|builder| builder.directory(directory).client(FARID, FARID_SECRET, UserId(106)))
}

/// `domo` as Farid.
pub(crate) fn farid(live: &Live, args: &[&str]) -> Run {
    let mut command = live.command(args);
    command.env("DOMO_CLIENT_ID", FARID).env("DOMO_CLIENT_SECRET", FARID_SECRET);
    Run::of(command.output().unwrap())
}

/// `domo` as Farid, expecting exit 0; returns stdout.
pub(crate) fn farid_ok(live: &Live, args: &[&str]) -> String {
    let run = farid(live, args);
    assert_eq!(run.code, 0, "domo {} failed:\n{}", args.join(" "), run.all());
    run.stdout
}

pub(crate) fn farid_client(live: &Live) -> domo_http::Client {
    let credentials = domo_http::Credentials::client_credentials(
        FARID,
        FARID_SECRET,
        [domo_model::Scope::Data, domo_model::Scope::User],
    );
    domo_http::Client::new(&live.url, credentials).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// The seeded tree: its root and its DataSets' live ids by name.
pub(crate) struct Instance {
    pub(crate) root: PathBuf,
    pub(crate) ids: std::collections::BTreeMap<String, String>,
}

impl Instance {
    pub(crate) fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }

    pub(crate) fn folder(&self, name: &str) -> PathBuf {
        self.root.join("datasets").join(self.id(name))
    }

    pub(crate) fn root(&self) -> &str {
        self.root.to_str().unwrap()
    }
}

/// examples/instance copied into the scratch folder, its DataSets created live (empty of policies but the
/// built-in All Rows, PDP as the tree says) with their rows, the folders renamed to the live ids and the
/// policies' example ids dropped (they are matched by name). Nothing of the tree's policies is live yet.
pub(crate) fn seeded_tree(live: &Live) -> Instance {
    let root = live.path("instance");
    crate::copy_dir(&crate::root().join("examples/instance"), &root);
    let client = farid_client(live);
    let mut ids = std::collections::BTreeMap::new();
    let folders: Vec<PathBuf> = std::fs::read_dir(root.join("datasets")).unwrap().map(|e| e.unwrap().path()).collect();
    for folder in folders {
        let mut dataset = read_json(&folder.join("dataset.json"));
        let name = dataset["name"].as_str().unwrap().to_owned();
        let schema: Schema = serde_json::from_value(dataset["schema"].clone()).unwrap();
        let create = DatasetCreate { name: name.clone(), description: None, rows: None, schema };
        let id = live.block_on(client.create_dataset(&create)).unwrap().id.as_str().to_owned();
        let csv = folder.join("data.csv");
        farid_ok(live, &["data", "import", &id, csv.to_str().unwrap(), "--header"]);
        if dataset["pdpEnabled"] == true {
            farid_ok(live, &["pdp", "enable", &id]);
        }
        dataset["id"] = j!(id);
        write_json(&folder.join("dataset.json"), &dataset);
        let mut policies = read_json(&folder.join("policies.json"));
        for policy in policies.as_array_mut().unwrap() {
            policy.as_object_mut().unwrap().remove("id");
        }
        write_json(&folder.join("policies.json"), &policies);
        std::fs::rename(&folder, root.join("datasets").join(&id)).unwrap();
        ids.insert(name, id);
    }
    Instance { root, ids }
}

/// The live user policies of a DataSet by name, with their users and groups.
fn live_policies(live: &Live, id: &str) -> Vec<(String, Value, Value)> {
    let listed = json(&farid_ok(live, &["policies", "list", id, "--format", "json"]));
    let mut out: Vec<(String, Value, Value)> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "user")
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["users"].clone(), p["groups"].clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn names(policies: &[(String, Value, Value)]) -> Vec<&str> {
    policies.iter().map(|p| p.0.as_str()).collect()
}

/// The plan of `root` as JSON.
fn plan_json(live: &Live, root: &str) -> Value {
    json(&farid_ok(live, &["pdp", "plan", root, "--format", "json"]))
}

fn entry<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["datasets"].as_array().unwrap().iter().find(|d| d["folder"] == id).unwrap()
}

#[test]
fn a_tree_is_planned_applied_edited_and_converges() {
    let live = start();
    let instance = seeded_tree(&live);
    let root = instance.root();

    // Nothing of the tree is live yet: two DataSets get their policies, Headcount (no policies) has none to get.
    let text = farid_ok(&live, &["pdp", "plan", root]);
    for line in [
        &format!(
            "~ DataSet {} `Sales Orders`: +3 ~0 -0 (5 users gain rows, 0 users lose rows)",
            instance.id("Sales Orders")
        ),
        &format!("= DataSet {} `Headcount`: no changes", instance.id("Headcount")),
        "+ create `EMEA region`",
        "user 101 `Astrid Berg`: 0 -> 3 rows (+3 gained, -0 lost)",
        "Plan: 2 DataSets to change (+6 to create, ~0 to update, -0 to delete), 1 unchanged, 0 refused.",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let run = farid(&live, &["pdp", "apply", root, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("done DataSet {} `Pipeline`: 3 changes applied", instance.id("Pipeline"))),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("Apply: 2 done, 0 failed, 0 skipped, 1 unchanged."), "{}", run.all());
    assert_eq!(
        names(&live_policies(&live, instance.id("Pipeline"))),
        ["Americas region", "Closed deals for finance", "EMEA region"]
    );
    let again = plan_json(&live, root);
    assert_eq!(again["summary"]["toChange"], 0, "applied: nothing left to do\n{again:#}");
    assert!(
        farid_ok(&live, &["pdp", "plan", root]).contains("No changes: the live policies of 3 DataSets match the tree.")
    );

    // Edit: the shared EMEA policy gains Elif (two DataSets), Pipeline drops its own policy, Sales Orders gains one.
    let emea = instance.root.join("shared/emea.json");
    let mut shared = read_json(&emea);
    shared["users"] = j!([105]);
    write_json(&emea, &shared);
    write_json(&instance.folder("Pipeline").join("policies.json"), &j!([]));
    let sales = instance.folder("Sales Orders").join("policies.json");
    let mut own = read_json(&sales);
    own.as_array_mut().unwrap().push(j!({"type": "user", "name": "Big orders for Chen", "users": [103],
        "filters": [{"column": "Amount", "operator": "GREATER_THAN", "values": ["1000"], "not": false}]}));
    write_json(&sales, &own);

    let plan_file = live.path("tree-plan.json");
    let plan_arg = plan_file.to_str().unwrap();
    let plan = json(&farid_ok(&live, &["pdp", "plan", root, "--out", plan_arg, "--format", "json"]));
    assert_eq!(plan["version"], 4);
    assert_eq!(
        plan["summary"],
        j!({"datasets": 3, "toChange": 2, "unchanged": 1, "refused": 0, "creates": 1, "updates": 2, "deletes": 1})
    );
    let pipeline = entry(&plan, instance.id("Pipeline"));
    assert_eq!(pipeline["status"], "planned");
    let actions: Vec<&str> =
        pipeline["plan"]["changes"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "update"], "deletes first");
    let elif = pipeline["plan"]["effect"]["users"].as_array().unwrap().iter().find(|u| u["id"] == 105).unwrap();
    // Elif loses the two closed deals and gains the two EMEA rows.
    assert_eq!([&elif["before"], &elif["after"], &elif["gained"], &elif["lost"]], [2, 2, 2, 2], "{pipeline:#}");

    let markdown = farid_ok(&live, &["pdp", "plan", root, "--format", "markdown"]);
    assert!(
        markdown.starts_with("### Plan: 2 DataSets to change (+1 to create, ~2 to update, -1 to delete)"),
        "{markdown}"
    );
    assert!(markdown.contains("- - delete policy"), "{markdown}");

    let run = farid(&live, &["pdp", "apply", "--plan", plan_arg, "--yes", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = json(&run.stdout);
    assert_eq!(report["summary"], j!({"done": 2, "unchanged": 1, "skipped": 0, "failed": 0}));
    assert_eq!(
        live_policies(&live, instance.id("Pipeline")),
        [("Americas region".to_owned(), j!([]), j!([2002])), ("EMEA region".to_owned(), j!([105]), j!([2001])),]
    );
    assert!(names(&live_policies(&live, instance.id("Sales Orders"))).contains(&"Big orders for Chen"));
    assert_eq!(plan_json(&live, root)["summary"]["toChange"], 0, "a re-plan after the apply has nothing to do");
}

#[test]
fn a_dataset_changed_live_since_the_plan_is_skipped_and_the_others_apply() {
    let live = start();
    let instance = seeded_tree(&live);
    let root = instance.root();
    let plan_file = live.path("tree-plan.json");
    let plan_arg = plan_file.to_str().unwrap();
    farid_ok(&live, &["pdp", "plan", root, "--out", plan_arg]);
    // Someone adds a policy to Pipeline by hand after the plan.
    let pipeline = instance.id("Pipeline");
    farid_ok(
        &live,
        &["policies", "create", pipeline, "--name", "Hand made", "--filter", "Stage EQUALS Lost", "--user", "104"],
    );

    let run = farid(&live, &["pdp", "apply", "--plan", plan_arg, "--yes"]);
    assert_eq!(run.code, 1, "a skipped DataSet is not a complete apply:\n{}", run.all());
    assert!(
        run.stdout.contains(&format!(
            "skipped DataSet {pipeline} `Pipeline`: the live policies of DataSet {pipeline} changed since the plan"
        )),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("`Hand made` was added; nothing was applied: plan again"), "{}", run.all());
    assert!(run.stdout.contains("Apply: 1 done, 0 failed, 1 skipped, 1 unchanged."), "{}", run.all());
    assert_eq!(names(&live_policies(&live, pipeline)), ["Hand made"], "nothing written to the skipped DataSet");
    assert_eq!(live_policies(&live, instance.id("Sales Orders")).len(), 3);

    // Planned again, the tree removes the hand-made policy and converges.
    farid_ok(&live, &["pdp", "apply", root, "--yes"]);
    assert_eq!(plan_json(&live, root)["summary"]["toChange"], 0);
}

/// Renames Sales Orders' `Rep` column live (no policy reads it).
fn rename_rep_live(live: &Live, instance: &Instance) {
    let client = farid_client(live);
    let id = DatasetId::from(instance.id("Sales Orders"));
    let mut schema = live.block_on(client.get_dataset(&id)).unwrap().schema;
    schema.columns[1].name = "Sales Rep".to_owned();
    let update = DatasetUpdate { schema: Some(schema), ..DatasetUpdate::default() };
    live.block_on(client.update_dataset(&id, &update)).unwrap();
}

#[test]
fn a_dataset_whose_schema_changed_live_fails_and_the_others_apply() {
    let live = start();
    let instance = seeded_tree(&live);
    let root = instance.root();
    let plan_file = live.path("tree-plan.json");
    let plan_arg = plan_file.to_str().unwrap();
    farid_ok(&live, &["pdp", "plan", root, "--out", plan_arg]);
    rename_rep_live(&live, &instance);

    let run = farid(&live, &["pdp", "apply", "--plan", plan_arg, "--yes"]);
    let sales = instance.id("Sales Orders");
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("failed DataSet {sales} `Sales Orders`: nothing was applied: plan again: the live schema of DataSet {sales} `Sales Orders` differs from the schema the plan was made for")),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("Apply: 1 done, 1 failed, 0 skipped, 1 unchanged."), "{}", run.all());
    assert!(
        run.stderr.contains(&format!("error: apply failed on 1 of 3 DataSets: {sales} `Sales Orders`")),
        "{}",
        run.all()
    );
    assert!(live_policies(&live, sales).is_empty(), "nothing written to the failed DataSet");
    assert_eq!(live_policies(&live, instance.id("Pipeline")).len(), 3, "the others are applied");

    // Planned now, Sales Orders is refused with the column named, the others are planned; exit 1.
    let run = farid(&live, &["pdp", "plan", root]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("! refused DataSet {sales} `Sales Orders`: the live schema")),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("column `Rep` (STRING) is not in the live DataSet"), "{}", run.all());
    assert!(
        run.stdout
            .contains("Plan: 0 DataSets to change (+0 to create, ~0 to update, -0 to delete), 2 unchanged, 1 refused."),
        "{}",
        run.all()
    );
    let plan = plan_json_any(&live, root);
    assert_eq!(entry(&plan, sales)["status"], "refused");
}

fn plan_json_any(live: &Live, root: &str) -> Value {
    json(&farid(live, &["pdp", "plan", root, "--format", "json"]).stdout)
}

#[test]
fn deleting_a_datasets_last_policy_needs_turn_pdp_off_and_folder_flags_are_refused() {
    let live = start();
    let instance = seeded_tree(&live);
    let root = instance.root();
    farid_ok(&live, &["pdp", "apply", root, "--yes"]);
    // Pipeline: no own policy, no shared uses; its only live user policies go, and the built-in All Rows stays.
    // Headcount had none. Deleting every policy of a DataSet without All Rows is what needs consent:
    let pipeline = instance.id("Pipeline");
    let all_rows = json(&farid_ok(&live, &["policies", "list", pipeline, "--format", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "open")
        .map(|p| p["id"].to_string())
        .unwrap();
    let client = farid_client(&live);
    live.block_on(client.delete_policy(&DatasetId::from(pipeline), domo_model::PolicyId(all_rows.parse().unwrap())))
        .unwrap();
    write_json(&instance.folder("Pipeline").join("policies.json"), &j!([]));
    std::fs::remove_file(instance.folder("Pipeline").join("uses.json")).unwrap();
    let run = farid(&live, &["pdp", "apply", root, "--yes"]);
    run.fails_with(&format!(
        "this plan deletes every policy of 1 DataSet: {pipeline} `Pipeline`; Domo then turns PDP off"
    ));
    assert!(run.stderr.contains("nothing was applied"), "{}", run.all());
    assert_eq!(live_policies(&live, pipeline).len(), 3);

    farid(&live, &["pdp", "plan", root, "--dataset-id", pipeline]).fails_with("is an instance tree");
}

#[test]
fn a_whole_tree_plan_of_another_version_or_api_is_refused() {
    let live = Live::start();
    let plan = live.path("plan.json");
    let plan_arg = plan.to_str().unwrap();
    std::fs::write(&plan, r#"{"version": 9, "datasets": []}"#).unwrap();
    live.run(&["pdp", "apply", "--plan", plan_arg, "--yes"])
        .fails_with(&format!("`{plan_arg}` is a whole-tree plan of version 9; this domo reads version 4: plan again"));
    let summary =
        j!({"datasets": 0, "toChange": 0, "unchanged": 0, "refused": 0, "creates": 0, "updates": 0, "deletes": 0});
    let other = j!({"version": 4, "api": "http://127.0.0.1:1", "root": "instance", "summary": summary, "datasets": []});
    write_json(&plan, &other);
    live.run(&["pdp", "apply", "--plan", plan_arg, "--yes"]).fails_with(&format!(
        "`{plan_arg}` was planned against `http://127.0.0.1:1`, but these credentials talk to `{}`",
        live.url
    ));
    // A tree whose DataSets the instance does not have: each is refused with Domo's answer, nothing is planned.
    let run = live.run(&["pdp", "plan", "examples/instance"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains(
            "! refused DataSet 6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7a1b01 `Sales Orders`: GET \
             /v1/datasets/6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7a1b01: Domo answered 404"
        ),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("0 unchanged, 3 refused."), "{}", run.all());
    assert!(run.stderr.contains("3 DataSets were refused: fix what the plan says and plan again"), "{}", run.all());
    live.run(&["pdp", "apply", "examples/instance", "--dataset-id", "x", "--yes"]).fails_with(
        "`examples/instance` is an instance tree: every DataSet is applied to the DataSet its folder is named by",
    );
}

#[test]
fn an_interrupted_apply_reports_what_was_done_and_a_rerun_converges() {
    let live = start();
    let client = farid_client(&live);
    let root = live.path("many");
    std::fs::create_dir_all(root.join("datasets")).unwrap();
    std::fs::copy(crate::root().join("examples/instance/directory.json"), root.join("directory.json")).unwrap();
    let schema = j!({"columns": [{"type": "STRING", "name": "Region"}]});
    let mut ids = Vec::new();
    for n in 0..8 {
        let name = format!("Regions {n}");
        let create = DatasetCreate {
            name: name.clone(),
            description: None,
            rows: None,
            schema: serde_json::from_value(schema.clone()).unwrap(),
        };
        let id = live.block_on(client.create_dataset(&create)).unwrap().id;
        let folder = root.join("datasets").join(id.as_str());
        std::fs::create_dir_all(&folder).unwrap();
        write_json(
            &folder.join("dataset.json"),
            &j!({"id": id.as_str(), "name": name, "schema": schema, "owner": {"id": 106, "name": "Farid Haddad"},
                "pdpEnabled": true}),
        );
        let policies: Vec<Value> = (0..40)
            .map(|p| {
                j!({"type": "user", "name": format!("Region R{p}"), "users": [101 + p % 5],
                    "filters": [{"column": "Region", "operator": "EQUALS", "values": [format!("R{p}")], "not": false}]})
            })
            .collect();
        write_json(&folder.join("policies.json"), &Value::Array(policies));
        ids.push(id);
    }
    let root = root.to_str().unwrap();
    let mut command = live.command(&["pdp", "apply", root, "--yes", "--jobs", "1"]);
    command
        .env("DOMO_CLIENT_ID", FARID)
        .env("DOMO_CLIENT_SECRET", FARID_SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    // Ctrl-C once the apply is writing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // The policies the apply wrote (each DataSet starts with the built-in All Rows).
    let written = |id: &DatasetId| live.block_on(client.list_policies(id)).unwrap().len() - 1;
    while ids.iter().map(written).sum::<usize>() < 3 {
        assert!(std::time::Instant::now() < deadline, "the apply wrote nothing");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let run = Run::of(child.wait_with_output().unwrap());
    assert!(run.code == 1 || run.code == 2, "{}", run.all());
    assert!(run.stderr.contains("stopping: the writes under way finish and no other starts"), "{}", run.all());
    assert!(run.stdout.contains("interrupted"), "{}", run.all());
    assert!(run.stdout.contains("not started: the apply was interrupted"), "{}", run.all());
    // Every DataSet is reported: done, failed with what was applied, or not started.
    for id in &ids {
        assert!(run.stdout.contains(&format!("DataSet {id} `")), "{id} missing:\n{}", run.all());
    }
    let summary = run.stdout.lines().find(|l| l.starts_with("Apply: ")).unwrap();
    assert!(!summary.contains(" 0 skipped"), "{summary}");

    // Planned and applied again, the tree converges.
    farid_ok(&live, &["pdp", "apply", root, "--yes"]);
    assert_eq!(plan_json(&live, root)["summary"]["toChange"], 0);
    assert_eq!(written(&ids[7]), 40, "every policy, none twice");
}
