//! PDP policy calls: list, get, create, update, delete.

use domo_model::{DatasetId, FilterOperator, GroupId, Policy, PolicyFilter, PolicyId, PolicyType, UserId};
use serde_json::json;

use crate::support::{Reply, TestServer};

const ID: &str = "4405ff58-1957-45f0-82bd-914d989a3ea3";

fn attendees() -> serde_json::Value {
    json!({
        "id": 8, "type": "user", "name": "Only Show Attendees",
        "filters": [{"column": "Attending", "values": ["TRUE"], "operator": "EQUALS", "not": false}],
        "users": [27], "virtualUsers": [], "groups": ["1324"]
    })
}

#[tokio::test]
async fn list_and_get_decode_policies_including_all_rows() {
    let server = TestServer::start(|request| {
        if request.path.ends_with("/policies") {
            Reply::json(200, json!([{"id": 1, "type": "open", "name": "All Rows", "filters": [], "users": [], "groups": []}, attendees()]))
        } else {
            Reply::json(200, attendees())
        }
    })
    .await;
    let client = server.client();
    let id = DatasetId::from(ID);
    let policies = client.list_policies(&id).await.unwrap();
    assert!(policies[0].is_all_rows());
    assert_eq!(policies[1].groups, [GroupId(1324)]);
    let policy = client.get_policy(&id, PolicyId(8)).await.unwrap();
    assert_eq!(policy.filters[0].operator, FilterOperator::Equals);
    let lines: Vec<_> = server.requests().iter().map(|r| r.line()).collect();
    assert_eq!(lines, [format!("GET /v1/datasets/{ID}/policies"), format!("GET /v1/datasets/{ID}/policies/8")]);
    for request in server.requests() {
        request.assert_api_headers("application/json");
    }
}

#[tokio::test]
async fn create_update_and_delete_send_the_policy() {
    let server = TestServer::start(|request| match request.method.as_str() {
        "POST" => Reply::json(201, attendees()),
        "PUT" => Reply::json(200, attendees()),
        _ => Reply::status(204),
    })
    .await;
    let client = server.client();
    let id = DatasetId::from(ID);
    let mut policy = Policy {
        id: Some(PolicyId(99)),
        policy_type: PolicyType::User,
        name: "Only Show Attendees".to_owned(),
        filters: vec![PolicyFilter {
            column: "Attending".to_owned(),
            values: vec!["TRUE".to_owned()],
            operator: FilterOperator::Equals,
            not: false,
        }],
        users: vec![UserId(27)],
        virtual_users: vec![],
        groups: vec![],
    };
    let created = client.create_policy(&id, &policy).await.unwrap();
    assert_eq!(created.id, Some(PolicyId(8)));
    policy.users.push(UserId(28));
    client.update_policy(&id, PolicyId(8), &policy).await.unwrap();
    client.delete_policy(&id, PolicyId(8)).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests[0].line(), format!("POST /v1/datasets/{ID}/policies"));
    assert_eq!(
        requests[0].json(),
        json!({
            "type": "user", "name": "Only Show Attendees",
            "filters": [{"column": "Attending", "values": ["TRUE"], "operator": "EQUALS", "not": false}],
            "users": [27], "virtualUsers": [], "groups": []
        }),
        "a create sends no id"
    );
    assert_eq!(requests[1].line(), format!("PUT /v1/datasets/{ID}/policies/8"));
    assert_eq!(requests[1].json()["users"], json!([27, 28]));
    assert_eq!(requests[2].line(), format!("DELETE /v1/datasets/{ID}/policies/8"));
    for request in &requests {
        request.assert_api_headers("application/json");
    }
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
}
