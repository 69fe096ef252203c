//! Starting and stopping an emulator: the builder, the accept loop with its
//! connection cap, and graceful shutdown.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use domo_model::{Directory, Role, Secret, User, UserId};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::app::{App, Limits, router};
use crate::auth::{ApiClient, Auth};
use crate::error::StartError;
use crate::random;
use crate::store::{Store, StoredClient};
use crate::tls::{Https, Tls};

/// The local Domo API emulator. Start one with [`Emulator::builder`].
#[derive(Debug)]
pub struct Emulator(());

impl Emulator {
    /// A builder with the defaults: `127.0.0.1:0`, a temporary data folder
    /// removed at shutdown, one-hour tokens, 1 GiB bodies, 5-minute requests,
    /// 256 connections.
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
            },
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
}

impl EmulatorBuilder {
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

    /// How long a request may take, body included, before it is answered with
    /// 408 (default five minutes).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_timeout = timeout;
        self
    }

    /// How many connections are served at once (default 256); more wait in the
    /// listen queue.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections.max(1);
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
        let directory = self.directory;
        let make_client = clients.is_empty();
        let client_users: Vec<UserId> = clients.iter().map(|c| c.user).collect();
        let generated = store
            .write_blocking(move |state| {
                if let Some(directory) = directory {
                    state.directory = directory;
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
                        let client = StoredClient { id: random::uuid(), secret: random::hex(32), user };
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
        let app = Arc::new(App {
            store,
            auth: Auth::new(clients, self.token_ttl),
            limits: self.limits,
            compacting: tokio::sync::Mutex::new(()),
        });
        let listener =
            TcpListener::bind(bind).await.map_err(|source| StartError::Bind { addr: bind.to_string(), source })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: bind.to_string(), source })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, https, stopped));
        tracing::info!(%addr, data_dir = %data_dir.display(), "emulator listening");
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
fn add_client_user(directory: &mut Directory, user: UserId, role: Role) {
    if directory.user(user).is_none() {
        tracing::info!(%user, %role, "adding the user of an API client to the directory");
        directory.users.push(User::new(user, format!("API client user {user}"), role));
    }
}

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

async fn serve(listener: TcpListener, app: Arc<App>, https: Option<Https>, mut stop: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(app.limits.max_connections));
    let service = router(Arc::clone(&app));
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
        let (service, watcher) = (TowerToHyperService::new(service.clone()), graceful.watcher());
        let https = https.clone();
        connections.spawn(async move {
            let result = match https {
                None => watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await,
                // The handshake runs here, not in the accept loop, so that a slow client holds up no one else.
                Some(https) => match tokio::time::timeout(HEADER_READ_TIMEOUT, https.acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => watcher.watch(http.serve_connection(TokioIo::new(tls), service)).await,
                    Ok(Err(err)) => {
                        tracing::debug!(error = %err, "TLS handshake failed");
                        Ok(())
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        Ok(())
                    }
                },
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running at shutdown were cut off");
    }
    // Whatever is left is cut off, so that the data folder is free when this returns.
    connections.shutdown().await;
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
        wait_for_signal().await?;
        tracing::info!("signal received, shutting down");
        self.shutdown().await;
        Ok(())
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
