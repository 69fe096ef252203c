//! The router: every route, trailing slashes, Domo-shaped errors for replies axum writes, and the request deadline and log.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use domo_model::Scope;
use http::StatusCode;

use crate::error::ApiError;
use crate::request::timed_body;
use crate::routes::{data, datasets, directory, directory_writes, policies, query, streams, token};
use crate::state::App;

/// Every route of the API, each also under its path with a trailing slash
/// (`/v1/users/`), as Domo serves them and the official SDKs call some.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new().fallback_service(routes(app)).layer(axum::middleware::map_request(trim_trailing_slash))
}

fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/oauth/token", get(token::token).post(token::token))
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
        .layer(from_fn_with_state(Arc::clone(&app), require_token))
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

/// Lets `/oauth/token` through and requires a valid token with the right scope
/// everywhere else (`user` for users and groups, `data` for the rest), even for
/// paths that do not exist.
pub(crate) async fn require_token(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/oauth/token" {
        return next.run(request).await;
    }
    let needs = if path.starts_with("/v1/users") || path.starts_with("/v1/groups") { Scope::User } else { Scope::Data };
    match app.auth.check(request.headers(), needs) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}
