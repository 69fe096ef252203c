//! `domo pdp plan|apply`: creates, updates and deletes with the effect on users, saved plans, stale plans, and an apply that stops halfway.

use serde_json::{Value, json as j};

use super::support::{Live, json};

/// A live Euler party with PDP on and two policies, pulled into `party/`; returns the DataSet id.
fn pulled_party(live: &Live) -> String {
    let id = live.euler_party();
    live.only_show_attendees(&id);
    live.ok(&["policies", "create", &id, "--name", "Doomed", "--filter", "Friend BEGINS_WITH A", "--user", "40"]);
    live.ok(&["pdp", "enable", &id]);
    live.ok(&["pull", &id, live.path("party").to_str().unwrap()]);
    id
}

fn read_policies(live: &Live) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(live.path("party/policies.json")).unwrap()).unwrap()
}

fn write_policies(live: &Live, policies: &[Value]) {
    std::fs::write(live.path("party/policies.json"), serde_json::to_string_pretty(policies).unwrap()).unwrap();
}

/// The live policies as `(name, users)`, built-in ones left out.
fn live_policies(live: &Live, id: &str) -> Vec<(String, Value)> {
    let listed = json(&live.ok(&["policies", "list", id, "--format", "json"]));
    listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "user")
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["users"].clone()))
        .collect()
}

