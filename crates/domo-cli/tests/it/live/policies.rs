//! `domo policies …`, `domo pdp enable|disable` and `domo pull` followed by the offline `domo pdp` commands.

use super::support::{GUEST, GUEST_SECRET, Live, json};

#[test]
fn policies_are_created_listed_shown_updated_and_deleted() {
    let live = Live::start();
    let id = live.euler_party();
    let created = live.only_show_attendees(&id);
    let policy = created.trim();
    let file = live.path("policy.json");
    std::fs::write(
        &file,
        r#"{"type": "user", "name": "Planners See Regrets", "groups": [1324037627],
            "filters": [{"column": "Attending", "operator": "EQUALS", "values": ["TRUE"], "not": true}]}"#,
    )
    .unwrap();
    let planners = json(&live.ok(&["policies", "create", &id, "--file", file.to_str().unwrap(), "--format", "json"]));
    assert_eq!(planners["groups"], serde_json::json!([1324037627]));

    let table = live.ok(&["policies", "list", &id]);
    assert!(
        table.contains("All Rows")
            && table.contains("Attending EQUALS TRUE")
            && table.contains("Attending NOT EQUALS TRUE"),
        "{table}"
    );
    assert!(table.contains("3 policies"), "{table}");
    let listed = json(&live.ok(&["policies", "list", &id, "--format", "json"]));
    assert_eq!(listed.as_array().unwrap().len(), 3);

    let shown = json(&live.ok(&["policies", "get", &id, policy, "--format", "json"]));
    assert_eq!(
        (shown["name"].as_str(), shown["users"].clone()),
        (Some("Only Show Attendees"), serde_json::json!([27]))
    );
    // Fields not given keep their value.
    let updated =
        json(&live.ok(&["policies", "update", &id, policy, "--user", "27", "--user", "40", "--format", "json"]));
    assert_eq!(updated["users"], serde_json::json!([27, 40]));
    assert_eq!(updated["filters"][0]["values"], serde_json::json!(["TRUE"]));
    let renamed = json(&live.ok(&[
        "policies",
        "update",
        &id,
        policy,
        "--filter",
        "Friend BEGINS_WITH [\"A\", \"G\"]",
        "--format",
        "json",
    ]));
    assert_eq!(renamed["filters"][0]["operator"], "BEGINS_WITH");
    assert_eq!(renamed["users"], serde_json::json!([27, 40]));

    // The emulator, like Domo, checks what a policy names.
    live.run(&["policies", "create", &id, "--name", "Ghost", "--filter", "Attending EQUALS TRUE", "--user", "999"])
        .fails_with("user 999 does not exist");
    live.run(&["policies", "create", &id, "--name", "Bad", "--filter", "Attending TRUE"]).fails_with("has no operator");
    live.run(&["policies", "create", &id, "--filter", "Attending EQUALS TRUE"]).fails_with("needs --name");

    live.run(&["policies", "delete", &id, policy]).fails_with("stdin is not a terminal; pass --yes");
    live.ok(&["policies", "delete", &id, policy, "--yes"]);
    live.run(&["policies", "get", &id, policy]).fails_with("404");
    assert_eq!(json(&live.ok(&["policies", "list", &id, "--format", "json"])).as_array().unwrap().len(), 2);
}

#[test]
fn pdp_is_enabled_and_disabled_and_the_export_follows() {
    let live = Live::start();
    let id = live.euler_party();
    live.only_show_attendees(&id);
    let as_guest = |args: &[&str]| {
        let mut command = live.command(args);
        command.env("DOMO_CLIENT_ID", GUEST).env("DOMO_CLIENT_SECRET", GUEST_SECRET);
        super::support::Run::of(command.output().unwrap())
    };
    assert_eq!(as_guest(&["data", "export", &id]).stdout.lines().count(), 6, "PDP starts disabled");
    let on = live.ok(&["pdp", "enable", &id]);
    assert!(on.starts_with("PDP enabled on DataSet"), "{on}");
    assert_eq!(json(&live.ok(&["datasets", "get", &id, "--format", "json"]))["pdpEnabled"], true);
    let seen = as_guest(&["data", "export", &id]).stdout;
    assert_eq!(seen, "Alan Turing,TRUE\nGeorge Boole,TRUE\nBrook Taylor,TRUE\nAda Lovelace,TRUE\n");
    live.ok(&["pdp", "disable", &id, "--yes"]);
    assert_eq!(json(&live.ok(&["datasets", "get", &id, "--format", "json"]))["pdpEnabled"], false);
    assert_eq!(as_guest(&["data", "export", &id]).stdout.lines().count(), 6);
    live.run(&["pdp", "enable", "no-such-dataset"]).fails_with("404");
}

