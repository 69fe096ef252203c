//! Writes of the User and Group APIs over plain HTTP: who may make them, strict bodies, policies that
//! name a user or group, PDP following membership, and persistence across restarts.

use domo_model::{Directory, Role, User, UserId};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, OWNER, Server, WEST, builder, start, start_with};

/// `(method, path, body)` of every write, for the permission checks.
fn every_write() -> Vec<(Method, &'static str, Value)> {
    vec![
        (Method::POST, "/v1/users", json!({"name": "N", "email": "n@example.com", "role": "Participant"})),
        (Method::PUT, "/v1/users/29", json!({"title": "T"})),
        (Method::DELETE, "/v1/users/29", Value::Null),
        (Method::POST, "/v1/groups", json!({"name": "G"})),
        (Method::PUT, "/v1/groups/5", json!({"name": "G"})),
        (Method::DELETE, "/v1/groups/6", Value::Null),
        (Method::PUT, "/v1/groups/6/users/29", Value::Null),
        (Method::DELETE, "/v1/groups/5/users/27", Value::Null),
    ]
}

async fn send(server: &Server, token: &str, method: Method, path: &str, body: &Value) -> crate::support::Reply {
    if body.is_null() {
        let auth = format!("Bearer {token}");
        server.call(method, path, &[("authorization", auth.as_str())], "").await
    } else {
        server.json(method, token, path, body).await
    }
}

#[tokio::test]
async fn every_write_needs_the_directory_manage_grant() {
    let server = start().await;
    let owner = server.token("owner", "user").await;
    let before = server.get(&owner, "/v1/users").await.json();
    for (method, path, body) in every_write() {
        send(&server, &owner, method, path, &body).await.assert_error(
            403,
            &format!(
                "User {OWNER} may not manage users and groups: their role does not hold the `directory.manage` grant"
            ),
        );
    }
    assert_eq!(server.get(&owner, "/v1/users").await.json(), before, "a refused write changed nothing");
    // The `data` scope alone is not enough either.
    let data = server.token("admin", "data").await;
    send(&server, &data, Method::POST, "/v1/groups", &json!({"name": "G"})).await.assert_error(403, "user");
}

