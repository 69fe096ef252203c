//! `domo audit`: every kind of finding on a crafted instance tree, the live instance, and `--user`.

use std::path::Path;

use serde_json::{Value, json as j};

use super::support::{Live, json};
use super::tree_plan::{farid, farid_ok, seeded_tree, start};

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

const SALES: &str = "6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7a1b01";
const PIPELINE: &str = "8a3d5e71-4f2c-4b9a-8e60-7c1d2b3a4f02";
const HEADCOUNT: &str = "c2e4a6b8-1d3f-4a5c-9e7b-0f1e2d3c4b03";
const SALES_EU: &str = "5a1e5eu0-0000-4000-8000-000000000004";
const EMPTY: &str = "e0e0e0e0-0000-4000-8000-000000000005";

/// examples/instance with one finding of each kind planted:
/// Sales Orders has PDP off (its policies do nothing); a copy of it, Sales EU, repeats its `APAC manager`;
/// Pipeline gains a policy for Gita (107), who sees no row of its sample, naming user 999 and group 3003 that
/// do not exist; Headcount has PDP off and no policy; Empty has PDP on and no policy.
fn crafted(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("crafted");
    crate::copy_dir(&crate::root().join("examples/instance"), &root);
    let datasets = root.join("datasets");
    let mut directory = read_json(&root.join("directory.json"));
    directory["users"].as_array_mut().unwrap().push(j!({"id": 107, "name": "Gita Rao", "role": "Participant"}));
    write_json(&root.join("directory.json"), &directory);

    let sales = datasets.join(SALES).join("dataset.json");
    let mut dataset = read_json(&sales);
    dataset["pdpEnabled"] = j!(false);
    write_json(&sales, &dataset);

    crate::copy_dir(&datasets.join(SALES), &datasets.join(SALES_EU));
    dataset["id"] = j!(SALES_EU);
    dataset["name"] = j!("Sales EU");
    dataset["pdpEnabled"] = j!(true);
    write_json(&datasets.join(SALES_EU).join("dataset.json"), &dataset);

    let pipeline = datasets.join(PIPELINE).join("policies.json");
    let mut policies = read_json(&pipeline);
    policies.as_array_mut().unwrap().push(j!({"type": "user", "name": "Lost deals", "users": [107, 999],
        "groups": [3003], "filters": [{"column": "Stage", "operator": "EQUALS", "values": ["Lost"], "not": false}]}));
    write_json(&pipeline, &policies);

    crate::copy_dir(&datasets.join(HEADCOUNT), &datasets.join(EMPTY));
    let mut empty = read_json(&datasets.join(HEADCOUNT).join("dataset.json"));
    empty["id"] = j!(EMPTY);
    empty["name"] = j!("Empty");
    empty["pdpEnabled"] = j!(true);
    write_json(&datasets.join(EMPTY).join("dataset.json"), &empty);
    root
}

#[test]
fn an_audit_of_a_tree_finds_each_kind_and_exits_1_on_errors() {
    let live = Live::start();
    let root = crafted(live.temp.path());
    let root = root.to_str().unwrap();
    let run = live.run(&["audit", root]);
    assert_eq!(run.code, 1, "errors found: exit 1\n{}", run.all());
    for line in [
        &format!("DataSet {SALES} `Sales Orders`:"),
        "  error policies-but-pdp-off: PDP is off, so its 3 policies have no effect: everyone with access sees every row",
        "  warning unknown-user: policy `Lost deals` names user `999`, who is not in the directory",
        "  warning unknown-group: policy `Lost deals` names group `3003`, which is not in the directory",
        "  warning sees-nothing: user `107` sees no row of the sample although `Lost deals` names them",
        &format!("DataSet {EMPTY} `Empty`:\n  error pdp-on-without-policy: PDP is on but there is no policy"),
        &format!("DataSet {HEADCOUNT} `Headcount`:\n  note pdp-off: PDP is off and there is no user policy"),
        &format!(
            "across DataSets:\n  note repeated-policy: the same filters and members on 2 DataSets (`APAC manager` on {SALES_EU}, `APAC manager` on {SALES})"
        ),
        "2 errors, 3 warnings, 2 notes",
    ] {
        assert!(run.stdout.contains(line), "missing `{line}` in:\n{}", run.all());
    }
    // The shared EMEA and Americas policies, on both sales DataSets, are not suggested for sharing again.
    assert!(!run.stdout.contains("`EMEA region` on"), "{}", run.stdout);

    let report = json(&live.run(&["audit", root, "--format", "json"]).stdout);
    assert_eq!((report["datasets"].clone(), report["errors"].clone()), (j!(5), j!(2)));
    let kinds: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for kind in [
        "sees-nothing",
        "unknown-user",
        "unknown-group",
        "policies-but-pdp-off",
        "pdp-off",
        "pdp-on-without-policy",
        "repeated-policy",
    ] {
        assert!(kinds.contains(&kind), "no `{kind}` in {kinds:?}");
    }
    let csv = live.run(&["audit", root, "--format", "csv"]).stdout;
    assert!(csv.starts_with("severity,kind,dataset_id,dataset_name,message\n"), "{csv}");
    assert!(csv.contains(&format!("error,pdp-on-without-policy,{EMPTY},Empty,")), "{csv}");

    // The example as it is: only notes (Headcount's PDP is off), exit 0.
    let example = live.run(&["audit", "examples/instance"]);
    assert_eq!(example.code, 0, "{}", example.all());
    assert!(example.stdout.contains("0 errors, 0 warnings, 1 note"), "{}", example.all());

    live.run(&["audit", "examples/euler-party"]).fails_with("is not an instance tree (it has no `datasets/` folder");
}

