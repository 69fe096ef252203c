//! Bodies a person writes are strict: an unknown or missing field is a 400 naming it,
//! never a default (a policy stored without filters grants every row).

use http::Method;
use serde_json::{Value, json};

use crate::support::{Server, start};

/// The owner's DataSet `{d}` with a policy `{p}` for user 27, and a stream `{s}`.
struct Fixture {
    dataset: String,
    policy: u64,
    stream: u64,
}

async fn fixture(server: &Server, token: &str) -> Fixture {
    let create = json!({"dataSet": {"name": "Sales", "schema": {"columns": [{"type": "STRING", "name": "Region"}]}}, "updateMethod": "APPEND"});
    let stream = server.json(Method::POST, token, "/v1/streams", &create).await.json();
    let dataset = stream["dataSet"]["id"].as_str().unwrap().to_owned();
    let west = json!({"name": "West", "users": [27], "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS"}]});
    let reply = server.json(Method::POST, token, &format!("/v1/datasets/{dataset}/policies"), &west).await;
    Fixture { policy: reply.json()["id"].as_u64().unwrap(), stream: stream["id"].as_u64().unwrap(), dataset }
}

/// Every DataSet with its policies, and every stream.
async fn state(server: &Server, token: &str) -> Value {
    let mut datasets = Vec::new();
    for summary in server.get(token, "/v1/datasets").await.json().as_array().unwrap() {
        let id = summary["id"].as_str().unwrap();
        datasets.push(server.get(token, &format!("/v1/datasets/{id}")).await.json());
    }
    json!({"datasets": datasets, "streams": server.get(token, "/v1/streams").await.json()})
}

/// Sends `body` to `path` (`{d}`, `{p}`, `{s}` filled from the fixture): 400 in
/// Domo's shape with `message` in it, and nothing changed.
async fn check(server: &Server, token: &str, f: &Fixture, method: Method, path: &str, body: Value, message: &str) {
    let fill = |text: &str| {
        text.replace("{d}", &f.dataset).replace("{p}", &f.policy.to_string()).replace("{s}", &f.stream.to_string())
    };
    let (path, body): (String, Value) = (fill(path), serde_json::from_str(&fill(&body.to_string())).unwrap());
    let before = state(server, token).await;
    server.json(method.clone(), token, &path, &body).await.assert_error(400, message);
    assert_eq!(state(server, token).await, before, "{method} {path} {body}: a refused body changed nothing");
}

