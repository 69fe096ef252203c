//! Every JSON response example of Domo's published API reference (DataSet, Stream, User, Group and
//! authentication APIs, transcribed from `DomoApps/domo-developer-portal` into `test_data/reference/`)
//! decodes into the type the client reads it as.

use std::path::PathBuf;

use domo_model::{
    Dataset, DatasetSummary, Execution, Group, GroupId, Policy, QueryResponse, Role, Stream, TokenResponse, User,
    UserId,
};
use serde::de::DeserializeOwned;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data/reference").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Decodes one reference example as `T`, failing with the serde path of the first field that does not fit.
fn check<T: DeserializeOwned>(name: &str) -> T {
    let text = fixture(name);
    let deserializer = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(deserializer).unwrap_or_else(|e| panic!("{name}: {e} at {}", e.path()))
}

#[test]
fn every_reference_example_has_a_decoding_test() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data/reference");
    let this = include_str!("reference.rs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(this.contains(&format!("\"{name}\"")), "{name} has no decoding test");
    }
}

#[test]
fn authentication() {
    let token: TokenResponse = check("auth__oauth_token_get__200.json");
    assert_eq!((token.expires_in, token.user_id), (3599, Some(UserId(964_382_593))));
    assert_eq!(token.role.as_deref(), Some("Admin"));
}

#[test]
fn datasets() {
    let get: Dataset = check("dataset__datasets_dataset_id_get__200.json");
    assert_eq!((get.name.as_str(), get.owner), ("Timeline Feed", None));
    let put: Dataset = check("dataset__datasets_dataset_id_put__200.json");
    assert!(put.pdp_enabled);
    let created: Dataset = check("dataset__datasets_post__201.json");
    assert_eq!(created.owner.map(|o| o.id), Some(UserId(27)));
    let list: Vec<DatasetSummary> = check("dataset__datasets_get__200.json");
    assert_eq!(list.len(), 4);
    assert_eq!(list[0].description, None);
    let query: QueryResponse = check("dataset__datasets_query_execute_dataset_id_post__200.json");
    assert_eq!((query.num_columns, query.columns.len(), query.metadata.len()), (6, 6, 6));
    assert_eq!(query.rows.len() as u64, query.num_rows);
}

#[test]
fn policies() {
    let list: Vec<Policy> = check("dataset__datasets_dataset_id_policies_get__200.json");
    assert_eq!(list[0].users, [UserId(27)]);
    for name in [
        "dataset__datasets_dataset_id_policies_pdp_id_get__200.json",
        "dataset__datasets_dataset_id_policies_post__201.json",
        "dataset__datasets_dataset_id_policies_pdp_id_put__200_2.json",
    ] {
        let policy: Policy = check(name);
        assert_eq!(policy.id.map(|id| id.get()), Some(8), "{name}");
    }
    let updated: Policy = check("dataset__datasets_dataset_id_policies_pdp_id_put__200.json");
    assert_eq!(updated.groups, [GroupId(4)]);
    assert!(updated.filters[0].not);
}

#[test]
fn groups() {
    let list: Vec<Group> = check("group__groups_get__200.json");
    assert_eq!(list[1].member_count, Some(55));
    let placeholder: Group = check("group__groups_group_id_get__200.json");
    assert_eq!(placeholder.id, GroupId(0));
    let one: Group = check("group__groups_group_id_get__200_2.json");
    assert_eq!((one.active, one.default), (Some(true), None));
    // The create answer types `creatorId` as a string.
    let created: Group = check("group__groups_post__200.json");
    assert_eq!(created.creator_id, Some(UserId(87_659_738)));
    let members: Vec<UserId> = check("group__groups_group_id_users_get__200.json");
    assert_eq!(members, [UserId(87_659_738), UserId(809_129_372)]);
}

#[test]
fn streams() {
    // The documented list and search answers carry only the DataSet's id and `pdpEnabled`.
    for name in ["stream__streams_get__200.json", "stream__streams_search_get__200.json"] {
        let list: Vec<Stream> = check(name);
        assert_eq!(list[0].dataset.id.as_str(), "0c1e0dbe-9f71-4625-9b50-b79e6e4266f2", "{name}");
        assert_eq!(list[0].dataset.name, None, "{name}");
    }
    for name in [
        "stream__streams_post__200.json",
        "stream__streams_stream_id_get__200.json",
        "stream__streams_stream_id_patch__200.json",
    ] {
        let stream: Stream = check(name);
        assert_eq!(stream.dataset.name.as_deref(), Some("Leonhard Euler Party"), "{name}");
    }
    for name in [
        "stream__streams_stream_id_executions_post__200.json",
        "stream__streams_stream_id_executions_execution_id_get__200.json",
        "stream__streams_stream_id_executions_execution_id_part_part_id_put__200.json",
        "stream__streams_stream_id_executions_execution_id_commit_put__200.json",
    ] {
        let execution: Execution = check(name);
        assert_eq!(execution.id.get(), 1, "{name}");
    }
    let list: Vec<Execution> = check("stream__streams_stream_id_executions_get__200.json");
    assert_eq!(list.len(), 1);
}

#[test]
fn users() {
    let list: Vec<User> = check("user__users_get__200.json");
    assert_eq!(list[2].role, Some(Role::Privileged));
    assert_eq!(list[1].phone, None);
    // The reference types `employeeNumber` as a string and shows it as a number.
    for name in ["user__users_id_get__200_2.json", "user__users_post__200.json"] {
        let user: User = check(name);
        assert!(user.employee_number.as_deref().is_some_and(|n| n.starts_with("23")), "{name}");
        assert_eq!(user.groups.as_ref().map(Vec::len), Some(1), "{name}");
    }
}

#[test]
fn a_user_whose_timestamp_does_not_parse_still_decodes_with_the_text_kept() {
    // The first `GET /v1/users/{id}` example has `"createdAt": "017-06-12T20:23:57Z"` (a typo in the
    // reference). A timestamp the client only displays must not make a whole user list fail.
    let user: User = check("user__users_id_get__200.json");
    assert_eq!(user.employee_number.as_deref(), Some("23532"));
    assert_eq!(user.name, "Leonard Euler");
}
