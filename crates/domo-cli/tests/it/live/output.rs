//! The live commands' output: a table by default (get and update too), `--format table|json|csv` with the same
//! names as `domo pdp`, counts with the right noun, and an export that says when PDP filtered its rows.

use super::support::{GUEST, GUEST_SECRET, Live, Run, json};

#[test]
fn get_and_update_default_to_a_table_and_lists_take_csv() {
    let live = Live::start();
    let id = live.euler_party();
    let policy = live.only_show_attendees(&id);
    let policy = policy.trim();
    // The built-in All Rows policy goes, so that one policy is left.
    live.ok(&["policies", "delete", &id, "1", "--yes"]);

    // One DataSet, one policy: the singular.
    let list = live.ok(&["datasets", "list"]);
    assert!(list.ends_with("\n1 DataSet\n"), "{list}");
    let shown = live.ok(&["datasets", "get", &id]);
    assert!(shown.contains("pdp:         disabled, 1 policy\n"), "{shown}");
    let policies = live.ok(&["policies", "list", &id]);
    assert!(policies.ends_with("\n1 policy\n"), "{policies}");
    // get and update print the same table as list, not JSON.
    let one = live.ok(&["policies", "get", &id, policy]);
    assert!(one.contains("Only Show Attendees") && one.ends_with("\n1 policy\n"), "{one}");
    let updated = live.ok(&["policies", "update", &id, policy, "--user", "27", "--user", "31"]);
    assert!(updated.contains("27, 31") && updated.ends_with("\n1 policy\n"), "{updated}");
    let updated = live.ok(&["datasets", "update", &id, "--description", "guests"]);
    assert!(updated.contains("description: guests"), "{updated}");

    // CSV where the result is a table, with the table's columns.
    let csv = live.ok(&["datasets", "list", "--format", "csv"]);
    assert!(csv.starts_with("id,name,rows,columns,pdp,updated\n"), "{csv}");
    assert!(csv.contains(&format!("{id},Leonhard Euler Party,6,2,")), "{csv}");
    let users = live.ok(&["users", "list", "--format", "csv"]);
    assert!(users.starts_with("id,name,email,role\n") && users.contains("\n31,Ada Lovelace,"), "{users}");
    let groups = live.ok(&["groups", "list", "--format", "csv"]);
    assert!(groups.starts_with("id,name,members,active\n1324037627,Party Planners,"), "{groups}");
    let policies = live.ok(&["policies", "list", &id, "--format", "csv"]);
    assert!(policies.starts_with("id,type,name,filters,users,groups,virtual users\n"), "{policies}");
    // json is the same everywhere; csv only where the result is a table.
    assert_eq!(json(&live.ok(&["datasets", "get", &id, "--format", "json"]))["rows"], 6);
    live.run(&["datasets", "get", &id, "--format", "csv"]).fails_with("invalid value 'csv' for '--format <FORMAT>'");
    assert!(live.ok(&["auth", "check", "--format", "text"]).contains("acts as:   user 1001"));
}

#[test]
fn an_empty_listing_says_so_on_stderr_in_machine_formats() {
    let live = Live::start();
    for format in ["json", "csv"] {
        let run = live.run(&["datasets", "list", "--format", format]);
        assert_eq!((run.code, run.stderr.as_str()), (0, "0 DataSets\n"), "{}", run.all());
    }
    let table = live.ok(&["datasets", "list"]);
    assert!(table.ends_with("\n0 DataSets\n"), "{table}");
}

