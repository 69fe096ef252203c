//! DataSets: create, get, list (paging, sort, nameLike), update, delete, query, and bad requests.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{OWNER, start};

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn create_returns_201_with_all_rows_policy_and_pdp_off() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let body = json!({"name": "Sales", "description": "by region", "rows": 0,
        "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]}});
    let reply = server.json(Method::POST, &token, "/v1/datasets", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let created = reply.json();
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID");
    assert_eq!(created["columns"], 2);
    assert_eq!(created["rows"], 0);
    assert_eq!(created["pdpEnabled"], false);
    assert_eq!(created["owner"], json!({"id": OWNER, "name": "Olivia Owner"}));
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));
    let policies = created["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["type"], "open");
    assert_eq!(policies[0]["name"], "All Rows");
    assert_eq!(policies[0]["filters"], json!([]));

    let got = server.get(&token, &format!("/v1/datasets/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json(), created);
}

#[tokio::test]
async fn list_pages_by_50_sorts_and_filters_by_name() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    for i in 0..53 {
        server.create_dataset(&token, &format!("Set {i:02}"), &[("STRING", "a")]).await;
    }
    server.create_dataset(&token, "alpha report", &[("STRING", "a")]).await;
    let first = server.get(&token, "/v1/datasets").await.json();
    assert_eq!(first.as_array().unwrap().len(), 50);
    assert!(first[0].get("schema").is_none() && first[0].get("policies").is_none(), "list items are summaries");
    let clamped = server.get(&token, "/v1/datasets?limit=500").await.json();
    assert_eq!(clamped.as_array().unwrap().len(), 50);
    let last = server.get(&token, "/v1/datasets?limit=50&offset=50").await.json();
    assert_eq!(names(&last), ["Set 50", "Set 51", "Set 52", "alpha report"]);
    assert_eq!(server.get(&token, "/v1/datasets?offset=54").await.json(), json!([]), "paging ends at an empty page");

    let by_name = server.get(&token, "/v1/datasets?sort=name&limit=2").await.json();
    assert_eq!(names(&by_name), ["alpha report", "Set 00"]);
    let descending = server.get(&token, "/v1/datasets?sort=nameDescending&limit=2").await.json();
    assert_eq!(names(&descending), ["Set 52", "Set 51"]);
    let newest = server.get(&token, "/v1/datasets?sort=createdAt&limit=1").await.json();
    assert_eq!(names(&newest), ["alpha report"]);

    let like = server.get(&token, "/v1/datasets?nameLike=ALPHA").await.json();
    assert_eq!(names(&like), ["alpha report"]);
    let like = server.get(&token, "/v1/datasets?nameLike=set%205&sort=name").await.json();
    assert_eq!(names(&like), ["Set 50", "Set 51", "Set 52"]);

    server.get(&token, "/v1/datasets?sort=bogus").await.assert_error(400, "Invalid `sort`");
    server.get(&token, "/v1/datasets?limit=-1").await.assert_error(400, "`limit` must be a non-negative integer");
}

#[tokio::test]
async fn update_changes_only_given_fields() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Before", &[("STRING", "a")]).await;
    let path = format!("/v1/datasets/{id}");
    let reply = server.json(Method::PUT, &token, &path, &json!({"description": "now described"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["name"], "Before");
    assert_eq!(reply.json()["description"], "now described");
    let reply = server
        .json(Method::PUT, &token, &path, &json!({"name": "After", "pdpEnabled": true, "owner": {"id": 27}}))
        .await;
    let updated = reply.json();
    assert_eq!((updated["name"].clone(), updated["pdpEnabled"].clone()), (json!("After"), json!(true)));
    assert_eq!(updated["owner"], json!({"id": 27, "name": "Wendy West"}));
    assert_eq!(updated["description"], "now described");
    let schema = json!({"schema": {"columns": [{"type": "STRING", "name": "a"}, {"type": "LONG", "name": "n"}]}});
    let reply = server.json(Method::PUT, &token, &path, &schema).await;
    reply.assert_error(403, "may not update DataSet");
    // The DataSet is now Wendy West's to manage.
    let token = server.token("west", "data").await;
    let reply = server.json(Method::PUT, &token, &path, &schema).await;
    assert_eq!(reply.json()["columns"], 2);

    server.json(Method::PUT, &token, &path, &json!({"owner": {"id": 999}})).await.assert_error(400, "user 999");
    server.json(Method::PUT, &token, &path, &json!({"name": ""})).await.assert_error(400, "needs a name");
    server.json(Method::PUT, &token, "/v1/datasets/nope", &json!({"name": "x"})).await.assert_error(404, "`nope`");
    assert_eq!(server.get(&token, &path).await.json()["name"], "After", "failed updates changed nothing");
}

#[tokio::test]
async fn schema_change_must_fit_the_rows_already_there() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Typed", &[("STRING", "name"), ("STRING", "n")]).await;
    assert_eq!(
        server.put_csv(&token, &format!("/v1/datasets/{id}/data"), "a,1\nb,x\n").await.status,
        StatusCode::NO_CONTENT
    );
    let long = json!({"schema": {"columns": [{"type": "STRING", "name": "name"}, {"type": "LONG", "name": "n"}]}});
    let reply = server.json(Method::PUT, &token, &format!("/v1/datasets/{id}"), &long).await;
    reply.assert_error(400, "Unable to parse `x` as LONG for column `n`. Row 2, column 2.");
    assert_eq!(
        server.get(&token, &format!("/v1/datasets/{id}")).await.json()["schema"]["columns"][1]["type"],
        "STRING"
    );
}

#[tokio::test]
async fn delete_answers_204_then_a_tombstone_and_404() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let id = server.create_dataset(&token, "Doomed", &[("STRING", "a")]).await;
    let path = format!("/v1/datasets/{id}");
    let reply = server.delete(&token, &path).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    // Domo documents a GET of a deleted DataSet as 200 with `deleted: true`.
    assert_eq!(server.get(&token, &path).await.json()["deleted"], true);
    server.delete(&token, &path).await.assert_error(404, "DataSet not found");
    server.get(&token, &format!("{path}/data")).await.assert_error(404, "DataSet not found");
}

#[tokio::test]
async fn bad_json_and_bad_schemas_get_400_and_create_nothing() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let reply = server.call(Method::POST, "/v1/datasets", &headers, "{\"name\": ").await;
    reply.assert_error(400, "Invalid JSON");
    let cases = [
        (json!({"name": "x"}), "missing field `schema`"),
        (json!({"name": "x", "schema": {"columns": []}}), "at least one column"),
        (json!({"name": "x", "schema": {"columns": [{"type": "TEXT", "name": "a"}]}}), "unknown column type `TEXT`"),
        (
            json!({"name": "x", "schema": {"columns": [{"type": "LONG", "name": "a"}, {"type": "LONG", "name": "a"}]}}),
            "`a` twice",
        ),
        (json!({"name": " ", "schema": {"columns": [{"type": "LONG", "name": "a"}]}}), "needs a name"),
    ];
    for (body, message) in cases {
        server.json(Method::POST, &token, "/v1/datasets", &body).await.assert_error(400, message);
    }
    assert_eq!(server.get(&token, "/v1/datasets").await.json(), json!([]));
}

