//! `domo` against an emulator answering in the published reference's minimal shapes: streams listed
//! and searched with only their DataSet's id, users with a numeric `employeeNumber`.

use domo_emulator::ResponseShapes;
use domo_model::{Directory, read_user_file};

use super::support::{EULER_CSV, Live, json};

/// The example's directory with an employee number on every user, so that the minimal shapes send numbers.
fn minimal_live() -> Live {
    let text = std::fs::read_to_string(crate::root().join("examples/euler-party/directory.json")).unwrap();
    let mut directory: Directory = read_user_file("directory.json", &text).unwrap();
    for (n, user) in directory.users.iter_mut().enumerate() {
        user.employee_number = Some(format!("{}", 23_532 + n));
    }
    Live::start_with(|builder| builder.directory(directory).response_shapes(ResponseShapes::ReferenceMinimal))
}

#[test]
fn auth_check_and_user_lists_read_a_numeric_employee_number() {
    let live = minimal_live();
    let run = live.run(&["auth", "check"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("acts as:   user 1001 `Leonhard Euler` (Participant)"), "{}", run.all());
    let users = json(&live.ok(&["users", "list", "--format", "json"]));
    assert_eq!(users[0]["employeeNumber"], "23532");
    let members = live.ok(&["groups", "list"]);
    assert!(members.contains("Party Planners"), "{members}");
}

#[test]
fn a_stream_import_finds_its_stream_when_the_search_answer_has_no_dataset_name() {
    let live = minimal_live();
    let id = live.ok(&["datasets", "create", "--name", "Streamed", "--infer-schema", EULER_CSV, "--stream"]);
    let id = id.trim();
    let run = live.run(&["data", "import", id, EULER_CSV, "--stream", "--header"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let exported = live.ok(&["data", "export", id, "--header"]);
    assert_eq!(exported, std::fs::read_to_string(crate::root().join(EULER_CSV)).unwrap());
}

/// Domo answers a GET of a deleted DataSet with 200 and `deleted: true`: `domo` says it was deleted and
/// never treats it as a live DataSet.
#[test]
fn a_deleted_dataset_is_gone_for_get_pull_and_plan() {
    let live = Live::start();
    let id = live.euler_party();
    live.ok(&["datasets", "delete", &id, "--yes"]);
    let deleted = format!("GET /v1/datasets/{id}: it was deleted (Domo answered with `deleted: true`)");
    live.run(&["datasets", "get", &id]).fails_with(&deleted);
    let dir = live.path("pulled");
    live.run(&["pull", &id, dir.to_str().unwrap()]).fails_with(&deleted);
    assert!(!dir.join("dataset.json").exists(), "nothing was pulled");
    live.run(&["pdp", "plan", "examples/euler-party", "--dataset-id", &id, "--target-other-dataset"])
        .fails_with(&deleted);
}