#[test]
fn audit_user_exits_1_when_a_datasets_policies_do_not_compile() {
    let live = Live::start();
    let root = crafted(live.temp.path());
    let headcount = root.join("datasets").join(HEADCOUNT).join("policies.json");
    write_json(
        &headcount,
        &j!([{"type": "user", "name": "Typo", "users": [101],
            "filters": [{"column": "Regoin", "operator": "EQUALS", "values": ["EMEA"], "not": false}]}]),
    );
    let run = live.run(&["audit", root.to_str().unwrap(), "--user", "101"]);
    assert_eq!(run.code, 1, "what the user sees is not known everywhere: exit 1\n{}", run.all());
    assert!(
        run.stdout.contains(&format!(
            "DataSet {HEADCOUNT} `Headcount`: unknown: the policies do not compile (`domo pdp lint` says why)"
        )),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("what user 101 sees is unknown on 1 DataSet: the policies do not compile"),
        "{}",
        run.all()
    );
}

#[test]
fn audit_user_shows_what_one_user_sees_across_the_tree() {
    let live = Live::start();
    let root = crafted(live.temp.path());
    let root = root.to_str().unwrap();
    let text = live.ok(&["audit", root, "--user", "101"]);
    for line in [
        "what user 101 `Astrid Berg` sees in the instance tree",
        &format!("DataSet {SALES_EU} `Sales EU`: 3 of 8 sample rows, through `EMEA region`"),
        &format!("DataSet {SALES} `Sales Orders`: all rows (PDP disabled)"),
        &format!("DataSet {PIPELINE} `Pipeline`: 2 of 6 sample rows, through `EMEA region`"),
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let gita = json(&live.ok(&["audit", root, "--user", "107", "--format", "json"]));
    let pipeline = gita["datasets"].as_array().unwrap().iter().find(|d| d["datasetId"] == PIPELINE).unwrap();
    assert_eq!(pipeline["sees"], "rows");
    assert_eq!((pipeline["rows"].clone(), pipeline["sampleRows"].clone()), (j!(0), j!(6)));
    assert_eq!(pipeline["policies"], j!(["Lost deals"]));
    let csv = live.ok(&["audit", root, "--user", "107", "--format", "csv"]);
    assert!(csv.contains(&format!("{SALES_EU},Sales EU,none,in no policy,,,")), "{csv}");
    live.run(&["audit", root, "--user", "4242"]).fails_with("user 4242 is not in the directory of the instance tree");
}

#[test]
fn an_audit_of_the_live_instance_reads_every_dataset() {
    let live = start();
    let instance = seeded_tree(&live);
    farid_ok(&live, &["pdp", "apply", instance.root(), "--yes"]);
    let sales = instance.id("Sales Orders");
    farid_ok(&live, &["pdp", "disable", sales, "--yes"]);
    let run = farid(&live, &["audit", "--jobs", "2"]);
    assert_eq!(run.code, 1, "{}", run.all());
    for line in [
        &format!("audit of the live instance at {}: 3 DataSets", live.url),
        &format!(
            "DataSet {sales} `Sales Orders`:\n  error policies-but-pdp-off: PDP is off, so its 3 policies have no effect"
        ),
        &format!("DataSet {} `Headcount`:\n  note pdp-off", instance.id("Headcount")),
    ] {
        assert!(run.stdout.contains(line), "missing `{line}` in:\n{}", run.all());
    }
    let text = farid_ok(&live, &["audit", "--user", "101"]);
    assert!(
        text.contains(&format!(
            "DataSet {} `Pipeline`: the rows of `EMEA region` (no sample)",
            instance.id("Pipeline")
        )),
        "{text}"
    );
    assert!(text.contains(&format!("DataSet {sales} `Sales Orders`: all rows (PDP disabled)")), "{text}");
}
