//! The client against answers exactly as Domo's published reference shows them
//! (`crates/domo-model/test_data/reference/`), not as the emulator writes them.

use domo_model::{DatasetId, GroupId, UserId};
use futures_util::TryStreamExt;
use serde_json::Value;

use crate::support::{Reply, TestServer};

fn reference(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../domo-model/test_data/reference").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A server that answers every call with one reference example, and with `[]` once paging goes on.
async fn answering(name: &str) -> TestServer {
    let answer = reference(name);
    TestServer::start(move |request| match request.query("offset") {
        Some(offset) if offset != "0" => Reply::json(200, serde_json::json!([])),
        _ => Reply::json(200, answer.clone()),
    })
    .await
}

#[tokio::test]
async fn the_documented_stream_search_answer_decodes_without_a_dataset_name() {
    let server = answering("stream__streams_search_get__200.json").await;
    let dataset = DatasetId::from("0c1e0dbe-9f71-4625-9b50-b79e6e4266f2");
    let streams = server.client().find_streams_by_dataset(&dataset).await.unwrap();
    assert_eq!(streams.len(), 1);
    assert_eq!((streams[0].id.get(), &streams[0].dataset.id), (42, &dataset));
}

#[tokio::test]
async fn the_documented_users_decode_with_a_numeric_employee_number() {
    let server = answering("user__users_post__200.json").await;
    let user = server.client().get_user(UserId(959_463_190)).await.unwrap();
    assert_eq!((user.name.as_str(), user.employee_number.as_deref()), ("Leonhard Euler", Some("23432")));

    let server = answering("user__users_get__200.json").await;
    let users: Vec<_> = server.client().list_users().try_collect().await.unwrap();
    assert_eq!(users.len(), 3);
}

#[tokio::test]
async fn the_documented_groups_and_members_decode() {
    let server = answering("group__groups_get__200.json").await;
    let groups: Vec<_> = server.client().list_groups().try_collect().await.unwrap();
    assert_eq!(groups.iter().map(|g| g.id).collect::<Vec<_>>(), [GroupId(2_079_369_923), GroupId(1_117_375_123)]);
    let server = answering("group__groups_group_id_users_get__200.json").await;
    let members: Vec<_> = server.client().list_group_members(GroupId(1)).try_collect().await.unwrap();
    assert_eq!(members, [UserId(87_659_738), UserId(809_129_372)]);
}

#[tokio::test]
async fn the_documented_dataset_answers_decode() {
    let server = answering("dataset__datasets_dataset_id_get__200.json").await;
    let dataset = server.client().get_dataset(&DatasetId::from("08a061e2-12a2-4646-b4bc-20beddb403e3")).await.unwrap();
    assert_eq!((dataset.name.as_str(), dataset.owner), ("Timeline Feed", None));
}
