//! How a client is configured: credentials, timeouts and the retry policy.

use std::time::Duration;

use domo_model::{Scope, Secret};

/// How the client authenticates.
///
/// `Debug` never shows the client secret or the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// The OAuth client-credentials grant: the client asks `POST /oauth/token`
    /// for a token with HTTP Basic auth, caches it, renews it shortly before it
    /// expires and once after a 401.
    ClientCredentials {
        /// The client id from Domo's developer portal.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
        /// The scopes to ask for; DataSets, PDP and Streams need [`Scope::Data`],
        /// users and groups [`Scope::User`].
        scopes: Vec<Scope>,
    },
    /// A ready access token, used as it is and never renewed.
    Token(Secret),
}

impl Credentials {
    /// The client-credentials grant with these scopes.
    pub fn client_credentials(
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        scopes: impl IntoIterator<Item = Scope>,
    ) -> Self {
        Credentials::ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: scopes.into_iter().collect(),
        }
    }

    /// A ready access token.
    pub fn token(token: impl Into<Secret>) -> Self {
        Credentials::Token(token.into())
    }
}

/// Whether requests that create something (`POST` of a DataSet, a policy, a
/// stream or an execution, and an `APPEND` import, which adds rows) are sent
/// again after a failure that may have happened after Domo received them.
/// Sending again may create a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CreateRetry {
    /// Never repeat a create once it may have reached Domo (the default).
    /// A create that failed to connect at all is still retried.
    #[default]
    Never,
    /// Repeat creates like any other request.
    OnFailure,
}

/// When and how often a failed request is sent again.
///
/// Retried: connection failures, timeouts, 429, 502, 503, 504, and HTML pages
/// (on a success or 5xx status) instead of JSON or CSV, for requests that are safe to repeat (`GET`, `PUT`,
/// `DELETE`, the token request, queries; creates and `APPEND` imports only
/// with [`CreateRetry::OnFailure`]). A streamed import is retried only when its
/// [`CsvSource`](crate::CsvSource) can be reopened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times a request is sent at most, the first time included.
    pub max_attempts: u32,
    /// The delay before the first retry; it doubles with each retry.
    pub initial_delay: Duration,
    /// The longest delay between two attempts computed by backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client waits; a longer one ends the
    /// retries and returns the error.
    pub max_retry_after: Duration,
    /// Whether creates are repeated.
    pub creates: CreateRetry,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            creates: CreateRetry::Never,
        }
    }
}

impl RetryPolicy {
    /// Send every request once, never again.
    pub fn never() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }
}

/// The time limits of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) request: Duration,
    pub(crate) transfer: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
            transfer: Duration::from_secs(60 * 60),
        }
    }
}

/// The most pages one list call reads (a server that never sends an empty
/// page cannot keep a list going for ever).
pub const MAX_LIST_PAGES: u64 = 20_000;
/// The most items one list call returns unless
/// [`ClientBuilder::max_list_items`](crate::ClientBuilder::max_list_items) says otherwise.
pub const MAX_LIST_ITEMS: u64 = 1_000_000;
