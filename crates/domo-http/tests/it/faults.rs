//! A fault-injecting server on 127.0.0.1 (raw TCP, HTTP/1.1 by hand) and what the client makes of each fault:
//! a reset mid-upload, HTML on 200, huge and broken error bodies, a server that ignores paging, early answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use domo_http::{BodyRead, Client, Credentials, CsvSource, Error, ImportOptions, RetryPolicy, ServiceBody};
use domo_model::{DatasetId, ExportOptions, UpdateMethod};
use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{TOKEN, quick_retries};

const ID: &str = "4405ff58-1957-45f0-82bd-914d989a3ea3";
const MAINTENANCE: &str = "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\
                           <body><h1>We'll be back soon</h1></body></html>\n";

/// What the server does with each request.
#[derive(Debug, Clone)]
enum Fault {
    /// Reads the request head and `after` bytes of the body, then resets the connection.
    ResetMidUpload { after: usize },
    /// Answers 200 with an HTML page, labelled with `content_type`.
    Html200 { content_type: Option<&'static str> },
    /// Answers `status` with a `size`-byte body (`content-length` announced), written until the client stops reading.
    HugeBody { status: u16, size: u64 },
    /// Announces `announced` bytes of error body, sends `sent`, then closes.
    BrokenError { announced: usize, sent: usize },
    /// Answers every GET with the same JSON page, whatever its `offset`.
    SamePage { page: String },
    /// Answers every GET with `per_page` new users, for ever.
    EndlessUsers { per_page: u64 },
    /// Reads `after` bytes of the upload, answers 204 at once and closes, the rest unread.
    EarlyAnswer { after: usize },
    /// Answers 200 with CSV and neither a length nor chunked framing: the body ends when the connection closes.
    Unframed,
}

/// A server that misbehaves as its [`Fault`] says, counting requests and body bytes it wrote; stopped when dropped.
struct FaultServer {
    url: String,
    requests: Arc<AtomicU32>,
    written: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultServer {
    async fn start(fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (requests, written) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU64::new(0)));
        let (count, bytes) = (requests.clone(), written.clone());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (fault, count, bytes) = (fault.clone(), count.clone(), bytes.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, fault, count, bytes).await;
                });
            }
        });
        Self { url, requests, written, task }
    }

    /// A client that sends each request once.
    fn client(&self) -> Client {
        self.client_with(RetryPolicy::never())
    }

    fn client_with(&self, retry: RetryPolicy) -> Client {
        Client::builder(Credentials::token(TOKEN)).base_url(&self.url).retry(retry).build().unwrap()
    }

    fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// One connection: requests in turn until the fault ends it.
