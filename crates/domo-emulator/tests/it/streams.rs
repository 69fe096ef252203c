//! Streams: create, search, executions, parts (gzip, from 0 or 1), commit and abort.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Server, gzip, start};

async fn part(server: &Server, token: &str, path: &str, body: Vec<u8>, gzipped: bool) -> crate::support::Reply {
    let auth = format!("bearer {token}");
    let mut headers = vec![("authorization", auth.as_str()), ("content-type", "text/csv")];
    if gzipped {
        headers.push(("content-encoding", "gzip"));
    }
    server.call(Method::PUT, path, &headers, body).await
}

#[tokio::test]
async fn stream_upload_in_parts_commit_and_abort() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let create = json!({"dataSet": {"name": "Streamed", "schema": {"columns": [{"type": "STRING", "name": "k"}, {"type": "LONG", "name": "v"}]}}, "updateMethod": "APPEND"});
    let reply = server.json(Method::POST, &token, "/v1/streams", &create).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let stream = reply.json();
    let sid = stream["id"].as_u64().unwrap();
    let dataset = stream["dataSet"]["id"].as_str().unwrap().to_owned();
    assert_eq!(stream["updateMethod"], "APPEND");
    assert_eq!(server.get(&token, &format!("/v1/streams/{sid}")).await.json()["id"], sid);
    let found = server.get(&token, &format!("/v1/streams/search?q=dataSource.id:{dataset}")).await.json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    server.get(&token, "/v1/streams/search?q=name:x").await.assert_error(400, "Invalid `q`");

    // Parts from 0, as the Python SDK numbers them, one of them gzip.
    let reply = server.json(Method::POST, &token, &format!("/v1/streams/{sid}/executions"), &json!({})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let eid = reply.json()["id"].as_u64().unwrap();
    let exec = format!("/v1/streams/{sid}/executions/{eid}");
    assert_eq!(
        part(&server, &token, &format!("{exec}/part/1"), gzip(b"b,2\nc,3\n"), true).await.status,
        StatusCode::OK
    );
    assert_eq!(part(&server, &token, &format!("{exec}/part/0"), b"a,1\n".to_vec(), false).await.status, StatusCode::OK);
    part(&server, &token, &format!("{exec}/part/2"), b"d,x\n".to_vec(), false)
        .await
        .assert_error(400, "Unable to parse `x` as LONG");
    let reply =
        server.call(Method::PUT, &format!("{exec}/commit"), &[("authorization", &format!("bearer {token}"))], "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["currentState"], "SUCCESS");
    assert_eq!(server.export(&token, &dataset).await, "a,1\nb,2\nc,3\n");

    // Parts from 1 with a gap: the commit is refused and nothing changes; then abort.
    let eid =
        server.json(Method::POST, &token, &format!("/v1/streams/{sid}/executions"), &json!({})).await.json()["id"]
            .as_u64()
            .unwrap();
    let exec = format!("/v1/streams/{sid}/executions/{eid}");
    part(&server, &token, &format!("{exec}/part/1"), b"e,5\n".to_vec(), false).await;
    part(&server, &token, &format!("{exec}/part/3"), b"f,6\n".to_vec(), false).await;
    let auth = format!("bearer {token}");
    let reply = server.call(Method::PUT, &format!("{exec}/commit"), &[("authorization", &auth)], "").await;
    reply.assert_error(400, "Part 2 is missing");
    let reply = server.call(Method::PUT, &format!("{exec}/abort"), &[("authorization", &auth)], "").await;
    assert_eq!(reply.json()["currentState"], "ABORTED");
    part(&server, &token, &format!("{exec}/part/2"), b"g,7\n".to_vec(), false).await.assert_error(400, "not ACTIVE");
    assert_eq!(server.export(&token, &dataset).await, "a,1\nb,2\nc,3\n");

    // A new execution aborts the active one; APPEND adds to the rows.
    let first =
        server.json(Method::POST, &token, &format!("/v1/streams/{sid}/executions"), &json!({})).await.json()["id"]
            .as_u64()
            .unwrap();
    let second =
        server.json(Method::POST, &token, &format!("/v1/streams/{sid}/executions"), &json!({})).await.json()["id"]
            .as_u64()
            .unwrap();
    let old = server.get(&token, &format!("/v1/streams/{sid}/executions/{first}")).await.json();
    assert_eq!(old["currentState"], "ABORTED");
    let exec = format!("/v1/streams/{sid}/executions/{second}");
    part(&server, &token, &format!("{exec}/part/1"), b"h,8\n".to_vec(), false).await;
    server.call(Method::PUT, &format!("{exec}/commit"), &[("authorization", &auth)], "").await;
    assert_eq!(server.export(&token, &dataset).await, "a,1\nb,2\nc,3\nh,8\n");
    assert_eq!(server.get(&token, &format!("/v1/streams/{sid}/executions")).await.json().as_array().unwrap().len(), 4);

    server.get(&token, "/v1/streams/999").await.assert_error(404, "Stream not found");
    server.get(&token, &format!("/v1/streams/{sid}/executions/999")).await.assert_error(404, "Execution not found");
    assert_eq!(server.delete(&token, &format!("/v1/streams/{sid}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(server.export(&token, &dataset).await, "a,1\nb,2\nc,3\nh,8\n", "the DataSet stays");
}
