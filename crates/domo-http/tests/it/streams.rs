//! Streams: create, get, search, executions, parts, commit, abort, and the parallel file upload.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domo_http::{Compression, PartUploadOptions, Progress};
use domo_model::{
    Column, ColumnType, DatasetCreate, DatasetId, ExecutionId, ExecutionState, Header, Schema, StreamCreate, StreamId,
    UpdateMethod,
};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::support::{Reply, ReplyBody, TestServer};

fn stream_json() -> serde_json::Value {
    json!({
        "id": 42,
        "dataSet": {"id": "ds-1", "name": "Big Sales", "rows": 0, "columns": 2},
        "updateMethod": "APPEND",
        "createdAt": "2016-02-12T22:06:54Z"
    })
}

fn execution_json(state: &str) -> serde_json::Value {
    json!({"id": 7, "currentState": state, "updateMethod": "APPEND"})
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn stream_and_execution_calls() {
    let server = TestServer::start(|request| match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/v1/streams") => Reply::json(201, stream_json()),
        ("GET", "/v1/streams/42") => Reply::json(200, stream_json()),
        ("GET", "/v1/streams/search") => Reply::json(200, json!([stream_json()])),
        ("POST", "/v1/streams/42/executions") => Reply::json(201, execution_json("ACTIVE")),
        ("GET", "/v1/streams/42/executions/7") => Reply::json(200, execution_json("ACTIVE")),
        ("PUT", "/v1/streams/42/executions/7/part/1") => Reply::json(200, execution_json("ACTIVE")),
        ("PUT", "/v1/streams/42/executions/7/part/2") => Reply::status(204),
        ("PUT", "/v1/streams/42/executions/7/commit") => Reply::json(200, execution_json("SUCCESS")),
        ("PUT", "/v1/streams/42/executions/7/abort") => Reply::status(200),
        (method, path) => panic!("unexpected {method} {path}"),
    })
    .await;
    let client = server.client();
    let create = StreamCreate {
        dataset: DatasetCreate {
            name: "Big Sales".to_owned(),
            description: None,
            rows: None,
            schema: Schema {
                columns: vec![Column::new(ColumnType::String, "Region"), Column::new(ColumnType::Long, "Amount")],
            },
        },
        update_method: UpdateMethod::Append,
    };
    let stream = client.create_stream(&create).await.unwrap();
    assert_eq!(stream.id, StreamId(42));
    assert_eq!(client.get_stream(StreamId(42)).await.unwrap().dataset.id, DatasetId::from("ds-1"));
    let found = client.find_streams_by_dataset(&DatasetId::from("ds-1")).await.unwrap();
    assert_eq!(found[0].id, StreamId(42));
    let execution = client.create_execution(StreamId(42)).await.unwrap();
    assert_eq!(execution.current_state, ExecutionState::Active);
    assert_eq!(client.get_execution(StreamId(42), ExecutionId(7)).await.unwrap().id, ExecutionId(7));
    client.upload_part(StreamId(42), ExecutionId(7), 1, "East,10\nWest,20\n", Compression::Gzip).await.unwrap();
    client.upload_part(StreamId(42), ExecutionId(7), 2, "North,30\n", Compression::None).await.unwrap();
    client.commit_execution(StreamId(42), ExecutionId(7)).await.unwrap();
    client.abort_execution(StreamId(42), ExecutionId(7)).await.unwrap();

    let requests = server.requests();
    for request in &requests {
        request.assert_api_headers("application/json");
    }
    assert_eq!(
        requests[0].json(),
        json!({"dataSet": {"name": "Big Sales", "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]}}, "updateMethod": "APPEND"})
    );
    assert_eq!(requests[2].query("q"), Some("dataSource.id:ds-1"));
    let part1 = &requests[5];
    assert_eq!(part1.header("content-type"), Some("text/csv"));
    assert_eq!(part1.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&part1.body), b"East,10\nWest,20\n");
    let part2 = &requests[6];
    assert_eq!(part2.header("content-encoding"), None);
    assert_eq!(part2.body, "North,30\n".as_bytes());
    assert_eq!(requests[7].line(), "PUT /v1/streams/42/executions/7/commit");
    assert_eq!(requests[8].line(), "PUT /v1/streams/42/executions/7/abort");
}

/// What the parts server saw.
#[derive(Default)]
struct Parts {
    received: BTreeMap<u32, Vec<u8>>,
    failed_once: bool,
    calls: Vec<String>,
}

/// A stream server that keeps parts, answers 503 to the first try of part 2,
/// and counts how many parts are in flight at once.
async fn parts_server(parts: Arc<Mutex<Parts>>, in_flight: Arc<AtomicUsize>, most: Arc<AtomicUsize>) -> TestServer {
    TestServer::start_raw(move |request| {
        let (parts, in_flight, most) = (parts.clone(), in_flight.clone(), most.clone());
        async move {
            let path = request.uri().path().to_owned();
            let line = format!("{} {path}", request.method());
            let gzipped = request.headers().get("content-encoding").is_some();
            let body = request.into_body().collect().await.unwrap().to_bytes();
            parts.lock().unwrap().calls.push(line);
            let reply = |status: u16, body: serde_json::Value| -> Response<ReplyBody> {
                let mut response =
                    Response::new(Full::new(body.to_string().into()).map_err(|never| match never {}).boxed_unsync());
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                response
            };
            if path == "/v1/streams/42/executions" {
                return reply(201, execution_json("ACTIVE"));
            }
            if let Some(number) = path.strip_prefix("/v1/streams/42/executions/7/part/") {
                let number: u32 = number.parse().unwrap();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let mut parts = parts.lock().unwrap();
                if number == 2 && !parts.failed_once {
                    parts.failed_once = true;
                    return reply(503, json!({"status": 503, "message": "try again"}));
                }
                let csv = if gzipped { gunzip(&body) } else { body.to_vec() };
                parts.received.insert(number, csv);
                return reply(200, execution_json("ACTIVE"));
            }
            reply(200, execution_json("SUCCESS"))
        }
    })
    .await
}

#[tokio::test]
async fn a_csv_file_uploads_as_parallel_parts_cut_at_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    let mut csv = String::from("Region,Amount,Note\n");
    for i in 0..20_000 {
        csv.push_str(&format!("Region {i},{i},\"a note\nspanning lines, with \"\"quotes\"\"\"\n"));
    }
    std::fs::write(&path, &csv).unwrap();
    let (parts, in_flight, most) = (Arc::default(), Arc::default(), Arc::default());
    let server = parts_server(Arc::clone(&parts), in_flight, Arc::clone(&most)).await;
    let reported = Arc::new(Mutex::new(Vec::new()));
    let sink = reported.clone();
    let options = PartUploadOptions {
        part_size: 100 * 1024,
        parallel: 4,
        header: Header::Include,
        progress: Some(Progress::new(move |t| sink.lock().unwrap().push(t.bytes))),
        ..PartUploadOptions::default()
    };
    let summary = server.client().upload_csv_file(StreamId(42), &path, &options).await.unwrap();

    let parts = parts.lock().unwrap();
    let numbers: Vec<u32> = parts.received.keys().copied().collect();
    assert!(numbers.len() >= 10, "{} parts", numbers.len());
    assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>(), "parts are numbered 1, 2, 3… without gaps");
    assert_eq!(summary.parts as usize, numbers.len());
    assert_eq!(summary.execution, ExecutionId(7));
    let rows = csv.split_once('\n').unwrap().1;
    let joined: Vec<u8> = parts.received.values().flatten().copied().collect();
    assert!(joined == rows.as_bytes(), "the parts put together are the file without its header");
    for part in parts.received.values() {
        assert!(part.len() <= 100 * 1024, "a part stays within part_size: {}", part.len());
        assert!(part.ends_with(b"\"\n"), "a part ends at a row boundary, not inside a quoted newline");
    }
    assert!(parts.failed_once, "part 2 failed once and was sent again");
    assert_eq!(summary.bytes, rows.len() as u64);
    assert!(most.load(Ordering::SeqCst) >= 2, "parts go in parallel");
    assert!(most.load(Ordering::SeqCst) <= 4, "at most `parallel` parts at once");
    assert_eq!(*reported.lock().unwrap().last().unwrap(), rows.len() as u64);
    assert_eq!(parts.calls.first().unwrap(), "POST /v1/streams/42/executions");
    assert_eq!(parts.calls.last().unwrap(), "PUT /v1/streams/42/executions/7/commit");
}

#[tokio::test]
async fn a_failed_upload_aborts_the_execution() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/v1/streams/42/executions" => Reply::json(201, execution_json("ACTIVE")),
        path if path.contains("/part/") => Reply::json(400, json!({"status": 400, "message": "Bad CSV"})),
        _ => Reply::json(200, execution_json("ABORTED")),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sales.csv");
    std::fs::write(&path, "East,10\n").unwrap();
    let error = server.client().upload_csv_file(StreamId(42), &path, &PartUploadOptions::default()).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    let lines: Vec<_> = server.requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "POST /v1/streams/42/executions",
            "PUT /v1/streams/42/executions/7/part/1",
            "PUT /v1/streams/42/executions/7/abort"
        ]
    );
}
