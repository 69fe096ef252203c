//! The router, the shared state of a running emulator, and request helpers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use domo_model::{Owner, Timestamp, UserId};
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::auth::{self, Auth};
use crate::error::ApiError;
use crate::routes::{data, datasets, directory, directory_writes, policies, query, streams};
use crate::store::{State as Stored, Store};

/// How fully the emulator fills its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseShapes {
    /// Every field the emulator knows (the default).
    #[default]
    Full,
    /// Only what the published reference's examples show, typed as they show
    /// it: a stream listed or searched carries only its DataSet's `id` and
    /// `pdpEnabled`, and a user's digits-only `employeeNumber` is a JSON
    /// number. Clients tested against this mode decode what Domo documents,
    /// not what the emulator happens to add.
    ReferenceMinimal,
}

/// Resource limits of a running emulator.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Largest request body, and largest CSV after gunzip.
    pub(crate) max_body_bytes: u64,
    /// Longest a request body may take to arrive, from the end of the head.
    pub(crate) request_timeout: Duration,
    /// Most connections served at once; at the cap, the longest idle one is
    /// closed to admit a new one, and with none idle new ones wait.
    pub(crate) max_connections: usize,
    /// Longest a client may take to send a request head, from its first byte.
    pub(crate) header_read_timeout: Duration,
    /// Longest a keep-alive connection may wait for its next request.
    pub(crate) idle_timeout: Duration,
}

/// JSON bodies (DataSets, policies, streams) are small; they are read whole,
/// up to this size or the body limit, whichever is smaller.
const MAX_JSON_BYTES: u64 = 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) store: Arc<Store>,
    pub(crate) auth: Auth,
    pub(crate) limits: Limits,
    pub(crate) shapes: ResponseShapes,
    /// Held while row files are merged, so that merges do not pile up.
    pub(crate) compacting: tokio::sync::Mutex<()>,
}

impl App {
    pub(crate) fn max_json_bytes(&self) -> u64 {
        self.limits.max_body_bytes.min(MAX_JSON_BYTES)
    }
}

/// Every route of the API, each also under its path with a trailing slash
/// (`/v1/users/`), as Domo serves them and the official SDKs call some.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new().fallback_service(routes(app)).layer(axum::middleware::map_request(trim_trailing_slash))
}

fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/oauth/token", get(auth::token).post(auth::token))
        .route("/v1/datasets", get(datasets::list).post(datasets::create))
        .route("/v1/datasets/query/execute/{id}", post(query::execute))
        .route("/v1/datasets/{id}", get(datasets::get).put(datasets::update).delete(datasets::delete))
        .route("/v1/datasets/{id}/data", get(data::export).put(data::import))
        .route("/v1/datasets/{id}/policies", get(policies::list).post(policies::create))
        .route("/v1/datasets/{id}/policies/{policy}", get(policies::get).put(policies::update).delete(policies::delete))
        .route("/v1/users", get(directory::users).post(directory_writes::create_user))
        .route(
            "/v1/users/{id}",
            get(directory::user).put(directory_writes::update_user).delete(directory_writes::delete_user),
        )
        .route("/v1/groups", get(directory::groups).post(directory_writes::create_group))
        .route(
            "/v1/groups/{id}",
            get(directory::group).put(directory_writes::update_group).delete(directory_writes::delete_group),
        )
        .route("/v1/groups/{id}/users", get(directory::group_users))
        .route(
            "/v1/groups/{id}/users/{user}",
            put(directory_writes::add_member).delete(directory_writes::remove_member),
        )
        .route("/v1/streams", get(streams::list).post(streams::create))
        .route("/v1/streams/search", get(streams::search))
        .route("/v1/streams/{id}", get(streams::get).patch(streams::update).delete(streams::delete))
        .route("/v1/streams/{id}/executions", get(streams::executions).post(streams::start))
        .route("/v1/streams/{id}/executions/abort", put(streams::abort_current))
        .route("/v1/streams/{id}/executions/{execution}", get(streams::execution))
        .route("/v1/streams/{id}/executions/{execution}/part/{part}", put(streams::upload_part))
        .route("/v1/streams/{id}/executions/{execution}/commit", put(streams::commit))
        .route("/v1/streams/{id}/executions/{execution}/abort", put(streams::abort))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(Arc::clone(&app), auth::require_token))
        .layer(from_fn_with_state(Arc::clone(&app), time_limit))
        .layer(axum::middleware::from_fn(domo_shaped_errors))
        .with_state(app)
}

/// `/v1/users/` is routed as `/v1/users`; the root path stays as it is.
async fn trim_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() == path.len() || trimmed.is_empty() {
        return request;
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    // The trimmed path is a prefix of a valid path, so it parses; if it ever did not, the request is routed as sent.
    if let Ok(path_and_query) = path_and_query.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// The longest text of a foreign error reply (one axum wrote itself, such as a
/// path parameter that is not UTF-8) kept as the message of the Domo-shaped one.
const MAX_FOREIGN_ERROR_BYTES: usize = 1024;

/// Turns every error reply that is not already Domo's JSON (the rejections
/// axum writes itself as plain text) into Domo's error shape, keeping its
/// status, its text as the message, and the headers a client acts on.
async fn domo_shaped_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_FOREIGN_ERROR_BYTES)).await
    {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("Error").to_owned() } else { text };
    let mut fixed = ApiError::new(status, message).into_response();
    for name in [http::header::ALLOW, http::header::WWW_AUTHENTICATE, http::header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            fixed.headers_mut().insert(name, value.clone());
        }
    }
    fixed
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("No such endpoint: {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not supported on {}", request.method(), request.uri().path()),
    )
}

