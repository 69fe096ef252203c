//! Starting and stopping an emulator: the builder, the accept loop (plain or TLS) with its
//! connection cap, and graceful shutdown.

mod conn;

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::response::IntoResponse;
use domo_model::{Directory, Role, Secret, User, UserId};
use futures_util::FutureExt;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, TryAcquireError, watch};
use tokio::task::JoinHandle;

use crate::app::router;
use crate::auth::{ApiClient, Auth};
use crate::error::{ApiError, StartError};
use crate::random;
use crate::state::{App, Limits, ResponseShapes};
use crate::store::{Store, StoredClient};
use crate::tls::{Https, Tls};
use conn::{ConnState, Timeouts, Tracked};

/// The local Domo API emulator. Start one with [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator(());

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0`, a temporary data folder
    /// removed at shutdown, one-hour tokens, 1 GiB bodies, 5-minute requests,
    /// 256 connections, 5 seconds to send a request head, and keep-alive
    /// connections closed after 60 idle seconds.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            data_dir: None,
            directory: None,
            clients: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            bind: Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            tls: None,
            limits: Limits {
                max_body_bytes: 1024 * 1024 * 1024,
                request_timeout: Duration::from_secs(300),
                max_connections: 256,
                header_read_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(60),
            },
            shapes: ResponseShapes::Full,
        }
    }
}

/// Settings of an emulator before it starts.
#[derive(Debug)]
pub struct EmulatorBuilder {
    data_dir: Option<PathBuf>,
    directory: Option<Directory>,
    clients: Vec<ApiClient>,
    token_ttl: Duration,
    bind: Result<SocketAddr, String>,
    tls: Option<Tls>,
    limits: Limits,
    shapes: ResponseShapes,
}

impl EmulatorBuilder {
    /// How fully answers are filled (default [`ResponseShapes::Full`]);
    /// tests use [`ResponseShapes::ReferenceMinimal`] to meet the variations
    /// the published reference allows.
    pub fn response_shapes(mut self, shapes: ResponseShapes) -> Self {
        self.shapes = shapes;
        self
    }

    /// Keeps DataSets, rows, policies and streams in this folder, created if
    /// missing, across restarts. Without it the emulator uses a temporary
    /// folder that is removed when it shuts down.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The users and groups to serve and to check policies against. They are
    /// kept in the data folder, so a later start without a directory serves
    /// the same people.
    pub fn directory(mut self, directory: Directory) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Adds an API client acting as `user`. Without any, the emulator makes one
    /// on first start, keeps it in the data folder, and reports it through
    /// [`RunningEmulator::generated_client`].
    pub fn client(self, id: impl Into<String>, secret: impl Into<Secret>, user: impl Into<UserId>) -> Self {
        self.api_client(ApiClient::new(id, secret, user.into()))
    }

    /// Adds an API client.
    pub fn api_client(mut self, client: ApiClient) -> Self {
        self.clients.push(client);
        self
    }

    /// How long a token lives (default one hour); tests use a short one.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free loopback port):
    /// a [`SocketAddr`] or text such as `"127.0.0.1:8470"`. An address that
    /// does not resolve makes [`EmulatorBuilder::start`] fail.
    pub fn bind(mut self, addr: impl ToSocketAddrs + fmt::Display) -> Self {
        self.bind = match addr.to_socket_addrs().map(|mut all| all.next()) {
            Ok(Some(resolved)) => Ok(resolved),
            Ok(None) => Err(addr.to_string()),
            Err(_) => Err(addr.to_string()),
        };
        self
    }

    /// Serves HTTPS instead of HTTP (the official Node SDK speaks nothing
    /// else). [`RunningEmulator::tls_cert`] names the certificate clients
    /// must trust.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The largest request body in bytes, and the largest CSV after gunzip
    /// (default 1 GiB). Uploads are streamed to disk, never held in memory.
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }

    /// How long a client may take to send a request body, from the end of its
    /// head, before it is answered with 408 and nothing changes (default five
    /// minutes). The emulator's own work on a request is not cut short: a
    /// write that has begun is answered with its outcome.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_timeout = timeout;
        self
    }

    /// How many connections are open at once (default 256). At the cap, a new
    /// client is admitted by closing the connection that has waited longest for
    /// its next request; when every connection has a request under way, new
    /// ones wait in the listen queue.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections.max(1);
        self
    }

    /// How long a client may take to send a request head once its first byte
    /// has arrived (default five seconds); a slower one gets 408 and is closed.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a keep-alive connection may wait for its next request (default
    /// 60 seconds) before it is closed; also how long a client may read
    /// nothing of a response before its connection is dropped.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// Opens the data folder and starts serving on the runtime this is called on.
    pub async fn start(self) -> Result<RunningEmulator, StartError> {
        let bind = self.bind.map_err(|addr| StartError::Bind {
            addr,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the address does not resolve"),
        })?;
        let (data_dir, temp) = match self.data_dir {
            Some(dir) => (dir, None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("domo-emulator-")
                    .tempdir()
                    .map_err(|source| StartError::DataDir { path: std::env::temp_dir(), source })?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let store = {
            let dir = data_dir.clone();
            let opened = tokio::task::spawn_blocking(move || Store::open(&dir)).await;
            Arc::new(opened.map_err(|err| StartError::DataDir {
                path: data_dir.clone(),
                source: std::io::Error::other(err.to_string()),
            })??)
        };
        let mut clients = self.clients;
        for (index, client) in clients.iter().enumerate() {
            if clients.iter().skip(index + 1).any(|c| c.id == client.id) {
                return Err(StartError::DuplicateClient { id: client.id.clone() });
            }
        }
        // The certificate before the state changes too: a start with a bad one
        // leaves the state as it was (a self-signed pair, once made, is kept).
        let https = match &self.tls {
            Some(tls) => {
                let (tls, dir) = (tls.clone(), data_dir.clone());
                let made = tokio::task::spawn_blocking(move || crate::tls::setup(&tls, &dir)).await;
                Some(made.map_err(|err| StartError::DataDir {
                    path: data_dir.clone(),
                    source: std::io::Error::other(err.to_string()),
                })??)
            }
            None => None,
        };
        let tls_cert = https.as_ref().map(|h| h.cert.clone());
        let directory = self.directory;
        let problems = match &directory {
            Some(directory) => directory.problems(),
            None => store.read(|state| state.directory.problems()),
        };
        if !problems.is_empty() {
            return Err(StartError::invalid_directory(&problems));
        }
        if directory.is_some() && store.read(|state| state.directory_changed) {
            return Err(StartError::DirectoryChanged);
        }
        let make_client = clients.is_empty();
        let client_users: Vec<UserId> = clients.iter().map(|c| c.user).collect();
        // Listen before the state changes, so that a start that cannot listen
        // leaves the data folder as it was.
        let listener =
            TcpListener::bind(bind).await.map_err(|source| StartError::Bind { addr: bind.to_string(), source })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: bind.to_string(), source })?;
        let generated = store
            .write_blocking(move |state| {
                if let Some(directory) = directory {
                    state.directory = Arc::new(directory);
                }
                for user in client_users {
                    add_client_user(&mut state.directory, user, Role::Participant);
                }
                if !make_client {
                    return Ok(None);
                }
                let client = match &state.generated_client {
                    Some(client) => client.clone(),
                    None => {
                        let user = first_admin(&state.directory);
                        let client = StoredClient { id: random::uuid(), secret: Secret::new(random::hex(32)), user };
                        state.generated_client = Some(client.clone());
                        client
                    }
                };
                add_client_user(&mut state.directory, client.user, Role::Admin);
                Ok(Some(ApiClient::new(client.id, client.secret, client.user)))
            })
            .await
            .map_err(|err| StartError::DataDir {
                path: data_dir.clone(),
                source: std::io::Error::other(format!("{err:?}")),
            })?;
        clients.extend(generated.clone());
        let app = Arc::new(App {
            store,
            auth: Auth::new(clients, self.token_ttl),
            limits: self.limits,
            shapes: self.shapes,
            compacting: tokio::sync::Mutex::new(()),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, https, stopped));
        tracing::debug!(%addr, data_dir = %data_dir.display(), "listening on {addr}, data folder `{}`", data_dir.display());
        Ok(RunningEmulator { addr, data_dir, generated, tls_cert, stop, task: Some(task), _temp: temp })
    }
}

/// The first Admin of the directory, or else a new user id for the generated client.
fn first_admin(directory: &Directory) -> UserId {
    match directory.users.iter().find(|u| u.is_admin()) {
        Some(admin) => admin.id,
        None => UserId(directory.users.iter().map(|u| u.id.get()).max().map_or(1, |max| max.saturating_add(1))),
    }
}

/// A client whose user is not in the directory acts as a user added to it, so
/// that the emulator works without a directory file. A client named on the
/// command line gets the least privilege (`Participant`: PDP applies to it on
/// DataSets it does not own); only the generated client, which stands for the
/// person running the emulator, is an Admin.
fn add_client_user(directory: &mut Arc<Directory>, user: UserId, role: Role) {
    if directory.user(user).is_none() {
        tracing::info!(%user, %role, "user {user} of an API client is not in the directory: added as {role}");
        Arc::make_mut(directory).users.push(User::new(user, format!("API client user {user}"), role));
    }
}

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often a new client waiting at the connection cap looks for an idle connection to close.
const CAP_RETRY: Duration = Duration::from_millis(20);

/// The open connections, for closing the longest idle one at the cap.
type Registry = Vec<Weak<ConnState>>;

async fn serve(listener: TcpListener, app: Arc<App>, https: Option<Https>, mut stop: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(app.limits.max_connections));
    let service = router(Arc::clone(&app));
    let timeouts = Timeouts { head: app.limits.header_read_timeout, idle: app.limits.idle_timeout };
    let mut registry: Registry = Vec::new();
    let mut connections = tokio::task::JoinSet::new();
    'accept: loop {
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %err, "cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let permit = loop {
            match Arc::clone(&permits).try_acquire_owned() {
                Ok(permit) => break permit,
                Err(TryAcquireError::Closed) => break 'accept,
                Err(TryAcquireError::NoPermits) => make_room(&mut registry),
            }
            tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => break permit,
                    Err(_) => break 'accept,
                },
                () = tokio::time::sleep(CAP_RETRY) => {}
                _ = stop.changed() => break 'accept,
            }
        };
        let state = ConnState::new();
        registry.retain(|weak| weak.strong_count() > 0);
        registry.push(Arc::downgrade(&state));
        let service = connection_service(service.clone(), Arc::clone(&state));
        let (stop, https) = (stop.clone(), https.clone());
        connections.spawn(async move {
            let result = match https {
                None => serve_connection(stream, state, timeouts, service, stop).await,
                // The handshake runs here, not in the accept loop, so that a slow
                // client holds up no one else; it has the request head's time limit.
                Some(https) => match tokio::time::timeout(timeouts.head, https.acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_connection(tls, state, timeouts, service, stop).await,
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "TLS handshake failed: {err}");
                        Ok(())
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        Ok(())
                    }
                },
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, "a connection ended with an error: {err}");
            }
            drop(permit);
        });
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        tracing::warn!("requests still running at shutdown were cut off");
    }
    // Whatever is left is cut off, so that the data folder is free when this returns.
    connections.shutdown().await;
}

/// Serves one connection (plain TCP or TLS) through [`Tracked`] until it ends
/// or the emulator stops.
async fn serve_connection<S>(
    stream: S,
    state: Arc<ConnState>,
    timeouts: Timeouts,
    service: impl hyper::service::Service<
        http::Request<hyper::body::Incoming>,
        Response = http::Response<axum::body::Body>,
        Error = std::convert::Infallible,
        Future = impl Future<Output = Result<http::Response<axum::body::Body>, std::convert::Infallible>> + Send,
    > + Clone,
    mut stop: watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let io = TokioIo::new(Tracked::new(stream, Arc::clone(&state), timeouts));
    // hyper's own header timeout would also cut idle keep-alive
    // connections; `Tracked` keeps the two apart.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        () = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
            state.evict();
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    }
}

/// At the cap: closes the connection that has waited longest for a request,
/// unless one asked to close is closing already. (One still in its TLS
/// handshake closes when the handshake ends or runs out of time.)
fn make_room(registry: &mut Registry) {
    registry.retain(|weak| weak.strong_count() > 0);
    let open: Vec<Arc<ConnState>> = registry.iter().filter_map(Weak::upgrade).collect();
    if open.iter().any(|state| state.is_closing()) {
        return;
    }
    if let Some(oldest) =
        open.iter().filter_map(|s| s.idle_since().map(|since| (since, s))).min_by_key(|(since, _)| *since)
    {
        tracing::debug!("at the connection cap: closing the longest idle connection");
        oldest.1.evict();
    }
}

/// The router for one connection: marks each response under way (for the
/// idle timeout and the cap), and answers a handler's panic with a 500.
fn connection_service(
    router: axum::Router,
    state: Arc<ConnState>,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<axum::body::Body>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<http::Response<axum::body::Body>, std::convert::Infallible>> + Send,
> + Clone {
    let router = TowerToHyperService::new(router);
    hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let guard = state.begin();
        let response = hyper::service::Service::call(&router, request);
        async move {
            let response = match std::panic::AssertUnwindSafe(response).catch_unwind().await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    let err = std::io::Error::other("a request handler panicked");
                    ApiError::internal("the request could not be completed", &err).into_response()
                }
            };
            // The guard lives as long as the body: hyper drops it once all is taken.
            Ok(response.map(|body| {
                axum::body::Body::new(body.map_frame(move |frame| {
                    let _ = &guard;
                    frame
                }))
            }))
        }
    })
}

/// An emulator serving requests. Stop it with [`RunningEmulator::shutdown`];
/// dropping it also stops it, without waiting.
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    data_dir: PathBuf,
    generated: Option<ApiClient>,
    tls_cert: Option<PathBuf>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl RunningEmulator {
    /// The address it listens on, with the real port when port 0 was asked for.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, or `https://ADDR` when serving HTTPS: the base URL to
    /// point a Domo client at.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls_cert.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The certificate clients must trust when serving HTTPS (a PEM file).
    pub fn tls_cert(&self) -> Option<&Path> {
        self.tls_cert.as_deref()
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The client made on first start (and kept in the data folder) when no
    /// client was configured.
    pub fn generated_client(&self) -> Option<&ApiClient> {
        self.generated.as_ref()
    }

    /// Stops accepting connections, lets requests in flight finish (for up to
    /// ten seconds) and returns when the server is down.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until SIGINT (Ctrl-C) or, on Unix, SIGTERM, then shuts down.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let signals = StopSignals::listen()?;
        self.run_until(signals).await
    }

    /// Serves until one of `signals` arrives, then shuts down gracefully.
    /// Listen first (before telling anyone that Ctrl-C stops the server), so
    /// that a signal sent right away stops it cleanly instead of killing it.
    pub async fn run_until(self, mut signals: StopSignals) -> std::io::Result<()> {
        signals.recv().await?;
        tracing::info!("signal received, shutting down");
        self.shutdown().await;
        Ok(())
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment [`StopSignals::listen`] returns.
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening: from now on these signals no longer end the process
    /// at once. Must be called inside a Tokio runtime.
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    #[cfg(unix)]
    async fn recv(&mut self) -> std::io::Result<()> {
        tokio::select! {
            _ = self.interrupt.recv() => Ok(()),
            _ = self.terminate.recv() => Ok(()),
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> std::io::Result<()> {
        tokio::signal::ctrl_c().await
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