async fn serve(
    mut socket: TcpStream,
    fault: Fault,
    count: Arc<AtomicU32>,
    written: Arc<AtomicU64>,
) -> std::io::Result<()> {
    loop {
        let Some((line, body_len, mut leftover)) = read_head(&mut socket).await? else { return Ok(()) };
        let n = count.fetch_add(1, Ordering::SeqCst);
        match &fault {
            Fault::ResetMidUpload { after } | Fault::EarlyAnswer { after } => {
                while leftover.len() < *after {
                    let mut chunk = vec![0u8; 64 * 1024];
                    let read = socket.read(&mut chunk).await?;
                    if read == 0 {
                        break;
                    }
                    leftover.extend_from_slice(&chunk[..read]);
                }
                if matches!(fault, Fault::EarlyAnswer { .. }) {
                    socket.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await?;
                    socket.flush().await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                socket.set_zero_linger()?;
                return Ok(());
            }
            Fault::Html200 { content_type } => {
                skip_body(&mut socket, body_len, leftover.len()).await?;
                let header = content_type.map(|t| format!("content-type: {t}\r\n")).unwrap_or_default();
                let reply =
                    format!("HTTP/1.1 200 OK\r\n{header}content-length: {}\r\n\r\n{MAINTENANCE}", MAINTENANCE.len());
                socket.write_all(reply.as_bytes()).await?;
            }
            Fault::HugeBody { status, size } => {
                skip_body(&mut socket, body_len, leftover.len()).await?;
                let head =
                    format!("HTTP/1.1 {status} Oops\r\ncontent-type: text/plain\r\ncontent-length: {size}\r\n\r\n");
                socket.write_all(head.as_bytes()).await?;
                let chunk = b"internal error, very long story ".repeat(2048);
                let mut left = *size;
                while left > 0 {
                    let part = &chunk[..chunk.len().min(left as usize)];
                    socket.write_all(part).await?;
                    written.fetch_add(part.len() as u64, Ordering::SeqCst);
                    left -= part.len() as u64;
                }
            }
            Fault::BrokenError { announced, sent } => {
                skip_body(&mut socket, body_len, leftover.len()).await?;
                let head =
                    format!("HTTP/1.1 500 Oops\r\ncontent-type: text/plain\r\ncontent-length: {announced}\r\n\r\n");
                socket.write_all(head.as_bytes()).await?;
                socket.write_all(&b"x".repeat(*sent)).await?;
                socket.set_zero_linger()?;
                return Ok(());
            }
            Fault::Unframed => {
                skip_body(&mut socket, body_len, leftover.len()).await?;
                socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\nconnection: close\r\n\r\nAlan Turing,TRUE\n",
                    )
                    .await?;
                return socket.shutdown().await;
            }
            Fault::SamePage { page } => {
                skip_body(&mut socket, body_len, leftover.len()).await?;
                json_reply(&mut socket, page).await?;
            }
            Fault::EndlessUsers { per_page } => {
                let _ = line;
                let first = u64::from(n) * per_page;
                let users: Vec<_> = (first..first + per_page)
                    .map(|id| serde_json::json!({"id": id, "name": format!("User {id}"), "role": "Participant"}))
                    .collect();
                json_reply(&mut socket, &serde_json::Value::from(users).to_string()).await?;
            }
        }
    }
}

async fn json_reply(socket: &mut TcpStream, body: &str) -> std::io::Result<()> {
    let reply =
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    socket.write_all(reply.as_bytes()).await
}

/// Reads a request head: its first line, its `content-length`, and the body bytes read with it.
async fn read_head(socket: &mut TcpStream) -> std::io::Result<Option<(String, usize, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = socket.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let line = head.lines().next().unwrap_or_default().to_owned();
    let body_len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    Ok(Some((line, body_len, buf[end + 4..].to_vec())))
}

async fn skip_body(socket: &mut TcpStream, len: usize, already: usize) -> std::io::Result<()> {
    let mut left = len.saturating_sub(already);
    let mut chunk = vec![0u8; 64 * 1024];
    while left > 0 {
        let read = socket.read(&mut chunk[..left.min(64 * 1024)]).await?;
        if read == 0 {
            break;
        }
        left -= read;
    }
    Ok(())
}

/// A CSV file of about `len` bytes in a fresh temporary folder.
fn csv_file(len: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guests.csv");
    let row = "Alan Turing,TRUE\n";
    std::fs::write(&path, row.repeat(len / row.len() + 1)).unwrap();
    (dir, path)
}

#[tokio::test]
async fn a_reset_mid_upload_is_an_error_for_replace_and_append() {
    let (_dir, path) = csv_file(4 * 1024 * 1024);
    for (method, attempts) in [(UpdateMethod::Replace, 4), (UpdateMethod::Append, 1)] {
        let server = FaultServer::start(Fault::ResetMidUpload { after: 100_000 }).await;
        let client = server.client_with(quick_retries());
        let error = client
            .import_data(&DatasetId::from(ID), method, CsvSource::file(&path), &ImportOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Connection { .. }), "{method:?}: {error:?}");
        assert_eq!(error.to_string(), format!("PUT /v1/datasets/{ID}/data: the connection failed"), "{method:?}");
        assert_eq!(server.requests(), attempts, "{method:?}: a REPLACE is sent again, an APPEND never");
    }
}

