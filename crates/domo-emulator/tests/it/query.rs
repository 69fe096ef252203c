//! `POST /v1/datasets/query/execute/{id}` over plain HTTP: Domo's answer shape, PDP applied to the
//! rows queried, Domo-shaped 400s for bad SQL, and the row and time limits.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Server, start};

/// A DataSet of sales by region with PDP on: West's team (group 5) sees West's rows only.
async fn sales(server: &Server) -> String {
    let owner = server.token("owner", "data").await;
    let id = server
        .create_dataset(
            &owner,
            "Sales",
            &[("STRING", "Region"), ("LONG", "Amount"), ("DOUBLE", "Rate"), ("STRING", "Note")],
        )
        .await;
    let rows = "West,10,0.5,a\nWest,20,1.5,\nEast,300,2,\"\"\nEast,4000,,\"x,y\"\n";
    assert_eq!(server.put_csv(&owner, &format!("/v1/datasets/{id}/data"), rows).await.status, StatusCode::NO_CONTENT);
    let policy = json!({"name": "West", "groups": [5], "filters": [{"column": "Region", "values": ["West"], "operator": "EQUALS"}]});
    server.json(Method::POST, &owner, &format!("/v1/datasets/{id}/policies"), &policy).await;
    server.json(Method::PUT, &owner, &format!("/v1/datasets/{id}"), &json!({"pdpEnabled": true})).await;
    id
}

async fn query(server: &Server, client: &str, id: &str, sql: &str) -> crate::support::Reply {
    let token = server.token(client, "data").await;
    server.json(Method::POST, &token, &format!("/v1/datasets/query/execute/{id}"), &json!({"sql": sql})).await
}

#[tokio::test]
async fn the_same_sum_differs_by_who_asks() {
    let server = start().await;
    let id = sales(&server).await;
    let sql = "SELECT SUM(Amount) AS total, COUNT(*) FROM table";
    let sums: Vec<Value> = {
        let mut sums = Vec::new();
        for client in ["owner", "west", "ned"] {
            let reply = query(&server, client, &id, sql).await;
            assert_eq!(reply.status, StatusCode::OK, "{client}: {}", reply.text());
            sums.push(reply.json()["rows"][0].clone());
        }
        sums
    };
    // The owner sees every row, West's team only West's, Ned (in no policy) nothing.
    assert_eq!(sums, [json!([4330, 4]), json!([30, 2]), json!([null, 0])]);
}

#[tokio::test]
async fn the_answer_has_domos_shape_with_types_and_nulls() {
    let server = start().await;
    let id = sales(&server).await;
    let reply = query(
        &server,
        "owner",
        &id,
        "select Region, Amount, Rate, Note, Amount * 2 AS twice from TABLE order by Amount",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["datasource"], id.as_str());
    assert_eq!(answer["columns"], json!(["Region", "Amount", "Rate", "Note", "twice"]));
    let types: Vec<&str> = answer["metadata"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["STRING", "LONG", "DOUBLE", "STRING", "LONG"]);
    assert_eq!(answer["metadata"][0]["dataSourceId"], id.as_str());
    assert_eq!((answer["numRows"].as_u64(), answer["numColumns"].as_u64()), (Some(4), Some(5)));
    // An unquoted empty field is NULL, a quoted one the empty string.
    assert_eq!(answer["rows"][1], json!(["West", 20, 1.5, null, 40]));
    assert_eq!(answer["rows"][2], json!(["East", 300, 2.0, "", 600]));
    assert_eq!(answer["rows"][3], json!(["East", 4000, null, "x,y", 8000]));
    // domo-model decodes it.
    let decoded: domo_model::QueryResponse = serde_json::from_value(answer).unwrap();
    assert_eq!(decoded.num_rows, 4);
}

#[tokio::test]
async fn bad_sql_and_writes_are_refused_in_domos_shape() {
    let server = start().await;
    let id = sales(&server).await;
    let cases = [
        ("SELECT * FROM table WHERE", "Invalid SQL: incomplete input"),
        ("SELEC * FROM table", "Invalid SQL: only one SELECT"),
        ("SELECT nope FROM table", "Invalid SQL: no such column: nope"),
        ("DELETE FROM table", "only one SELECT"),
        ("ATTACH DATABASE '/tmp/x.db' AS x", "only one SELECT"),
        ("SELECT 1; DELETE FROM table", "Invalid SQL"),
        ("WITH x AS (SELECT 1) DELETE FROM table", "only one SELECT"),
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100001) SELECT x FROM c",
            "more than 100000 rows",
        ),
    ];
    for (sql, message) in cases {
        query(&server, "owner", &id, sql).await.assert_error(400, message);
    }
    let token = server.token("owner", "data").await;
    let path = format!("/v1/datasets/query/execute/{id}");
    server.json(Method::POST, &token, &path, &json!({"sql": "SELECT 1", "limit": 5})).await.assert_error(400, "limit");
    server
        .json(Method::POST, &token, "/v1/datasets/query/execute/nope", &json!({"sql": "SELECT 1"}))
        .await
        .assert_error(404, "DataSet not found");
    // Nothing was written: every row is still there.
    assert_eq!(query(&server, "owner", &id, "SELECT COUNT(*) FROM table").await.json()["rows"], json!([[4]]));
}

#[tokio::test]
async fn a_query_that_runs_too_long_is_stopped() {
    let server = start().await;
    let id = sales(&server).await;
    let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c";
    let started = std::time::Instant::now();
    query(&server, "owner", &id, forever).await.assert_error(400, "the query ran longer than 10 seconds");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
