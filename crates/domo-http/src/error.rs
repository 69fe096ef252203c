//! The one error type of this crate, named by the stage of a call that failed.

use std::fmt;
use std::time::Duration;

use domo_model::ErrorBody;

/// A boxed cause, reached through [`std::error::Error::source`].
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What failed in [`Error::Connection`]: the stage of the connection, each
/// with the sentence the error shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionFailure {
    /// Connecting failed before anything was sent: nothing listens on the
    /// port, the host is unknown or cannot be reached.
    Connect,
    /// The TLS handshake failed (a certificate that does not verify, a server
    /// that does not speak TLS): sending again will not help.
    Tls,
    /// The connection failed after it was made.
    Connection,
    /// Domo answered before the whole request body was sent.
    AnsweredEarly,
    /// The response body was cut short.
    BodyCutShort,
    /// Reading the response body failed.
    ReadBody,
    /// A JSON answer past the size this client reads: sending again gets the same.
    BodyTooLarge,
    /// An HTTP/1 export with neither `Content-Length` nor chunked framing: its
    /// end is the connection closing, so a body cut short would pass for a
    /// whole one. Sending again gets the same framing.
    Unframed,
}

impl ConnectionFailure {
    /// Whether sending the same request again may succeed.
    fn may_pass_on_retry(self) -> bool {
        !matches!(self, ConnectionFailure::Tls | ConnectionFailure::BodyTooLarge | ConnectionFailure::Unframed)
    }
}

impl fmt::Display for ConnectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionFailure::Connect => "cannot connect",
            ConnectionFailure::Tls => "TLS handshake failed",
            ConnectionFailure::Connection => "the connection failed",
            ConnectionFailure::AnsweredEarly => "Domo answered before the whole request body was sent",
            ConnectionFailure::BodyCutShort => "the response body was cut short",
            ConnectionFailure::ReadBody => "reading the response body failed",
            ConnectionFailure::BodyTooLarge => "the response body is too large",
            ConnectionFailure::Unframed => {
                "the export has neither a length nor chunked framing, so a cut could pass for the end"
            }
        })
    }
}

