//! Errors a user sees: timeouts, cut-short bodies, HTML pages, Domo's error body, bad JSON, and secrets kept out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domo_http::{Client, Credentials, Error, RetryPolicy, ServiceBody};
use domo_model::DatasetId;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth::{SECRET, grant_client};
use crate::support::{Reply, TOKEN, TestServer, dataset_json, quick_retries};

fn once(server_url: &str) -> Client {
    Client::builder(Credentials::token(TOKEN)).base_url(server_url).retry(RetryPolicy::never()).build().unwrap()
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = TestServer::start(|_| Reply::json(200, dataset_json("x", "X")).after(Duration::from_secs(3))).await;
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(&server.url)
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy { max_attempts: 2, ..quick_retries() })
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(error.to_string(), "GET /v1/datasets/x timed out after 200ms");
    assert_eq!(server.requests().len(), 2, "a timed-out GET is tried again");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

/// A raw server whose first answer promises 500 bytes and sends 20.
async fn cut_short_server() -> (String, Arc<AtomicU32>) {
    let body = dataset_json("x", "X").to_string();
    raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"id\": \"x\", \"name\": ".to_owned(),
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()),
    )
    .await
}

/// A raw TCP server that answers its first connection with `first`, the
/// others with `then`, and closes each connection; it counts connections.
pub(crate) async fn raw_server(first: String, then: String) -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU32::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst);
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let reply = if n == 0 { &first } else { &then };
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, connections)
}

