//! A whole Domo instance as code, end to end against `domo serve`: pull the instance into a tree in a git
//! repository, generate policies from an entitlements table, share a policy across DataSets, lint, gate the change
//! on new access, plan, apply, audit, and a re-plan and a re-pull that find nothing left to do.

use std::path::{Path, PathBuf};
use std::process::Command;

use domo_model::{DatasetCreate, Schema};
use serde_json::{Value, json as j};

use crate::live::support::{Live, Run, json};
use crate::live::tree_plan::{FARID, FARID_SECRET, farid_client, start};

/// The seeded instance: DataSet ids by name, and the scratch repository the tree is pulled into.
struct Instance {
    live: Live,
    ids: Vec<(String, String)>,
    repo: PathBuf,
}

impl Instance {
    fn id(&self, name: &str) -> &str {
        &self.ids.iter().find(|(n, _)| n == name).unwrap().1
    }

    fn root(&self) -> PathBuf {
        self.repo.join("instance")
    }

    fn folder(&self, name: &str) -> PathBuf {
        self.root().join("datasets").join(self.id(name))
    }

    /// `domo ARGS` as Farid, run in the repository (so that relative paths and git are the tree's).
    fn domo(&self, args: &[&str]) -> Run {
        let mut command = self.live.command(args);
        command.current_dir(&self.repo).env("DOMO_CLIENT_ID", FARID).env("DOMO_CLIENT_SECRET", FARID_SECRET);
        Run::of(command.output().unwrap())
    }