#[tokio::test]
async fn an_answer_before_the_whole_upload_is_not_a_success() {
    // Larger than what loopback's socket buffers take in at once, which passes for sent.
    let (_dir, path) = csv_file(24 * 1024 * 1024);
    let server = FaultServer::start(Fault::EarlyAnswer { after: 100_000 }).await;
    let error = server
        .client()
        .import_data(&DatasetId::from(ID), UpdateMethod::Replace, CsvSource::file(&path), &ImportOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("PUT /v1/datasets/{ID}/data: Domo answered before the whole request body was sent")
    );

    // A stream part held in memory is sent in chunks for the same reason (larger than
    // what loopback's socket buffers take in at once, which pass for sent).
    let part = "Alan Turing,TRUE\n".repeat(1_500_000);
    let error = server
        .client()
        .upload_part(domo_model::StreamId(3), domo_model::ExecutionId(7), 1, part, domo_http::Compression::None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "PUT /v1/streams/3/executions/7/part/1: Domo answered before the whole request body was sent"
    );
}

/// Exports into memory and returns the error, checking that nothing reached the writer.
async fn export_error(server: &FaultServer) -> Error {
    let mut out = Vec::new();
    let error = server.client().export_data(&DatasetId::from(ID), &ExportOptions::default(), &mut out, None).await;
    assert!(out.is_empty(), "the page reached the writer: {:?}", String::from_utf8_lossy(&out));
    error.unwrap_err()
}

#[tokio::test]
async fn html_on_200_is_not_an_export() {
    let check = |content_type: Option<&'static str>, shown: &'static str| async move {
        let server = FaultServer::start(Fault::Html200 { content_type }).await;
        let error = export_error(&server).await;
        assert!(matches!(&error, Error::UnexpectedBody { expected: "CSV", status: 200, .. }), "{error:?}");
        assert!(error.is_retryable(), "a maintenance page may go away");
        assert_eq!(
            error.to_string(),
            format!(
                "GET /v1/datasets/{ID}/data: expected CSV, but Domo answered 200 with {shown}: \
                 an HTML page: `Down for maintenance We'll be back soon`"
            )
        );
    };
    check(Some("text/html; charset=utf-8"), "`text/html; charset=utf-8`").await;
    // A page that claims to be CSV, or says nothing, is recognised by its first bytes.
    check(Some("text/csv"), "`text/csv`").await;
    check(None, "no content type").await;
}

#[tokio::test]
async fn an_export_to_a_file_refused_leaves_the_old_file_alone() {
    let server = FaultServer::start(Fault::Html200 { content_type: Some("text/html") }).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    std::fs::write(&path, "old,rows\n").unwrap();
    let error = server.client().export_data_to_file(&DatasetId::from(ID), &ExportOptions::default(), &path, None).await;
    assert!(matches!(error, Err(Error::UnexpectedBody { .. })), "{error:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old,rows\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
}

#[tokio::test]
async fn html_on_200_is_not_an_acknowledgement() {
    let server = FaultServer::start(Fault::Html200 { content_type: None }).await;
    let error = server.client().delete_dataset(&DatasetId::from(ID)).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "DELETE /v1/datasets/{ID}: expected no content, but Domo answered 200 with no content type: \
             an HTML page: `Down for maintenance We'll be back soon`"
        )
    );
}

