//! The client: its builder, the pooled transport, and the one loop every call goes through (token, send, classify, retry).

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use domo_model::{Scope, Secret, TokenResponse};
use http::header::{self, HeaderValue};
use http::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::body::{self, Compression, CsvSource, Progress, ReadFailure, RequestBody};
use crate::config::{CreateRetry, Credentials, MAX_LIST_ITEMS, RetryPolicy, Timeouts};
use crate::error::{BodyRead, ConnectionFailure, Error, has_io_kind};
use crate::response::{
    MAX_ERROR_BODY, Redact, Success, check, content_length, content_type, decode_json, describe_body, looks_like_html,
    read_excerpt,
};
use crate::retry;

type HyperClient = hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, RequestBody>;

/// Domo's public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.domo.com";

/// A client of Domo's API. Cheap to clone: clones share one connection pool
/// and one token cache.
///
/// `Debug` shows the base URL and the kind of credentials, never a secret.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: HyperClient,
    base: BaseUrl,
    auth: Auth,
    timeouts: Timeouts,
    retry: RetryPolicy,
    max_list_items: u64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.inner.auth {
            Auth::Token(_) => "token".to_owned(),
            Auth::Grant(grant) => format!("client credentials of `{}`", grant.client_id),
        };
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.display)
            .field("auth", &auth)
            .field("timeouts", &self.inner.timeouts)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]: base URL, timeouts and retries.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    credentials: Credentials,
    timeouts: Timeouts,
    retry: RetryPolicy,
    extra_roots_pem: PemText,
    max_list_items: u64,
}

/// PEM text, shown in `Debug` by its size only.
#[derive(Clone, Default)]
struct PemText(Vec<u8>);

impl fmt::Debug for PemText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes of PEM", self.0.len())
    }
}

impl ClientBuilder {
    /// Also trusts the certificates in this PEM text as roots, besides the
    /// platform's: for a server with a private or self-signed certificate,
    /// such as `domo serve --tls`. Can be given more than once.
    pub fn extra_root_certificates(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_roots_pem.0.extend_from_slice(pem.as_ref());
        self.extra_roots_pem.0.push(b'\n');
        self
    }

    /// The API's base URL, such as `https://api.domo.com` (the default) or
    /// `http://127.0.0.1:8080` for a local emulator. `http://` is accepted
    /// only for loopback hosts, so that tokens never cross a network in clear.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// How long connecting (TCP and TLS) may take; 10 s by default.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.timeouts.connect = limit;
        self
    }

    /// How long a whole API call may take, body included; 60 s by default.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeouts.request = limit;
        self
    }

    /// How long a whole data import, export or stream part may take, body
    /// included; 1 hour by default.
    pub fn transfer_timeout(mut self, limit: Duration) -> Self {
        self.timeouts.transfer = limit;
        self
    }

    /// When failed requests are sent again.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The most items one list call (`list_datasets`, `list_users`, …)
    /// returns before it fails with [`Error::Paging`]; [`MAX_LIST_ITEMS`] by
    /// default.
    pub fn max_list_items(mut self, limit: u64) -> Self {
        self.max_list_items = limit;
        self
    }

    /// Builds the client: checks the base URL and sets up TLS.
    pub fn build(self) -> Result<Client, Error> {
        let base = BaseUrl::parse(&self.base_url)?;
        if self.retry.max_attempts == 0 {
            return Err(Error::build("the client", "`max_attempts` must be at least 1"));
        }
        let extra_roots = parse_roots(&self.extra_roots_pem.0)?;
        let http = transport(self.timeouts.connect, extra_roots)?;
        let auth = match self.credentials {
            Credentials::Token(token) => Auth::Token(token),
            Credentials::ClientCredentials { client_id, client_secret, scopes } => {
                let pair = format!("{client_id}:{}", client_secret.expose());
                let basic = Secret::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)));
                Auth::Grant(Grant { client_id, basic, scopes, cached: tokio::sync::Mutex::new(None) })
            }
        };
        let (timeouts, retry, max_list_items) = (self.timeouts, self.retry, self.max_list_items);
        Ok(Client { inner: Arc::new(Inner { http, base, auth, timeouts, retry, max_list_items }) })
    }
}

/// The certificates of [`ClientBuilder::extra_root_certificates`]; text given
/// but holding no certificate is an error, never "trust nothing more".
fn parse_roots(pem: &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    use rustls::pki_types::pem::PemObject as _;
    if pem.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let bad = |reason: String| Error::build("the client", format!("extra root certificates: {reason}"));
    let roots = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| bad(format!("not PEM: {err}")))?;
    if roots.is_empty() {
        return Err(bad("no `BEGIN CERTIFICATE` block in the PEM text".to_owned()));
    }
    Ok(roots)
}