#[tokio::test]
async fn users_and_groups_are_created_changed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(builder().data_dir(dir.path())).await;
    let admin = server.token("admin", "user").await;

    let create = json!({"name": "Emmy Noether", "email": "noether@example.com", "role": "Participant", "employeeNumber": 7, "sendInvite": false});
    let reply = server.json(Method::POST, &admin, "/v1/users", &create).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let user = reply.json();
    let id = user["id"].as_u64().unwrap();
    assert!(id > 29, "a new id: {user}");
    assert_eq!((user["name"].as_str(), user["employeeNumber"].as_str()), (Some("Emmy Noether"), Some("7")));

    // pydomo's groups_create sends `active` as the text "true".
    let reply =
        server.json(Method::POST, &admin, "/v1/groups", &json!({"name": "Algebraists", "active": "true"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let group = reply.json();
    let gid = group["id"].as_u64().unwrap();
    assert_eq!((group["memberCount"].as_u64(), group["creatorId"].as_u64()), (Some(0), Some(ADMIN)));

    let add = send(&server, &admin, Method::PUT, &format!("/v1/groups/{gid}/users/{id}"), &Value::Null).await;
    assert_eq!(add.status, StatusCode::NO_CONTENT, "{}", add.text());
    assert_eq!(server.get(&admin, &format!("/v1/groups/{gid}/users")).await.json(), json!([id]));
    let again = send(&server, &admin, Method::PUT, &format!("/v1/groups/{gid}/users/{id}"), &Value::Null).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "adding twice changes nothing");
    assert_eq!(server.get(&admin, &format!("/v1/groups/{gid}/users")).await.json(), json!([id]));
    assert_eq!(
        server.get(&admin, &format!("/v1/users/{id}")).await.json()["groups"],
        json!([{"id": gid, "name": "Algebraists"}])
    );

    let reply = server.json(Method::PUT, &admin, &format!("/v1/users/{id}"), &json!({"title": "Professor"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        (reply.json()["title"].as_str(), reply.json()["email"].as_str()),
        (Some("Professor"), Some("noether@example.com"))
    );
    let reply = server
        .json(Method::PUT, &admin, &format!("/v1/groups/{gid}"), &json!({"name": "Ring theorists", "active": true}))
        .await;
    assert_eq!(reply.json()["name"], "Ring theorists", "{}", reply.text());

    // Kept across a restart without a directory.
    server.emulator.shutdown().await;
    let server = start_with(builder_without_directory().data_dir(dir.path())).await;
    let admin = server.token("admin", "user").await;
    assert_eq!(server.get(&admin, &format!("/v1/groups/{gid}")).await.json()["name"], "Ring theorists");
    assert_eq!(server.get(&admin, &format!("/v1/users/{id}")).await.json()["title"], "Professor");

    let remove = send(&server, &admin, Method::DELETE, &format!("/v1/groups/{gid}/users/{id}"), &Value::Null).await;
    assert_eq!(remove.status, StatusCode::NO_CONTENT);
    assert_eq!(server.get(&admin, &format!("/v1/groups/{gid}/users")).await.json(), json!([]));
    assert_eq!(server.delete(&admin, &format!("/v1/groups/{gid}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(server.delete(&admin, &format!("/v1/users/{id}")).await.status, StatusCode::NO_CONTENT);
    server.get(&admin, &format!("/v1/users/{id}")).await.assert_error(404, &format!("User not found: `{id}`"));
    server.get(&admin, &format!("/v1/groups/{gid}")).await.assert_error(404, "Group not found");
    server.emulator.shutdown().await;

    // A directory file seeds only the first start: after API changes it is refused, not applied.
    let err = builder().data_dir(dir.path()).start().await.unwrap_err();
    assert!(err.to_string().contains("changed through the API since the directory was seeded"), "{err}");
}

/// The support builder's clients, without its directory.
fn builder_without_directory() -> domo_emulator::EmulatorBuilder {
    let mut builder = domo_emulator::Emulator::builder();
    for (name, user) in [("owner", OWNER), ("admin", ADMIN), ("west", WEST)] {
        builder = builder.client(format!("{name}-app"), format!("{name}-secret"), UserId(user));
    }
    builder
}

#[tokio::test]
async fn bad_bodies_and_unknown_ids_are_refused_with_the_field_named() {
    let server = start().await;
    let admin = server.token("admin", "user").await;
    let cases = [
        (Method::POST, "/v1/users", json!({"name": "N", "email": "n@example.com"}), 400, "role"),
        (
            Method::POST,
            "/v1/users",
            json!({"name": "N", "email": "n@example.com", "role": "Participant", "nickname": "x"}),
            400,
            "nickname",
        ),
        (
            Method::POST,
            "/v1/users",
            json!({"name": " ", "email": "n@example.com", "role": "Participant"}),
            400,
            "`name` must not be empty",
        ),
        (Method::POST, "/v1/groups", json!({"title": "G"}), 400, "Invalid group: missing field `name`"),
        (Method::POST, "/v1/groups", json!({"name": "West team"}), 409, "A group named `West team` already exists"),
        (Method::PUT, "/v1/groups/5", json!({"active": false}), 400, "`active` must be true"),
        (Method::POST, "/v1/groups", json!({"name": "G", "active": "false"}), 400, "`active` must be true"),
        (
            Method::POST,
            "/v1/groups",
            json!({"name": "G", "active": "maybe"}),
            400,
            "Invalid group: `active`: invalid value: string \"maybe\"",
        ),
        (Method::PUT, "/v1/groups/999", json!({"name": "X"}), 404, "Group not found: `999`"),
        (Method::PUT, "/v1/users/999", json!({"name": "X"}), 404, "User not found: `999`"),
        (Method::PUT, "/v1/groups/5/users/999", Value::Null, 404, "User not found: `999`"),
        (Method::DELETE, "/v1/groups/999/users/27", Value::Null, 404, "Group not found: `999`"),
    ];
    for (method, path, body, status, message) in cases {
        send(&server, &admin, method, path, &body).await.assert_error(status, message);
    }
}

#[tokio::test]
async fn a_user_or_group_named_by_a_policy_cannot_be_deleted_and_membership_drives_pdp() {
    let server = start().await;
    let owner = server.token("owner", "data").await;
    let admin = server.token("admin", "user").await;
    let id = server.create_dataset(&owner, "Regions", &[("STRING", "Region")]).await;
    server.put_csv(&owner, &format!("/v1/datasets/{id}/data"), "West\nEast\n").await;
    let policy = json!({"name": "West team", "groups": [5], "users": [28], "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS"}]});
    let created = server.json(Method::POST, &owner, &format!("/v1/datasets/{id}/policies"), &policy).await.json();
    server.json(Method::PUT, &owner, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await;

    server.delete(&admin, "/v1/groups/5").await.assert_error(
        409,
        &format!("Group 5 `West team` is named by PDP policies `West team` (id {}) on DataSet `{id}`", created["id"]),
    );
    server
        .delete(&admin, "/v1/users/28")
        .await
        .assert_error(409, "User 28 `Eric East` is named by PDP policies `West team`");
    // The owner is named by the DataSet's All Rows policy.
    server.delete(&admin, &format!("/v1/users/{OWNER}")).await.assert_error(409, "is named by PDP policies `All Rows`");

    // Ned is in no policy and sees nothing; in group 5 he sees the West rows; removed again, nothing.
    let ned = server.token("ned", "data").await;
    assert_eq!(server.export(&ned, &id).await, "");
    send(&server, &admin, Method::PUT, "/v1/groups/5/users/29", &Value::Null).await;
    assert_eq!(server.export(&ned, &id).await, "West\n");
    send(&server, &admin, Method::DELETE, "/v1/groups/5/users/29", &Value::Null).await;
    assert_eq!(server.export(&ned, &id).await, "");
}

#[tokio::test]
async fn a_role_is_given_only_by_someone_who_holds_its_grants() {
    let mut directory: Directory = crate::support::directory();
    directory.users.push(User::new(UserId(40), "Pia Privileged", Role::Privileged));
    let server = start_with(builder().directory(directory).client("pia-app", "pia-secret", UserId(40))).await;
    let pia = server.token("pia", "user").await;
    let admin = json!({"name": "Sneaky", "email": "s@example.com", "role": "Admin"});
    server
        .json(Method::POST, &pia, "/v1/users", &admin)
        .await
        .assert_error(403, "may not give or take the role `Admin`");
    server.json(Method::PUT, &pia, "/v1/users/29", &json!({"role": "Admin"})).await.assert_error(403, "`Admin`");
    server.delete(&pia, &format!("/v1/users/{ADMIN}")).await.assert_error(403, "`Admin`");
    // Within her own grants she may.
    let participant = json!({"name": "Pat", "email": "p@example.com", "role": "Participant"});
    assert_eq!(server.json(Method::POST, &pia, "/v1/users", &participant).await.status, StatusCode::OK);
}