    /// `domo ARGS` expecting exit `code`; stdout and stderr with DataSet ids replaced by `<name>`.
    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let run = self.domo(args);
        assert_eq!(run.code, code, "domo {}:\n{}", args.join(" "), run.all());
        (self.named(&run.stdout), self.named(&run.stderr))
    }

    fn named(&self, text: &str) -> String {
        let text = self.ids.iter().fold(text.to_owned(), |text, (name, id)| text.replace(id, &format!("<{name}>")));
        text.replace(&self.live.url, "[api]").replace(&self.repo.display().to_string(), "[repo]")
    }

    fn git(&self, args: &[&str]) {
        let output = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(&self.repo)
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// The instance of examples/instance's directory, as its admin Farid (106) built it by hand: Sales Orders and
/// Pipeline with PDP on and a policy each for Elif (105), Headcount with PDP off and no policy.
fn seeded() -> Instance {
    let live = start();
    let client = farid_client(&live);
    let example = crate::root().join("examples/instance/datasets");
    let mut ids = Vec::new();
    for (folder, name) in [
        ("6f1c2a9e-0b7d-4c3e-9a51-2d8e4f7a1b01", "Sales Orders"),
        ("8a3d5e71-4f2c-4b9a-8e60-7c1d2b3a4f02", "Pipeline"),
        ("c2e4a6b8-1d3f-4a5c-9e7b-0f1e2d3c4b03", "Headcount"),
    ] {
        let schema: Schema =
            serde_json::from_value(read_json(&example.join(folder).join("dataset.json"))["schema"].clone()).unwrap();
        let create = DatasetCreate { name: name.to_owned(), description: None, rows: None, schema };
        let id = live.block_on(client.create_dataset(&create)).unwrap().id.as_str().to_owned();
        let csv = example.join(folder).join("data.csv");
        let mut command = live.command(&["data", "import", &id, csv.to_str().unwrap(), "--header"]);
        command.env("DOMO_CLIENT_ID", FARID).env("DOMO_CLIENT_SECRET", FARID_SECRET);
        assert_eq!(Run::of(command.output().unwrap()).code, 0);
        ids.push((name.to_owned(), id));
    }
    let repo = live.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let instance = Instance { live, ids, repo };
    let sales = instance.id("Sales Orders").to_owned();
    let pipeline = instance.id("Pipeline").to_owned();
    for (id, name, filter) in [
        (&sales, "APAC manager", "Region EQUALS APAC"),
        (&pipeline, "Closed deals for finance", "Stage BEGINS_WITH Closed"),
    ] {
        instance.expect(0, &["policies", "create", id, "--name", name, "--filter", filter, "--user", "105"]);
        instance.expect(0, &["pdp", "enable", id]);
    }
    instance.git(&["init", "-q"]);
    instance
}

/// `text` with each run of DataSet blocks (a line naming a `<DataSet>`, and the indented lines under it) sorted,
/// so that a report reads the same whatever the random ids the emulator gave the DataSets.
fn in_name_order(text: &str) -> String {
    fn flush(blocks: &mut Vec<Vec<String>>, out: &mut Vec<String>) {
        blocks.sort();
        out.extend(blocks.drain(..).flatten());
    }
    let mut out = Vec::new();
    let mut blocks: Vec<Vec<String>> = Vec::new();
    for line in text.lines() {
        if line.starts_with(' ')
            && let Some(block) = blocks.last_mut()
        {
            block.push(line.to_owned());
        } else if line.contains('<') && !line.starts_with(' ') {
            blocks.push(vec![line.to_owned()]);
        } else {
            flush(&mut blocks, &mut out);
            out.push(line.to_owned());
        }
    }
    flush(&mut blocks, &mut out);
    out.join("\n") + "\n"
}

/// Lines of `text` that start with `prefix`, sorted (DataSets are listed in the order of their random ids).
fn sorted_lines(text: &str, prefix: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().filter(|l| l.starts_with(prefix)).map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn an_instance_is_pulled_generated_shared_reviewed_planned_applied_and_converges() {
    let instance = seeded();
    let root = "instance";

    // 1. Pull the whole instance, a sample of 5 rows per DataSet, into the repository, and commit it.
    let (pulled, err) = instance.expect(0, &["pull", "--all", root, "--sample", "5"]);
    assert!(err.contains("3 added"), "{err}");
    insta::assert_snapshot!("pull", in_name_order(&pulled));
    let sample = std::fs::read_to_string(instance.folder("Sales Orders").join("data.csv")).unwrap();
    assert_eq!(sample.lines().count(), 6, "the header and the first 5 of 8 rows:\n{sample}");
    instance.git(&["add", "."]);
    instance.git(&["commit", "-q", "-m", "pulled"]);

    // 2. Policies from an entitlements table (users by email, name or group name) for two DataSets; Headcount's
    //    PDP goes on with them.
    let entitlements = format!(
        "target_ds,policy_name,policy_column,user_group,operator,value\n\
         {sales},APAC manager,Region,elif@example.com,,APAC\n\
         {sales},Large orders,Amount,Chen Wei,GREATER_THAN_EQUAL,1000\n\
         {headcount},Sweden,Country,Astrid Berg,,Sweden\n\
         {headcount},Americas,Country,Americas Sales,,Brazil|USA\n",
        sales = instance.id("Sales Orders"),
        headcount = instance.id("Headcount"),
    );
    std::fs::write(instance.repo.join("entitlements.csv"), entitlements).unwrap();
    let (generated, _) = instance.expect(0, &["pdp", "generate", "entitlements.csv", root]);
    insta::assert_snapshot!("generate", in_name_order(&generated));
    let headcount = instance.folder("Headcount").join("dataset.json");
    let mut dataset = read_json(&headcount);
    dataset["pdpEnabled"] = j!(true);
    write_json(&headcount, &dataset);

    // 3. A shared policy: EMEA Sales see the EMEA rows of both sales DataSets, whatever the column is called there.
    std::fs::create_dir_all(instance.root().join("shared")).unwrap();
    write_json(
        &instance.root().join("shared/emea.json"),
        &j!({"type": "user", "name": "EMEA region", "users": [], "virtualUsers": [], "groups": [2001],
            "filters": [{"column": "Region", "values": ["EMEA"], "operator": "EQUALS", "not": false}]}),
    );
    write_json(&instance.folder("Sales Orders").join("uses.json"), &j!([{"policy": "emea"}]));
    write_json(
        &instance.folder("Pipeline").join("uses.json"),
        &j!([{"policy": "emea", "columns": {"Region": "Sales Region"}}]),
    );

    // 4. Lint compiles every DataSet's policies, shared ones included; the gate fails on exactly who gains rows.
    let (lint, _) = instance.expect(0, &["pdp", "lint", root]);
    assert!(
        lint.ends_with("ok: 0 errors, 7 warnings, 3 notes in 3 DataSets and 1 shared policy of `instance`\n"),
        "{lint}"
    );
    insta::assert_snapshot!("lint", in_name_order(&lint));
    let (diff, _) = instance.expect(1, &["pdp", "diff", root, "--against-git", "HEAD", "--fail-on-new-access"]);
    insta::assert_snapshot!("diff_against_git", in_name_order(&diff));

    // 5. One plan for the whole instance, saved and applied.
    let (plan, err) = instance.expect(0, &["pdp", "plan", root, "--out", "plan.json"]);
    assert!(err.contains("saved the plan to `plan.json`"), "{err}");
    assert_eq!(
        sorted_lines(&plan, "  ~ DataSet"),
        [
            "  ~ DataSet <Headcount> `Headcount`: +2 ~0 -0, PDP on (0 users gain rows, 7 users lose rows)",
            "  ~ DataSet <Pipeline> `Pipeline`: +1 ~0 -0 (2 users gain rows, 0 users lose rows)",
            "  ~ DataSet <Sales Orders> `Sales Orders`: +2 ~0 -0 (3 users gain rows, 0 users lose rows)",
        ],
        "{plan}"
    );
    for line in [
        "        + enable PDP (dataset.json says so; after the policies exist)",
        "            filters: Sales Region EQUALS EMEA",
        "        user 101 `Astrid Berg`: 0 -> 3 rows (+3 gained, -0 lost)",
        "        user 102 `Bruno Costa`: 4 -> 0 rows (+0 gained, -4 lost)",
    ] {
        assert!(plan.contains(line), "missing `{line}` in:\n{plan}");
    }
    assert!(
        plan.ends_with(
            "Plan: 3 DataSets to change (+5 to create, ~0 to update, -0 to delete, PDP switched on 1 DataSet), \
             0 unchanged, 0 refused.\n"
        ),
        "{plan}"
    );
    let (applied, _) = instance.expect(0, &["pdp", "apply", "--plan", "plan.json", "--yes"]);
    assert_eq!(
        sorted_lines(&applied, "done DataSet"),
        [
            "done DataSet <Headcount> `Headcount`: 3 changes applied",
            "done DataSet <Pipeline> `Pipeline`: 1 change applied",
            "done DataSet <Sales Orders> `Sales Orders`: 2 changes applied",
        ],
        "{applied}"
    );
    // Headcount's PDP goes on after its policies exist.
    let headcount_steps: Vec<&str> =
        applied.lines().skip_while(|l| !l.starts_with("done DataSet <Headcount>")).skip(1).take(3).collect();
    assert!(
        headcount_steps[0].contains("created policy") && headcount_steps[1].contains("created policy"),
        "{applied}"
    );
    assert_eq!(headcount_steps[2], "    done enabled PDP", "{applied}");
    assert!(applied.ends_with("Apply: 3 done, 0 failed, 0 skipped, 0 unchanged.\n"), "{applied}");
    let live_headcount =
        json(&instance.expect(0, &["datasets", "get", instance.id("Headcount"), "--format", "json"]).0);
    assert_eq!(live_headcount["pdpEnabled"], true);

    // 6. Audit, live and on the tree: nothing wrong live; the tree's sample has no APAC row for Elif.
    let (audit, _) = instance.expect(0, &["audit"]);
    insta::assert_snapshot!("audit_live", in_name_order(&audit));
    let (audit, _) = instance.expect(0, &["audit", root]);
    insta::assert_snapshot!("audit_tree", in_name_order(&audit));
    let (elif, _) = instance.expect(0, &["audit", "--user", "105"]);
    assert!(elif.contains("Sales Orders"), "{elif}");

    // 7. Nothing left to do: a re-plan is empty; a re-pull leaves the generated policies (applied as they are,
    // without live ids) alone.
    let generated = std::fs::read(instance.folder("Headcount").join("policies.json")).unwrap();
    let (replan, _) = instance.expect(0, &["pdp", "plan", root]);
    assert!(replan.ends_with("No changes: the live policies of 3 DataSets match the tree.\n"), "{replan}");
    let (repull, err) = instance.expect(0, &["pull", "--all", root, "--sample", "5"]);
    assert_eq!(
        in_name_order(&repull),
        "updated  <Headcount> `Headcount`: updatedAt changed\n\
         updated  <Pipeline> `Pipeline`: updatedAt changed\n\
         updated  <Sales Orders> `Sales Orders`: updatedAt changed\n",
        "{err}"
    );
    assert!(!err.contains("skipped"), "{err}");
    assert_eq!(std::fs::read(instance.folder("Headcount").join("policies.json")).unwrap(), generated);
    // Unless Domo's All Rows names someone besides the owner: that user sees every row, which the generated file
    // does not show, so the pull reports the folder instead of leaving it as it is.
    let headcount_id = instance.id("Headcount");
    let listed = json(&instance.expect(0, &["policies", "list", headcount_id, "--format", "json"]).0);
    let all_rows = listed.as_array().unwrap().iter().find(|p| p["type"] == "open").unwrap();
    let (all_rows_id, owners) = (all_rows["id"].to_string(), all_rows["users"].as_array().unwrap().clone());
    let mut widened: Vec<String> = owners.iter().map(ToString::to_string).chain(["105".to_owned()]).collect();
    widened.dedup();
    let user_args: Vec<&str> = widened.iter().flat_map(|u| ["--user", u.as_str()]).collect();
    instance.expect(0, &[&["policies", "update", headcount_id, &all_rows_id, "--no-filters"][..], &user_args].concat());
    let (_, err) = instance.expect(1, &["pull", "--all", root, "--sample", "5"]);
    assert!(
        err.contains(
            "skipped: DataSet <Headcount> `Headcount`: policies.json was edited since the last pull: against live it \
             changes `Americas`, `Sweden`; removes `All Rows`; --force overwrites it"
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(instance.folder("Headcount").join("policies.json")).unwrap(), generated);
    let owner_args: Vec<String> = owners.iter().map(ToString::to_string).collect();
    let owner_args: Vec<&str> = owner_args.iter().flat_map(|u| ["--user", u.as_str()]).collect();
    instance
        .expect(0, &[&["policies", "update", headcount_id, &all_rows_id, "--no-filters"][..], &owner_args].concat());
    let (repull, err) = instance.expect(0, &["pull", "--all", root, "--sample", "5"]);
    assert_eq!(repull, "updated  <Headcount> `Headcount`: updatedAt changed\n", "in sync again: {err}");
    let (forced, _) = instance.expect(0, &["pull", "--all", root, "--sample", "5", "--force"]);
    assert_eq!(
        in_name_order(&forced),
        "updated  <Headcount> `Headcount`: policies added `All Rows`; changed `Americas`, `Sweden`\n\
         updated  <Sales Orders> `Sales Orders`: policies added `All Rows`; changed `APAC manager`, `Large orders`\n",
        "--force brings the live ids and the built-in policy into the generated files"
    );
    let (replan, _) = instance.expect(0, &["pdp", "plan", root]);
    assert!(replan.ends_with("No changes: the live policies of 3 DataSets match the tree.\n"), "{replan}");
    let (_, err) = instance.expect(0, &["pull", "--all", root, "--sample", "5"]);
    assert!(err.trim_end().ends_with(": no changes, 3 unchanged"), "{err}");

    // 8. The tree turns Headcount's PDP off again: planned, and applied only with --turn-pdp-off.
    dataset["pdpEnabled"] = j!(false);
    write_json(&headcount, &dataset);
    let (plan, _) = instance.expect(0, &["pdp", "plan", root]);
    assert!(
        plan.contains("  ~ DataSet <Headcount> `Headcount`: +0 ~0 -0, PDP off (7 users gain rows, 0 users lose rows)"),
        "{plan}"
    );
    let run = instance.domo(&["pdp", "apply", root, "--yes"]);
    run.fails_with(&format!(
        "this plan turns PDP off on 1 DataSet: {} `Headcount` (dataset.json says `\"pdpEnabled\": false`); everyone \
         with access then sees every row; nothing was applied",
        instance.id("Headcount")
    ));
    let (applied, _) = instance.expect(0, &["pdp", "apply", root, "--yes", "--turn-pdp-off"]);
    assert!(applied.contains("    done disabled PDP"), "{applied}");
    let live_headcount =
        json(&instance.expect(0, &["datasets", "get", instance.id("Headcount"), "--format", "json"]).0);
    assert_eq!(live_headcount["pdpEnabled"], false);
    let (replan, _) = instance.expect(0, &["pdp", "plan", root]);
    assert!(replan.ends_with("No changes: the live policies of 3 DataSets match the tree.\n"), "{replan}");
}

/// The live policies of `id` as JSON.
fn live_policies(live: &Live, id: &str) -> Vec<Value> {
    json(&live.ok(&["policies", "list", id, "--format", "json"])).as_array().unwrap().clone()
}

fn live_pdp(live: &Live, id: &str) -> Value {
    json(&live.ok(&["datasets", "get", id, "--format", "json"]))["pdpEnabled"].clone()
}

#[test]
fn a_folders_pdp_enabled_is_planned_and_applied_on_after_the_policies_and_off_only_with_consent() {
    let live = Live::start();
    let id = live.euler_party();
    let dir = live.path("party");
    live.ok(&["pull", &id, dir.to_str().unwrap()]);
    let dir = dir.to_str().unwrap();
    let dataset_json = live.path("party/dataset.json");
    let set_pdp = |on: bool| {
        let mut dataset = read_json(&dataset_json);
        dataset["pdpEnabled"] = j!(on);
        write_json(&dataset_json, &dataset);
    };
    let policies_json = live.path("party/policies.json");
    let mut policies = read_json(&policies_json);
    policies.as_array_mut().unwrap().push(j!({"type": "user", "name": "Only Show Attendees", "users": [27],
        "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"], "not": false}]}));
    write_json(&policies_json, &policies);

    // dataset.json turns PDP on: the policy is created first, PDP enabled last, and user 27 loses the regrets.
    set_pdp(true);
    let plan = json(&live.ok(&["pdp", "plan", dir, "--format", "json"]));
    let actions: Vec<&str> =
        plan["changes"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "enablePdp"], "{plan:#}");
    let user_27 = plan["effect"]["users"].as_array().unwrap().iter().find(|u| u["id"] == 27).unwrap();
    assert_eq!((&user_27["before"], &user_27["after"]), (&j!(6), &j!(4)), "{plan:#}");
    let text = live.ok(&["pdp", "plan", dir]);
    assert!(text.contains("  + enable PDP (dataset.json says so; after the policies exist)"), "{text}");
    let applied = live.ok(&["pdp", "apply", dir, "--yes"]);
    assert!(applied.contains("enabled PDP"), "{applied}");
    assert_eq!(live_pdp(&live, &id), true);
    assert_eq!(json(&live.ok(&["pdp", "plan", dir, "--format", "json"]))["changes"], j!([]), "converged");

    // dataset.json turns PDP off: refused without --turn-pdp-off, nothing written; applied with it.
    set_pdp(false);
    let text = live.ok(&["pdp", "plan", dir]);
    assert!(text.contains("  - disable PDP: everyone with access sees every row"), "{text}");
    live.run(&["pdp", "apply", dir, "--yes"]).fails_with(&format!(
        "this plan turns PDP off on 1 DataSet: {id} `Leonhard Euler Party` (dataset.json says `\"pdpEnabled\": \
         false`); everyone with access then sees every row; nothing was applied (set `\"pdpEnabled\": true`, or \
         pass --turn-pdp-off if that is meant)"
    ));
    assert_eq!(live_pdp(&live, &id), true, "nothing was applied");
    let applied = live.ok(&["pdp", "apply", dir, "--yes", "--turn-pdp-off"]);
    assert!(applied.contains("disabled PDP"), "{applied}");
    assert_eq!(live_pdp(&live, &id), false);

    // PDP on with no policy at all would show every row: the plan is refused.
    for policy in live_policies(&live, &id) {
        live.ok(&["policies", "delete", &id, &policy["id"].to_string(), "--yes", "--turn-pdp-off"]);
    }
    write_json(&policies_json, &j!([]));
    set_pdp(true);
    live.run(&["pdp", "plan", dir]).fails_with(&format!(
        "`{dir}/dataset.json` turns PDP on for DataSet {id}, but it would have no policy: with PDP on and no policy \
         Domo shows every row to everyone with access (add a policy, or set `\"pdpEnabled\": false`)"
    ));
}