/// The pooled HTTP/1.1 and HTTP/2 client over rustls with the ring provider,
/// verifying certificates with the platform's verifier, or Mozilla's roots
/// where the platform has none; extra roots are trusted besides the platform's.
fn transport(
    connect_timeout: Duration,
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<HyperClient, Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_failed = |e: rustls::Error| Error::build("the client", format!("cannot set up TLS: {e}"));
    let platform = if extra_roots.is_empty() {
        hyper_rustls::HttpsConnectorBuilder::new().with_provider_and_platform_verifier(provider.clone())
    } else {
        // With extra roots the platform verifier works even where the platform itself has no roots.
        let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map_err(tls_failed)?;
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_failed)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config))
    };
    let builder = match platform {
        Ok(builder) => builder,
        Err(error) => {
            tracing::debug!(%error, "the platform's certificate verifier is unavailable ({error}); using Mozilla's roots");
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(provider)
                .map_err(|e| Error::build("the client", format!("cannot set up TLS: {e}")))?
        }
    };
    let https = builder.https_or_http().enable_http1().enable_http2().wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https))
}

#[derive(Debug, Clone)]
struct BaseUrl {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    prefix: String,
    display: String,
}

impl BaseUrl {
    fn parse(text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::build("the client", reason);
        let uri: Uri = text.parse().map_err(|e| bad(format!("base URL `{text}` is not a URL: {e}")))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| bad(format!("base URL `{text}` has no scheme")))?;
        let authority = uri.authority().cloned().ok_or_else(|| bad(format!("base URL `{text}` has no host")))?;
        if scheme == http::uri::Scheme::HTTP {
            let host = authority.host().trim_start_matches('[').trim_end_matches(']');
            let loopback =
                host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(bad(format!(
                    "base URL `{text}`: plain http is allowed only for a loopback host; use https"
                )));
            }
        } else if scheme != http::uri::Scheme::HTTPS {
            return Err(bad(format!("base URL `{text}`: the scheme must be https (or http for loopback)")));
        }
        if uri.query().is_some() {
            return Err(bad(format!("base URL `{text}` must not have a query")));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let display = format!("{scheme}://{authority}{prefix}");
        Ok(Self { scheme, authority, prefix, display })
    }

    fn uri(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{path_and_query}", self.prefix))
            .build()
    }
}

pub(crate) enum Auth {
    Token(Secret),
    Grant(Grant),
}

pub(crate) struct Grant {
    client_id: String,
    pub(crate) basic: Secret,
    scopes: Vec<Scope>,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: Secret,
    renew_at: Instant,
}

impl From<&TokenResponse> for CachedToken {
    /// Renewed a tenth of its lifetime (at most a minute) before it expires.
    fn from(response: &TokenResponse) -> Self {
        let lifetime = Duration::from_secs(response.expires_in);
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        tracing::debug!(expires_in = response.expires_in, "got a new access token for {}s", response.expires_in);
        Self { token: response.access_token.clone(), renew_at: after(lifetime.saturating_sub(margin)) }
    }
}

/// Whether a request may be sent again after it may have reached Domo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// GET, PUT, DELETE, the token request and queries.
    Safe,
    /// A POST that creates something.
    Create,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallAuth {
    Bearer,
    Basic,
}

/// What a request sends.
pub(crate) enum CallBody<'a> {
    Empty,
    Bytes { bytes: Bytes, content_type: &'static str, encoding: Option<&'static str> },
    Csv { source: &'a mut CsvSource, compression: Compression, progress: Option<Progress> },
}

/// One API call, possibly sent several times.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    /// The path and query, already percent-encoded.
    pub(crate) path: String,
    pub(crate) accept: &'static str,
    pub(crate) body: CallBody<'a>,
    pub(crate) repeat: Repeat,
    pub(crate) transfer: bool,
    auth: CallAuth,
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, path: String) -> Self {
        let repeat = if method == Method::POST { Repeat::Create } else { Repeat::Safe };
        Self {
            method,
            path,
            accept: "application/json",
            body: CallBody::Empty,
            repeat,
            transfer: false,
            auth: CallAuth::Bearer,
        }
    }

    pub(crate) fn json_body(mut self, value: &impl Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::build(&self.describe(), format!("cannot serialize the body: {e}")))?;
        self.body = CallBody::Bytes { bytes: bytes.into(), content_type: "application/json", encoding: None };
        Ok(self)
    }

    /// `METHOD /path`, without the query: how errors name the request.
    pub(crate) fn describe(&self) -> String {
        let path = self.path.split('?').next().unwrap_or_default();
        format!("{} {path}", self.method)
    }

    fn replayable(&self) -> bool {
        match &self.body {
            CallBody::Csv { source, .. } => source.replayable(),
            CallBody::Empty | CallBody::Bytes { .. } => true,
        }
    }
}