#[test]
fn an_export_filtered_by_pdp_says_so() {
    let live = Live::start();
    let id = live.euler_party();
    live.only_show_attendees(&id);
    live.ok(&["pdp", "enable", &id]);
    let export = |args: &[&str]| {
        let mut command = live.command(args);
        command.env("DOMO_CLIENT_ID", GUEST).env("DOMO_CLIENT_SECRET", GUEST_SECRET);
        Run::of(command.output().unwrap())
    };
    let hint = "note: the export gave 4 of the DataSet's 6 rows: PDP filtered the rows for the user these \
                credentials act as; export as the owner or an Admin to get every row";
    let run = export(&["data", "export", &id, "--header"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.stdout.lines().count(), 5, "{}", run.all());
    assert!(run.stderr.contains(hint), "{}", run.all());
    let out = live.path("guest.csv");
    let run = export(&["data", "export", &id, "-o", out.to_str().unwrap()]);
    assert!(run.stderr.contains(hint), "{}", run.all());
    // The owner gets every row, and no note.
    let run = live.run(&["data", "export", &id]);
    assert_eq!((run.code, run.stdout.lines().count()), (0, 6), "{}", run.all());
    assert!(!run.stderr.contains("PDP filtered"), "{}", run.all());
}

/// Replaces what changes from run to run (UUIDs, times, the emulator's address) so that a snapshot holds.
fn redact(value: &mut serde_json::Value, api: &str) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if ["createdAt", "updatedAt", "dataCurrentAt"].contains(&key.as_str()) && !value.is_null() {
                    *value = "[time]".into();
                } else if key == "expiresInSeconds" || key == "fingerprint" {
                    *value = "[seconds]".into();
                } else {
                    redact(value, api);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| redact(item, api)),
        serde_json::Value::String(text) if text == api => *text = "[api]".to_owned(),
        serde_json::Value::String(text) if text.len() == 36 && text.matches('-').count() == 4 => {
            *text = "[uuid]".to_owned();
        }
        _ => {}
    }
}

#[test]
fn every_live_json_output_has_its_documented_shape() {
    let live = Live::start();
    let id = live.euler_party();
    let policy = live.only_show_attendees(&id);
    let policy = policy.trim();
    let snapshot = |args: &[&str]| {
        let mut value = json(&live.ok(&[args, &["--format", "json"][..]].concat()));
        redact(&mut value, &live.url);
        format!("$ domo {} --format json\n{}", args.join(" "), serde_json::to_string_pretty(&value).unwrap())
    };
    let outputs = [
        snapshot(&["auth", "check"]),
        snapshot(&["datasets", "list"]),
        snapshot(&["datasets", "get", &id]),
        snapshot(&["datasets", "update", &id, "--description", "guests"]),
        snapshot(&["policies", "list", &id]),
        snapshot(&["policies", "get", &id, policy]),
        snapshot(&["policies", "update", &id, policy, "--user", "27", "--user", "31"]),
        snapshot(&["users", "list"]),
        snapshot(&["groups", "list"]),
        snapshot(&["groups", "members", "1324037627"]),
    ];
    insta::assert_snapshot!("live_json", outputs.join("\n\n").replace(&id, "[dataset id]"));
}

#[test]
fn plan_and_apply_json_have_their_documented_shape() {
    let live = Live::start();
    let id = live.euler_party();
    live.only_show_attendees(&id);
    live.ok(&["pdp", "enable", &id]);
    let dir = live.path("party");
    let dir = dir.to_str().unwrap();
    live.ok(&["pull", &id, dir]);
    // Locally: the attendees policy also for user 31, and a new policy for the planners.
    let path = live.path("party/policies.json");
    let mut policies: serde_json::Value = json(&std::fs::read_to_string(&path).unwrap());
    for policy in policies.as_array_mut().unwrap() {
        if policy["name"] == "Only Show Attendees" {
            policy["users"] = serde_json::json!([27, 31]);
        }
    }
    policies.as_array_mut().unwrap().push(serde_json::json!({
        "type": "user", "name": "Planners See Regrets", "groups": [1324037627],
        "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["FALSE"], "not": false}]
    }));
    std::fs::write(&path, serde_json::to_string_pretty(&policies).unwrap()).unwrap();
    let snapshot = |args: &[&str]| {
        let mut value = json(&live.ok(&[args, &["--format", "json"][..]].concat()));
        redact(&mut value, &live.url);
        format!("$ domo {} --format json\n{}", args.join(" "), serde_json::to_string_pretty(&value).unwrap())
    };
    let outputs = [snapshot(&["pdp", "plan", dir]), snapshot(&["pdp", "apply", dir, "--yes"])];
    insta::assert_snapshot!("plan_apply_json", outputs.join("\n\n").replace(dir, "[dir]").replace(&id, "[dataset id]"));
}
