//! Who may write: every write endpoint, called by those who may manage the DataSet
//! (owner, Admin, a role granted `dataset.manage.all`) and by those who may not.

use domo_model::{Grant, Role, RoleDefinition, User, UserId};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, OWNER, Reply, Server, builder, directory, start_with};

/// A user whose custom role is granted `dataset.manage.all` (client `analyst-app`).
const ANALYST: u64 = 40;
/// A user whose custom role the directory does not define (client `mystery-app`).
const MYSTERY: u64 = 41;

/// The usual test directory plus the two custom-role users, and a client for each.
async fn server() -> Server {
    let mut directory = directory();
    directory.users.push(User::new(UserId(ANALYST), "Ana Analyst", Role::from("Analyst")));
    directory.users.push(User::new(UserId(MYSTERY), "Myra Mystery", Role::from("Mystery")));
    directory.roles.push(RoleDefinition { name: "Analyst".into(), grants: vec![Grant::ManageAllDatasets] });
    let builder = builder().directory(directory).client("analyst-app", "analyst-secret", UserId(ANALYST)).client(
        "mystery-app",
        "mystery-secret",
        UserId(MYSTERY),
    );
    start_with(builder).await
}

/// What every case starts from, all of it the owner's: a stream and its
/// DataSet with three rows, PDP on, a policy giving user 27 the `West` rows,
/// and an active execution with part 1 uploaded.
struct Fixture {
    dataset: String,
    policy: u64,
    all_rows: u64,
    stream: u64,
    execution: u64,
}

async fn fixture(server: &Server) -> Fixture {
    let owner = server.token("owner", "data").await;
    let create = json!({"dataSet": {"name": "Sales", "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]}}, "updateMethod": "APPEND"});
    let stream = ok(server.json(Method::POST, &owner, "/v1/streams", &create).await).json();
    let (dataset, stream) = (stream["dataSet"]["id"].as_str().unwrap().to_owned(), stream["id"].as_u64().unwrap());
    ok(server.put_csv(&owner, &format!("/v1/datasets/{dataset}/data"), "West,10\nEast,20\nWest,30\n").await);
    let west = json!({"name": "West", "users": [27], "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS"}]});
    let policies = format!("/v1/datasets/{dataset}/policies");
    let policy = ok(server.json(Method::POST, &owner, &policies, &west).await).json()["id"].as_u64().unwrap();
    let all_rows = server.get(&owner, &policies).await.json()[0]["id"].as_u64().unwrap();
    ok(server.json(Method::PUT, &owner, &format!("/v1/datasets/{dataset}"), &json!({"pdpEnabled": true})).await);
    let started = format!("/v1/streams/{stream}/executions");
    let execution = ok(server.json(Method::POST, &owner, &started, &json!({})).await).json()["id"].as_u64().unwrap();
    ok(server.put_csv(&owner, &format!("{started}/{execution}/part/1"), "North,40\n").await);
    Fixture { dataset, policy, all_rows, stream, execution }
}

#[track_caller]
fn ok(reply: Reply) -> Reply {
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.text());
    reply
}

/// Everything a write could change, read back by the Admin.
async fn state(server: &Server, f: &Fixture) -> Value {
    let admin = server.token("admin", "data").await;
    let dataset = server.get(&admin, &format!("/v1/datasets/{}", f.dataset)).await;
    let rows = server.get(&admin, &format!("/v1/datasets/{}/data", f.dataset)).await;
    let stream = server.get(&admin, &format!("/v1/streams/{}", f.stream)).await;
    let executions = server.get(&admin, &format!("/v1/streams/{}/executions", f.stream)).await;
    json!({
        "dataset": [dataset.status.as_u16(), dataset.text()],
        "rows": rows.text(),
        "stream": [stream.status.as_u16(), stream.text()],
        "executions": executions.text(),
    })
}

/// One write endpoint: method, path and body, given the fixture and the caller's user id.
type Call = fn(&Fixture, u64) -> (Method, String, Body);