impl Client {
    /// A builder for a client with these credentials, talking to
    /// [`DEFAULT_BASE_URL`] unless told otherwise.
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            credentials,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            extra_roots_pem: PemText::default(),
            max_list_items: MAX_LIST_ITEMS,
        }
    }

    /// A client of the API at `base_url` (such as `https://api.domo.com` or
    /// `http://127.0.0.1:8080`) with default timeouts and retries.
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(credentials).base_url(base_url).build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base.display
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    pub(crate) fn max_list_items(&self) -> u64 {
        self.inner.max_list_items
    }

    pub(crate) fn transfer_timeout(&self) -> Duration {
        self.inner.timeouts.transfer
    }

    /// Sends a call until it succeeds, fails for good, or runs out of attempts,
    /// and hands the successful response to `handle` (within the same time limit).
    pub(crate) async fn execute<T, H, Fut>(&self, call: &mut Call<'_>, handle: H) -> Result<T, Error>
    where
        H: Fn(Success) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let request_name = call.describe();
        let policy = &self.inner.retry;
        let limit = if call.transfer { self.inner.timeouts.transfer } else { self.inner.timeouts.request };
        let mut failed_attempts = 0u32;
        let mut renewed = false;
        loop {
            let token = match call.auth {
                CallAuth::Bearer => Some(self.bearer().await?),
                CallAuth::Basic => None,
            };
            let failure = ReadFailure::default();
            let deadline = after(limit);
            let basic = match &self.inner.auth {
                Auth::Grant(grant) => Some(&grant.basic),
                Auth::Token(_) => None,
            };
            let redact = Redact::new(token.as_ref(), basic);
            let attempt = async {
                let request = self.request(call, token.as_ref(), &request_name, failure.clone()).await?;
                let Some(request) = request else {
                    // A one-shot reader already went out with an earlier attempt.
                    return Err(Error::build(&request_name, "the CSV reader was used up by an earlier attempt"));
                };
                let response =
                    self.inner.http.request(request).await.map_err(|e| self.send_error(&request_name, e, &failure))?;
                let response = check(&request_name, response, call.accept, &redact).await?;
                if !matches!(call.body, CallBody::Empty) && !failure.finished() {
                    // A success before the whole body went out acknowledges
                    // something other than this request.
                    return Err(Error::Connection {
                        request: request_name.clone(),
                        what: ConnectionFailure::AnsweredEarly,
                        source: format!("{} bytes were sent", failure.sent()).into(),
                    });
                }
                handle(Success { response, deadline, redact: redact.clone() }).await
            };
            let outcome = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::Timeout { request: request_name.clone(), after: limit }),
            };
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if let (Some(401), false, true, Some(token), Auth::Grant(grant)) =
                (error.status(), renewed, call.replayable(), &token, &self.inner.auth)
            {
                tracing::info!(request = %request_name, "Domo rejected the token for {request_name}; asking for a new one");
                renewed = true;
                invalidate(grant, token).await;
                continue;
            }
            failed_attempts += 1;
            let may_repeat = match call.repeat {
                Repeat::Safe => true,
                Repeat::Create => {
                    policy.creates == CreateRetry::OnFailure
                        || matches!(error, Error::Connection { what: ConnectionFailure::Connect, .. })
                }
            };
            if failed_attempts >= policy.max_attempts || !error.is_retryable() || !may_repeat || !call.replayable() {
                return Err(error);
            }
            let wait = retry::delay(policy, failed_attempts, error.retry_after());
            if error.retry_after().is_some_and(|asked| asked > policy.max_retry_after) {
                return Err(error);
            }
            tracing::warn!(
                request = %request_name,
                attempt = failed_attempts,
                wait_ms = wait.as_millis() as u64,
                %error,
                "retrying {request_name} in {} (attempt {} of {}): {}",
                crate::error::DisplayDuration(wait),
                failed_attempts.saturating_add(1),
                policy.max_attempts,
                error.log_reason(&request_name),
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Builds one attempt's request; `None` when its body cannot be made again.
    async fn request(
        &self,
        call: &mut Call<'_>,
        token: Option<&Secret>,
        request_name: &str,
        failure: ReadFailure,
    ) -> Result<Option<Request<RequestBody>>, Error> {
        let uri = self.inner.base.uri(&call.path).map_err(|e| Error::build(request_name, format!("bad URL: {e}")))?;
        let mut builder = Request::builder().method(call.method.clone()).uri(uri);
        let headers = builder.headers_mut().ok_or_else(|| Error::build(request_name, "bad request"))?;
        headers.insert(header::ACCEPT, HeaderValue::from_static(call.accept));
        headers.insert(header::USER_AGENT, HeaderValue::from_static(concat!("domo-http/", env!("CARGO_PKG_VERSION"))));
        let authorization = match (call.auth, token, &self.inner.auth) {
            (CallAuth::Bearer, Some(token), _) => Some(format!("Bearer {}", token.expose())),
            (CallAuth::Basic, _, Auth::Grant(grant)) => Some(grant.basic.expose().to_owned()),
            _ => None,
        };
        if let Some(value) = authorization {
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| Error::build(request_name, "the token or client credentials are not valid header text"))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let body = match &mut call.body {
            CallBody::Empty => body::empty(),
            CallBody::Bytes { bytes, content_type, encoding } => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                if let Some(encoding) = encoding {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
                }
                // Streamed in chunks, so that an answer before the end is noticed.
                let reader = Box::pin(std::io::Cursor::new(bytes.clone()));
                body::streamed(reader, Some(bytes.len() as u64), Compression::None, None, failure)
            }
            CallBody::Csv { source, compression, progress } => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
                if *compression == Compression::Gzip {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                }
                let opened = source.open().await.map_err(|(what, source)| Error::Io {
                    request: request_name.to_owned(),
                    what,
                    source,
                })?;
                let Some((reader, len)) = opened else { return Ok(None) };
                body::streamed(reader, len, *compression, progress.clone(), failure)
            }
        };
        builder.body(body).map(Some).map_err(|e| Error::build(request_name, e.to_string()))
    }

    fn send_error(&self, request_name: &str, error: hyper_util::client::legacy::Error, failure: &ReadFailure) -> Error {
        if let Some(source) = failure.take_failure() {
            return Error::Io {
                request: request_name.to_owned(),
                what: "cannot read the CSV source".to_owned(),
                source,
            };
        }
        if error.is_connect() && has_io_kind(&error, std::io::ErrorKind::TimedOut) {
            return Error::Timeout { request: request_name.to_owned(), after: self.inner.timeouts.connect };
        }
        let what = if is_tls_error(&error) {
            ConnectionFailure::Tls
        } else if error.is_connect() {
            ConnectionFailure::Connect
        } else {
            ConnectionFailure::Connection
        };
        Error::Connection { request: request_name.to_owned(), what, source: Box::new(error) }
    }

    /// Asks `POST /oauth/token` for a new token now and returns Domo's answer:
    /// who the credentials act as (`userId`, `role`, `customer`) and the scopes
    /// granted. The token is cached for the calls that follow. `None` for a
    /// ready token ([`Credentials::Token`]), which comes with no such answer.
    pub async fn authenticate(&self) -> Result<Option<TokenResponse>, Error> {
        let Auth::Grant(grant) = &self.inner.auth else { return Ok(None) };
        let mut cached = grant.cached.lock().await;
        let response = Box::pin(self.request_token(grant)).await?;
        *cached = Some(CachedToken::from(&response));
        Ok(Some(response))
    }

    /// The bearer token to send: the fixed one, or a cached one renewed before
    /// it expires. Concurrent callers wait for one token request.
    async fn bearer(&self) -> Result<Secret, Error> {
        let grant = match &self.inner.auth {
            Auth::Token(token) => return Ok(token.clone()),
            Auth::Grant(grant) => grant,
        };
        let mut cached = grant.cached.lock().await;
        if let Some(current) = cached.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(current.token.clone());
        }
        // Boxed: the token request goes through `execute`, which called us.
        let response = Box::pin(self.request_token(grant)).await?;
        let fresh = CachedToken::from(&response);
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn request_token(&self, grant: &Grant) -> Result<TokenResponse, Error> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if !grant.scopes.is_empty() {
                form.append_pair("scope", &Scope::join(&grant.scopes));
            }
            form.finish()
        };
        // A POST form, as pydomo and the Java SDK send it; the reference
        // documents a GET with a query string, so a server that refuses the
        // POST with 405 is asked that way.
        let mut call = Call::new(Method::POST, "/oauth/token".to_owned());
        call.auth = CallAuth::Basic;
        call.repeat = Repeat::Safe;
        call.body = CallBody::Bytes {
            bytes: form.clone().into(),
            content_type: "application/x-www-form-urlencoded",
            encoding: None,
        };
        match self.execute(&mut call, decode_json).await {
            Err(error) if error.status() == Some(405) => {
                let mut call = Call::new(Method::GET, format!("/oauth/token?{form}"));
                call.auth = CallAuth::Basic;
                self.execute(&mut call, decode_json).await
            }
            answer => answer,
        }
    }

    /// Sends a call and decodes its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, mut call: Call<'_>) -> Result<T, Error> {
        self.execute(&mut call, decode_json).await
    }

    /// Sends a call whose success carries no data. Any 2xx is success unless
    /// its body says otherwise: an HTML page (a proxy's or a maintenance
    /// page), Domo's JSON error body, or a body too large to be an
    /// acknowledgement is an [`Error::UnexpectedBody`]; a body cut short is a
    /// connection error.
    pub(crate) async fn no_content(&self, call: Call<'_>) -> Result<(), Error> {
        self.acknowledged(call, "no content", |_| false).await
    }

    /// [`Client::no_content`] for a call whose 2xx body may also say that the
    /// work failed: `refuse` tells such a body, which is then an
    /// [`Error::UnexpectedBody`] naming what was `expected`.
    pub(crate) async fn acknowledged(
        &self,
        mut call: Call<'_>,
        expected: &'static str,
        refuse: fn(&[u8]) -> bool,
    ) -> Result<(), Error> {
        let name = call.describe();
        self.execute(&mut call, |success| {
            let name = name.clone();
            async move {
                let status = success.response.status().as_u16();
                let content_type = content_type(success.response.headers());
                let total = content_length(success.response.headers());
                let (bytes, read) =
                    read_excerpt(Bytes::new(), success.response.into_body(), MAX_ERROR_BODY, total).await;
                if let BodyRead::Broken { read } = read {
                    return Err(Error::Connection {
                        request: name,
                        what: ConnectionFailure::BodyCutShort,
                        source: format!("the connection failed after {read} bytes").into(),
                    });
                }
                let html = looks_like_html(&bytes);
                let error_body = serde_json::from_slice::<domo_model::ErrorBody>(&bytes).is_ok_and(|b| b.status >= 400);
                if !(html || error_body || read != BodyRead::Whole || refuse(&bytes)) {
                    return Ok(());
                }
                let body = Box::new(describe_body(&bytes, html, &success.redact));
                Err(Error::UnexpectedBody { request: name, status, expected, content_type, body, read })
            }
        })
        .await
    }
}

