//! Reading answers: status and content-type checks, HTML told by its first bytes, error bodies read up to a
//! bound into honest excerpts (secrets redacted), and JSON decoding.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use domo_model::Secret;
use http::Response;
use http::header::{self, HeaderMap};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::error::{BodyRead, BoxError, ConnectionFailure, Error, ServiceBody, has_io_kind};
use crate::retry;

/// The most bytes of a JSON response read into memory.
const MAX_JSON_BODY: usize = 256 * 1024 * 1024;
/// The most bytes of an error response read.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;
/// The most characters of a non-JSON error body kept in an error.
const EXCERPT_CHARS: usize = 200;

/// A response whose status said success, the deadline of its attempt, and
/// the secrets it was sent with (kept out of any excerpt of its body).
pub(crate) struct Success {
    pub(crate) response: Response<Incoming>,
    pub(crate) deadline: Instant,
    pub(crate) redact: Redact,
}

/// The secrets a request carried, replaced by `[redacted]` in excerpts of
/// answers: a server or proxy that echoes the request (a debug page) must not
/// put the token into an error message or a log.
#[derive(Clone, Default)]
pub(crate) struct Redact(Arc<Vec<String>>);

impl Redact {
    /// `token` is the bearer token sent; `basic` the `Basic …` header of the
    /// client-credentials grant, if the client has one.
    pub(crate) fn new(token: Option<&Secret>, basic: Option<&Secret>) -> Self {
        let mut secrets: Vec<String> = token.map(|t| t.expose().to_owned()).into_iter().collect();
        if let Some(basic) = basic {
            secrets.push(basic.expose().trim_start_matches("Basic ").to_owned());
        }
        secrets.retain(|s| !s.is_empty());
        Self(Arc::new(secrets))
    }

    pub(crate) fn apply<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut text = std::borrow::Cow::Borrowed(text);
        for secret in self.0.iter() {
            if text.contains(secret.as_str()) {
                text = std::borrow::Cow::Owned(text.replace(secret.as_str(), "[redacted]"));
            }
        }
        text
    }
}

/// Turns an unsuccessful status, or a success whose content type is not what
/// the call expects (an HTML page where JSON or CSV was expected, anything
/// but CSV where CSV was expected), into an error.
pub(crate) async fn check(
    request: &str,
    response: Response<Incoming>,
    accept: &str,
    redact: &Redact,
) -> Result<Response<Incoming>, Error> {
    let status = response.status();
    let content_type = content_type(response.headers());
    if status.is_success() && expected_content(accept, content_type.as_deref()) {
        let mut response = response;
        response.extensions_mut().insert(RequestName(request.to_owned()));
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
    let total = content_length(response.headers());
    let html = content_type.as_deref().is_some_and(is_html_type);
    let (bytes, read) = read_excerpt(Bytes::new(), response.into_body(), MAX_ERROR_BODY, total).await;
    let body = Box::new(describe_body(&bytes, html, redact));
    let request = request.to_owned();
    if status.is_success() {
        let expected = if accept == CSV { "CSV" } else { "JSON" };
        return Err(Error::UnexpectedBody { request, status: status.as_u16(), expected, content_type, body, read });
    }
    Err(Error::Service { request, status: status.as_u16(), content_type, body, read, retry_after })
}

/// What CSV calls send as `Accept`.
pub(crate) const CSV: &str = "text/csv";

/// Whether a success's content type fits the call: never HTML; for CSV, a
/// CSV or plain-text type (or none, and the body is sniffed).
fn expected_content(accept: &str, content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else { return true };
    if is_html_type(content_type) {
        return false;
    }
    if accept != CSV {
        return true;
    }
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/csv" | "application/csv" | "text/comma-separated-values" | "text/plain" | "application/octet-stream"
    )
}

/// The `Content-Type` header as text, at most 100 characters of it.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    Some(text.chars().take(100).collect())
}

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn is_html_type(content_type: &str) -> bool {
    let lower = content_type.trim_start().to_ascii_lowercase();
    lower.starts_with("text/html") || lower.starts_with("application/xhtml")
}

