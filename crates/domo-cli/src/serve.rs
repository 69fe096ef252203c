//! `domo serve`: the local emulator of Domo's API.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use domo_emulator::{ApiClient, Emulator, Tls};

use crate::exit::Outcome;
use crate::units::{parse_duration, parse_size};

/// The port `domo serve` listens on unless told otherwise.
const DEFAULT_PORT: u16 = 8470;

/// Options of `domo serve`.
///
/// Starts a local emulator of Domo's DataSet, PDP, user, group and stream API
/// on 127.0.0.1. On first start it makes a client id and secret, keeps them in
/// the data folder and prints them. Export applies PDP for the user behind the
/// token (those who may manage the DataSet see every row: docs/permissions.md). With --tls it serves HTTPS, as
/// the official Node SDK requires, and prints how to trust its certificate.
/// The data folder keeps DataSets, rows, policies, streams and the directory
/// across restarts; clients given at a start serve that start only, and
/// --ephemeral keeps nothing (docs/serve.md). Stops cleanly on Ctrl-C or SIGTERM.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Address to listen on. Loopback by default; anything else exposes the
    /// emulator to the network.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Folder for DataSets, rows, policies and the generated client
    /// [default: $XDG_DATA_HOME/domo/emulator or ~/.local/share/domo/emulator].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Keep nothing: start from an empty temporary data folder, removed when
    /// the emulator stops, so that every start is the same (the README's
    /// quick start uses it).
    #[arg(long, conflicts_with = "data_dir")]
    ephemeral: bool,
    /// Users and groups to serve and check policies against: the same
    /// directory.json the previews read. Kept in the data folder: a later
    /// start without --directory serves the kept one.
    #[arg(long, value_name = "FILE")]
    directory: Option<PathBuf>,
    /// An API client acting as a user (repeatable). The secret shows in the
    /// process list (`ps`): prefer DOMO_SERVE_CLIENT or --client-file. Clients
    /// serve only the start they are given to and are never written to disk;
    /// with no client from any of the three, the generated client is used.
    #[arg(long = "client", value_name = "ID:SECRET:USER_ID")]
    clients: Vec<ApiClient>,
    /// A file of API clients, one `ID:SECRET:USER_ID` a line; blank lines and
    /// lines starting with `#` are skipped. Only its owner may read or write it
    /// (`chmod 600`). Clients may also come from the DOMO_SERVE_CLIENT
    /// environment variable, entries separated by commas or newlines.
    #[arg(long, value_name = "FILE")]
    client_file: Option<PathBuf>,
    /// How long tokens live: seconds, or a number with `ms`, `s`, `m` or `h`.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    token_ttl: Duration,
    /// Largest request body, also after gunzip: bytes, or a number with `K`, `M` or `G` (binary).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    max_body: u64,
    /// How long a request body may take to arrive (then 408, and nothing changes).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    request_timeout: Duration,
    /// How many connections are open at once; at the cap the longest idle one
    /// is closed to admit a new client.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_connections: usize,
    /// How long a client may take to send a request head once it has started.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request, and a
    /// client may read nothing of a response, before it is closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Serve HTTPS with a self-signed certificate for localhost, 127.0.0.1
    /// and ::1, made on first start and kept in the data folder (tls/).
    #[arg(long)]
    tls: bool,
    /// Serve HTTPS with this certificate chain (PEM) instead of the self-signed one.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// The environment variable holding API clients, so that secrets stay out of `ps`.
const CLIENT_ENV: &str = "DOMO_SERVE_CLIENT";
/// A client file larger than this is refused: it holds a few lines.
const MAX_CLIENT_FILE_BYTES: u64 = 1024 * 1024;

