//! The calls the official SDKs make as they make them: trailing slashes, stream
//! search qualifiers, aborting the current execution, execution bodies, and
//! gzip parts without `Content-Encoding` (docs/emulator-compat.md).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Server, gzip, start};

/// `path` with a trailing slash answers exactly what `path` answers.
async fn check_slash(server: &Server, token: &str, path: &str) {
    let (query_at, query) = path.find('?').map_or((path.len(), ""), |at| (at, &path[at..]));
    let slashed = format!("{}/{query}", &path[..query_at]);
    let plain = server.get(token, path).await;
    let with_slash = server.get(token, &slashed).await;
    assert_eq!(plain.status, StatusCode::OK, "{path}: {}", plain.text());
    assert_eq!((with_slash.status, with_slash.json()), (plain.status, plain.json()), "{slashed} differs from {path}");
}

#[tokio::test]
async fn every_path_also_answers_with_a_trailing_slash() {
    let server = start().await;
    let user = server.token("owner", "user").await;
    let data = server.token("owner", "data").await;
    for path in ["/v1/users", "/v1/users?limit=2&offset=1", "/v1/users/27", "/v1/groups", "/v1/groups/6/users"] {
        check_slash(&server, &user, path).await;
    }
    let dataset = server.create_dataset(&data, "Slashed", &[("STRING", "k")]).await;
    for path in ["/v1/datasets", &format!("/v1/datasets/{dataset}"), &format!("/v1/datasets/{dataset}/policies")] {
        check_slash(&server, &data, path).await;
    }

    // Writes too: pydomo creates streams, users and groups with `POST /v1/…/`.
    let create = json!({"dataSet": {"name": "S", "schema": {"columns": [{"type": "STRING", "name": "k"}]}}, "updateMethod": "REPLACE"});
    let reply = server.json(Method::POST, &data, "/v1/streams/", &create).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    check_slash(&server, &data, "/v1/streams").await;

    // Unknown paths are still unknown.
    server.get(&data, "/v1/nothing/").await.assert_error(404, "No such endpoint: GET /v1/nothing");
    // Scopes are checked on the path as sent too.
    server.get(&data, "/v1/users/").await.assert_error(403, "user");
}

/// `q` finds these streams (by index of creation), in creation order.
async fn check_search(server: &Server, token: &str, q: &str, streams: &[u64], expected: &[usize]) {
    let reply = server.get(token, &format!("/v1/streams/search?q={q}&fields=all")).await;
    assert_eq!(reply.status, StatusCode::OK, "q={q}: {}", reply.text());
    let found: Vec<u64> = reply.json().as_array().unwrap().iter().map(|s| s["id"].as_u64().unwrap()).collect();
    let wanted: Vec<u64> = expected.iter().map(|&i| streams[i]).collect();
    assert_eq!(found, wanted, "q={q}");
}