#[tokio::test]
async fn unknown_and_missing_fields_are_400_naming_the_field() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let f = fixture(&server, &token).await;
    let columns = json!({"columns": [{"type": "STRING", "name": "a"}]});
    let filter = json!({"column": "Region", "values": ["West"], "operator": "EQUALS"});
    let new_dataset = json!({"name": "New", "schema": columns});
    let cases = [
        // Policy create.
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "users": [28], "filter": [filter]}),
            "Invalid policy: unknown field `filter`",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "users": [28]}),
            "Invalid policy: `filters` is required",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "type": "open", "users": [28], "filters": []}),
            "only `user` policies can be created through the API, not `open`",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "type": "system", "users": [28], "filters": []}),
            "not `system`",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "type": "superuser", "users": [28], "filters": []}),
            "not `superuser`",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "users": [28], "filters": [{"column": "Region", "values": ["x"], "operator": "EQUALS", "nott": true}]}),
            "unknown field `nott` in `filters[0]`",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!({"name": "p", "filters": [], "virtualUser": ["x"]}),
            "unknown field `virtualUser`",
        ),
        (
            Method::POST,
            "/v1/datasets/{d}/policies",
            json!([{"name": "p", "filters": []}]),
            "Invalid policy: the request body must be a JSON object",
        ),
        // Policy update: fields left out keep their value, unknown ones are refused.
        (Method::PUT, "/v1/datasets/{d}/policies/{p}", json!({"filter": []}), "Invalid policy: unknown field `filter`"),
        (
            Method::PUT,
            "/v1/datasets/{d}/policies/{p}",
            json!({"type": "open"}),
            "a policy's type cannot change (it is `user`, the request says `open`)",
        ),
        (Method::PUT, "/v1/datasets/{d}/policies/{p}", json!({"filters": null}), "`filters`: invalid type: null"),
        // DataSet create and update.
        (
            Method::POST,
            "/v1/datasets",
            json!({"name": "New", "schema": columns, "pdpEnabled": false}),
            "Invalid DataSet: unknown field `pdpEnabled`",
        ),
        (Method::POST, "/v1/datasets", json!({"name": "New"}), "Invalid DataSet: missing field `schema`"),
        (Method::POST, "/v1/datasets", json!({"schema": columns}), "Invalid DataSet: missing field `name`"),
        (
            Method::POST,
            "/v1/datasets",
            json!({"name": "New", "schema": {"columns": [{"type": "STRING", "name": "a", "nme": "b"}]}}),
            "unknown field `nme` in `schema.columns[0]`",
        ),
        (
            Method::POST,
            "/v1/datasets",
            json!({"name": "New", "schema": {"columns": [{"type": "STRING", "nme": "a"}]}}),
            "`schema.columns[0]`: missing field `name`",
        ),
        (
            Method::PUT,
            "/v1/datasets/{d}",
            json!({"pdp_enabled": false}),
            "Invalid DataSet update: unknown field `pdp_enabled`",
        ),
        (
            Method::PUT,
            "/v1/datasets/{d}",
            json!({"owner": {"id": 27, "role": "Admin"}}),
            "unknown field `role` in `owner`",
        ),
        (Method::PUT, "/v1/datasets/{d}", json!({"pdpEnabled": "no"}), "`pdpEnabled`: invalid type: string"),
        // Streams and the query.
        (
            Method::POST,
            "/v1/streams",
            json!({"dataSet": new_dataset, "updateMethod": "APPEND", "extra": 1}),
            "Invalid stream: unknown field `extra`",
        ),
        (Method::POST, "/v1/streams", json!({"dataSet": new_dataset}), "Invalid stream: missing field `updateMethod`"),
        (
            Method::POST,
            "/v1/streams",
            json!({"dataSet": {"name": "New", "schema": columns, "owner": 1}, "updateMethod": "APPEND"}),
            "unknown field `owner` in `dataSet`",
        ),
        // A stream cannot be pointed at an existing DataSet (someone else's): it always creates its own.
        (
            Method::POST,
            "/v1/streams",
            json!({"dataSet": {"id": "{d}", "name": "New", "schema": columns}, "updateMethod": "APPEND"}),
            "unknown field `id` in `dataSet`",
        ),
        (
            Method::PATCH,
            "/v1/streams/{s}",
            json!({"updateMetod": "REPLACE"}),
            "Invalid stream update: unknown field `updateMetod`",
        ),
        (
            Method::POST,
            "/v1/datasets/query/execute/{d}",
            json!({"sql": "SELECT 1", "limit": 1}),
            "Invalid query: unknown field `limit`",
        ),
    ];
    for (method, path, body, message) in cases {
        check(&server, &token, &f, method, path, body, message).await;
    }
}

#[tokio::test]
async fn an_explicit_empty_filter_list_is_still_allowed_and_put_keeps_omitted_fields() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let f = fixture(&server, &token).await;
    let base = format!("/v1/datasets/{}/policies", f.dataset);
    let reply =
        server.json(Method::POST, &token, &base, &json!({"name": "Everything", "users": [28], "filters": []})).await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.text());
    let reply = server.json(Method::PUT, &token, &format!("{base}/{}", f.policy), &json!({"name": "West only"})).await;
    assert_eq!(reply.status, http::StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["filters"][0]["values"], json!(["West"]), "filters left out keep their value");
    assert_eq!(reply.json()["type"], "user");
}
