//! Errors the emulator answers with, in Domo's shape, and the errors of starting it.

use std::io;
use std::path::PathBuf;

use axum::Json;
use axum::response::{IntoResponse, Response};
use domo_model::ErrorBody;
use http::{HeaderValue, StatusCode, header};

use crate::random;

/// A failed API call: its status and message, sent as Domo's error body
/// `{"status", "statusReason", "message", "toe"}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    www_authenticate: Option<String>,
    /// The trace id sent as `toe`, and logged with internal errors.
    toe: String,
}

/// The longest message an error reply carries; longer ones are cut.
const MAX_MESSAGE_CHARS: usize = 2000;

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), www_authenticate: None, toe: new_toe() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub(crate) fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than this emulator accepts ({limit} bytes)"),
        )
    }

    /// 500 for a failure of the emulator itself (a disk error, a crashed task).
    /// The cause (which may name server paths) goes to the log under the reply's
    /// `toe`; the client reads `what` and the toe, never the cause.
    pub(crate) fn internal(what: &str, err: &dyn std::error::Error) -> Self {
        let toe = new_toe();
        tracing::error!(toe = %toe, error = %err, "{what} (toe {toe}): {err}");
        let message = format!("Internal error: {what}; the emulator's log has the cause under toe {toe}");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, message, www_authenticate: None, toe }
    }

    /// 401 for a request without a token: the header asks for one.
    pub(crate) fn missing_token() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: "Full authentication is required to access this resource".to_owned(),
            www_authenticate: Some("Bearer realm=\"domo\"".to_owned()),
            toe: new_toe(),
        }
    }

    /// 401 for a token that is unknown, malformed or expired.
    pub(crate) fn invalid_token(description: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: format!("Invalid access token: {description}"),
            www_authenticate: Some(format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")),
            toe: new_toe(),
        }
    }

    /// 403 for a valid token without the scope the call needs.
    pub(crate) fn insufficient_scope(scope: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: format!("The access token does not carry the `{scope}` scope this call needs"),
            www_authenticate: Some(format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"")),
            toe: new_toe(),
        }
    }

    /// 401 for a token request with wrong or missing client credentials.
    pub(crate) fn bad_client(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
            www_authenticate: Some("Basic realm=\"domo\"".to_owned()),
            toe: new_toe(),
        }
    }

    /// The status and message, for unit tests that check what a client would see.
    #[cfg(test)]
    pub(crate) fn status_and_message(&self) -> (StatusCode, &str) {
        (self.status, &self.message)
    }

    /// The JSON body Domo sends with this error.
    fn body(&self) -> ErrorBody {
        let mut message = self.message.clone();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        ErrorBody {
            status: self.status.as_u16(),
            status_reason: Some(self.status.canonical_reason().unwrap_or("Error").to_owned()),
            message: Some(message),
            toe: Some(self.toe.clone()),
            path: None,
            title: None,
            detail: None,
            error: None,
            error_description: None,
        }
    }

    /// The whole HTTP/1.1 reply, head and JSON body, closing the connection:
    /// what the transport writes itself when hyper cannot parse a request.
    pub(crate) fn to_http1_bytes(&self) -> Vec<u8> {
        let body = serde_json::to_vec(&self.body()).unwrap_or_else(|_| b"{}".to_vec());
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let mut bytes = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.status.as_u16(),
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }
}

fn new_toe() -> String {
    random::hex(10).to_uppercase()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (self.status, Json(body)).into_response();
        if let Some(value) = self.www_authenticate.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data folder or a file in it could not be created, read or written.
    #[error("cannot use the data folder `{}`", path.display())]
    DataDir {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The state file in the data folder is not what this version wrote.
    #[error("the emulator state `{}` cannot be read: {message}", path.display())]
    CorruptState {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Another emulator is running on the same data folder.
    #[error("another emulator is using the data folder `{}`", path.display())]
    InUse {
        /// The data folder.
        path: PathBuf,
    },
    /// A directory was given, but the data folder's users and groups were
    /// changed through the API since it was seeded: replacing them would lose
    /// those changes.
    #[error(
        "the data folder's users and groups were changed through the API since the directory was seeded: \
         start without a directory to keep them, or with an empty data folder to seed it again"
    )]
    DirectoryChanged,
    /// The directory (given, or kept in the data folder) has problems that make
    /// it unfit to decide who sees what and who may write.
    #[error("the directory cannot be used: {}", problems.join("; "))]
    InvalidDirectory {
        /// Each problem, naming its place (`users[3]`); at most twenty, then a count of the rest.
        problems: Vec<String>,
    },
    /// Two clients share an id.
    #[error("the client id `{id}` is given twice")]
    DuplicateClient {
        /// The id.
        id: String,
    },
    /// The HTTPS certificate or key could not be made, read or used.
    #[error("cannot serve HTTPS with `{}`: {reason}", path.display())]
    Tls {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl StartError {
    /// At most twenty problems are named; the rest are counted.
    pub(crate) fn invalid_directory(problems: &[domo_model::DirectoryProblem]) -> Self {
        const SHOWN: usize = 20;
        let mut shown: Vec<String> = problems.iter().take(SHOWN).map(ToString::to_string).collect();
        if problems.len() > SHOWN {
            shown.push(format!("… and {} more", problems.len() - SHOWN));
        }
        Self::InvalidDirectory { problems: shown }
    }
}

/// A `--client` value that is not `ID:SECRET:USER_ID`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected `ID:SECRET:USER_ID` with a numeric user id, got `{shown}`")]
pub struct ParseClientError {
    /// The value with its secret left out.
    pub(crate) shown: String,
}