/// Runs the emulator until SIGINT or SIGTERM, logging requests to stderr
/// (`DOMO_LOG` filters the log, `info` by default; `DOMO_LOG=warn` quiets it;
/// the log is set up in `main`, as for every command).
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    let mut builder = Emulator::builder();
    if !args.ephemeral {
        let data_dir = match args.data_dir {
            Some(dir) => dir,
            None => default_data_dir()?,
        };
        builder = builder.data_dir(data_dir);
    }
    builder = builder
        .bind(SocketAddr::new(args.bind, args.port))
        .token_ttl(args.token_ttl)
        .max_body_bytes(args.max_body)
        .request_timeout(args.request_timeout)
        .max_connections(args.max_connections)
        .header_read_timeout(args.header_timeout)
        .idle_timeout(args.idle_timeout);
    match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => builder = builder.tls(Tls::Files { cert, key }),
        _ if args.tls => builder = builder.tls(Tls::SelfSigned),
        _ => {}
    }
    if let Some(path) = &args.directory {
        let directory = crate::folder::read_directory(path, crate::folder::MAX_JSON_BYTES)?;
        builder = builder.directory(directory);
    }
    if !args.clients.is_empty() {
        eprintln!(
            "warning: `--client` shows the client secret in the process list; prefer {CLIENT_ENV} or --client-file"
        );
    }
    let mut clients = args.clients;
    if let Some(text) = std::env::var_os(CLIENT_ENV) {
        let text = text.into_string().map_err(|_| anyhow::anyhow!("{CLIENT_ENV} is not valid UTF-8"))?;
        clients.extend(parse_clients(&text, ClientSource::Env)?);
    }
    if let Some(path) = &args.client_file {
        clients.extend(read_client_file(path)?);
    }
    let configured: Vec<(String, u64)> = clients.iter().map(|c| (c.id.clone(), c.user.get())).collect();
    for client in clients {
        builder = builder.api_client(client);
    }
    let (ephemeral, directory_file) = (args.ephemeral, args.directory.clone());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Listen for Ctrl-C before saying that it stops the emulator.
        let signals = domo_emulator::StopSignals::listen().context("cannot listen for stop signals")?;
        let emulator = builder.start().await.context("cannot start the emulator")?;
        let base = emulator.base_url();
        let mut out = crate::stdout::Stdout::new(std::io::stdout().lock());
        writeln!(out, "Domo API emulator listening on {base}")?;
        if ephemeral {
            writeln!(out, "data folder: {} (temporary: removed when it stops)", emulator.data_dir().display())?;
        } else {
            writeln!(out, "data folder: {}", emulator.data_dir().display())?;
        }
        match (&directory_file, ephemeral) {
            (Some(path), true) => writeln!(out, "directory: `{}`", path.display())?,
            (Some(path), false) => writeln!(out, "directory: `{}` (kept in the data folder)", path.display())?,
            (None, true) => writeln!(out, "directory: none given (only the users of API clients)")?,
            (None, false) => writeln!(out, "directory: the one kept in the data folder (none on a first start)")?,
        }
        if let Some(cert) = emulator.tls_cert() {
            print_trust(&mut out, cert, &base)?;
        }
        let cacert = emulator.tls_cert().map(|c| format!("--cacert '{}' ", c.display())).unwrap_or_default();
        match emulator.generated_client() {
            Some(client) => {
                let (id, secret) = (&client.id, client.secret.expose());
                writeln!(out, "client id:     {id}")?;
                writeln!(out, "client secret: {secret}")?;
                writeln!(out, "it acts as user {} (an Admin added to the directory unless the directory has that user)", client.user)?;
                writeln!(
                    out,
                    "try: curl -s {cacert}-u '{id}:{secret}' '{base}/oauth/token?grant_type=client_credentials&scope=data%20user'"
                )?;
            }
            None => {
                for (id, user) in &configured {
                    writeln!(out, "client `{id}` acts as user {user} (for this start only: clients are not kept)")?;
                }
                if let Some((id, _)) = configured.first() {
                    writeln!(
                        out,
                        "try: curl -s {cacert}-u '{id}:SECRET' '{base}/oauth/token?grant_type=client_credentials&scope=data%20user'"
                    )?;
                }
            }
        }
        writeln!(out, "Ctrl-C stops it.")?;
        out.flush()?;
        drop(out);
        if !emulator.addr().ip().is_loopback() {
            eprintln!("warning: listening beyond loopback on {}: anyone who can reach it can ask for tokens", emulator.addr());
        }
        emulator.run_until(signals).await.context("cannot wait for a stop signal")?;
        eprintln!("emulator stopped");
        Ok(Outcome::Ok)
    })
}