async fn create_stream(server: &Server, token: &str, name: &str) -> (u64, String) {
    let create = json!({"dataSet": {"name": name, "schema": {"columns": [{"type": "STRING", "name": "k"}]}}, "updateMethod": "APPEND"});
    let stream = server.json(Method::POST, token, "/v1/streams", &create).await.json();
    (stream["id"].as_u64().unwrap(), stream["dataSet"]["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn streams_are_found_by_dataset_and_by_owner() {
    let server = start().await;
    let owner = server.token("owner", "data").await;
    let admin = server.token("admin", "data").await;
    let (a, a_dataset) = create_stream(&server, &owner, "A").await;
    let (b, _) = create_stream(&server, &owner, "B").await;
    let (c, _) = create_stream(&server, &admin, "C").await;
    let streams = [a, b, c];
    check_search(&server, &owner, &format!("dataSource.id:{a_dataset}"), &streams, &[0]).await;
    check_search(&server, &owner, "dataSource.id:no-such-dataset", &streams, &[]).await;
    check_search(&server, &owner, "dataSource.owner.id:1", &streams, &[0, 1]).await;
    check_search(&server, &owner, "dataSource.ownerId:1", &streams, &[0, 1]).await;
    check_search(&server, &owner, "dataSource.owner.id:2", &streams, &[2]).await;
    check_search(&server, &owner, &format!("dataSource.owner.id:1,dataSource.id:{a_dataset}"), &streams, &[0]).await;
    check_search(&server, &owner, &format!("dataSource.owner.id:2,dataSource.id:{a_dataset}"), &streams, &[]).await;
    for bad in ["name:A", "", "dataSource.owner.id:1,name:A"] {
        server
            .get(&owner, &format!("/v1/streams/search?q={bad}"))
            .await
            .assert_error(400, "Invalid `q`: expected `dataSource.id:{id}` or `dataSource.owner.id:{id}`");
    }
}

async fn execution(server: &Server, token: &str, stream: u64, id: u64) -> Value {
    server.get(token, &format!("/v1/streams/{stream}/executions/{id}")).await.json()
}

#[tokio::test]
async fn abort_without_an_execution_id_aborts_the_active_one_with_204() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let auth = format!("bearer {token}");
    let (stream, dataset) = create_stream(&server, &token, "Aborted").await;
    let abort = format!("/v1/streams/{stream}/executions/abort");

    // pydomo sends `{"updateMethod": null}`: the stream's method.
    let started = server
        .json(Method::POST, &token, &format!("/v1/streams/{stream}/executions"), &json!({"updateMethod": null}))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let id = started.json()["id"].as_u64().unwrap();
    assert_eq!(started.json()["updateMethod"], "APPEND");
    server.put_csv(&token, &format!("/v1/streams/{stream}/executions/{id}/part/1"), "x\n").await;
    let reply = server.call(Method::PUT, &abort, &[("authorization", &auth)], "").await;
    assert_eq!((reply.status, reply.text()), (StatusCode::NO_CONTENT, String::new()));
    assert_eq!(execution(&server, &token, stream, id).await["currentState"], "ABORTED");
    assert_eq!(server.export(&token, &dataset).await, "", "the aborted part never lands");

    // With nothing active it changes nothing and still answers 204.
    let reply = server.call(Method::PUT, &abort, &[("authorization", &auth)], "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    server
        .call(Method::PUT, "/v1/streams/999/executions/abort", &[("authorization", &auth)], "")
        .await
        .assert_error(404, "Stream not found: `999`");
}

#[tokio::test]
async fn an_execution_takes_its_update_method_from_the_body_or_the_stream() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let auth = format!("bearer {token}");
    let (stream, dataset) = create_stream(&server, &token, "Methods").await;
    let executions = format!("/v1/streams/{stream}/executions");
    let run = |body: Option<Value>, csv: &'static str| {
        let (server, token, auth, executions) = (&server, &token, &auth, &executions);
        async move {
            // The Node SDK sends no body and no Content-Type at all.
            let reply = match body {
                Some(body) => server.json(Method::POST, token, executions, &body).await,
                None => server.call(Method::POST, executions, &[("authorization", auth)], "").await,
            };
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            let id = reply.json()["id"].as_u64().unwrap();
            server.put_csv(token, &format!("{executions}/{id}/part/0"), csv).await;
            let done =
                server.call(Method::PUT, &format!("{executions}/{id}/commit"), &[("authorization", auth)], "").await;
            assert_eq!(done.json()["currentState"], "SUCCESS", "{}", done.text());
            done.json()["updateMethod"].clone()
        }
    };
    assert_eq!(run(None, "a\n").await, "APPEND");
    assert_eq!(run(Some(json!({"updateMethod": "APPEND"})), "b\n").await, "APPEND");
    assert_eq!(server.export(&token, &dataset).await, "a\nb\n");
    assert_eq!(run(Some(json!({"updateMethod": "REPLACE"})), "c\n").await, "REPLACE");
    assert_eq!(server.export(&token, &dataset).await, "c\n");

    // The body is read strictly, as every body a person writes.
    server.json(Method::POST, &token, &executions, &json!({"updateMethod": "MERGE"})).await.assert_error(400, "MERGE");
    server
        .json(Method::POST, &token, &executions, &json!({"updateMethd": "APPEND"}))
        .await
        .assert_error(400, "Invalid execution: unknown field `updateMethd`");
    server
        .json(Method::POST, &token, &executions, &json!(["APPEND"]))
        .await
        .assert_error(400, "Invalid execution: the request body must be a JSON object");
    server.call(Method::POST, &executions, &[("authorization", &auth)], "{").await.assert_error(400, "Invalid JSON");
}

#[tokio::test]
async fn a_gzip_part_is_recognised_without_content_encoding() {
    // The Node SDK's uploadCompressedPart sends `Content-Type: application/gzip` and no Content-Encoding.
    let server = start().await;
    let token = server.token("owner", "data").await;
    let auth = format!("bearer {token}");
    let (stream, dataset) = create_stream(&server, &token, "Zipped").await;
    let executions = format!("/v1/streams/{stream}/executions");
    let id =
        server.call(Method::POST, &executions, &[("authorization", &auth)], "").await.json()["id"].as_u64().unwrap();
    let headers = [("authorization", auth.as_str()), ("content-type", "application/gzip")];
    let reply = server.call(Method::PUT, &format!("{executions}/{id}/part/1"), &headers, gzip(b"zipped\n")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    server.call(Method::PUT, &format!("{executions}/{id}/commit"), &[("authorization", &auth)], "").await;
    assert_eq!(server.export(&token, &dataset).await, "zipped\n");
}

/// In the reference's minimal shapes, streams listed and searched carry only their DataSet's id and
/// `pdpEnabled`, a single stream still carries its DataSet's summary, and a digits-only
/// `employeeNumber` is a JSON number, as the reference's examples show them.
#[tokio::test]
async fn reference_minimal_shapes_answer_as_the_reference_examples() {
    let mut directory = crate::support::directory();
    for user in &mut directory.users {
        user.employee_number = Some("23532".to_owned());
    }
    let builder =
        crate::support::builder().directory(directory).response_shapes(domo_emulator::ResponseShapes::ReferenceMinimal);
    let server = crate::support::start_with(builder).await;
    let owner = server.token("owner", "data").await;
    let (stream, dataset) = create_stream(&server, &owner, "Minimal").await;
    let expected = json!({"id": dataset, "pdpEnabled": false});
    for path in ["/v1/streams".to_owned(), format!("/v1/streams/search?q=dataSource.id:{dataset}")] {
        let listed = server.get(&owner, &path).await.json();
        assert_eq!(listed[0]["dataSet"], expected, "{path}");
    }
    let one = server.get(&owner, &format!("/v1/streams/{stream}")).await.json();
    assert_eq!(one["dataSet"]["name"], "Minimal");

    let user = server.token("owner", "user").await;
    let users = server.get(&user, "/v1/users").await.json();
    assert_eq!(users[0]["employeeNumber"], 23532);
    let one = server.get(&user, "/v1/users/27").await.json();
    assert_eq!(one["employeeNumber"], 23532);
}
