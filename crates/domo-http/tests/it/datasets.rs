//! DataSet calls: create, get, update, delete, list with paging, find by name.

use domo_http::Error;
use domo_model::{Column, ColumnType, DatasetCreate, DatasetId, DatasetUpdate, ListDatasets, Schema, Sort, UserId};
use futures_util::TryStreamExt;
use serde_json::json;

use crate::support::{Reply, TestServer, dataset_json};

const ID: &str = "4405ff58-1957-45f0-82bd-914d989a3ea3";

fn party() -> DatasetCreate {
    DatasetCreate {
        name: "Leonhard Euler Party".to_owned(),
        description: Some("Mathematician Guest List".to_owned()),
        rows: Some(0),
        schema: Schema {
            columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::String, "Attending")],
        },
    }
}

#[tokio::test]
async fn create_posts_the_schema_and_decodes_the_dataset() {
    let server = TestServer::start(|_| Reply::json(201, dataset_json(ID, "Leonhard Euler Party"))).await;
    let dataset = server.client().create_dataset(&party()).await.unwrap();
    assert_eq!(dataset.id, DatasetId::from(ID));
    assert_eq!(dataset.owner.unwrap().id, UserId(27));
    assert_eq!(dataset.schema.columns[1].name, "Attending");
    let request = server.only_request();
    assert_eq!(request.line(), "POST /v1/datasets");
    request.assert_api_headers("application/json");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        json!({
            "name": "Leonhard Euler Party",
            "description": "Mathematician Guest List",
            "rows": 0,
            "schema": {"columns": [{"type": "STRING", "name": "Friend"}, {"type": "STRING", "name": "Attending"}]}
        })
    );
}

#[tokio::test]
async fn get_update_and_delete_use_the_id_in_the_path() {
    let server = TestServer::start(|request| match request.method.as_str() {
        "GET" => Reply::json(200, dataset_json(ID, "Party")),
        "PUT" => {
            let mut dataset = dataset_json(ID, "Party");
            dataset["pdpEnabled"] = json!(true);
            Reply::json(200, dataset)
        }
        _ => Reply::status(204),
    })
    .await;
    let client = server.client();
    let id = DatasetId::from(ID);
    assert_eq!(client.get_dataset(&id).await.unwrap().name, "Party");
    let update = DatasetUpdate { pdp_enabled: Some(true), ..DatasetUpdate::default() };
    assert!(client.update_dataset(&id, &update).await.unwrap().pdp_enabled);
    client.delete_dataset(&id).await.unwrap();

    let requests = server.requests();
    let lines: Vec<_> = requests.iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [format!("GET /v1/datasets/{ID}"), format!("PUT /v1/datasets/{ID}"), format!("DELETE /v1/datasets/{ID}")]
    );
    for request in &requests {
        request.assert_api_headers("application/json");
    }
    assert_eq!(requests[0].header("content-type"), None);
    assert_eq!(requests[1].json(), json!({"pdpEnabled": true}), "fields left out are not sent");
    assert_eq!(requests[1].header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_id_cannot_escape_its_path_segment() {
    let server = TestServer::start(|_| Reply::json(200, dataset_json(ID, "Party"))).await;
    let client = server.client();
    client.get_dataset(&DatasetId::from("a/../b c")).await.unwrap();
    assert_eq!(server.only_request().path, "/v1/datasets/a%2F..%2Fb%20c");
    let error = client.get_dataset(&DatasetId::from("..")).await.unwrap_err();
    assert!(matches!(error, Error::Build { .. }), "{error:?}");
    assert_eq!(error.to_string(), "cannot build GET /v1/datasets/..: the DataSet id `..` is not a valid id");
}

/// A server holding `count` DataSets that pages like Domo: `limit` (at most
/// 50) from `offset`, an empty page past the end.
fn paging_server(count: usize) -> impl Fn(&crate::support::Recorded) -> Reply + Send + Sync + 'static {
    move |request| {
        let limit: usize = request.query("limit").unwrap().parse().unwrap();
        let offset: usize = request.query("offset").unwrap().parse().unwrap();
        assert!(limit <= 50);
        let page: Vec<_> = (offset..count.min(offset + limit))
            .map(|i| {
                let mut item = dataset_json(&format!("id-{i}"), &format!("Sales {i}"));
                item.as_object_mut().unwrap().remove("schema");
                item
            })
            .collect();
        Reply::json(200, json!(page))
    }
}

#[tokio::test]
async fn list_pages_by_50_until_an_empty_page() {
    let server = TestServer::start(paging_server(120)).await;
    let query = ListDatasets {
        sort: Some(Sort::LastTouched),
        name_like: Some("sales q".to_owned()),
        ..ListDatasets::default()
    };
    let all: Vec<_> = server.client().list_datasets(&query).try_collect().await.unwrap();
    assert_eq!(all.len(), 120);
    assert_eq!(all[119].name, "Sales 119");
    let requests = server.requests();
    let offsets: Vec<_> = requests.iter().map(|r| r.query("offset").unwrap().to_owned()).collect();
    assert_eq!(offsets, ["0", "50", "100", "120"]);
    for request in &requests {
        assert_eq!(request.line(), "GET /v1/datasets");
        request.assert_api_headers("application/json");
        assert_eq!(request.query("limit"), Some("50"));
        assert_eq!(request.query("sort"), Some("lastTouched"));
        assert_eq!(request.query("nameLike"), Some("sales q"));
    }
}

#[tokio::test]
async fn list_honours_a_smaller_limit_and_a_start_offset() {
    let server = TestServer::start(paging_server(25)).await;
    let query = ListDatasets { limit: Some(10), offset: Some(5), ..ListDatasets::default() };
    let all: Vec<_> = server.client().list_datasets(&query).try_collect().await.unwrap();
    assert_eq!(all.len(), 20);
    assert_eq!(all[0].name, "Sales 5");
    let offsets: Vec<_> = server.requests().iter().map(|r| r.query("offset").unwrap().to_owned()).collect();
    assert_eq!(offsets, ["5", "15", "25"]);
}

#[tokio::test]
async fn find_by_name_keeps_exact_matches_only() {
    let server = TestServer::start(|request| {
        let page = if request.query("offset") == Some("0") {
            json!([
                {"id": "a", "name": "Leonhard Euler Party"},
                {"id": "b", "name": "Leonhard Euler Party (copy)"},
                {"id": "c", "name": "leonhard euler party"},
                {"id": "d", "name": "Leonhard Euler Party"}
            ])
        } else {
            json!([])
        };
        Reply::json(200, page)
    })
    .await;
    let found = server.client().find_datasets_by_name("Leonhard Euler Party").await.unwrap();
    let ids: Vec<_> = found.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["a", "d"]);
    assert_eq!(server.requests()[0].query("nameLike"), Some("Leonhard Euler Party"));
}
