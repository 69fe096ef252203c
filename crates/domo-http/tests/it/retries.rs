//! Retries: which failures, which requests, how long to wait, how many times.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use domo_http::{Client, CreateRetry, Credentials, CsvSource, Error, ImportOptions, RetryPolicy};
use domo_model::{Column, ColumnType, DatasetCreate, DatasetId, Schema, UpdateMethod};
use serde_json::json;

use crate::support::{Reply, TOKEN, TestServer, dataset_json, quick_retries};

/// Answers `failures` in turn, then `success` for ever.
async fn failing_then(failures: Vec<Reply>, success: Reply) -> TestServer {
    let calls = AtomicU32::new(0);
    TestServer::start(move |_| {
        let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
        failures.get(n).cloned().unwrap_or_else(|| success.clone())
    })
    .await
}

fn busy(status: u16) -> Reply {
    Reply::json(status, json!({"status": status, "statusReason": "Busy", "message": "slow down"}))
}

fn party() -> DatasetCreate {
    DatasetCreate {
        name: "Party".to_owned(),
        description: None,
        rows: None,
        schema: Schema { columns: vec![Column::new(ColumnType::String, "Friend")] },
    }
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_503() {
    let server = failing_then(
        vec![busy(429).header("retry-after", "1"), busy(503).header("retry-after", "0")],
        Reply::json(200, dataset_json("x", "X")),
    )
    .await;
    let started = Instant::now();
    server.client().get_dataset(&DatasetId::from("x")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as Retry-After said: {:?}", started.elapsed());
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn bad_gateways_and_gateway_timeouts_are_retried() {
    let server = failing_then(vec![Reply::status(502), Reply::status(504)], Reply::status(204)).await;
    server.client().delete_dataset(&DatasetId::from("x")).await.unwrap();
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn an_html_maintenance_page_instead_of_json_is_retried() {
    let page = Reply::text(200, "text/html", "<html><body><h1>Domo is down for maintenance</h1></body></html>");
    let server = failing_then(vec![page], Reply::json(200, dataset_json("x", "X"))).await;
    server.client().get_dataset(&DatasetId::from("x")).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let server = TestServer::start(|_| busy(503)).await;
    let error = server.client().get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(server.requests().len(), 4, "max_attempts counts the first try");
    assert_eq!(error.status(), Some(503));
    assert!(error.is_retryable());
    assert_eq!(error.error_body().unwrap().message.as_deref(), Some("slow down"));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_ends_the_retries() {
    let server = TestServer::start(|_| busy(429).header("retry-after", "3600")).await;
    let started = Instant::now();
    let error = server.client().get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(server.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn errors_that_will_not_change_are_not_retried() {
    let server = TestServer::start(|_| Reply::json(404, json!({"status": 404, "message": "DataSet not found"}))).await;
    let error = server.client().get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert!(!error.is_retryable());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_create_is_not_repeated_unless_the_caller_opts_in() {
    let server = failing_then(vec![busy(503)], Reply::json(201, dataset_json("x", "Party"))).await;
    let error = server.client().create_dataset(&party()).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(server.requests().len(), 1, "a POST that creates is sent once");

    let server = failing_then(vec![busy(503)], Reply::json(201, dataset_json("x", "Party"))).await;
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(&server.url)
        .retry(RetryPolicy { creates: CreateRetry::OnFailure, ..quick_retries() })
        .build()
        .unwrap();
    client.create_dataset(&party()).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn an_append_is_not_repeated_unless_the_caller_opts_in() {
    // The 504 may come after Domo appended the rows: sending again would append them twice.
    let csv = "Alan Turing,TRUE\n";
    let server = failing_then(vec![busy(504)], Reply::status(204)).await;
    let append = |client: Client| async move {
        let source = CsvSource::bytes(csv.as_bytes().to_vec());
        client.import_data(&DatasetId::from("x"), UpdateMethod::Append, source, &ImportOptions::default()).await
    };
    let error = append(server.client()).await.unwrap_err();
    assert_eq!(error.status(), Some(504));
    assert_eq!(server.requests().len(), 1, "an APPEND is sent once");

    let server = failing_then(vec![busy(504)], Reply::status(204)).await;
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(&server.url)
        .retry(RetryPolicy { creates: CreateRetry::OnFailure, ..quick_retries() })
        .build()
        .unwrap();
    append(client).await.unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_one_shot_reader_is_not_retried_but_a_reopenable_source_is() {
    let csv = "Alan Turing,TRUE\n";
    let server = failing_then(vec![busy(503)], Reply::status(204)).await;
    let error = server
        .client()
        .import_data(
            &DatasetId::from("x"),
            UpdateMethod::Replace,
            CsvSource::reader(csv.as_bytes()),
            &ImportOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(server.requests().len(), 1);

    let server = failing_then(vec![busy(503), busy(503)], Reply::status(204)).await;
    let opened = Arc::new(AtomicU32::new(0));
    let count = opened.clone();
    let source = CsvSource::reopen(move || {
        count.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, std::io::Error>(csv.as_bytes()) }
    });
    server
        .client()
        .import_data(&DatasetId::from("x"), UpdateMethod::Replace, source, &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(opened.load(Ordering::SeqCst), 3, "reopened for each attempt");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.body == csv.as_bytes()), "each attempt sends the whole CSV");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guests.csv");
    std::fs::write(&path, csv).unwrap();
    let server = failing_then(vec![busy(503)], Reply::status(204)).await;
    server
        .client()
        .import_data(&DatasetId::from("x"), UpdateMethod::Replace, CsvSource::file(&path), &ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
    assert!(server.requests().iter().all(|r| r.body == csv.as_bytes()));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = Client::builder(Credentials::token(TOKEN)).base_url(url).retry(quick_retries()).build().unwrap();
    let error = client.create_dataset(&party()).await.unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(error.status(), None);
    assert_eq!(error.to_string(), "POST /v1/datasets: cannot connect");
    assert!(std::error::Error::source(&error).is_some(), "the cause is kept");
}