/// Where the certificate is and how each client is told to trust it.
fn print_trust(out: &mut impl Write, cert: &std::path::Path, base: &str) -> std::io::Result<()> {
    let cert = cert.display();
    writeln!(out, "certificate: {cert}")?;
    writeln!(out, "trust it with:")?;
    writeln!(out, "  Node (domo-sdk):  NODE_EXTRA_CA_CERTS='{cert}' node app.js")?;
    writeln!(out, "  Python (pydomo):  REQUESTS_CA_BUNDLE='{cert}' python app.py  (trusts only this certificate)")?;
    writeln!(out, "  domo:             DOMO_CA_CERT='{cert}' DOMO_API_HOST={base} domo datasets list")?;
    writeln!(out, "  curl:             curl --cacert '{cert}' {base}/…")
}

/// Where a list of clients came from, to name the place of a bad entry.
#[derive(Debug, Clone, Copy)]
enum ClientSource<'a> {
    /// `DOMO_SERVE_CLIENT`: entries separated by commas or newlines.
    Env,
    /// A client file: one entry a line, `#` comments.
    File(&'a Path),
}

/// Reads `ID:SECRET:USER_ID` entries. A bad entry is named by its place and
/// never shown, since it holds a secret.
fn parse_clients(text: &str, source: ClientSource<'_>) -> anyhow::Result<Vec<ApiClient>> {
    let entries: Vec<&str> = match source {
        ClientSource::Env => text.split([',', '\n']).collect(),
        ClientSource::File(_) => text.lines().collect(),
    };
    let mut clients = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let entry = entry.trim();
        if entry.is_empty() || (matches!(source, ClientSource::File(_)) && entry.starts_with('#')) {
            continue;
        }
        let place = match source {
            ClientSource::Env => format!("{CLIENT_ENV} entry {}", index + 1),
            ClientSource::File(path) => format!("`{}` line {}", path.display(), index + 1),
        };
        let client = entry.parse::<ApiClient>().map_err(|_| {
            anyhow::anyhow!(
                "{place}: expected `ID:SECRET:USER_ID` with a numeric user id (the entry is not shown: it holds a secret)"
            )
        })?;
        clients.push(client);
    }
    Ok(clients)
}

/// Reads a client file, refusing one that other users may read or write.
fn read_client_file(path: &Path) -> anyhow::Result<Vec<ApiClient>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let meta = file.metadata().with_context(|| format!("cannot read `{}`", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "`{}` holds client secrets and other users may read or write it (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    if !meta.is_file() {
        anyhow::bail!("`{}` is not a file", path.display());
    }
    let mut bytes = Vec::new();
    file.take(MAX_CLIENT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.len() as u64 > MAX_CLIENT_FILE_BYTES {
        anyhow::bail!("`{}` is larger than a client file may be ({MAX_CLIENT_FILE_BYTES} bytes)", path.display());
    }
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("`{}` is not valid UTF-8", path.display()))?;
    parse_clients(&text, ClientSource::File(path))
}

/// `$XDG_DATA_HOME/domo/emulator`, else `~/.local/share/domo/emulator`.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local").join("share"),
            None => anyhow::bail!("neither XDG_DATA_HOME nor HOME is set: give the data folder with --data-dir"),
        },
    };
    Ok(base.join("domo").join("emulator"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lists_skip_blanks_and_comments_and_name_a_bad_entry_without_its_secret() {
        let file = Path::new("clients.txt");
        let clients = parse_clients("# apps\n\napp:s3:cr#et:27\n  other:pw:1  \n", ClientSource::File(file)).unwrap();
        let ids: Vec<(&str, &str, u64)> =
            clients.iter().map(|c| (c.id.as_str(), c.secret.expose(), c.user.get())).collect();
        assert_eq!(ids, [("app", "s3:cr#et", 27), ("other", "pw", 1)]);
        let env = parse_clients("a:x:1,b:y:2\nc:z:3,", ClientSource::Env).unwrap();
        assert_eq!(env.len(), 3);

        let check = |text: &str, source, expected: &str| {
            let err = parse_clients(text, source).unwrap_err().to_string();
            assert_eq!(err, expected);
            assert!(!err.contains("hunter2"), "{err}");
        };
        let not_shown =
            "expected `ID:SECRET:USER_ID` with a numeric user id (the entry is not shown: it holds a secret)";
        check("a:x:1\n# c\nhunter2\n", ClientSource::File(file), &format!("`clients.txt` line 3: {not_shown}"));
        check("app:hunter2:bob", ClientSource::File(file), &format!("`clients.txt` line 1: {not_shown}"));
        check("a:x:1,:hunter2:3", ClientSource::Env, &format!("DOMO_SERVE_CLIENT entry 2: {not_shown}"));
    }
}
