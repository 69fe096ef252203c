//! Request helpers: reading bodies under a deadline and a size limit, JSON, query parameters, paging, ids and times.

use std::time::Duration;

use axum::body::Body;
use domo_model::{Owner, Timestamp, UserId};
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::App;
use crate::store::State as Stored;

/// The request body took longer than `request_timeout` to arrive.
#[derive(Debug, thiserror::Error)]
#[error("the request body took longer than {} s to arrive", .0.as_secs_f64())]
struct BodyTimedOut(Duration);

/// `body`, failing with [`BodyTimedOut`] once `limit` has passed.
pub(crate) fn timed_body(body: Body, limit: Duration) -> Body {
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
