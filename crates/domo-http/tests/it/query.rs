//! SQL queries.

use domo_model::DatasetId;
use serde_json::json;

use crate::support::{Reply, TestServer};

#[tokio::test]
async fn query_posts_sql_and_decodes_rows() {
    let server = TestServer::start(|_| {
        Reply::json(
            200,
            json!({
                "datasource": "abc", "columns": ["Friend", "Attending"],
                "metadata": [{"type": "STRING", "dataSourceId": "abc"}, {"type": "STRING", "dataSourceId": "abc"}],
                "rows": [["Alan Turing", "TRUE"]], "numRows": 1, "numColumns": 2, "fromcache": false
            }),
        )
    })
    .await;
    let result =
        server.client().query(&DatasetId::from("abc"), "SELECT * FROM table WHERE Attending = 'TRUE'").await.unwrap();
    assert_eq!(result.num_rows, 1);
    assert_eq!(result.rows[0][0], json!("Alan Turing"));
    let request = server.only_request();
    assert_eq!(request.line(), "POST /v1/datasets/query/execute/abc");
    request.assert_api_headers("application/json");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.json(), json!({"sql": "SELECT * FROM table WHERE Attending = 'TRUE'"}));
}

#[tokio::test]
async fn a_query_is_retried_because_it_changes_nothing() {
    let calls = std::sync::atomic::AtomicU32::new(0);
    let server = TestServer::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::status(503)
        } else {
            Reply::json(200, json!({"datasource": "abc", "columns": [], "rows": []}))
        }
    })
    .await;
    server.client().query(&DatasetId::from("abc"), "SELECT 1 FROM table").await.unwrap();
    assert_eq!(server.requests().len(), 2);
}