/// The local policies edited: attendees also for user 31 (and without its id:
/// matched by name), `Doomed` left out, a new policy for the planners.
fn edited(live: &Live) -> Vec<Value> {
    let mut policies: Vec<Value> =
        read_policies(live).into_iter().filter(|p| p["type"] == "user" && p["name"] != "Doomed").collect();
    let attendees = &mut policies[0];
    attendees["users"] = j!([27, 31]);
    attendees.as_object_mut().unwrap().remove("id");
    policies.push(j!({"type": "user", "name": "Planners See Regrets", "groups": [1324037627],
        "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["FALSE"], "not": false}]}));
    policies
}

#[test]
fn a_plan_creates_updates_and_deletes_and_shows_who_gains_and_loses_rows() {
    let live = Live::start();
    let id = pulled_party(&live);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    let none = json(&live.ok(&["pdp", "plan", dir, "--dataset-id", &id, "--format", "json"]));
    assert_eq!(none["changes"], j!([]), "a fresh pull plans nothing");
    assert_eq!(none["effect"]["users"], j!([]));

    write_policies(&live, &edited(&live));
    let text = live.ok(&["pdp", "plan", dir, "--dataset-id", &id]);
    for line in [
        "changes: 1 to create, 1 to update, 1 to delete",
        "+ create `Planners See Regrets`",
        "applies to: groups 1324037627",
        "users added: `31`",
        "- delete policy 3 `Doomed`",
        "= keep built-in policy 1 `All Rows`",
        "user 31 `Ada Lovelace`: 0 -> 6 rows (+6 gained, -0 lost)",
        "user 35 `Sophie Germain`: 0 -> 2 rows (+2 gained, -0 lost)",
        "user 40 `Carl Gauss`: 2 -> 0 rows (+0 gained, -2 lost)",
        "3 of 6 users change: 2 gain rows, 1 loses rows",
        // For every possible row, with a witness row and the policy that admits it.
        "users whose access changes for some possible row (whatever the data):",
        "user 31 `Ada Lovelace`: gains",
        "gains row: Friend=NULL, Attending=`TRUE`",
        "the new policy set admits it through policy 2 `Only Show Attendees`",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let plan_file = live.path("plan.json");
    let plan_arg = plan_file.to_str().unwrap();
    let plan = json(&live.ok(&["pdp", "plan", dir, "--dataset-id", &id, "--out", plan_arg, "--format", "json"]));
    let actions: Vec<&str> =
        plan["changes"].as_array().unwrap().iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete", "update", "create"], "deletes first, creates last: a stopped apply narrows access");
    assert_eq!(plan["changes"][1]["id"], 2);
    let ada = plan["anyRow"]["users"].as_array().unwrap().iter().find(|u| u["id"] == 31).unwrap().clone();
    assert_eq!(ada["verdict"], "gains");
    assert_eq!(ada["gains"]["witness"], j!({"Friend": null, "Attending": "TRUE"}));

    // Without a terminal or --yes, nothing is applied.
    live.run(&["pdp", "apply", "--plan", plan_arg]).fails_with("stdin is not a terminal; pass --yes");
    assert_eq!(live_policies(&live, &id).len(), 2);

    let run = live.run(&["pdp", "apply", "--plan", plan_arg, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("applied 3 of 3 changes:"), "{}", run.all());
    assert!(run.stdout.contains("done created policy 4 `Planners See Regrets`"), "{}", run.all());
    assert_eq!(
        live_policies(&live, &id),
        [("Only Show Attendees".to_owned(), j!([27, 31])), ("Planners See Regrets".to_owned(), j!([]))]
    );
    let again = json(&live.ok(&["pdp", "plan", dir, "--dataset-id", &id, "--format", "json"]));
    assert_eq!(again["changes"], j!([]), "applied: nothing left to do");

    // Planning and applying from the folder in one step.
    let mut policies = edited(&live);
    policies.truncate(1);
    write_policies(&live, &policies);
    let run = live.run(&["pdp", "apply", dir, "--dataset-id", &id, "--yes", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let report = json(&run.stdout);
    assert_eq!(report["applied"], j!([{"action": "delete", "id": 4, "name": "Planners See Regrets"}]));
    assert_eq!(report["plan"]["changes"][0]["action"], "delete", "the JSON report carries its plan");
    assert_eq!(report["notApplied"], j!([]));
    assert_eq!(live_policies(&live, &id).len(), 1);
}

#[test]
fn apply_refuses_a_plan_when_the_live_policies_changed_since() {
    let live = Live::start();
    let id = pulled_party(&live);
    write_policies(&live, &edited(&live));
    let plan_file = live.path("plan.json");
    live.ok(&[
        "pdp",
        "plan",
        live.path("party").to_str().unwrap(),
        "--dataset-id",
        &id,
        "--out",
        plan_file.to_str().unwrap(),
    ]);
    live.ok(&["policies", "update", &id, "3", "--user", "27"]);
    let run = live.run(&["pdp", "apply", "--plan", plan_file.to_str().unwrap(), "--yes"]);
    run.fails_with("the live policies of DataSet");
    assert!(
        run.stderr.contains("changed since the plan") && run.stderr.contains("policy 3 `Doomed` was changed"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("nothing was applied"), "{}", run.all());
    assert_eq!(
        live_policies(&live, &id),
        [("Only Show Attendees".to_owned(), j!([27])), ("Doomed".to_owned(), j!([27]))],
        "nothing applied"
    );

    // A plan made against another API is refused too.
    let mut command = live.command(&["pdp", "apply", "--plan", plan_file.to_str().unwrap(), "--yes"]);
    command.env("DOMO_API_HOST", "http://127.0.0.1:9");
    super::support::Run::of(command.output().unwrap()).fails_with("was planned against");
}

#[test]
fn an_apply_that_fails_halfway_reports_exactly_what_was_applied() {
    // Every change is checked before the first write, so what is left to fail
    // half-way is what no check can foresee: here a request over the server's body limit.
    let live = Live::start_with(|builder| builder.max_body_bytes(4096));
    let id = pulled_party(&live);
    let mut policies = edited(&live);
    // Before the planners' policy, so that the failing create comes first of the two.
    let planners = policies.len() - 1;
    policies.insert(
        planners,
        j!({"type": "user", "name": "Huge Audience", "virtualUsers": ["v".repeat(5000)],
            "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"], "not": false}]}),
    );
    write_policies(&live, &policies);

    let run = live.run(&["pdp", "apply", live.path("party").to_str().unwrap(), "--yes"]);
    run.fails_with("error: apply stopped: 2 of 4 changes applied, 2 not applied");
    assert!(run.stderr.contains("caused by: change 3 of 4 failed: create `Huge Audience`"), "{}", run.all());
    let report = run.stdout.split("applied 2 of 4 changes:").nth(1).unwrap_or_else(|| panic!("{}", run.all()));
    assert!(report.contains("done deleted policy 3 `Doomed`"), "{report}");
    assert!(report.contains("done updated policy 2 `Only Show Attendees`"), "{report}");
    assert!(report.contains("failed create `Huge Audience`: POST /v1/datasets/"), "{report}");
    assert!(report.contains("not applied:\n  skipped create `Planners See Regrets`"), "{report}");

    // The live policies are exactly the changes applied, nothing more.
    assert_eq!(live_policies(&live, &id), [("Only Show Attendees".to_owned(), j!([27, 31]))]);
}

#[test]
fn plans_that_cannot_be_matched_or_compiled_are_refused_with_the_reason() {
    let live = Live::start();
    let id = pulled_party(&live);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    let original = read_policies(&live);

    let mut twice = original.clone();
    twice.push(original[1].clone());
    write_policies(&live, &twice);
    live.run(&["pdp", "plan", dir, "--dataset-id", &id]).fails_with("has two policies with id 2");

    // Two live policies share a name: a local one without an id cannot tell which it is.
    live.ok(&["policies", "create", &id, "--name", "Doomed", "--filter", "Friend BEGINS_WITH B", "--user", "40"]);
    let mut unnamed = original.clone();
    unnamed[2].as_object_mut().unwrap().remove("id");
    write_policies(&live, &unnamed);
    live.run(&["pdp", "plan", dir, "--dataset-id", &id]).fails_with("policy `Doomed` of `");
    live.run(&["pdp", "plan", dir, "--dataset-id", &id]).fails_with("2 live policies have that name: give it the id");

    let mut broken = original.clone();
    broken[1]["filters"][0]["column"] = j!("Atending");
    write_policies(&live, &broken);
    live.run(&["pdp", "plan", dir, "--dataset-id", &id]).fails_with("do not compile");
    live.run(&["pdp", "apply", "--plan", live.path("missing.json").to_str().unwrap(), "--yes"])
        .fails_with("cannot read");
}

/// A second DataSet: the Euler rows (same schema) or a `Friend,Region` table (another schema); returns its id.
fn other_dataset(live: &Live, same_schema: bool) -> String {
    if same_schema {
        return live.euler_party();
    }
    let csv = live.path("regions.csv");
    std::fs::write(&csv, "Friend,Region\nAda Lovelace,East\n").unwrap();
    let id = live.ok(&["datasets", "create", "--name", "Regions", "--infer-schema", csv.to_str().unwrap()]);
    id.trim().to_owned()
}

#[test]
fn plans_target_the_folders_dataset_and_refuse_another_unless_asked() {
    let live = Live::start();
    let id = pulled_party(&live);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    write_policies(&live, &edited(&live));

    // Without --dataset-id, the folder's own DataSet.
    let text = live.ok(&["pdp", "plan", dir]);
    assert!(text.contains(&format!("plan for DataSet {id} `Leonhard Euler Party`")), "{text}");

    // Another id is refused, by plan and by apply, and nothing is written to it.
    let twin = other_dataset(&live, true);
    let refused =
        format!("describes DataSet {id}, not {twin}: refusing to plan this folder's policies against another");
    live.run(&["pdp", "plan", dir, "--dataset-id", &twin]).fails_with(&refused);
    live.run(&["pdp", "apply", dir, "--dataset-id", &twin, "--yes"]).fails_with(&refused);
    live.run(&["pdp", "plan", dir, "--dataset-id", &twin]).fails_with("pass --target-other-dataset");
    assert_eq!(live_policies(&live, &twin), [], "nothing written to the other DataSet");

    // Asked for, with the same schema, it plans, and says so.
    let run = live.run(&["pdp", "plan", dir, "--dataset-id", &twin, "--target-other-dataset"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("plan for DataSet {twin}")), "{}", run.all());
    assert!(run.stdout.contains("as --target-other-dataset asks (same schema)"), "{}", run.all());

    // Another schema is refused even when asked for, naming the columns.
    let regions = other_dataset(&live, false);
    let run = live.run(&["pdp", "apply", dir, "--dataset-id", &regions, "--target-other-dataset", "--yes"]);
    run.fails_with(&format!("the live schema of DataSet {regions} `Regions` differs from `"));
    assert!(run.stderr.contains("column `Attending` (STRING) is not in the live DataSet"), "{}", run.all());
    assert!(run.stderr.contains("column `Region` (STRING) is only in the live DataSet"), "{}", run.all());
    assert_eq!(live_policies(&live, &regions), [], "nothing written to the other DataSet");

    // The flag alone makes no sense without an id.
    let run = live.run(&["pdp", "plan", dir, "--target-other-dataset"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("--dataset-id <ID>"), "{}", run.all());

    // A folder that names no DataSet needs the flag.
    let dataset_path = live.path("party/dataset.json");
    let mut dataset = json(&std::fs::read_to_string(&dataset_path).unwrap());
    dataset["id"] = j!("");
    std::fs::write(&dataset_path, dataset.to_string()).unwrap();
    live.run(&["pdp", "plan", dir])
        .fails_with("dataset.json` names no DataSet id: give the live one with --dataset-id");
    live.ok(&["pdp", "plan", dir, "--dataset-id", &id]);
}

#[test]
fn a_folder_whose_schema_differs_from_the_live_one_is_refused_naming_the_column() {
    let live = Live::start();
    let id = pulled_party(&live);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    let dataset_path = live.path("party/dataset.json");
    let original = std::fs::read_to_string(&dataset_path).unwrap();
    // The folder says Attending is a LONG (and its policy compares numbers); the live column is STRING.
    let mut dataset = json(&original);
    dataset["schema"]["columns"][1]["type"] = j!("LONG");
    std::fs::write(&dataset_path, dataset.to_string()).unwrap();
    std::fs::write(live.path("party/data.csv"), "Friend,Attending\nAda Lovelace,1\n").unwrap();
    let mut policies = edited(&live);
    policies[1]["filters"][0]["values"] = j!(["0"]);
    write_policies(&live, &policies);
    let before = live_policies(&live, &id);
    for command in ["plan", "apply"] {
        let run = live.run(&["pdp", command, dir, "--yes"][..if command == "plan" { 3 } else { 4 }]);
        run.fails_with(&format!("the live schema of DataSet {id} `Leonhard Euler Party` differs from `"));
        assert!(
            run.stderr.contains("column `Attending` is LONG in the folder but STRING in the live DataSet"),
            "{}",
            run.all()
        );
        assert!(run.stderr.contains(&format!("`domo pull {id} DIR --force` refreshes")), "{}", run.all());
    }
    assert_eq!(live_policies(&live, &id), before, "nothing written");

    // A column the live DataSet lacks, named by a policy.
    let mut dataset = json(&original);
    dataset["schema"]["columns"].as_array_mut().unwrap().push(j!({"type": "STRING", "name": "Region"}));
    std::fs::write(&dataset_path, dataset.to_string()).unwrap();
    std::fs::write(live.path("party/data.csv"), "Friend,Attending,Region\nAda Lovelace,TRUE,East\n").unwrap();
    let mut policies = edited(&live);
    policies[1]["filters"][0] = j!({"column": "Region", "operator": "EQUALS", "values": ["East"], "not": false});
    write_policies(&live, &policies);
    live.run(&["pdp", "apply", dir, "--yes"]).fails_with("column `Region` (STRING) is not in the live DataSet");
    assert_eq!(live_policies(&live, &id), before, "nothing written");
}

#[test]
fn changes_the_live_dataset_would_refuse_are_refused_before_any_write() {
    let live = Live::start();
    let id = pulled_party(&live);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    let before = live_policies(&live, &id);
    // The local directory knows a user the live one does not, and a policy's
    // values pass Domo's 255-character limit (the engine only warns on both).
    let directory_path = live.path("party/directory.json");
    let mut directory = json(&std::fs::read_to_string(&directory_path).unwrap());
    directory["users"].as_array_mut().unwrap().push(j!({"id": 999, "name": "Ghost", "role": "Participant"}));
    std::fs::write(&directory_path, directory.to_string()).unwrap();
    let mut policies = edited(&live);
    policies.push(j!({"type": "user", "name": "Ghost Policy", "users": [999],
        "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"], "not": false}]}));
    policies.push(j!({"type": "user", "name": "Long Names", "users": [27],
        "filters": [{"column": "Friend", "operator": "EQUALS", "values": ["x".repeat(300)], "not": false}]}));
    write_policies(&live, &policies);

    for command in ["plan", "apply"] {
        let run = live.run(&["pdp", command, dir, "--yes"][..if command == "plan" { 3 } else { 4 }]);
        run.fails_with(&format!(
            "2 of the planned changes to DataSet {id} `Leonhard Euler Party` would fail against its live schema \
             and directory; nothing was written"
        ));
        assert!(
            run.stderr.contains("create `Ghost Policy`: user `999` does not exist in the live directory"),
            "{}",
            run.all()
        );
        assert!(run.stderr.contains("create `Long Names`: the values add up to 301 characters"), "{}", run.all());
        assert!(!run.stdout.contains("applied"), "{}", run.all());
    }
    assert_eq!(live_policies(&live, &id), before, "nothing written");
}

#[test]
fn apply_of_a_saved_plan_checks_its_changes_and_schema_again_before_writing() {
    let live = Live::start();
    let id = pulled_party(&live);
    write_policies(&live, &edited(&live));
    let plan_file = live.path("plan.json");
    let plan_arg = plan_file.to_str().unwrap();
    live.ok(&["pdp", "plan", live.path("party").to_str().unwrap(), "--out", plan_arg]);
    let saved = json(&std::fs::read_to_string(&plan_file).unwrap());
    assert_eq!(saved["version"], 3);
    assert_eq!(saved["schema"]["columns"][1], j!({"type": "STRING", "name": "Attending"}));
    let before = live_policies(&live, &id);

    // A plan edited by hand: a create naming a column that does not exist, a value over the limit.
    let mut edited_plan = saved.clone();
    let create = edited_plan["changes"].as_array_mut().unwrap().last_mut().unwrap();
    assert_eq!(create["action"], "create");
    create["policy"]["filters"][0]["column"] = j!("Atending");
    std::fs::write(&plan_file, edited_plan.to_string()).unwrap();
    let run = live.run(&["pdp", "apply", "--plan", plan_arg, "--yes"]);
    run.fails_with("one of the planned changes to DataSet");
    assert!(
        run.stderr.contains(
            "create `Planners See Regrets`, filters[0]: unknown column `Atending` (did you mean `Attending`?)"
        ),
        "{}",
        run.all()
    );
    assert_eq!(live_policies(&live, &id), before, "nothing written");

    // A plan made for another schema than the live one.
    let mut other_schema = saved.clone();
    other_schema["schema"]["columns"][1]["type"] = j!("LONG");
    std::fs::write(&plan_file, other_schema.to_string()).unwrap();
    let run = live.run(&["pdp", "apply", "--plan", plan_arg, "--yes"]);
    run.fails_with("differs from the schema the plan was made for");
    assert!(
        run.stderr.contains("column `Attending` is LONG in the folder but STRING in the live DataSet"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("nothing was applied: plan again"), "{}", run.all());
    assert_eq!(live_policies(&live, &id), before, "nothing written");

    // A plan of the first version (no schema) is refused by its version.
    let mut old = saved.clone();
    old["version"] = j!(1);
    old.as_object_mut().unwrap().remove("schema");
    std::fs::write(&plan_file, old.to_string()).unwrap();
    live.run(&["pdp", "apply", "--plan", plan_arg, "--yes"])
        .fails_with("is a plan of version 1; this domo reads version 3: plan again");

    // The plan as saved applies.
    std::fs::write(&plan_file, saved.to_string()).unwrap();
    live.ok(&["pdp", "apply", "--plan", plan_arg, "--yes"]);
    assert_eq!(live_policies(&live, &id).len(), 2);
}

/// Runs `domo` on a terminal (through util-linux `script`) and types `typed` at it;
/// returns its exit code and everything the terminal showed.
pub(super) fn on_terminal(live: &Live, args: &[&str], typed: &str) -> (i32, String) {
    use std::io::Write;
    let base = live.command(args);
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_domo")).chain(args.iter().copied()).map(quote).collect::<Vec<_>>();
    let mut command = std::process::Command::new("script");
    command.args(["-qec", &line.join(" "), "/dev/null"]).current_dir(crate::root());
    for (key, value) in base.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("these tests need util-linux `script` for a terminal: {e}"));
    child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    assert!(!shown.contains("panicked"), "domo panicked: {shown}");
    (output.status.code().unwrap_or(-1), shown)
}

#[test]
fn a_declined_apply_exits_1_and_changes_nothing() {
    let live = Live::start();
    let id = pulled_party(&live);
    write_policies(&live, &edited(&live));
    let before = live_policies(&live, &id);
    for typed in ["n\n", "\n", "maybe\n"] {
        let (code, shown) = on_terminal(&live, &["pdp", "apply", live.path("party").to_str().unwrap()], typed);
        assert_eq!(code, 1, "typed {typed:?}:\n{shown}");
        assert!(shown.contains("[y/N]") && shown.contains("apply cancelled: nothing applied"), "{shown}");
        assert_eq!(live_policies(&live, &id), before, "nothing written");
    }
    let (code, shown) = on_terminal(&live, &["pdp", "apply", live.path("party").to_str().unwrap()], "y\n");
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("applied 3 of 3 changes:"), "{shown}");
}

#[test]
fn a_plan_that_deletes_every_policy_needs_turn_pdp_off() {
    let live = Live::start();
    let id = live.euler_party();
    live.only_show_attendees(&id);
    live.ok(&["pdp", "enable", &id]);
    live.ok(&["policies", "delete", &id, "1", "--yes"]);
    let dir = live.path("party");
    live.ok(&["pull", &id, dir.to_str().unwrap()]);
    write_policies(&live, &[]);
    let dir = dir.to_str().unwrap();

    let text = live.ok(&["pdp", "plan", dir]);
    assert!(text.contains("no policy is left: Domo turns PDP off and everyone with access sees every row"), "{text}");
    let run = live.run(&["pdp", "apply", dir, "--yes"]);
    run.fails_with(&format!("this plan deletes every policy of DataSet {id} `Leonhard Euler Party`"));
    assert!(run.stderr.contains("nothing was applied (keep a policy, or pass --turn-pdp-off"), "{}", run.all());
    assert_eq!(live_policies(&live, &id).len(), 1, "nothing written");

    let run = live.run(&["pdp", "apply", dir, "--yes", "--turn-pdp-off"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(live_policies(&live, &id), []);
    assert_eq!(json(&live.ok(&["datasets", "get", &id, "--format", "json"]))["pdpEnabled"], false);
}

#[test]
fn a_plan_needs_the_live_directory_to_check_its_policies() {
    let live = Live::start();
    let id = pulled_party(&live);
    write_policies(&live, &edited(&live));
    let profile = live.path("profiles.toml");
    std::fs::write(&profile, "default_profile = \"data-only\"\n[profiles.data-only]\nscopes = [\"data\"]\n").unwrap();
    let run = live.run(&["pdp", "plan", live.path("party").to_str().unwrap(), "--config", profile.to_str().unwrap()]);
    run.fails_with("cannot list the live users and groups, which every policy the plan writes is checked against");
    assert!(run.stderr.contains("(the credentials need the `user` scope)"), "{}", run.all());
    assert_eq!(live_policies(&live, &id).len(), 2, "nothing written");
}

#[test]
fn a_plan_as_markdown_is_a_pull_request_comment() {
    let live = Live::start();
    let id = pulled_party(&live);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    write_policies(&live, &edited(&live));
    let comment = live.ok(&["pdp", "plan", dir, "--dataset-id", &id, "--format", "markdown"]);
    insta::assert_snapshot!("plan_markdown", comment.replace(&id, "[dataset id]").replace(&live.url, "[api]"));
}

#[test]
fn an_update_that_adds_and_removes_access_is_narrowed_first() {
    let live = Live::start();
    let id = pulled_party(&live);
    live.ok(&["policies", "update", &id, "2", "--user", "27", "--user", "31"]);
    live.ok(&["pull", &id, live.path("party").to_str().unwrap(), "--force"]);
    // User 27 moves from the attendees to `Doomed`, user 40 the other way; user 31 stays.
    let mut policies = read_policies(&live);
    for policy in &mut policies {
        if policy["name"] == "Only Show Attendees" {
            policy["users"] = j!([31, 40]);
        } else if policy["name"] == "Doomed" {
            policy["users"] = j!([27]);
            policy["filters"][0]["values"] = j!(["B"]);
        }
    }
    write_policies(&live, &policies);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    let plan = json(&live.ok(&["pdp", "plan", dir, "--dataset-id", &id, "--format", "json"]));
    let actions: Vec<(&str, u64)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(actions, [("narrow", 2), ("narrow", 3), ("update", 2), ("update", 3)], "every cut before any widening");
    // The cut: who is in both versions, with the filters of both (user 31's rows are kept throughout).
    assert_eq!(plan["changes"][0]["policy"]["users"], j!([31]));
    assert_eq!(plan["changes"][0]["policy"]["filters"].as_array().unwrap().len(), 1);
    // Nobody is in both versions of `Doomed`: for a moment it admits nobody.
    assert_eq!(plan["changes"][1]["policy"]["users"], j!([]));
    assert_eq!(plan["changes"][1]["policy"]["filters"][0]["values"], j!(["A"]));

    let text = live.ok(&["pdp", "plan", dir, "--dataset-id", &id]);
    for line in [
        "changes: 0 to create, 2 to update, 0 to delete",
        "~ narrow policy 2 `Only Show Attendees` first, to what its live and new versions both admit (updated below)",
        "applies to: users 31",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let run = live.run(&["pdp", "apply", dir, "--dataset-id", &id, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("applied 4 of 4 changes:"), "{}", run.all());
    assert_eq!(
        live_policies(&live, &id),
        [("Only Show Attendees".to_owned(), j!([31, 40])), ("Doomed".to_owned(), j!([27]))]
    );
    let again = json(&live.ok(&["pdp", "plan", dir, "--dataset-id", &id, "--format", "json"]));
    assert_eq!(again["changes"], j!([]), "applied: nothing left to do");
}

#[test]
fn an_apply_stopped_between_the_two_writes_of_an_update_says_the_policy_was_only_narrowed() {
    // The update's second write is over the server's body limit; its first (the cut) is not.
    let start = |format: &str| {
        let live = Live::start_with(|builder| builder.max_body_bytes(4096));
        let id = pulled_party(&live);
        let mut policies = read_policies(&live);
        let attendees = policies.iter_mut().find(|p| p["name"] == "Only Show Attendees").unwrap();
        attendees["users"] = j!([31]);
        attendees["virtualUsers"] = j!(["v".repeat(5000)]);
        write_policies(&live, &policies);
        let dir = live.path("party");
        let run = live.run(&["pdp", "apply", dir.to_str().unwrap(), "--dataset-id", &id, "--yes", "--format", format]);
        (live, id, run)
    };

    let (live, id, run) = start("text");
    run.fails_with("error: apply stopped: 1 of 2 changes applied, 1 not applied");
    assert!(run.stdout.contains("done narrowed policy 2 `Only Show Attendees` first"), "{}", run.all());
    assert!(run.stdout.contains("failed update policy 2 `Only Show Attendees`: PUT"), "{}", run.all());
    // The cut admits nobody (no member is in both versions): user 27 has lost the rows, 31 not gained them.
    assert_eq!(
        live_policies(&live, &id),
        [("Only Show Attendees".to_owned(), j!([])), ("Doomed".to_owned(), j!([40]))]
    );

    let (_live, _id, run) = start("json");
    assert_ne!(run.code, 0, "{}", run.all());
    let report = json(&run.stdout);
    assert_eq!(report["applied"], j!([{"action": "narrow", "id": 2, "name": "Only Show Attendees"}]));
    assert_eq!(report["failed"]["change"], j!({"action": "update", "id": 2, "name": "Only Show Attendees"}));
}