/// Whether a body starts like an HTML or XML page (after a byte-order mark and
/// whitespace): what proxies and maintenance pages send. `prefix` need only be
/// the first few hundred bytes.
pub(crate) fn looks_like_html(prefix: &[u8]) -> bool {
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(prefix);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let text = text.get(start..).unwrap_or_default();
    let head: Vec<u8> = text.iter().take(16).map(u8::to_ascii_lowercase).collect();
    ["<!doctype", "<html", "<head", "<body", "<?xml", "<!--"].iter().any(|tag| head.starts_with(tag.as_bytes()))
}

/// Reads a body after `first` (bytes already taken from it) into at most
/// `limit` bytes, and says how much of it that was: whole, cut (the rest is
/// left unread: the connection is dropped, never the whole body held), or
/// broken by a failing connection (what arrived is kept).
pub(crate) async fn read_excerpt(
    first: Bytes,
    mut body: Incoming,
    limit: usize,
    total: Option<u64>,
) -> (Bytes, BodyRead) {
    let mut collected = bytes::BytesMut::new();
    let mut seen = 0u64;
    let mut take = |collected: &mut bytes::BytesMut, data: &[u8]| {
        seen = seen.saturating_add(data.len() as u64);
        let room = limit.saturating_sub(collected.len());
        collected.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        data.len() > room
    };
    if take(&mut collected, &first) {
        return (collected.freeze(), BodyRead::Cut { read: limit as u64, total });
    }
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return (collected.freeze(), BodyRead::Broken { read: seen });
        };
        if let Ok(data) = frame.into_data()
            && take(&mut collected, &data)
        {
            return (collected.freeze(), BodyRead::Cut { read: limit as u64, total });
        }
    }
    (collected.freeze(), BodyRead::Whole)
}

pub(crate) fn describe_body(bytes: &[u8], html: bool, redact: &Redact) -> ServiceBody {
    let text = String::from_utf8_lossy(bytes);
    let text = redact.apply(&text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return ServiceBody::Empty;
    }
    if let Ok(body) = serde_json::from_str::<domo_model::ErrorBody>(trimmed) {
        return ServiceBody::Domo(body);
    }
    if html || looks_like_html(bytes) {
        ServiceBody::Html(excerpt(&strip_tags(trimmed)))
    } else {
        ServiceBody::Text(excerpt(trimmed))
    }
}