enum Body {
    Json(Value),
    Csv(&'static str),
    Empty,
}

/// Who calls, and whether they may.
#[derive(Clone, Copy, PartialEq, Debug)]
enum May {
    Yes,
    No,
}

/// Calls `call` as `client` (acting as `user`) on a fresh fixture: a caller
/// who may not gets Domo's 403 and nothing changes; one who may succeeds.
async fn check(name: &str, call: Call, client: &str, user: u64, may: May) {
    let server = server().await;
    let f = fixture(&server).await;
    let before = state(&server, &f).await;
    let token = server.token(client, "data").await;
    let (method, path, body) = call(&f, user);
    let reply = match body {
        Body::Json(body) => server.json(method, &token, &path, &body).await,
        Body::Csv(csv) => {
            let auth = format!("bearer {token}");
            server.call(method, &path, &[("authorization", &auth), ("content-type", "text/csv")], csv).await
        }
        Body::Empty => server.call(method, &path, &[("authorization", &format!("bearer {token}"))], "").await,
    };
    match may {
        May::No => {
            reply.assert_error(403, &format!("User {user} may not"));
            let message = reply.json()["message"].as_str().unwrap().to_owned();
            assert!(message.contains("dataset.manage.all"), "{name}: the 403 says who may: {message}");
            assert_eq!(reply.json()["statusReason"], "Forbidden", "{name}");
            assert_eq!(state(&server, &f).await, before, "{name} as {client}: a refused write changed nothing");
        }
        May::Yes => {
            assert!(reply.status.is_success(), "{name} as {client}: {} {}", reply.status, reply.text());
            assert_ne!(state(&server, &f).await, before, "{name} as {client}: the write happened");
        }
    }
}

/// Every write endpoint that touches the fixture's DataSet, one line each.
fn endpoints() -> Vec<(&'static str, Call)> {
    let calls: Vec<(&'static str, Call)> = vec![
        ("turn PDP off", |f: &Fixture, _| {
            (Method::PUT, format!("/v1/datasets/{}", f.dataset), Body::Json(json!({"pdpEnabled": false})))
        }),
        ("take ownership", |f, user| {
            (Method::PUT, format!("/v1/datasets/{}", f.dataset), Body::Json(json!({"owner": {"id": user}})))
        }),
        ("rename", |f, _| (Method::PUT, format!("/v1/datasets/{}", f.dataset), Body::Json(json!({"name": "Mine"})))),
        ("delete the DataSet", |f, _| (Method::DELETE, format!("/v1/datasets/{}", f.dataset), Body::Empty)),
        ("import REPLACE", |f, _| (Method::PUT, format!("/v1/datasets/{}/data", f.dataset), Body::Csv("Mine,1\n"))),
        ("import APPEND", |f, _| {
            (Method::PUT, format!("/v1/datasets/{}/data?updateMethod=APPEND", f.dataset), Body::Csv("Mine,1\n"))
        }),
        ("add a policy without filters", |f, user| {
            let body = json!({"name": "Mine", "users": [user], "filters": []});
            (Method::POST, format!("/v1/datasets/{}/policies", f.dataset), Body::Json(body))
        }),
        ("join a policy", |f, user| {
            let body = json!({"users": [27, user]});
            (Method::PUT, format!("/v1/datasets/{}/policies/{}", f.dataset, f.policy), Body::Json(body))
        }),
        ("delete a policy", |f, _| {
            (Method::DELETE, format!("/v1/datasets/{}/policies/{}", f.dataset, f.policy), Body::Empty)
        }),
        ("delete the All Rows policy", |f, _| {
            (Method::DELETE, format!("/v1/datasets/{}/policies/{}", f.dataset, f.all_rows), Body::Empty)
        }),
        ("change the stream", |f, _| {
            (Method::PATCH, format!("/v1/streams/{}", f.stream), Body::Json(json!({"updateMethod": "REPLACE"})))
        }),
        ("delete the stream", |f, _| (Method::DELETE, format!("/v1/streams/{}", f.stream), Body::Empty)),
        ("start an execution", |f, _| {
            (Method::POST, format!("/v1/streams/{}/executions", f.stream), Body::Json(json!({})))
        }),
        ("upload a part", |f, _| {
            (Method::PUT, format!("/v1/streams/{}/executions/{}/part/2", f.stream, f.execution), Body::Csv("Mine,1\n"))
        }),
        ("commit an execution", |f, _| {
            (Method::PUT, format!("/v1/streams/{}/executions/{}/commit", f.stream, f.execution), Body::Empty)
        }),
        ("abort an execution", |f, _| {
            (Method::PUT, format!("/v1/streams/{}/executions/{}/abort", f.stream, f.execution), Body::Empty)
        }),
        ("start an execution without a body (the Node SDK)", |f, _| {
            (Method::POST, format!("/v1/streams/{}/executions", f.stream), Body::Empty)
        }),
        ("abort the current execution (pydomo)", |f, _| {
            (Method::PUT, format!("/v1/streams/{}/executions/abort", f.stream), Body::Empty)
        }),
        ("start an execution through the path with a trailing slash", |f, _| {
            (
                Method::POST,
                format!("/v1/streams/{}/executions/", f.stream),
                Body::Json(json!({"updateMethod": "APPEND"})),
            )
        }),
    ];
    calls
}

#[tokio::test]
async fn a_participant_who_does_not_own_the_dataset_gets_403_on_every_write_and_nothing_changes() {
    for (name, call) in endpoints() {
        check(name, call, "west", 27, May::No).await;
    }
}

#[tokio::test]
async fn a_role_the_directory_does_not_define_holds_no_grant() {
    for (name, call) in endpoints() {
        check(name, call, "mystery", MYSTERY, May::No).await;
    }
}

#[tokio::test]
async fn the_owner_may_do_every_write() {
    for (name, call) in endpoints() {
        check(name, call, "owner", OWNER, May::Yes).await;
    }
}

#[tokio::test]
async fn an_admin_may_do_every_write() {
    for (name, call) in endpoints() {
        check(name, call, "admin", ADMIN, May::Yes).await;
    }
}

#[tokio::test]
async fn a_role_granted_dataset_manage_all_may_do_every_write() {
    for (name, call) in endpoints() {
        check(name, call, "analyst", ANALYST, May::Yes).await;
    }
}

#[tokio::test]
async fn the_manage_grant_also_shows_every_row_despite_pdp() {
    let server = server().await;
    let f = fixture(&server).await;
    for (client, rows) in [("analyst", "West,10\nEast,20\nWest,30\n"), ("mystery", ""), ("west", "West,10\nWest,30\n")]
    {
        let token = server.token(client, "data").await;
        assert_eq!(server.export(&token, &f.dataset).await, rows, "{client}");
    }
}

/// Creating a DataSet (or a stream, which creates one) needs `dataset.create`:
/// the built-in roles hold it, a role the directory defines holds only what it lists.
#[tokio::test]
async fn creating_needs_the_create_grant() {
    let server = server().await;
    let dataset = json!({"name": "New", "schema": {"columns": [{"type": "STRING", "name": "a"}]}});
    let stream = json!({"dataSet": dataset, "updateMethod": "REPLACE"});
    for (client, user, may) in [
        ("west", 27, May::Yes),
        ("admin", ADMIN, May::Yes),
        ("analyst", ANALYST, May::No),
        ("mystery", MYSTERY, May::No),
    ] {
        let token = server.token(client, "data").await;
        for (path, body) in [("/v1/datasets", &dataset), ("/v1/streams", &stream)] {
            let reply = server.json(Method::POST, &token, path, body).await;
            match may {
                May::Yes => assert_eq!(reply.status, StatusCode::CREATED, "{client} {path}: {}", reply.text()),
                May::No => reply.assert_error(403, &format!("User {user} may not create")),
            }
        }
    }
    let admin = server.token("admin", "data").await;
    let names = server.get(&admin, "/v1/datasets").await.json();
    assert_eq!(names.as_array().unwrap().len(), 4, "only the allowed creates left a DataSet: {names}");
}

#[tokio::test]
async fn ownership_goes_only_to_a_user_who_exists() {
    let server = server().await;
    let f = fixture(&server).await;
    let owner = server.token("owner", "data").await;
    let path = format!("/v1/datasets/{}", f.dataset);
    let before = state(&server, &f).await;
    let reply = server.json(Method::PUT, &owner, &path, &json!({"owner": {"id": 999}})).await;
    reply.assert_error(400, "user 999 does not exist");
    assert_eq!(state(&server, &f).await, before);
}

/// The story, with the example directory: user 31 (Ada Lovelace, a
/// Participant) tries to open user 1001's DataSet and sees only her rows throughout.
#[tokio::test]
async fn the_example_participant_cannot_open_the_owners_dataset() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/euler-party");
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
    let directory: domo_model::Directory =
        domo_model::read_user_file("directory.json", &read("directory.json")).unwrap();
    let dataset: Value = serde_json::from_str(&read("dataset.json")).unwrap();
    let policies: Vec<Value> = serde_json::from_str(&read("policies.json")).unwrap();
    let server = start_with(
        domo_emulator::Emulator::builder()
            .directory(directory)
            .client("euler-app", "euler-secret", UserId(1001))
            .client("ada-app", "ada-secret", UserId(31)),
    )
    .await;
    let owner = server.token("euler", "data").await;
    let ada = server.token("ada", "data").await;
    let create = json!({"name": dataset["name"], "schema": dataset["schema"]});
    let id =
        ok(server.json(Method::POST, &owner, "/v1/datasets", &create).await).json()["id"].as_str().unwrap().to_owned();
    let csv = read("data.csv");
    let rows = csv.split_once('\n').unwrap().1.to_owned();
    ok(server.put_csv(&owner, &format!("/v1/datasets/{id}/data"), rows.clone()).await);
    let base = format!("/v1/datasets/{id}/policies");
    let all_rows = server.get(&owner, &base).await.json()[0]["id"].as_u64().unwrap();
    for policy in policies.iter().filter(|p| p["type"] == "user") {
        let mut policy = policy.clone();
        policy.as_object_mut().unwrap().remove("id");
        ok(server.json(Method::POST, &owner, &base, &policy).await);
    }
    ok(server.json(Method::PUT, &owner, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await);
    let seen = server.export(&ada, &id).await;
    assert!(seen.lines().count() < rows.lines().count(), "PDP restricts Ada: {seen}");

    let attacks = [
        (Method::PUT, format!("/v1/datasets/{id}"), json!({"pdpEnabled": false})),
        (Method::POST, base.clone(), json!({"name": "Mine", "users": [31], "filters": []})),
        (Method::PUT, format!("{base}/{all_rows}"), json!({"users": [1001, 31]})),
        (Method::PUT, format!("/v1/datasets/{id}"), json!({"owner": {"id": 31}})),
    ];
    for (method, path, body) in attacks {
        server.json(method, &ada, &path, &body).await.assert_error(403, "User 31 may not");
    }
    server.put_csv(&ada, &format!("/v1/datasets/{id}/data"), "x\n").await.assert_error(403, "User 31 may not");
    server.delete(&ada, &format!("{base}/{all_rows}")).await.assert_error(403, "User 31 may not");
    server.delete(&ada, &format!("/v1/datasets/{id}")).await.assert_error(403, "User 31 may not");
    assert_eq!(server.export(&ada, &id).await, seen, "Ada still sees only her rows");
    assert_eq!(server.export(&owner, &id).await, rows, "the owner's rows are all there");
}