/// Paths are logged up to this length, so that a huge path cannot flood the log.
const MAX_LOGGED_PATH_CHARS: usize = 200;

/// Gives the request body a deadline (`request_timeout` from the end of the
/// head), and logs every request (never its query, headers or body) at
/// `info`. Only reading the body is timed, never the work that follows: a
/// write that has begun is answered with its real outcome, so that a 408
/// always means nothing changed.
async fn time_limit(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let limit = app.limits.request_timeout;
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request.map(|body| timed_body(body, limit))).await;
    let ms = started.elapsed().as_millis();
    let path: String = path.chars().take(MAX_LOGGED_PATH_CHARS).collect();
    tracing::info!(target: "domo_emulator::requests", "{method} {path} {} {ms} ms", response.status().as_u16());
    response
}

/// The request body took longer than `request_timeout` to arrive.
#[derive(Debug, thiserror::Error)]
#[error("the request body took longer than {} s to arrive", .0.as_secs_f64())]
struct BodyTimedOut(Duration);

/// `body`, failing with [`BodyTimedOut`] once `limit` has passed.
fn timed_body(body: Body, limit: Duration) -> Body {
    use futures_util::StreamExt as _;
    let mut data = body.into_data_stream();
    let mut deadline = Box::pin(tokio::time::sleep(limit));
    let mut timed_out = false;
    Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        if timed_out {
            return std::task::Poll::Ready(None);
        }
        if deadline.as_mut().poll(cx).is_ready() {
            timed_out = true;
            return std::task::Poll::Ready(Some(Err(axum::BoxError::from(BodyTimedOut(limit)))));
        }
        data.poll_next_unpin(cx).map(|item| item.map(|chunk| chunk.map_err(axum::BoxError::from)))
    }))
}

/// The reply to a request body that could not be read: 408 when it came too
/// slowly, 413 past `limit`, else 400.
pub(crate) fn body_error(err: &axum::Error, limit: u64) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(timed_out) = current.downcast_ref::<BodyTimedOut>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "The request took longer than this emulator allows ({} s) to send its body",
                    timed_out.0.as_secs_f64()
                ),
            );
        }
        if current.is::<http_body_util::LengthLimitError>() {
            return ApiError::too_large(limit);
        }
        cause = current.source();
    }
    ApiError::bad_request(format!("The request body could not be read: {err}"))
}

/// Reads a JSON body whole (it is small) and parses it, answering 400 with
/// serde's message and position for bad JSON and 413 for a large body.
pub(crate) async fn read_json<T: DeserializeOwned>(app: &App, body: Body) -> Result<T, ApiError> {
    parse_json(&read_body(app, body).await?)
}

async fn read_body(app: &App, body: Body) -> Result<bytes::Bytes, ApiError> {
    let limit = app.max_json_bytes();
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|err| body_error(&err, limit))?;
    Ok(bytes)
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::bad_request(format!("Invalid JSON in the request body: {err}")))
}

/// Reads a JSON body that may be missing: an empty body is `None`; anything
/// else must parse, as in [`read_json`].
pub(crate) async fn read_optional_json<T: DeserializeOwned>(app: &App, body: Body) -> Result<Option<T>, ApiError> {
    let bytes = read_body(app, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(&bytes).map(Some)
}

/// Query parameters, decoded.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        Self(query.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A non-negative integer parameter; anything else is a 400.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("`{name}` must be a non-negative integer, got `{v}`")))
            })
            .transpose()
    }

    /// `limit` (default and largest value `max`; larger values are clamped) and `offset`.
    pub(crate) fn page(&self, default: u64, max: u64) -> Result<(usize, usize), ApiError> {
        let limit = self.number("limit")?.unwrap_or(default).min(max);
        let offset = self.number("offset")?.unwrap_or(0);
        Ok((usize::try_from(offset).unwrap_or(usize::MAX), usize::try_from(limit).unwrap_or(usize::MAX)))
    }
}

/// One page of a listing.
pub(crate) fn page<T: Clone>(items: &[T], (offset, limit): (usize, usize)) -> Vec<T> {
    items.iter().skip(offset).take(limit).cloned().collect()
}

/// Now, to the millisecond as Domo writes times.
pub(crate) fn now() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Millisecond).unwrap_or(now)
}

/// The owner as DataSets show it: id and the directory's name for it.
pub(crate) fn owner(state: &Stored, user: UserId) -> Owner {
    Owner { id: user, name: state.directory.user(user).map(|u| u.name.clone()) }
}

/// A path id that must be a number; anything else names nothing, so 404.
pub(crate) fn numeric_id(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(format!("{what} not found: `{text}`")))
}
