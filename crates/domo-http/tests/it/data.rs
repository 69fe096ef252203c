//! Data import and export: bytes, files, readers, gzip, progress, and 10 MB streamed both ways.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use domo_http::{Client, Compression, Credentials, CsvSource, Direction, ImportOptions, Progress, Transferred};
use domo_model::{DatasetId, ExportOptions, Header, UpdateMethod};
use futures_util::StreamExt;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use tokio::sync::Notify;

use crate::support::{Reply, TOKEN, TestServer};

const ID: &str = "4405ff58-1957-45f0-82bd-914d989a3ea3";
const CSV: &str = "Pythagoras,FALSE\nAlan Turing,TRUE\nGottfried Leibniz,FALSE\n";
const TEN_MB: usize = 10 * 1024 * 1024;
/// How far ahead of the other side a streaming test lets a producer run.
const WINDOW: u64 = 1024 * 1024;

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// `csv` in 64 KiB chunks, each produced only once the other side has
/// `consumed` all but [`WINDOW`] bytes before it (`progressed` wakes the
/// producer): a side that held the whole body before passing it on would stall.
fn gated_chunks(
    csv: Arc<Vec<u8>>,
    consumed: Arc<AtomicU64>,
    progressed: Arc<Notify>,
) -> impl futures_util::Stream<Item = Bytes> + Send + 'static {
    futures_util::stream::unfold(0usize, move |offset| {
        let (csv, consumed, progressed) = (csv.clone(), consumed.clone(), progressed.clone());
        async move {
            if offset >= csv.len() {
                return None;
            }
            loop {
                let notified = progressed.notified();
                if consumed.load(Ordering::SeqCst) + WINDOW >= offset as u64 {
                    break;
                }
                notified.await;
            }
            let end = (offset + 64 * 1024).min(csv.len());
            Some((Bytes::copy_from_slice(&csv[offset..end]), end))
        }
    })
}

/// Deterministic CSV of `len` bytes: numbered rows.
fn big_csv(len: usize) -> Vec<u8> {
    let mut csv = Vec::with_capacity(len + 64);
    let mut row = 0u64;
    while csv.len() < len {
        csv.extend_from_slice(format!("row {row},{},\"quoted, text\"\n", row * 7919 % 100_003).as_bytes());
        row += 1;
    }
    csv.truncate(len);
    csv
}

fn recorder() -> (Progress, Arc<Mutex<Vec<Transferred>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    (Progress::new(move |t| sink.lock().unwrap().push(t)), reports)
}

#[tokio::test]
async fn import_from_bytes_puts_csv_with_the_update_method() {
    let server = TestServer::start(|_| Reply::status(204)).await;
    let client = server.client();
    let id = DatasetId::from(ID);
    client.import_data(&id, UpdateMethod::Replace, CsvSource::bytes(CSV), &ImportOptions::default()).await.unwrap();
    client.import_data(&id, UpdateMethod::Append, CsvSource::bytes(CSV), &ImportOptions::default()).await.unwrap();
    let requests = server.requests();
    for (request, method) in requests.iter().zip(["REPLACE", "APPEND"]) {
        assert_eq!(request.line(), format!("PUT /v1/datasets/{ID}/data"));
        request.assert_api_headers("application/json");
        assert_eq!(request.query("updateMethod"), Some(method));
        assert_eq!(request.header("content-type"), Some("text/csv"));
        assert_eq!(request.header("content-encoding"), None);
        assert_eq!(request.header("content-length"), Some(CSV.len().to_string().as_str()));
        assert_eq!(request.body, CSV.as_bytes());
    }
}

#[tokio::test]
async fn import_from_a_file_streams_it_gzipped_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let csv = big_csv(TEN_MB);
    std::fs::write(&path, &csv).unwrap();
    let server = TestServer::start(|_| Reply::status(204)).await;
    let (progress, reports) = recorder();
    let options = ImportOptions { compression: Compression::Gzip, progress: Some(progress) };
    server
        .client()
        .import_data(&DatasetId::from(ID), UpdateMethod::Replace, CsvSource::file(&path), &options)
        .await
        .unwrap();

    let request = server.only_request();
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert_eq!(request.header("content-type"), Some("text/csv"));
    assert!(request.body.len() < csv.len() / 2, "gzip shrinks repetitive CSV: {} bytes", request.body.len());
    assert!(gunzip(&request.body) == csv, "the file arrives byte for byte");
    let reports = reports.lock().unwrap();
    assert!(reports.len() > 10, "progress is reported as the file is read, not once");
    let last = reports.last().unwrap();
    assert_eq!((last.direction, last.bytes, last.total), (Direction::Sent, TEN_MB as u64, Some(TEN_MB as u64)));
    assert!(reports.windows(2).all(|w| w[0].bytes < w[1].bytes));
}

#[tokio::test]
async fn import_of_a_missing_file_names_it() {
    let server = TestServer::start(|_| Reply::status(204)).await;
    let error = server
        .client()
        .import_data(
            &DatasetId::from(ID),
            UpdateMethod::Replace,
            CsvSource::file("/no/such/guests.csv"),
            &ImportOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), format!("PUT /v1/datasets/{ID}/data: cannot open `/no/such/guests.csv`"));
    assert!(server.requests().is_empty());
}

