//! `domo users create|update|delete` and `domo groups create|update|delete|add-member|remove-member`.

use domo_model::UserId;

use super::support::{Live, json};

const ADMIN: &str = "noether-cli";
const ADMIN_SECRET: &str = "noether-secret-0b5e";

/// The example's emulator with a client acting as Emmy Noether, an Admin.
fn live_with_admin() -> Live {
    Live::start_with(|builder| builder.client(ADMIN, ADMIN_SECRET, UserId(50)))
}

fn as_admin<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--client-id", ADMIN, "--client-secret", ADMIN_SECRET]);
    all
}

#[test]
fn users_and_groups_are_created_changed_and_deleted() {
    let live = live_with_admin();
    let id = live.ok(&as_admin(&[
        "users",
        "create",
        "--name",
        "Emmy Noether Jr",
        "--email",
        "jr@example.com",
        "--role",
        "Participant",
        "--employee-number",
        "7",
    ]));
    let id = id.trim().to_owned();
    let user = json(&live.ok(&as_admin(&["users", "update", &id, "--title", "Professor", "--format", "json"])));
    assert_eq!((user["title"].as_str(), user["employeeNumber"].as_str()), (Some("Professor"), Some("7")));

    let group = live.ok(&as_admin(&["groups", "create", "--name", "Algebraists"]));
    let group = group.trim().to_owned();
    let run = live.run(&as_admin(&["groups", "add-member", &group, &id, "31"]));
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains(&format!("added user {id} to group {group}")), "{}", run.all());
    let members = json(&live.ok(&["groups", "members", &group, "--format", "json"]));
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
    live.ok(&as_admin(&["groups", "remove-member", &group, "31"]));
    let renamed =
        json(&live.ok(&as_admin(&["groups", "update", &group, "--name", "Ring theorists", "--format", "json"])));
    assert_eq!((renamed["name"].as_str(), renamed["memberCount"].as_u64()), (Some("Ring theorists"), Some(1)));

    let run = live.run(&as_admin(&["groups", "delete", &group]));
    run.fails_with("refusing without confirmation because stdin is not a terminal; pass --yes");
    live.ok(&as_admin(&["groups", "delete", &group, "--yes"]));
    live.ok(&as_admin(&["users", "delete", &id, "--yes"]));
    live.run(&["users", "update", &id, "--title", "X"]).fails_with("403");
    live.run(&as_admin(&["users", "update", &id, "--title", "X"])).fails_with(&format!("User not found: `{id}`"));
}

#[test]
fn writes_without_the_grant_or_with_nothing_to_do_fail_clearly() {
    let live = live_with_admin();
    // The default client acts as Leonhard Euler, a Participant.
    live.run(&["groups", "add-member", "1324037627", "40"])
        .fails_with("User 1001 may not manage users and groups: their role does not hold the `directory.manage` grant");
    live.run(&as_admin(&["users", "update", "40"])).fails_with("nothing to update: give --name");
    live.run(&as_admin(&["groups", "add-member", "1324037627"])).fails_with("required");
    let members = json(&live.ok(&["groups", "members", "1324037627", "--format", "json"]));
    assert_eq!(members.as_array().unwrap().len(), 2, "nothing changed: {members}");
}

#[test]
fn write_commands_show_examples_in_their_help() {
    let live = live_with_admin();
    for command in [
        ["users", "create"],
        ["users", "update"],
        ["users", "delete"],
        ["groups", "create"],
        ["groups", "update"],
        ["groups", "delete"],
        ["groups", "add-member"],
        ["groups", "remove-member"],
    ] {
        let help = live.ok(&[command[0], command[1], "--help"]);
        assert!(help.contains(&format!("Examples:\n  domo {} {}", command[0], command[1])), "{help}");
    }
}