#[tokio::test]
async fn unknown_endpoints_and_methods_answer_in_domo_shape() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    server.get(&token, "/v1/nothing-here").await.assert_error(404, "No such endpoint");
    server.delete(&token, "/v1/datasets").await.assert_error(405, "DELETE is not supported");
}

/// A deleted DataSet answers GET with 200, a subset of its fields and `deleted: true`, as Domo
/// documents; so does a stream that fed it. Everything else about it is gone (404).
#[tokio::test]
async fn a_deleted_dataset_and_its_stream_answer_get_with_deleted_true() {
    let server = crate::support::start().await;
    let owner = server.token("owner", "data").await;
    let create = serde_json::json!({"dataSet": {"name": "Gone", "description": "soon", "schema": {"columns": [{"type": "STRING", "name": "k"}]}}, "updateMethod": "APPEND"});
    let stream = server.json(http::Method::POST, &owner, "/v1/streams", &create).await.json();
    let (stream_id, id) = (stream["id"].as_u64().unwrap(), stream["dataSet"]["id"].as_str().unwrap().to_owned());
    server.put_csv(&owner, &format!("/v1/datasets/{id}/data"), "secret-row\n").await;
    assert_eq!(server.delete(&owner, &format!("/v1/datasets/{id}")).await.status, http::StatusCode::NO_CONTENT);

    let reply = server.get(&owner, &format!("/v1/datasets/{id}")).await;
    assert_eq!(reply.status, http::StatusCode::OK, "{}", reply.text());
    let gone = reply.json();
    assert_eq!(
        (gone["id"].as_str(), gone["name"].as_str(), gone["deleted"].as_bool()),
        (Some(id.as_str()), Some("Gone"), Some(true))
    );
    assert!(gone.get("schema").is_none() && gone.get("policies").is_none() && gone.get("rows").is_none(), "{gone}");
    let stream = server.get(&owner, &format!("/v1/streams/{stream_id}")).await.json();
    assert_eq!(
        (stream["deleted"].as_bool(), stream["dataSet"]["deleted"].as_bool()),
        (Some(true), Some(true)),
        "{stream}"
    );

    // Nothing else answers for it: no rows, no policies, no listing, no second delete.
    server.get(&owner, &format!("/v1/datasets/{id}/data")).await.assert_error(404, "DataSet not found");
    server.get(&owner, &format!("/v1/datasets/{id}/policies")).await.assert_error(404, "DataSet not found");
    server.delete(&owner, &format!("/v1/datasets/{id}")).await.assert_error(404, "DataSet not found");
    server.put_csv(&owner, &format!("/v1/datasets/{id}/data"), "x\n").await.assert_error(404, "DataSet not found");
    let listed = server.get(&owner, "/v1/datasets").await.json();
    assert!(!listed.to_string().contains(&id), "{listed}");
    server.get(&owner, "/v1/datasets/no-such-id").await.assert_error(404, "DataSet not found");
}