/// 10 MB from a reader that may run at most [`WINDOW`] bytes ahead of what
/// the server has received: a client that read the whole body before sending
/// it would wait forever, and the test would time out instead of passing.
#[tokio::test]
async fn ten_megabytes_stream_from_a_reader_with_bounded_memory() {
    let csv = Arc::new(big_csv(TEN_MB));
    let received = Arc::new(AtomicU64::new(0));
    let arrived = Arc::new(Notify::new());
    let (server_received, server_arrived, expected) = (received.clone(), arrived.clone(), csv.clone());
    let server = TestServer::start_raw(move |request| {
        let (received, arrived, expected) = (server_received.clone(), server_arrived.clone(), expected.clone());
        async move {
            assert_eq!(request.headers()["content-type"], "text/csv");
            let mut body = request.into_body();
            let mut got = Vec::with_capacity(TEN_MB);
            let mut frames = 0;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    got.extend_from_slice(&data);
                    frames += 1;
                    received.store(got.len() as u64, Ordering::SeqCst);
                    arrived.notify_waiters();
                }
            }
            let status = if got == *expected && frames > 10 { StatusCode::NO_CONTENT } else { StatusCode::BAD_REQUEST };
            let mut response =
                Response::new(http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync());
            *response.status_mut() = status;
            response
        }
    })
    .await;

    let chunks = gated_chunks(csv, received, arrived).map(Ok::<_, std::io::Error>);
    let reader = tokio_util::io::StreamReader::new(chunks.boxed());
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(&server.url)
        .transfer_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let id = DatasetId::from(ID);
    let options = ImportOptions::default();
    let import = client.import_data(&id, UpdateMethod::Append, CsvSource::reader(reader), &options);
    // A client that read the whole reader before sending would wait here for ever.
    let finished = tokio::time::timeout(Duration::from_secs(30), import).await;
    finished.expect("the import stalled: the client reads ahead of what it sends").unwrap();
}

/// 10 MB exported to a writer; the server produces at most [`WINDOW`] bytes
/// more than the writer has taken, so a client that buffered the whole body
/// before writing would stall and time out.
#[tokio::test]
async fn ten_megabytes_stream_to_a_writer_with_bounded_memory() {
    let csv = Arc::new(big_csv(TEN_MB));
    let written = Arc::new(AtomicU64::new(0));
    let wrote = Arc::new(Notify::new());
    let (server_csv, server_written, server_wrote) = (csv.clone(), written.clone(), wrote.clone());
    let server = TestServer::start_raw(move |request| {
        let (csv, written, wrote) = (server_csv.clone(), server_written.clone(), server_wrote.clone());
        async move {
            assert_eq!(request.headers()["accept"], "text/csv");
            assert_eq!(request.uri().query(), Some("includeHeader=false"));
            let chunks =
                gated_chunks(csv, written, wrote).map(|chunk| Ok::<_, std::io::Error>(http_body::Frame::data(chunk)));
            let mut response = Response::new(StreamBody::new(chunks).boxed_unsync());
            response.headers_mut().insert("content-type", "text/csv".parse().unwrap());
            response.headers_mut().insert("content-length", TEN_MB.to_string().parse().unwrap());
            response
        }
    })
    .await;

    let mut writer = CountingWriter { bytes: Vec::with_capacity(TEN_MB), written: written.clone(), wrote };
    let (progress, reports) = recorder();
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(&server.url)
        .transfer_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let count = client
        .export_data(&DatasetId::from(ID), &ExportOptions::default(), &mut writer, Some(&progress))
        .await
        .unwrap();
    assert_eq!(count, TEN_MB as u64);
    assert!(writer.bytes == *csv, "the export arrives byte for byte");
    let last = *reports.lock().unwrap().last().unwrap();
    assert_eq!((last.direction, last.bytes, last.total), (Direction::Received, TEN_MB as u64, Some(TEN_MB as u64)));
}

/// A writer that keeps what it gets and tells the server how far it is.
struct CountingWriter {
    bytes: Vec<u8>,
    written: Arc<AtomicU64>,
    wrote: Arc<Notify>,
}

