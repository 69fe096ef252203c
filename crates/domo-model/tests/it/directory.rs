//! Directory validation: every problem that would let a directory decide wrongly who sees what.

use domo_model::{Directory, read_user_file};

/// Reads `json` as a directory file and checks the problems it reports, in order.
fn check(json: &str, expected: &[&str]) {
    let directory: Directory = read_user_file("directory.json", json).unwrap();
    let problems: Vec<String> = directory.problems().iter().map(ToString::to_string).collect();
    assert_eq!(problems, expected, "{json}");
}

#[test]
fn sound_directory_has_no_problems() {
    check(
        r#"{"users":[{"id":31,"name":"Ada"},{"id":35,"name":"Sophie"}],"groups":[{"id":7,"name":"Planners","userIds":[31,35]}]}"#,
        &[],
    );
    check(r#"{}"#, &[]);
}

#[test]
fn user_listed_twice_names_both_positions() {
    // The later copy claims Admin: neither copy may win silently.
    check(
        r#"{"users":[{"id":31,"name":"Ada","role":"Participant"},{"id":40,"name":"Carl"},{"id":31,"name":"Ada","role":"Admin"}]}"#,
        &["users[2]: user 31 `Ada` is listed again (first at users[0])"],
    );
}

#[test]
fn group_listed_twice_names_both_positions() {
    check(
        r#"{"users":[{"id":31,"name":"Ada"}],"groups":[{"id":7,"name":"A","userIds":[]},{"id":7,"name":"B","userIds":[31]}]}"#,
        &["groups[1]: group 7 `B` is listed again (first at groups[0])"],
    );
}

#[test]
fn group_with_unknown_member_names_the_member() {
    check(
        r#"{"users":[{"id":31,"name":"Ada"}],"groups":[{"id":7,"name":"Planners","userIds":[31,99]}]}"#,
        &["groups[0].userIds[1]: group 7 `Planners` lists user 99, who is not in `users`"],
    );
}

#[test]
fn group_in_itself_is_a_problem_even_when_a_user_has_that_id() {
    check(
        r#"{"users":[{"id":7,"name":"Seven"}],"groups":[{"id":7,"name":"Planners","userIds":[7]}]}"#,
        &[
            "groups[0].userIds[0]: group 7 `Planners` lists its own id among its members (`userIds` holds user ids, and groups cannot hold groups)",
        ],
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    check(
        r#"{"users":[{"id":1,"name":"a"},{"id":1,"name":"b"},{"id":1,"name":"c"}],
            "groups":[{"id":2,"name":"g","userIds":[2,3]},{"id":2,"name":"h","userIds":[1]}]}"#,
        &[
            "users[1]: user 1 `b` is listed again (first at users[0])",
            "users[2]: user 1 `c` is listed again (first at users[0])",
            "groups[1]: group 2 `h` is listed again (first at groups[0])",
            "groups[0].userIds[0]: group 2 `g` lists its own id among its members (`userIds` holds user ids, and groups cannot hold groups)",
            "groups[0].userIds[1]: group 2 `g` lists user 3, who is not in `users`",
        ],
    );
}

#[test]
fn very_long_names_are_shortened() {
    let name = "x".repeat(10_000);
    let json = format!(r#"{{"users":[{{"id":1,"name":"a"}},{{"id":1,"name":"{name}"}}]}}"#);
    let directory: Directory = read_user_file("directory.json", &json).unwrap();
    let text = directory.problems()[0].to_string();
    assert!(text.len() < 200, "{text}");
    assert!(text.contains(&format!("`{}…`", "x".repeat(80))), "{text}");
}
