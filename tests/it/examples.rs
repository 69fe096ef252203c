//! The bundled examples are valid, strictly read, and say what their README says.

use std::path::PathBuf;

use domo_model::{Dataset, Directory, Policy, Role, UserId, read_user_file};

fn example(name: &str, file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn euler_party_files_read_strictly() {
    let dataset: Dataset = read_user_file("dataset.json", &example("euler-party", "dataset.json")).unwrap();
    let policies: Vec<Policy> = read_user_file("policies.json", &example("euler-party", "policies.json")).unwrap();
    let directory: Directory = read_user_file("directory.json", &example("euler-party", "directory.json")).unwrap();

    assert!(dataset.pdp_enabled);
    assert_eq!(dataset.owner.map(|o| o.id), Some(UserId(1001)));
    let names: Vec<_> = dataset.schema.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Friend", "Attending"]);

    let attendees = policies.iter().find(|p| p.name == "Only Show Attendees").unwrap();
    assert_eq!(attendees.users, [UserId(27)]);
    assert_eq!(attendees.filters[0].values, ["TRUE"]);

    assert_eq!(directory.user(UserId(27)).map(|u| u.name.as_str()), Some("DomoSupport"));
    assert_eq!(directory.user(UserId(50)).and_then(|u| u.role.clone()), Some(Role::Admin));
    assert_eq!(directory.groups.len(), 1);
}

#[test]
fn euler_party_csv_matches_schema_width() {
    let csv = example("euler-party", "data.csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("Friend,Attending"));
    assert!(lines.all(|l| l.split(',').count() == 2));
}