impl tokio::io::AsyncWrite for CountingWriter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.bytes.extend_from_slice(buf);
        self.written.store(self.bytes.len() as u64, Ordering::SeqCst);
        self.wrote.notify_waiters();
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn export_to_a_file_with_a_header_row() {
    let server = TestServer::start(|_| {
        Reply::text(200, "text/csv", "Friend,Attending\nAlan Turing,TRUE\n")
            .header("content-disposition", "attachment; filename=party.csv")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("party.csv");
    let options = ExportOptions { header: Header::Include, file_name: Some("party.csv".to_owned()) };
    let count = server.client().export_data_to_file(&DatasetId::from(ID), &options, &path, None).await.unwrap();
    assert_eq!(count, 34);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "Friend,Attending\nAlan Turing,TRUE\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
    let request = server.only_request();
    assert_eq!(request.line(), format!("GET /v1/datasets/{ID}/data"));
    request.assert_api_headers("text/csv");
    assert_eq!(request.query("includeHeader"), Some("true"));
    assert_eq!(request.query("fileName"), Some("party.csv"));
}

#[tokio::test]
async fn a_failed_export_leaves_no_file() {
    let server =
        TestServer::start(|_| Reply::json(404, serde_json::json!({"status": 404, "message": "Not found"}))).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("party.csv");
    let error = server
        .client()
        .export_data_to_file(&DatasetId::from(ID), &ExportOptions::default(), &path, None)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn an_export_to_a_file_cut_short_starts_again() {
    let full = "Alan Turing,TRUE\nGottfried Leibniz,FALSE\n";
    let (url, connections) = crate::errors::raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: 41\r\n\r\nAlan Turing,TRUE\nGott".to_owned(),
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{full}",
            full.len()
        ),
    )
    .await;
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(url)
        .retry(crate::support::quick_retries())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("party.csv");
    let count = client.export_data_to_file(&DatasetId::from(ID), &ExportOptions::default(), &path, None).await.unwrap();
    assert_eq!(count, full.len() as u64);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), full, "the second attempt replaced the partial first one");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_export_to_a_writer_cut_short_is_an_error() {
    // More than the first bytes the client checks before writing any.
    let arrived = format!("{}Gott", "Alan Turing,TRUE\n".repeat(40));
    let (url, connections) = crate::errors::raw_server(
        format!("HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: 2000\r\n\r\n{arrived}"),
        String::new(),
    )
    .await;
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(url)
        .retry(crate::support::quick_retries())
        .build()
        .unwrap();
    let mut out = Vec::new();
    let error = client.export_data(&DatasetId::from(ID), &ExportOptions::default(), &mut out, None).await.unwrap_err();
    assert_eq!(error.to_string(), format!("GET /v1/datasets/{ID}/data: the response body was cut short"));
    assert_eq!(out, arrived.as_bytes(), "what arrived was written; nothing is sent twice into a writer");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// An export that never ends: the server streams numbered rows (one with a quoted newline) for as long as it is
/// read, so only a client that stops at the rows it wants returns at all.
#[tokio::test]
async fn a_head_export_stops_after_the_rows_wanted() {
    let sent = Arc::new(AtomicU64::new(0));
    let counted = sent.clone();
    let server = TestServer::start_raw(move |request| {
        let sent = counted.clone();
        async move {
            let header = request.uri().query() == Some("includeHeader=true");
            let rows = futures_util::stream::iter(0u64..).map(move |row| {
                let mut chunk = String::new();
                if row == 0 && header {
                    chunk.push_str("Friend,Note\n");
                }
                chunk.push_str(&format!("friend {row},\"line one\nline two\"\n"));
                sent.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(chunk)))
            });
            let mut response = Response::new(StreamBody::new(rows).boxed_unsync());
            response.headers_mut().insert("content-type", "text/csv".parse().unwrap());
            response.headers_mut().insert("transfer-encoding", "chunked".parse().unwrap());
            response
        }
    })
    .await;
    let client = server.client();
    let id = DatasetId::from(ID);

    let mut out = Vec::new();
    let options = ExportOptions { header: Header::Include, file_name: None };
    let head = client.export_data_head(&id, &options, 3, &mut out, None).await.unwrap();
    let expected = "Friend,Note\nfriend 0,\"line one\nline two\"\nfriend 1,\"line one\nline two\"\n\
                    friend 2,\"line one\nline two\"\n";
    assert_eq!(String::from_utf8(out).unwrap(), expected);
    assert_eq!(head, domo_http::ExportedHead { bytes: expected.len() as u64, rows: 3, stopped: true });

    let mut out = Vec::new();
    let head = client.export_data_head(&id, &ExportOptions::default(), 1, &mut out, None).await.unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "friend 0,\"line one\nline two\"\n", "no header row asked for");
    assert_eq!((head.rows, head.stopped), (1, true));
    assert!(sent.load(Ordering::SeqCst) < 100_000, "the server stopped sending when the client stopped reading");
}

#[tokio::test]
async fn a_head_export_of_fewer_rows_than_wanted_is_all_of_it() {
    let server =
        TestServer::start(|_| Reply::text(200, "text/csv", "Friend,Attending\nAlan Turing,TRUE\nPythagoras,FALSE"))
            .await;
    let mut out = Vec::new();
    let options = ExportOptions { header: Header::Include, file_name: None };
    let head = server.client().export_data_head(&DatasetId::from(ID), &options, 10, &mut out, None).await.unwrap();
    assert_eq!(out, b"Friend,Attending\nAlan Turing,TRUE\nPythagoras,FALSE");
    assert_eq!(head, domo_http::ExportedHead { bytes: 50, rows: 2, stopped: false });

    let mut out = Vec::new();
    let head = server.client().export_data_head(&DatasetId::from(ID), &options, 0, &mut out, None).await.unwrap();
    assert_eq!(out, b"Friend,Attending\n", "zero rows: the header row alone");
    assert_eq!(head, domo_http::ExportedHead { bytes: 17, rows: 0, stopped: true });
}
