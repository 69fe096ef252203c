//! Users and groups: paging by 500, one user, group members, and the directory file.

use domo_model::{GroupId, Role, UserId};
use futures_util::TryStreamExt;
use serde_json::json;

use crate::support::{Recorded, Reply, TestServer};

/// Pages `items` like Domo: `limit` from `offset`.
fn page(request: &Recorded, items: &[serde_json::Value]) -> Reply {
    assert_eq!(request.query("limit"), Some("500"), "{}", request.line());
    let offset: usize = request.query("offset").unwrap().parse().unwrap();
    let page: Vec<_> = items.iter().skip(offset).take(500).cloned().collect();
    Reply::json(200, json!(page))
}

fn users(count: u64) -> Vec<serde_json::Value> {
    (0..count)
        .map(|i| json!({"id": 1000 + i, "name": format!("User {i}"), "email": format!("u{i}@example.com"), "role": if i == 0 { "Admin" } else { "Participant" }}))
        .collect()
}

#[tokio::test]
async fn users_are_listed_500_at_a_time() {
    let all = users(1203);
    let server = TestServer::start(move |request| page(request, &all)).await;
    let listed: Vec<_> = server.client().list_users().try_collect().await.unwrap();
    assert_eq!(listed.len(), 1203);
    assert!(listed[0].is_admin());
    assert_eq!(listed[1202].id, UserId(2202));
    let requests = server.requests();
    let offsets: Vec<_> = requests.iter().map(|r| r.query("offset").unwrap().to_owned()).collect();
    assert_eq!(offsets, ["0", "500", "1000", "1203"]);
    for request in &requests {
        assert_eq!(request.line(), "GET /v1/users");
        request.assert_api_headers("application/json");
    }
}

#[tokio::test]
async fn get_user_decodes_their_groups() {
    let server = TestServer::start(|_| {
        Reply::json(200, json!({"id": 27, "name": "Leonhard Euler", "role": "Privileged", "groups": [{"id": 1324, "name": "Mathematicians"}]}))
    })
    .await;
    let user = server.client().get_user(UserId(27)).await.unwrap();
    assert_eq!(user.role, Some(Role::Privileged));
    assert_eq!(user.groups.unwrap()[0].id, GroupId(1324));
    assert_eq!(server.only_request().line(), "GET /v1/users/27");
}

#[tokio::test]
async fn the_directory_holds_users_and_groups_with_their_members() {
    let all_users = users(3);
    let groups = vec![
        json!({"id": 1, "name": "Mathematicians", "default": false, "active": true, "memberCount": 2}),
        json!({"id": "2", "name": "Everyone", "default": true, "active": true, "memberCount": 3}),
    ];
    let big_group: Vec<_> = (0..700u64).map(|i| json!(5000 + i)).collect();
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/v1/users" => page(request, &all_users),
        "/v1/groups" => page(request, &groups),
        "/v1/groups/1/users" => page(request, &[json!(1000), json!(1001)]),
        "/v1/groups/2/users" => page(request, &big_group),
        other => panic!("unexpected {other}"),
    })
    .await;
    let client = server.client();
    let members: Vec<_> = client.list_group_members(GroupId(1)).try_collect().await.unwrap();
    assert_eq!(members, [UserId(1000), UserId(1001)]);

    let directory = client.directory().await.unwrap();
    assert_eq!(directory.users.len(), 3);
    assert_eq!(directory.groups.len(), 2);
    assert_eq!(directory.groups[0].name, "Mathematicians");
    assert_eq!(directory.groups[0].user_ids, [UserId(1000), UserId(1001)]);
    assert_eq!(directory.groups[1].id, GroupId(2));
    assert_eq!(directory.groups[1].user_ids.len(), 700);
    let json = serde_json::to_value(&directory).unwrap();
    assert_eq!(json["groups"][0]["userIds"], json!([1000, 1001]), "the directory file spells members `userIds`");
    let big_group_pages = server.requests().iter().filter(|r| r.path == "/v1/groups/2/users").count();
    assert_eq!(big_group_pages, 3, "700 members: pages of 500, 200, then an empty one");
}