#[tokio::test]
async fn a_body_cut_short_is_a_connection_error_and_is_retried() {
    let (url, _) = cut_short_server().await;
    let error = once(&url).get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    assert_eq!(error.to_string(), "GET /v1/datasets/x: the response body was cut short");
    assert!(error.is_retryable());

    let (url, connections) = cut_short_server().await;
    let client = Client::builder(Credentials::token(TOKEN)).base_url(url).retry(quick_retries()).build().unwrap();
    assert_eq!(client.get_dataset(&DatasetId::from("x")).await.unwrap().name, "X");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_html_error_page_is_shown_as_text() {
    let page = "<!DOCTYPE html><html><head><title>Maintenance</title><style>h1 {color: red}</style></head>\
                <body><h1>Domo is down for maintenance</h1>\n<p>We'll be back soon.</p></body></html>";
    let server = TestServer::start(move |_| Reply::text(503, "text/html; charset=utf-8", page)).await;
    let error = once(&server.url).get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert!(error.is_retryable());
    assert!(error.error_body().is_none());
    assert_eq!(
        error.to_string(),
        "GET /v1/datasets/x: Domo answered 503 with `text/html; charset=utf-8`: an HTML page: \
         `Maintenance Domo is down for maintenance We'll be back soon.`"
    );
}

#[tokio::test]
async fn an_html_page_on_a_client_error_is_not_retried() {
    let server = TestServer::start(|_| Reply::text(404, "text/html", "<html><body>Not Found</body></html>")).await;
    let error = server.client().get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert!(
        matches!(&error, Error::Service { body, .. } if matches!(body.as_ref(), ServiceBody::Html(text) if text == "Not Found"))
    );
    assert!(!error.is_retryable());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn domo_error_bodies_are_parsed_and_other_bodies_excerpted() {
    let server = TestServer::start(|request| {
        if request.method == "PUT" {
            Reply::json(400, json!({
                "status": 400, "statusReason": "Bad Request", "path": "/v1/datasets/x/data",
                "message": "Invalid CSV provided during upload. msg=There are too many columns. Expected 2. Row 1, column 3.",
                "toe": "XYZ-123"
            }))
        } else {
            Reply::text(500, "text/plain", format!("internal   error\n{}", "x".repeat(400)))
        }
    })
    .await;
    let client = once(&server.url);
    let error = client
        .import_data(
            &DatasetId::from("x"),
            domo_model::UpdateMethod::Replace,
            domo_http::CsvSource::bytes("a,b,c\n"),
            &Default::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.error_body().unwrap().toe.as_deref(), Some("XYZ-123"));
    assert_eq!(
        error.to_string(),
        "PUT /v1/datasets/x/data: Domo answered 400: Bad Request: Invalid CSV provided during upload. \
         msg=There are too many columns. Expected 2. Row 1, column 3. (toe XYZ-123)"
    );
    let error = client.get_dataset(&DatasetId::from("x")).await.unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.starts_with("GET /v1/datasets/x: Domo answered 500 with `text/plain`: `internal error xxx"),
        "{shown}"
    );
    assert!(shown.ends_with("xx…`"), "a long body is cut to an excerpt: {shown}");
    assert!(shown.len() < 300);
}

/// Error bodies shaped as problem details or OAuth errors, not Domo's `message`, still say what went wrong.
#[tokio::test]
async fn error_bodies_without_a_message_show_their_title_and_detail() {
    let cases = [
        (json!({"status": 405, "title": "Method Not Allowed"}), "Domo answered 405: Method Not Allowed"),
        (
            json!({"status": 404, "title": "Not Found", "detail": "No DataSet `x`"}),
            "Domo answered 404: Not Found: No DataSet `x`",
        ),
        (
            json!({"status": 400, "statusReason": "Bad Request", "detail": "bad sql"}),
            "Domo answered 400: Bad Request: bad sql",
        ),
        (json!({"status": 403, "error": "Forbidden"}), "Domo answered 403: Forbidden"),
        (json!({"status": 409}), "Domo answered 409: no message"),
    ];
    for (body, expected) in cases {
        let status = body["status"].as_u64().unwrap() as u16;
        let reply = body.clone();
        let server = TestServer::start(move |_| Reply::json(status, reply.clone())).await;
        let error = once(&server.url).get_dataset(&DatasetId::from("x")).await.unwrap_err();
        assert_eq!(error.to_string(), format!("GET /v1/datasets/x: {expected}"), "{body}");
    }
}

#[tokio::test]
async fn a_success_body_that_does_not_decode_names_the_json_path() {
    let server = TestServer::start(|_| {
        Reply::json(200, json!([{"id": "a", "name": "A"}, {"id": "b", "name": "B", "owner": {"id": "not a number"}}]))
    })
    .await;
    use futures_util::TryStreamExt;
    let error = server.client().list_datasets(&Default::default()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(error.to_string(), "GET /v1/datasets: cannot decode the response body at `[1].owner.id`");
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("a user id"), "{cause}");
}

#[tokio::test]
async fn plain_http_is_refused_for_other_hosts() {
    let error = Client::new("http://api.domo.com", Credentials::token(TOKEN)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot build the client: base URL `http://api.domo.com`: plain http is allowed only for a loopback host; use https"
    );
    for ok in ["https://api.domo.com", "http://127.0.0.1:8080", "http://localhost:1/", "http://[::1]:9"] {
        Client::new(ok, Credentials::token(TOKEN)).unwrap();
    }
    assert!(Client::new("ftp://x", Credentials::token(TOKEN)).is_err());
    assert!(Client::new("not a url", Credentials::token(TOKEN)).is_err());
}

/// A `tracing` subscriber that keeps every event's text.
struct Capture(Arc<Mutex<String>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text<'a>(&'a mut String);
        impl tracing::field::Visit for Text<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        let mut text = self.0.lock().unwrap();
        event.record(&mut Text(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn secrets_never_show_in_debug_display_errors_or_logs() {
    let logs = Arc::new(Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Capture(logs.clone()));
    let issued = AtomicU32::new(0);
    let server = TestServer::start(move |request| {
        if request.path == "/oauth/token" {
            let n = issued.fetch_add(1, Ordering::SeqCst);
            return Reply::json(
                200,
                json!({"access_token": format!("{TOKEN}-{n}"), "token_type": "bearer", "expires_in": 3599}),
            );
        }
        match request.header("authorization") {
            // The first token is refused, then the service is busy, then it fails for good.
            Some(auth) if auth.ends_with("-0") => Reply::json(401, json!({"status": 401, "message": "expired"})),
            _ => Reply::json(503, json!({"status": 503, "message": "busy"})),
        }
    })
    .await;
    let client = grant_client(&server);
    let error = client.get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(503));

    let builder = Client::builder(Credentials::client_credentials("id", SECRET, [])).base_url(&server.url);
    let shown = [
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{:?}", Credentials::client_credentials("id", SECRET, [])),
        format!("{:?}", Credentials::token(TOKEN)),
        format!("{:?}", once(&server.url)),
        format!("{error}"),
        format!("{error:?}"),
        format!("{:?}", std::error::Error::source(&error)),
        logs.lock().unwrap().clone(),
    ];
    assert!(logs.lock().unwrap().contains("retrying"), "the test saw the logs: {}", logs.lock().unwrap());
    // The retry warning is a sentence a person reads: the request, the wait, the attempt, and what failed.
    let logged = logs.lock().unwrap().clone();
    assert!(
        logged.contains("retrying GET /v1/datasets/x in ") && logged.contains(" (attempt 2 of "),
        "the retry warning names the request and the attempt: {logged}"
    );
    assert!(logged.contains("): Domo answered 503: busy"), "and what failed: {logged}");
    for text in shown {
        assert!(!text.contains(SECRET), "the client secret leaked: {text}");
        assert!(!text.contains(TOKEN), "a token leaked: {text}");
        assert!(!text.contains("bXktY2xpZW50"), "the Basic credentials leaked: {text}");
    }
}

#[tokio::test]
async fn https_to_a_server_that_does_not_speak_tls_fails_once() {
    let server = TestServer::start(|_| Reply::status(204)).await;
    let url = server.url.replace("http://", "https://");
    let client = Client::builder(Credentials::token(TOKEN)).base_url(url).retry(quick_retries()).build().unwrap();
    let error = client.get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    assert_eq!(error.to_string(), "GET /v1/datasets/x: TLS handshake failed");
    assert!(!error.is_retryable(), "a TLS failure does not heal by itself");
}

#[tokio::test]
async fn a_tls_handshake_that_never_ends_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(url)
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let error = client.get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    held.abort();
}

#[tokio::test]
async fn a_connection_that_is_never_accepted_hits_the_connect_timeout() {
    // A listener on loopback whose accept queue is full: the kernel drops further
    // SYNs, so a new connection hangs in the handshake as it would to a dead host.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        // Each filler either completes (queued, never accepted) or hangs; either way the queue fills.
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr)).await
        {
            fillers.push(stream);
        }
    }
    let client = Client::builder(Credentials::token(TOKEN))
        .base_url(format!("http://{addr}"))
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(30))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.get_dataset(&DatasetId::from("x")).await.unwrap_err();
    assert_eq!(error.to_string(), "GET /v1/datasets/x timed out after 300ms", "the connect timeout fired");
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the connect timeout, not the request timeout: {:?}",
        started.elapsed()
    );
    drop((listener, fillers));
}