#[test]
fn a_pulled_folder_works_with_every_offline_command() {
    let live = Live::start();
    let id = live.euler_party();
    live.only_show_attendees(&id);
    live.ok(&[
        "policies",
        "create",
        &id,
        "--name",
        "Planners See Regrets",
        "--filter",
        "Attending EQUALS FALSE",
        "--group",
        "1324037627",
    ]);
    live.ok(&["pdp", "enable", &id]);
    let dir = live.path("party");
    let dir_arg = dir.to_str().unwrap();
    let run = live.run(&["pull", &id, dir_arg]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("6 rows") && run.stderr.contains("3 policies, 6 users, 1 group"), "{}", run.all());
    assert_eq!(
        std::fs::read_to_string(dir.join("data.csv")).unwrap(),
        std::fs::read_to_string(crate::root().join(super::support::EULER_CSV)).unwrap()
    );
    let dataset = json(&std::fs::read_to_string(dir.join("dataset.json")).unwrap());
    assert_eq!((dataset["id"].as_str(), dataset["pdpEnabled"].as_bool()), (Some(id.as_str()), Some(true)));
    assert!(dataset.get("policies").is_none(), "policies live in policies.json");
    let directory = json(&std::fs::read_to_string(dir.join("directory.json")).unwrap());
    assert_eq!(directory["groups"][0]["userIds"], serde_json::json!([31, 35]));

    let matrix = json(&live.ok(&["pdp", "matrix", dir_arg, "--format", "json"]));
    assert_eq!(matrix["rows"], 6);
    let seen: Vec<(u64, u64, String)> = matrix["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_u64().unwrap(), u["visible"].as_u64().unwrap(), u["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert!(seen.contains(&(27, 4, "policies".to_owned())), "{matrix}");
    assert!(seen.contains(&(31, 2, "policies".to_owned())), "{matrix}");
    assert!(seen.contains(&(40, 0, "no-policy".to_owned())), "{matrix}");
    assert!(seen.contains(&(1001, 6, "owner".to_owned())), "{matrix}");
    let preview = live.ok(&["pdp", "preview", dir_arg, "--user", "27"]);
    assert_eq!(
        preview,
        "Friend,Attending\nAlan Turing,TRUE\nGeorge Boole,TRUE\nBrook Taylor,TRUE\nAda Lovelace,TRUE\n"
    );
    let lint = live.run(&["pdp", "lint", dir_arg]);
    assert_ne!(lint.code, 2, "{}", lint.all());
    live.ok(&["pdp", "who", dir_arg, "--row", "2"]);
    live.ok(&["pdp", "explain", dir_arg, "--user", "31", "--row", "2"]);

    live.run(&["pull", &id, dir_arg])
        .fails_with("already holds dataset.json, policies.json, directory.json, data.csv: pass --force");
    live.ok(&["pull", &id, dir_arg, "--force"]);

    // Pulled as a Participant under PDP, the rows are missing, and the pull says so.
    let mut command = live.command(&["pull", &id, live.path("as-guest").to_str().unwrap()]);
    command.env("DOMO_CLIENT_ID", GUEST).env("DOMO_CLIENT_SECRET", GUEST_SECRET);
    let run = super::support::Run::of(command.output().unwrap());
    assert!(run.stderr.contains("warning: the DataSet has 6 rows but the export gave 4"), "{}", run.all());
}

/// Whether PDP is on for the DataSet, as `datasets get` says.
fn pdp_enabled(live: &Live, id: &str) -> bool {
    json(&live.ok(&["datasets", "get", id, "--format", "json"]))["pdpEnabled"].as_bool().unwrap()
}

#[test]
fn deleting_the_last_policy_or_disabling_pdp_needs_an_explicit_yes() {
    let live = Live::start();
    let id = live.euler_party();
    let attendees = live.only_show_attendees(&id);
    let attendees = attendees.trim();
    live.ok(&["pdp", "enable", &id]);
    // The built-in All Rows policy (1) is not the last one: it goes like any other.
    live.ok(&["policies", "delete", &id, "1", "--yes"]);

    // The last policy: --yes is not enough, since deleting it turns PDP off.
    let run = live.run(&["policies", "delete", &id, attendees, "--yes"]);
    run.fails_with(&format!("policy {attendees} `Only Show Attendees` is the last policy of DataSet {id}"));
    assert!(run.stderr.contains("everyone with access sees every row; nothing was deleted"), "{}", run.all());
    assert!(run.stderr.contains("pass --turn-pdp-off"), "{}", run.all());
    assert!(pdp_enabled(&live, &id));
    let (code, shown) =
        super::plan::on_terminal(&live, &["policies", "delete", &id, attendees, "--turn-pdp-off"], "n\n");
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("(the last one: PDP turns off") && shown.contains("delete cancelled"), "{shown}");
    assert!(pdp_enabled(&live, &id));
    live.ok(&["policies", "delete", &id, attendees, "--yes", "--turn-pdp-off"]);
    assert!(!pdp_enabled(&live, &id), "Domo turns PDP off with the last policy");

    // Disabling PDP asks first; declined, it exits 1 and PDP stays on.
    live.only_show_attendees(&id);
    live.ok(&["pdp", "enable", &id]);
    live.run(&["pdp", "disable", &id])
        .fails_with("everyone with access sees all 6 rows: refusing without confirmation");
    let (code, shown) = super::plan::on_terminal(&live, &["pdp", "disable", &id], "n\n");
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("disable cancelled: PDP stays as it was"), "{shown}");
    assert!(pdp_enabled(&live, &id));
    live.ok(&["pdp", "disable", &id, "--yes"]);
    assert!(!pdp_enabled(&live, &id));
}