/// Why a call to Domo failed, by the stage that failed.
///
/// Every variant names the request as `METHOD /path` (never a token, a secret
/// or a request body). Causes from the layers below (hyper, rustls, serde) are
/// reached through [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request could not be built: a bad base URL, an empty id, a body
    /// that does not serialize, an option out of range.
    #[error("cannot build {request}: {reason}")]
    Build {
        /// The request, `METHOD /path`.
        request: String,
        /// What is wrong.
        reason: String,
    },
    /// The call did not finish in time (connecting, or the whole request
    /// including its body).
    #[error("{request} timed out after {}", DisplayDuration(*after))]
    Timeout {
        /// The request, `METHOD /path`.
        request: String,
        /// The limit that ran out.
        after: Duration,
    },
    /// Connecting, TLS, or the connection itself failed (including a response
    /// body cut short).
    #[error("{request}: {what}")]
    Connection {
        /// The request, `METHOD /path`.
        request: String,
        /// What failed, such as [`ConnectionFailure::Connect`] or [`ConnectionFailure::BodyCutShort`].
        what: ConnectionFailure,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Domo answered with an error status (or with an error in the body of a
    /// success status).
    #[error(
        "{request}: Domo answered {status}{}: {}",
        WithContentType(content_type.as_deref(), body),
        Shown(body, read)
    )]
    Service {
        /// The request, `METHOD /path`.
        request: String,
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` of the answer, when it had one.
        content_type: Option<String>,
        /// What the body said.
        body: Box<ServiceBody>,
        /// How much of the body was read (error bodies are read up to a bound).
        read: BodyRead,
        /// The delay the `Retry-After` header asked for, if any.
        retry_after: Option<Duration>,
    },
    /// A success status whose body is of the wrong kind: an HTML page (a
    /// proxy's or a maintenance page) or another content type where JSON or
    /// CSV was expected. Nothing of it is handed on as data.
    #[error(
        "{request}: expected {expected}, but Domo answered {status} with {}: {}",
        ContentType(content_type.as_deref()),
        Shown(body, read)
    )]
    UnexpectedBody {
        /// The request, `METHOD /path`.
        request: String,
        /// The HTTP status (a success).
        status: u16,
        /// What the call expects: `JSON`, `CSV` or `no content`.
        expected: &'static str,
        /// The `Content-Type` of the answer, when it had one.
        content_type: Option<String>,
        /// An excerpt of the body.
        body: Box<ServiceBody>,
        /// How much of the body was read.
        read: BodyRead,
    },
    /// A paged list that does not end as Domo's lists do: a page repeats
    /// items already listed (a server that ignores `offset`), or the list
    /// goes past [`MAX_LIST_PAGES`](crate::MAX_LIST_PAGES) pages or
    /// [`MAX_LIST_ITEMS`](crate::MAX_LIST_ITEMS) items.
    #[error("{request}: {what}")]
    Paging {
        /// The request, `METHOD /path`.
        request: String,
        /// What went wrong, with the offset.
        what: String,
    },
    /// A successful response whose body is not what the API documents.
    #[error("{request}: cannot decode the response body at `{path}`")]
    Decode {
        /// The request, `METHOD /path`.
        request: String,
        /// The JSON path that failed, such as `[3].owner.id`.
        path: String,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Domo answered that the DataSet (or the stream's DataSet) was deleted:
    /// `deleted: true` with a subset of its fields. It is gone, not live.
    #[error("{request}: it was deleted (Domo answered with `deleted: true`)")]
    Deleted {
        /// The request, `METHOD /path`.
        request: String,
    },
    /// Reading the local file or reader being imported, or writing the export.
    #[error("{request}: {what}")]
    Io {
        /// The request, `METHOD /path`.
        request: String,
        /// What failed, such as ``cannot open `data.csv` ``.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The body of an error response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceBody {
    /// Domo's JSON error body.
    Domo(ErrorBody),
    /// An HTML page (a proxy's or a maintenance page): a short excerpt of its text.
    Html(String),
    /// Any other body: a short excerpt.
    Text(String),
    /// No body.
    Empty,
}

/// How much of a response body was read into an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyRead {
    /// All of it.
    Whole,
    /// Only the first `read` bytes: the body was longer (`total` bytes, when
    /// its `Content-Length` said), and the rest was not read.
    Cut {
        /// Bytes read.
        read: u64,
        /// The whole body's length, when known.
        total: Option<u64>,
    },
    /// The connection failed after `read` bytes of the body.
    Broken {
        /// Bytes read before the failure.
        read: u64,
    },
}

impl fmt::Display for BodyRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyRead::Whole => Ok(()),
            BodyRead::Cut { read, total: Some(total) } => {
                write!(f, " (from the first {read} bytes of a {total}-byte body)")
            }
            BodyRead::Cut { read, total: None } => write!(f, " (from the first {read} bytes of a longer body)"),
            BodyRead::Broken { read } => write!(f, " (the connection failed after {read} bytes of the body)"),
        }
    }
}

/// A body and how much of it was read; never "empty" for a body that could not be read.
struct Shown<'a>(&'a ServiceBody, &'a BodyRead);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (ServiceBody::Empty, BodyRead::Broken { read: 0 }) => {
                f.write_str("no body (the connection failed before any of it arrived)")
            }
            (body, read) => write!(f, "{body}{read}"),
        }
    }
}

/// ` with `text/html``, shown unless the body is Domo's JSON or empty.
struct WithContentType<'a>(Option<&'a str>, &'a ServiceBody);

impl fmt::Display for WithContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(content_type), ServiceBody::Html(_) | ServiceBody::Text(_)) => write!(f, " with `{content_type}`"),
            _ => Ok(()),
        }
    }
}

/// `` `text/html` `` or `no content type`.
struct ContentType<'a>(Option<&'a str>);

impl fmt::Display for ContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(content_type) => write!(f, "`{content_type}`"),
            None => f.write_str("no content type"),
        }
    }
}

impl fmt::Display for ServiceBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceBody::Domo(body) => {
                // `ErrorBody`'s Display starts with the status, already printed.
                if let Some(reason) = &body.status_reason {
                    write!(f, "{reason}")?;
                }
                let text = body.text();
                if let Some(text) = &text {
                    if body.status_reason.is_some() {
                        f.write_str(": ")?;
                    }
                    write!(f, "{text}")?;
                }
                if body.status_reason.is_none() && text.is_none() {
                    f.write_str("no message")?;
                }
                if let Some(toe) = &body.toe {
                    write!(f, " (toe {toe})")?;
                }
                Ok(())
            }
            ServiceBody::Html(excerpt) => write!(f, "an HTML page: `{excerpt}`"),
            ServiceBody::Text(excerpt) => write!(f, "`{excerpt}`"),
            ServiceBody::Empty => f.write_str("an empty body"),
        }
    }
}

impl Error {
    /// Whether a time limit ran out (connect or whole request).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether Domo answered that the object was deleted (`deleted: true`).
    pub fn is_deleted(&self) -> bool {
        matches!(self, Error::Deleted { .. })
    }

    /// The HTTP status of a service error or of a body of the wrong kind.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service { status, .. } | Error::UnexpectedBody { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Domo's JSON error body, when the service sent one (with an error
    /// status, or in the body of a success).
    pub fn error_body(&self) -> Option<&ErrorBody> {
        match self {
            Error::Service { body, .. } | Error::UnexpectedBody { body, .. } => match body.as_ref() {
                ServiceBody::Domo(body) => Some(body),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later: timeouts,
    /// connection failures other than TLS, 429, 502, 503, 504, and HTML pages
    /// (maintenance pages) on a success or 5xx status. Whether the client actually retries also
    /// depends on the request being safe to repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Connection { what, .. } => what.may_pass_on_retry(),
            Error::Service { status, body, .. } => {
                matches!(status, 429 | 502 | 503 | 504)
                    || (matches!(body.as_ref(), ServiceBody::Html(_)) && *status >= 500)
            }
            Error::UnexpectedBody { body, .. } => matches!(body.as_ref(), ServiceBody::Html(_)),
            Error::Build { .. }
            | Error::Decode { .. }
            | Error::Io { .. }
            | Error::Paging { .. }
            | Error::Deleted { .. } => false,
        }
    }

    /// What failed, for a log line that already names the request: the
    /// message without its `METHOD /path: ` and the innermost cause, such as
    /// `cannot connect: Connection refused (os error 111)`.
    pub(crate) fn log_reason(&self, request: &str) -> String {
        let text = self.to_string();
        let mut reason =
            text.strip_prefix(request).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(&text).to_owned();
        let mut root = std::error::Error::source(self);
        while let Some(next) = root.and_then(std::error::Error::source) {
            root = Some(next);
        }
        if let Some(root) = root {
            reason.push_str(": ");
            reason.push_str(&root.to_string());
        }
        reason
    }

    /// Whether connecting failed before anything was sent: nothing listens
    /// on the port, the host is unknown or cannot be reached.
    pub fn is_connect_failure(&self) -> bool {
        matches!(self, Error::Connection { what: ConnectionFailure::Connect, .. })
    }

    /// Whether the TLS handshake failed (a certificate that does not verify,
    /// a server that does not speak TLS).
    pub fn is_tls_failure(&self) -> bool {
        matches!(self, Error::Connection { what: ConnectionFailure::Tls, .. })
    }

    /// Whether the TLS handshake failed because the server answered in plain
    /// text: an `http://` server (such as `domo serve` without `--tls`)
    /// reached as `https://`.
    pub fn is_plain_text_answer_to_tls(&self) -> bool {
        let mut cause = std::error::Error::source(self);
        while let Some(current) = cause {
            if let Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) =
                current.downcast_ref::<rustls::Error>()
            {
                return self.is_tls_failure();
            }
            cause = match current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => current.source(),
            };
        }
        false
    }

    /// The delay a `Retry-After` header asked for.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Service { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn build(request: &str, reason: impl Into<String>) -> Self {
        Error::Build { request: request.to_owned(), reason: reason.into() }
    }
}

/// Prints `1.5s`, `200ms`: a duration as a person reads it.
pub(crate) struct DisplayDuration(pub(crate) Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis < 1000 { write!(f, "{millis}ms") } else { write!(f, "{}s", self.0.as_secs_f64()) }
    }
}

/// Whether an I/O error of this kind is somewhere in the chain of causes.
pub(crate) fn has_io_kind(error: &(dyn std::error::Error + 'static), kind: std::io::ErrorKind) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == kind) {
            return true;
        }
        cause = current.source();
    }
    false
}
