//! PDP policies: create, get, list, update, delete, and every kind of invalid policy.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Server, start};

async fn dataset(server: &Server, token: &str) -> String {
    server.create_dataset(token, "Sales", &[("STRING", "Region"), ("LONG", "Amount"), ("DATE", "Day")]).await
}

fn west() -> Value {
    json!({"name": "West", "type": "user", "users": [27], "virtualUsers": [], "groups": [],
        "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS", "not": false}]})
}

#[tokio::test]
async fn create_get_list_update_delete() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let id = dataset(&server, &token).await;
    let base = format!("/v1/datasets/{id}/policies");
    let reply = server.json(Method::POST, &token, &base, &west()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let created = reply.json();
    let pid = created["id"].as_u64().unwrap();
    assert_eq!(created["filters"][0]["operator"], "EQUALS");
    assert_eq!(created["users"], json!([27]));

    let listed = server.get(&token, &base).await.json();
    let types: Vec<&str> = listed.as_array().unwrap().iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["open", "user"]);
    assert_eq!(server.get(&token, &format!("{base}/{pid}")).await.json(), created);
    let got = server.get(&token, &format!("/v1/datasets/{id}")).await.json();
    assert_eq!(got["policies"].as_array().unwrap().len(), 2);

    let reply = server
        .json(Method::PUT, &token, &format!("{base}/{pid}"), &json!({"name": "West and group", "groups": [5]}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let updated = reply.json();
    assert_eq!(updated["name"], "West and group");
    assert_eq!(updated["groups"], json!([5]));
    assert_eq!(updated["filters"], created["filters"], "fields left out keep their value");
    assert_eq!(updated["id"], pid);

    let reply = server.delete(&token, &format!("{base}/{pid}")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    server.get(&token, &format!("{base}/{pid}")).await.assert_error(404, "Policy not found");
    server.delete(&token, &format!("{base}/{pid}")).await.assert_error(404, "Policy not found");
    server.get(&token, &format!("{base}/abc")).await.assert_error(404, "Policy not found");
    server.get(&token, "/v1/datasets/nope/policies").await.assert_error(404, "DataSet not found");
    server
        .json(Method::POST, &token, "/v1/datasets/nope/policies", &west())
        .await
        .assert_error(404, "DataSet not found");
}

#[tokio::test]
async fn deleting_the_last_policy_turns_pdp_off() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let id = dataset(&server, &token).await;
    server.json(Method::PUT, &token, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await;
    let all_rows = server.get(&token, &format!("/v1/datasets/{id}/policies")).await.json()[0]["id"].as_u64().unwrap();
    assert_eq!(
        server.delete(&token, &format!("/v1/datasets/{id}/policies/{all_rows}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(server.get(&token, &format!("/v1/datasets/{id}")).await.json()["pdpEnabled"], false);
}

#[tokio::test]
async fn invalid_policies_get_400_and_change_nothing() {
    let server = start().await;
    let token = server.token("owner", "data").await;
    let id = dataset(&server, &token).await;
    let base = format!("/v1/datasets/{id}/policies");
    let filter = |column: &str, op: &str, values: Value| json!({"name": "p", "users": [27], "filters": [{"column": column, "values": values, "operator": op}]});
    let cases = [
        (filter("Regoin", "EQUALS", json!(["West"])), "Invalid policy: filter 1: column `Regoin` does not exist"),
        (filter("Region", "IN", json!(["West"])), "unknown operator `IN`"),
        (filter("Amount", "GREATER_THAN", json!(["ten"])), "value `ten` is not a valid LONG for column `Amount`"),
        (filter("Amount", "BETWEEN", json!(["1"])), "BETWEEN takes exactly two values, got 1"),
        (filter("Day", "LESS_THAN", json!(["2024-01-01", "2024-02-01"])), "LESS_THAN takes exactly one value"),
        (filter("Region", "EQUALS", json!(["x".repeat(260)])), "Domo allows fewer than 255"),
        (json!({"name": "p", "users": [999], "filters": []}), "Invalid policy: user 999 does not exist"),
        (json!({"name": "p", "groups": [77], "filters": []}), "Invalid policy: group 77 does not exist"),
        (json!({"users": [27]}), "missing field `name`"),
    ];
    for (body, message) in cases {
        server.json(Method::POST, &token, &base, &body).await.assert_error(400, message);
    }
    let pid = server.json(Method::POST, &token, &base, &west()).await.json()["id"].as_u64().unwrap();
    let reply = server.json(Method::PUT, &token, &format!("{base}/{pid}"), &json!({"users": [12345]})).await;
    reply.assert_error(400, "user 12345 does not exist");
    let reply = server
        .json(
            Method::PUT,
            &token,
            &format!("{base}/{pid}"),
            &json!({"filters": [{"column": "Nope", "values": ["a"], "operator": "EQUALS"}]}),
        )
        .await;
    reply.assert_error(400, "column `Nope` does not exist");
    let policies = server.get(&token, &base).await.json();
    assert_eq!(policies.as_array().unwrap().len(), 2, "only All Rows and West");
    assert_eq!(policies[1]["users"], json!([27]));
    // A schema change may not drop a column a policy filters on.
    let schema = json!({"schema": {"columns": [{"type": "LONG", "name": "Amount"}]}});
    server
        .json(Method::PUT, &token, &format!("/v1/datasets/{id}"), &schema)
        .await
        .assert_error(400, "column `Region` does not exist");
}