/// The instant `limit` from now; a limit too large to represent means "a year".
pub(crate) fn after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit).or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600))).unwrap_or(now)
}

async fn invalidate(grant: &Grant, used: &Secret) {
    let mut cached = grant.cached.lock().await;
    if cached.as_ref().is_some_and(|c| &c.token == used) {
        *cached = None;
    }
}

/// Whether rustls failed somewhere in the chain of causes. `io::Error` hides
/// its payload from `source()`, so it is opened with `get_ref()`.
fn is_tls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.is::<rustls::Error>() {
            return true;
        }
        cause = match current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_will_not_change_is_not_retried() {
        let connection = |what| Error::Connection { request: "GET /x".to_owned(), what, source: "cause".into() };
        assert!(connection(ConnectionFailure::Connect).is_retryable());
        assert!(connection(ConnectionFailure::BodyCutShort).is_retryable());
        for what in [ConnectionFailure::Tls, ConnectionFailure::Unframed, ConnectionFailure::BodyTooLarge] {
            assert!(!connection(what).is_retryable(), "{what}");
        }
    }

    #[test]
    fn base_urls_keep_a_path_prefix() {
        let base = BaseUrl::parse("http://127.0.0.1:8080/domo/").unwrap();
        assert_eq!(
            base.uri("/v1/datasets?limit=50").unwrap().to_string(),
            "http://127.0.0.1:8080/domo/v1/datasets?limit=50"
        );
        assert!(BaseUrl::parse("https://api.domo.com?x=1").is_err());
        assert!(BaseUrl::parse("http://10.0.0.1").is_err());
    }
}