#[test]
fn a_policy_that_shows_every_row_needs_no_filters_said_out_loud() {
    let live = Live::start();
    let id = live.euler_party();
    let listed = || json(&live.ok(&["policies", "list", &id, "--format", "json"])).as_array().unwrap().len();
    live.run(&["policies", "create", &id, "--name", "Everything", "--user", "27"]).fails_with(
        "policy `Everything` has no filters: its members would see every row; give --filter, or pass --no-filters",
    );
    let file = live.path("open.json");
    std::fs::write(&file, r#"{"type": "open", "name": "Second All Rows", "users": [27]}"#).unwrap();
    live.run(&["policies", "create", &id, "--file", file.to_str().unwrap()])
        .fails_with("policy `Second All Rows` is an All Rows policy: its members would see every row");
    assert_eq!(listed(), 1, "nothing created");

    // Adding a user to the All Rows policy gives them every row: said out loud too.
    live.run(&["policies", "update", &id, "1", "--user", "27"]).fails_with("pass --no-filters if that is meant");
    live.ok(&["policies", "create", &id, "--name", "Everything", "--user", "27", "--no-filters"]);
    assert_eq!(listed(), 2);
}

/// A fake Domo on a loopback port that answers every request with `status` and
/// `body` (JSON), then closes; returns its base URL. It stops with the test process.
fn fake_domo(status: &'static str, body: &'static str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn a_policy_stored_otherwise_than_sent_is_not_reported_as_created() {
    let live = Live::start();
    // A server that keeps the policy but drops its filters: its members would see every row.
    let url = fake_domo(
        "201 Created",
        r#"{"id": 7, "type": "user", "name": "Only Show Attendees", "users": [27], "groups": [], "virtualUsers": []}"#,
    );
    let mut command = live.command(&[
        "policies",
        "create",
        "some-dataset",
        "--name",
        "Only Show Attendees",
        "--filter",
        "Attending EQUALS TRUE",
        "--user",
        "27",
    ]);
    command.env("DOMO_API_HOST", &url).env_remove("DOMO_CLIENT_ID").env_remove("DOMO_CLIENT_SECRET");
    command.env("DOMO_ACCESS_TOKEN", "fake-token");
    let run = super::support::Run::of(command.output().unwrap());
    run.fails_with("Domo answered with policy 7 `Only Show Attendees` stored otherwise than sent: its filters (every row) (sent Attending EQUALS TRUE)");
    assert!(!run.stderr.contains("created policy"), "{}", run.all());
    assert_eq!(run.stdout, "", "no id printed for a policy not stored as asked");
}

#[test]
fn pdp_is_not_reported_enabled_on_a_dataset_without_policies() {
    let live = Live::start();
    let id = live.euler_party();
    // Only the built-in All Rows policy: deleting it leaves none.
    live.ok(&["policies", "delete", &id, "1", "--yes", "--turn-pdp-off"]);
    let run = live.run(&["pdp", "enable", &id]);
    run.fails_with(&format!(
        "DataSet {id} has no policies: with PDP enabled and no policy, Domo still shows every row"
    ));
    assert!(run.stderr.contains("nothing was changed"), "{}", run.all());
    assert!(!pdp_enabled(&live, &id));
    live.only_show_attendees(&id);
    assert!(live.ok(&["pdp", "enable", &id]).starts_with("PDP enabled on DataSet"));
}

#[test]
fn policy_mistakes_are_refused_with_the_fix_and_nothing_is_created() {
    let live = Live::start();
    let id = live.euler_party();
    let policy = live.only_show_attendees(&id);
    let policy = policy.trim();
    let count = || json(&live.ok(&["policies", "list", &id, "--format", "json"])).as_array().unwrap().len();
    let before = count();

    // A misspelt operator: the closest one is named.
    live.run(&["policies", "create", &id, "--name", "Typo", "--filter", "Attending EQUAL TRUE", "--user", "27"])
        .fails_with("`Attending EQUAL TRUE` has no operator (`EQUAL` is not one: did you mean `EQUALS`?)");
    // No filters: every row to its members, unless --no-filters says it is meant.
    live.run(&["policies", "create", &id, "--name", "Everything", "--user", "27"])
        .fails_with("policy `Everything` has no filters: its members would see every row");
    // No members: it changes no one's rows.
    live.run(&["policies", "create", &id, "--name", "Nobody", "--filter", "Attending EQUALS TRUE"]).fails_with(
        "policy `Nobody` applies to no one: give --user, --group or --virtual-user (a policy without members \
         changes no one's rows); nothing was sent",
    );
    live.run(&["policies", "create", &id, "--name", "Nobody", "--no-filters"]).fails_with("applies to no one");
    // A file with an id: a second copy of that policy, unless it goes to `update`.
    let file = live.path("policy.json");
    let shown = live.ok(&["policies", "get", &id, policy, "--format", "json"]);
    std::fs::write(&file, &shown).unwrap();
    let path = file.to_str().unwrap();
    live.run(&["policies", "create", &id, "--file", path]).fails_with(&format!(
        "`{path}` holds `\"id\": {policy}`: creating it would add a second policy beside policy {policy}; nothing \
         was created. To change policy {policy}: `domo policies update {id} {policy} --file {path}`; to create a \
         copy, remove the id"
    ));
    // A misspelt field in the file: the closest known one is named.
    std::fs::write(&file, shown.replace("\"virtualUsers\"", "\"virtualUser\"")).unwrap();
    live.run(&["policies", "update", &id, policy, "--file", path])
        .fails_with("unknown field `virtualUser` (did you mean `virtualUsers`?)");
    assert_eq!(count(), before, "nothing was created");
    // The command that message names works.
    std::fs::write(&file, shown.replace("Only Show Attendees", "Attendees Only")).unwrap();
    live.ok(&["policies", "update", &id, policy, "--file", path]);
    assert_eq!(count(), before);
}