#[test]
fn a_plan_lists_at_most_100_users_and_20_witnesses_per_dataset_with_the_full_counts_and_still_applies() {
    // 130 users in one group; the admin 900 acts through the client.
    let mut users: Vec<Value> =
        (1..=130).map(|n| j!({"id": n, "name": format!("User {n}"), "role": "Participant"})).collect();
    users.push(j!({"id": 900, "name": "Admin", "role": "Admin"}));
    let directory =
        j!({"users": users, "groups": [{"id": 500, "name": "Everyone", "userIds": (1..=130).collect::<Vec<u64>>()}]});
    let directory: domo_model::Directory =
        domo_model::read_user_file("directory.json", &directory.to_string()).unwrap();
    let live =
        Live::start_with(|builder| builder.directory(directory).client(FARID, FARID_SECRET, domo_model::UserId(900)));
    let as_admin = |args: &[&str]| {
        let mut command = live.command(args);
        command.env("DOMO_CLIENT_ID", FARID).env("DOMO_CLIENT_SECRET", FARID_SECRET);
        let run = Run::of(command.output().unwrap());
        assert_eq!(run.code, 0, "domo {}:\n{}", args.join(" "), run.all());
        run.stdout
    };
    let id = as_admin(&["datasets", "create", "--name", "Regions", "--infer-schema", crate::live::support::EULER_CSV]);
    let id = id.trim();
    as_admin(&["data", "import", id, crate::live::support::EULER_CSV, "--header"]);
    as_admin(&["pdp", "enable", id]);
    let dir = live.path("regions");
    as_admin(&["pull", id, dir.to_str().unwrap()]);
    let policies_json = dir.join("policies.json");
    let mut policies = read_json(&policies_json);
    policies.as_array_mut().unwrap().push(j!({"type": "user", "name": "Attendees for everyone", "groups": [500],
        "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"], "not": false}]}));
    write_json(&policies_json, &policies);

    let plan_file = live.path("plan.json");
    let (dir, plan_arg) = (dir.to_str().unwrap(), plan_file.to_str().unwrap());
    let text = as_admin(&["pdp", "plan", dir, "--out", plan_arg]);
    assert!(
        text.contains(
            "  (110 more users whose access changes are left out of the plan, which keeps the first 20: `domo pdp diff \
             --for-any-row` lists them all)"
        ),
        "{text}"
    );
    let plan = read_json(&plan_file);
    assert_eq!(plan["anyRow"]["users"].as_array().unwrap().len(), 20);
    assert_eq!(plan["anyRow"]["usersLeftOut"], 110);
    assert_eq!(plan["anyRow"]["counts"]["gain"], 130, "the counts count every user:\n{:#}", plan["anyRow"]);
    assert_eq!(plan["effect"]["users"].as_array().unwrap().len(), 100);
    assert_eq!(plan["effect"]["cut"], j!({"changed": 130, "gaining": 130, "losing": 0}));
    for line in [
        "  (30 more users whose rows change are left out of the plan, which keeps the 100 who gain most, then lose most)",
        "130 of 132 users change: 130 gain rows, none lose rows",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let applied = as_admin(&["pdp", "apply", "--plan", plan_arg, "--yes"]);
    assert!(applied.contains("created policy"), "{applied}");
    assert_eq!(json(&as_admin(&["pdp", "plan", dir, "--format", "json"]))["changes"], j!([]), "converged");
}