#[tokio::test]
async fn a_huge_error_body_is_cut_to_an_honest_excerpt() {
    let size = 50 * 1024 * 1024;
    let server = FaultServer::start(Fault::HugeBody { status: 500, size }).await;
    let error = server.client().get_dataset(&DatasetId::from(ID)).await.unwrap_err();
    let Error::Service { status: 500, body, read, .. } = &error else { panic!("{error:?}") };
    assert!(matches!(body.as_ref(), ServiceBody::Text(text) if text.starts_with("internal error, very long story")));
    assert_eq!(*read, BodyRead::Cut { read: 64 * 1024, total: Some(size) });
    let shown = error.to_string();
    assert!(shown.starts_with(&format!("GET /v1/datasets/{ID}: Domo answered 500 with `text/plain`: `internal error")));
    assert!(shown.ends_with("…` (from the first 65536 bytes of a 52428800-byte body)"), "{shown}");
    assert!(!shown.contains("empty"), "{shown}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = server.written.load(Ordering::SeqCst);
    assert!(written < size / 4, "the client stopped reading, it did not take the whole body: {written} bytes");
}

#[tokio::test]
async fn an_error_body_cut_short_is_not_called_empty() {
    let check = |sent: usize, expected: String| async move {
        let server = FaultServer::start(Fault::BrokenError { announced: 1000, sent }).await;
        let error = server.client().get_dataset(&DatasetId::from(ID)).await.unwrap_err();
        assert_eq!(error.status(), Some(500));
        assert_eq!(error.to_string(), format!("GET /v1/datasets/{ID}: Domo answered 500{expected}"));
    };
    check(0, ": no body (the connection failed before any of it arrived)".to_owned()).await;
    check(
        100,
        format!(" with `text/plain`: `{}` (the connection failed after 100 bytes of the body)", "x".repeat(100)),
    )
    .await;
}

#[tokio::test]
async fn a_server_that_ignores_offset_stops_the_list() {
    let page = serde_json::json!([{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]).to_string();
    let server = FaultServer::start(Fault::SamePage { page }).await;
    let error = server.client().list_datasets(&Default::default()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(error, Error::Paging { .. }), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "GET /v1/datasets: the page at offset 2 repeats DataSet `a`, listed on an earlier page: \
         the server ignores `offset` or the list changed while it was read"
    );
    assert_eq!(server.requests(), 2);

    let page = serde_json::json!([{"id": 31, "name": "Guest", "role": "Participant"}]).to_string();
    let server = FaultServer::start(Fault::SamePage { page }).await;
    let error = server.client().directory().await.unwrap_err();
    assert!(error.to_string().contains("the page at offset 1 repeats user `31`"), "{error}");
}

#[tokio::test]
async fn a_list_that_never_ends_stops_at_the_limit() {
    let server = FaultServer::start(Fault::EndlessUsers { per_page: 500 }).await;
    let client = Client::builder(Credentials::token(TOKEN)).base_url(&server.url).max_list_items(1200).build().unwrap();
    let error = client.list_users().try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(error.to_string(), "GET /v1/users: stopped past 1200 items (the most this client reads)");
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn an_export_whose_end_cannot_be_told_is_refused() {
    let server = FaultServer::start(Fault::Unframed).await;
    let mut out = Vec::new();
    let error = server
        .client_with(quick_retries())
        .export_data(&DatasetId::from(ID), &ExportOptions::default(), &mut out, None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "GET /v1/datasets/{ID}/data: the export has neither a length nor chunked framing, \
             so a cut could pass for the end"
        )
    );
    assert!(out.is_empty());
    assert!(!error.is_retryable());
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_success_whose_body_says_it_failed_is_an_error() {
    use crate::support::{Reply, TestServer};
    let server = TestServer::start(|request| match request.method.as_str() {
        "DELETE" => {
            Reply::json(200, serde_json::json!({"status": 500, "statusReason": "Oops", "message": "not deleted"}))
        }
        "POST" => Reply::json(201, serde_json::json!({"id": 7, "currentState": "ACTIVE"})),
        _ if request.path.ends_with("/commit") => {
            Reply::json(200, serde_json::json!({"id": 7, "currentState": "ERROR"}))
        }
        _ => Reply::status(204),
    })
    .await;
    let client = server.client();
    let error = client.delete_dataset(&DatasetId::from(ID)).await.unwrap_err();
    assert!(matches!(error, Error::UnexpectedBody { .. }), "{error:?}");
    assert_eq!(error.error_body().and_then(|b| b.message.as_deref()), Some("not deleted"));
    assert_eq!(
        error.to_string(),
        format!(
            "DELETE /v1/datasets/{ID}: expected no content, but Domo answered 200 with `application/json`: Oops: not deleted"
        )
    );

    let (_dir, path) = csv_file(1000);
    let error = client
        .upload_csv_file(domo_model::StreamId(3), &path, &domo_http::PartUploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "PUT /v1/streams/3/executions/7/commit: expected a committed execution, but Domo answered 200 with \
         `application/json`: `{\"currentState\":\"ERROR\",\"id\":7}`"
    );
}

#[tokio::test]
async fn a_server_that_echoes_the_request_never_puts_a_secret_in_an_error() {
    use crate::support::{Reply, TestServer};
    let echo = |request: &crate::support::Recorded| format!("you sent: {:?}", request.header("authorization"));
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/v1/datasets/html" => Reply::text(200, "text/html", format!("<html><body>{}</body></html>", echo(request))),
        "/oauth/token" => Reply::text(500, "text/plain", echo(request)),
        _ => Reply::json(500, serde_json::json!({"status": 500, "message": echo(request)})),
    })
    .await;
    let client =
        Client::builder(Credentials::token(TOKEN)).base_url(&server.url).retry(RetryPolicy::never()).build().unwrap();
    let errors = [
        client.get_dataset(&DatasetId::from("json")).await.unwrap_err(),
        client.delete_dataset(&DatasetId::from("html")).await.unwrap_err(),
        crate::auth::grant_client(&server).get_dataset(&DatasetId::from("x")).await.unwrap_err(),
    ];
    for error in errors {
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("you sent: Some("), "the echo is shown: {shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
        assert!(!shown.contains("bXktY2xpZW50"), "the Basic credentials leaked: {shown}");
    }
}

#[tokio::test]
async fn an_html_page_labelled_json_is_a_page_not_a_decoding_error() {
    use crate::support::{Reply, TestServer};
    let server = TestServer::start(|_| Reply::text(200, "application/json", MAINTENANCE)).await;
    let error = server.client().get_dataset(&DatasetId::from(ID)).await.unwrap_err();
    assert!(error.is_retryable(), "a maintenance page may go away");
    assert_eq!(server.requests().len(), 4, "and it is retried");
    assert_eq!(
        error.to_string(),
        format!(
            "GET /v1/datasets/{ID}: expected JSON, but Domo answered 200 with `application/json`: \
             an HTML page: `Down for maintenance We'll be back soon`"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_regular_file_is_sent_whole() {
    use crate::support::{Reply, TestServer};
    let server = TestServer::start(|_| Reply::status(204)).await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rows.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let csv = "Alan Turing,TRUE\n".repeat(1000);
    let writer = {
        let (fifo, csv) = (fifo.clone(), csv.clone());
        tokio::task::spawn_blocking(move || std::fs::write(fifo, csv))
    };
    let (client, id, options) = (server.client(), DatasetId::from(ID), ImportOptions::default());
    let import = client.import_data(&id, UpdateMethod::Replace, CsvSource::file(&fifo), &options);
    let result = tokio::time::timeout(Duration::from_secs(10), import).await.expect("the import finished");
    let written = tokio::time::timeout(Duration::from_secs(10), writer).await;
    eprintln!("{result:?} {written:?} {:?}", server.requests().iter().map(|r| r.body.len()).collect::<Vec<_>>());
    result.unwrap();
    assert_eq!(server.only_request().body, csv.as_bytes(), "every row reached the server");
}

#[tokio::test]
async fn a_file_that_grows_during_the_upload_is_an_error() {
    use crate::support::TestServer;
    // A server that waits before it reads, so that the file grows while most of it is still unsent.
    let server = TestServer::start_raw(|request: http::Request<hyper::body::Incoming>| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = http_body_util::BodyExt::collect(request.into_body()).await;
        http::Response::builder().status(204).body(crate::support::ReplyBody::default()).unwrap()
    })
    .await;
    let (_dir, path) = csv_file(24 * 1024 * 1024);
    let grow = {
        let path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut file = tokio::fs::OpenOptions::new().append(true).open(path).await.unwrap();
            file.write_all(b"Ada Lovelace,TRUE\n").await.unwrap();
        })
    };
    let error = server
        .client()
        .import_data(&DatasetId::from(ID), UpdateMethod::Replace, CsvSource::file(&path), &ImportOptions::default())
        .await
        .unwrap_err();
    grow.await.unwrap();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("PUT /v1/datasets/{ID}/data: cannot read the CSV source"));
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.starts_with("the file grew past the "), "{cause}");
}
