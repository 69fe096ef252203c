//! Users and groups from the directory: lists, paging, one user with groups, group members.

use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn users_and_groups_with_paging() {
    let server = start().await;
    let token = server.token("owner", "user").await;
    let users = server.get(&token, "/v1/users").await.json();
    let ids: Vec<u64> = users.as_array().unwrap().iter().map(|u| u["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 27, 28, 29]);
    assert_eq!(users[1]["role"], "Admin");
    assert!(users[0].get("groups").is_none());
    let page = server.get(&token, "/v1/users?limit=2&offset=2").await.json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["id"], 27);

    let wendy = server.get(&token, "/v1/users/27").await.json();
    assert_eq!(wendy["name"], "Wendy West");
    assert_eq!(wendy["groups"], json!([{"id": 5, "name": "West team"}, {"id": 6, "name": "Everyone"}]));
    server.get(&token, "/v1/users/4242").await.assert_error(404, "User not found");
    server.get(&token, "/v1/users/abc").await.assert_error(404, "User not found");

    let groups = server.get(&token, "/v1/groups").await.json();
    assert_eq!(groups[1], json!({"id": 6, "name": "Everyone", "default": false, "active": true, "memberCount": 5}));
    assert_eq!(server.get(&token, "/v1/groups/5").await.json()["name"], "West team");
    assert_eq!(server.get(&token, "/v1/groups/6/users?limit=2&offset=1").await.json(), json!([2, 27]));
    server.get(&token, "/v1/groups/99/users").await.assert_error(404, "Group not found");
    server.get(&token, "/v1/groups?limit=x").await.assert_error(400, "`limit`");
}

#[tokio::test]
async fn explicit_client_missing_from_directory_gets_least_privilege() {
    let builder = domo_emulator::Emulator::builder().client("stranger-app", "stranger-secret", domo_model::UserId(77));
    let server = crate::support::start_with(builder).await;
    let token = server.token("stranger", "user").await;
    let user = server.get(&token, "/v1/users/77").await.json();
    assert_eq!(user["role"], "Participant", "a client's unknown user must not become an Admin");
}
