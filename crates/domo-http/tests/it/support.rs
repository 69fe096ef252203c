//! A small HTTP server on 127.0.0.1 that records requests and answers as a test says.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use domo_http::{Client, Credentials, RetryPolicy};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(crate) type ReplyBody = UnsyncBoxBody<Bytes, io::Error>;
type RawHandler = dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<ReplyBody>> + Send>> + Send + Sync;

/// The token every test client sends unless a test says otherwise.
pub(crate) const TOKEN: &str = "test-token-3f1a";

/// One request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// `METHOD /path`.
    pub(crate) fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Asserts the headers every API call sends.
    pub(crate) fn assert_api_headers(&self, accept: &str) {
        assert_eq!(self.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()), "{}", self.line());
        assert_eq!(self.header("accept"), Some(accept), "{}", self.line());
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    delay: Option<Duration>,
}

impl Reply {
    pub(crate) fn json(status: u16, value: serde_json::Value) -> Self {
        Self::text(status, "application/json", value.to_string())
    }

    pub(crate) fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Bytes::new(), delay: None }
    }

    pub(crate) fn text(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
            delay: None,
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    fn into_response(self) -> Response<ReplyBody> {
        let mut response = Response::new(Full::new(self.body).map_err(|never| match never {}).boxed_unsync());
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap();
        for (name, value) in self.headers {
            response.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(&value).unwrap(),
            );
        }
        response
    }
}

/// A server on 127.0.0.1 with an ephemeral port, stopped when dropped.
pub(crate) struct TestServer {
    pub(crate) url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Answers each request with `handler`, after reading its whole body.
    pub(crate) async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let recorder = log.clone();
        let raw = move |request: Request<Incoming>| {
            let handler = handler.clone();
            let log = recorder.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let body = match body.collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(_) => return Reply::status(499).into_response(),
                };
                let query = parts
                    .uri
                    .query()
                    .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                    .unwrap_or_default();
                let recorded = Recorded {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query,
                    headers: parts.headers,
                    body,
                };
                log.lock().unwrap().push(recorded.clone());
                let reply = handler(&recorded);
                if let Some(delay) = reply.delay {
                    tokio::time::sleep(delay).await;
                }
                reply.into_response()
            }) as Pin<Box<dyn Future<Output = Response<ReplyBody>> + Send>>
        };
        Self::serve(Arc::new(raw), log).await
    }

    /// Hands each request to `handler` as it arrives, body unread.
    pub(crate) async fn start_raw<F, Fut>(handler: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<ReplyBody>> + Send + 'static,
    {
        let raw = move |request| Box::pin(handler(request)) as Pin<Box<dyn Future<Output = _> + Send>>;
        Self::serve(Arc::new(raw), Arc::default()).await
    }

    async fn serve(handler: Arc<RawHandler>, log: Arc<Mutex<Vec<Recorded>>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let handler = handler.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, log, task }
    }

    /// Every request received so far.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// The only request received.
    pub(crate) fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{:?}", requests.iter().map(Recorded::line).collect::<Vec<_>>());
        requests.into_iter().next().unwrap()
    }

    /// A client with a fixed token and quick retries.
    pub(crate) fn client(&self) -> Client {
        Client::builder(Credentials::token(TOKEN)).base_url(&self.url).retry(quick_retries()).build().unwrap()
    }
}

/// Retries with tiny delays, so tests stay fast.
pub(crate) fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// A DataSet as Domo returns it.
pub(crate) fn dataset_json(id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": name,
        "description": "Mathematician Guest List",
        "rows": 0,
        "columns": 2,
        "schema": {"columns": [{"type": "STRING", "name": "Friend"}, {"type": "STRING", "name": "Attending"}]},
        "owner": {"id": 27, "name": "Leonhard Euler"},
        "createdAt": "2016-02-12T22:06:54Z",
        "updatedAt": "2016-02-12T22:06:54.123Z",
        "pdpEnabled": false,
        "someFieldDomoAddedLater": {"x": 1}
    })
}