/// The sh blocks of docs/tree.md's walkthrough, in order.
fn walkthrough_blocks() -> Vec<String> {
    let doc = std::fs::read_to_string(crate::root().join("docs/tree.md")).unwrap();
    let start = doc.find("## From an empty folder to a reviewed plan").unwrap();
    let section = &doc[start..];
    let section = &section[..section.find("\n### ").unwrap_or(section.len())];
    section.split("```sh\n").skip(1).map(|block| block[..block.find("```").unwrap()].to_owned()).collect()
}

#[test]
fn the_walkthrough_in_docs_tree_runs_as_written_against_domo_serve() {
    let blocks = walkthrough_blocks();
    assert_eq!(
        blocks[0].trim(),
        "domo serve --ephemeral --directory examples/instance/directory.json --client admin:admin-secret:106",
        "the emulator this test starts is the one the walkthrough starts"
    );
    let live = start_with_admin();
    // Every later block in one shell, so that its variables carry over; each block's exit status is printed.
    let script: String = blocks[1..].iter().map(|block| format!("{block}echo \"::exit $?\"\n")).collect();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_domo")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let tmp = live.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut bash = Command::new("bash");
    bash.args(["-u", "-o", "pipefail", "-c", &script.replace("http://127.0.0.1:8470", &live.url)])
        .current_dir(crate::root())
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        .env("HOME", live.path("home"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("DOMO_RETRIES", "0");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DOMO_") && key != "DOMO_RETRIES" {
            bash.env_remove(key);
        }
    }
    let run = Run::of(bash.output().unwrap());
    let exits: Vec<&str> = run.stdout.lines().filter_map(|l| l.strip_prefix("::exit ")).collect();
    assert_eq!(exits, ["0", "0", "0", "0", "1", "0", "0", "0"], "only the gate fails (exit 1):\n{}", run.all());
    for line in [
        "added    ",
        "2 files written, 0 unchanged",
        // (The test's emulator also knows the users of two clients of its own: other users than the walkthrough's.)
        "ok: 0 errors, 7 warnings, ",
        " in 3 DataSets and 1 shared policy of `instance`",
        "new access: 3 of 3 DataSets changed against git revision `HEAD`",
        "Plan: 3 DataSets to change (+5 to create, ~0 to update, -0 to delete, PDP switched on 1 DataSet), 0 unchanged, 0 refused.",
        "    done enabled PDP",
        "Apply: 3 done, 0 failed, 0 skipped, 0 unchanged.",
        "0 errors, 0 warnings, 0 notes",
        "  warning sees-nothing: user `105` sees no row of the sample although `APAC manager` names them",
    ] {
        assert!(run.stdout.contains(line), "missing `{line}` in:\n{}", run.all());
    }
    assert!(
        run.stdout.trim_end().ends_with("No changes: the live policies of 3 DataSets match the tree.\n::exit 0"),
        "{}",
        run.all()
    );
}

/// The emulator of the walkthrough: examples/instance's directory and a client `admin` acting as Farid (106).
fn start_with_admin() -> Live {
    let text = std::fs::read_to_string(crate::root().join("examples/instance/directory.json")).unwrap();
    let directory: domo_model::Directory = domo_model::read_user_file("directory.json", &text).unwrap();
    Live::start_with(|builder| builder.directory(directory).client("admin", "admin-secret", domo_model::UserId(106)))
}