/// The visible text of an HTML page, roughly: tags, scripts and styles removed.
fn strip_tags(html: &str) -> String {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` cut `html`.
    let lower = html.to_ascii_lowercase();
    let mut text = String::with_capacity(html.len());
    let mut at = 0;
    while let Some(open) = lower.get(at..).and_then(|rest| rest.find('<')).map(|i| at + i) {
        text.push_str(html.get(at..open).unwrap_or_default());
        text.push(' ');
        let tail = lower.get(open..).unwrap_or_default();
        let skip = if tail.starts_with("<script") {
            tail.find("</script>").map(|i| i + "</script>".len())
        } else if tail.starts_with("<style") {
            tail.find("</style>").map(|i| i + "</style>".len())
        } else {
            tail.find('>').map(|i| i + 1)
        };
        match skip {
            Some(skip) => at = open + skip,
            None => return text,
        }
    }
    text.push_str(html.get(at..).unwrap_or_default());
    text
}

/// Whitespace collapsed, at most [`EXCERPT_CHARS`] characters.
fn excerpt(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= EXCERPT_CHARS {
        return collapsed;
    }
    let mut short: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    short.push('…');
    short
}

/// Reads a whole body, up to `limit` bytes.
pub(crate) async fn read_limited(request: &str, mut body: Incoming, limit: usize) -> Result<Bytes, Error> {
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_error(request, e))?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                return Err(Error::Connection {
                    request: request.to_owned(),
                    what: ConnectionFailure::BodyTooLarge,
                    source: format!("more than {limit} bytes").into(),
                });
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

pub(crate) fn body_error(request: &str, error: hyper::Error) -> Error {
    let what = if error.is_incomplete_message() || has_io_kind(&error, std::io::ErrorKind::UnexpectedEof) {
        ConnectionFailure::BodyCutShort
    } else {
        ConnectionFailure::ReadBody
    };
    Error::Connection { request: request.to_owned(), what, source: Box::new(error) as BoxError }
}

pub(crate) async fn decode_json<T: DeserializeOwned>(success: Success) -> Result<T, Error> {
    let request = request_name_of(&success.response);
    let status = success.response.status().as_u16();
    let content_type = content_type(success.response.headers());
    let bytes = read_limited(&request, success.response.into_body(), MAX_JSON_BODY).await?;
    // An HTML page labelled as JSON is a maintenance page, not a decoding problem.
    if looks_like_html(&bytes) {
        let body = Box::new(describe_body(&bytes, true, &success.redact));
        let read = BodyRead::Whole;
        return Err(Error::UnexpectedBody { request, status, expected: "JSON", content_type, body, read });
    }
    decode(&request, &bytes)
}

/// [`decode_json`] for a single DataSet or stream: an answer with
/// `"deleted": true` (Domo's documented answer for a deleted one, a subset of
/// its fields) is [`Error::Deleted`], never a live object.
pub(crate) async fn decode_live_json<T: DeserializeOwned>(success: Success) -> Result<T, Error> {
    let request = request_name_of(&success.response);
    let value: serde_json::Value = decode_json(success).await?;
    if value.get("deleted").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err(Error::Deleted { request });
    }
    let text = value.to_string();
    decode(&request, text.as_bytes())
}

/// The request a response answers, for error messages; `hyper` does not keep
/// it, so the call's name is carried in an extension.
fn request_name_of(response: &Response<Incoming>) -> String {
    response.extensions().get::<RequestName>().map(|n| n.0.clone()).unwrap_or_else(|| "the request".to_owned())
}

#[derive(Clone)]
struct RequestName(String);

pub(crate) fn decode<T: DeserializeOwned>(request: &str, bytes: &[u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        Error::Decode { request: request.to_owned(), path, source: Box::new(e.into_inner()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_reduced_to_their_text() {
        assert_eq!(
            excerpt(&strip_tags(
                "<html><HEAD><Style>p {}</STYLE><script>if (a<b) {}</script></head><p>Ünïcödé</p> down<br/>"
            )),
            "Ünïcödé down"
        );
        assert_eq!(excerpt(&strip_tags("before <unclosed tag")), "before");
        assert_eq!(excerpt(&strip_tags("<script>never closed")), "");
    }

    #[test]
    fn bodies_are_classified_and_cut() {
        assert_eq!(describe_body(b"  ", false, &Redact::default()), ServiceBody::Empty);
        assert!(matches!(
            describe_body(br#"{"status": 503, "message": "busy"}"#, false, &Redact::default()),
            ServiceBody::Domo(_)
        ));
        assert!(matches!(describe_body(b"<!DOCTYPE html><p>x</p>", false, &Redact::default()), ServiceBody::Html(_)));
        let long = "é".repeat(500);
        let ServiceBody::Text(cut) = describe_body(long.as_bytes(), false, &Redact::default()) else { panic!("text") };
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn html_is_told_by_its_first_bytes() {
        for page in
            ["<!DOCTYPE html>", "\u{feff}  <HTML lang=en>", "\n<?xml version=\"1.0\"?>", "<!-- proxy -->", "<head>"]
        {
            assert!(looks_like_html(page.as_bytes()), "{page}");
        }
        for csv in ["<5,small\n", "a,<html>\n", "", "   ", "Alan Turing,TRUE\n"] {
            assert!(!looks_like_html(csv.as_bytes()), "{csv}");
        }
    }
}
