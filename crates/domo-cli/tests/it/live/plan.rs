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
        "3 of 6 users change: 2 gain rows, 1 lose rows",
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
    assert_eq!(report["applied"], j!(["deleted policy 4 `Planners See Regrets`"]));
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
