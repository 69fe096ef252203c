//! Where the live commands connect and as whom: flags, environment variables and the profile file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use domo_http::{Client, Credentials, RetryPolicy};
use domo_model::{Scope, Secret};
use serde::Deserialize;

use crate::units::parse_duration;

/// The host used when none is given.
pub(crate) const DEFAULT_API_HOST: &str = "api.domo.com";

pub(crate) const CONFIG_HELP: &str = "\
Connection: flags win over environment variables, which win over the profile,
which wins over the defaults. The profile file (--config, DOMO_CONFIG, else
$XDG_CONFIG_HOME/domo/profiles.toml or ~/.config/domo/profiles.toml) is TOML:

  default_profile = \"emulator\"        # used when no --profile is given

  [profiles.emulator]
  api_host = \"http://127.0.0.1:8470\"  # a bare host means https://HOST
  client_id = \"...\"
  client_secret = \"...\"               # or access_token = \"...\"
  scopes = [\"data\", \"user\"]           # the default
  timeout = \"60s\"                     # also connect_timeout, transfer_timeout
  retries = 3
  ca_cert = \"/home/me/.local/share/domo/emulator/tls/cert.pem\"  # domo serve --tls

Secrets are never printed. Keep the file private (chmod 600): domo warns when
others can read a file that holds a secret.";

/// How to reach Domo: the API host, the credentials, time limits and retries.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectionArgs {
    /// The profile to use from the profile file.
    #[arg(long, env = "DOMO_PROFILE", value_name = "NAME", global = true)]
    pub(crate) profile: Option<String>,
    /// The profile file [default: ~/.config/domo/profiles.toml].
    #[arg(long, env = "DOMO_CONFIG", value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// The API host: `api.domo.com` (the default), or a full URL such as
    /// `http://127.0.0.1:8470` for `domo serve`.
    #[arg(long, env = "DOMO_API_HOST", value_name = "HOST", global = true)]
    pub(crate) api_host: Option<String>,
    /// The client id from Domo's developer portal.
    #[arg(long, env = "DOMO_CLIENT_ID", value_name = "ID", global = true)]
    pub(crate) client_id: Option<String>,
    /// The client secret (prefer the environment or a profile: flags show in `ps`).
    #[arg(long, env = "DOMO_CLIENT_SECRET", hide_env_values = true, value_name = "SECRET", global = true)]
    pub(crate) client_secret: Option<Secret>,
    /// A ready access token, instead of a client id and secret.
    #[arg(long, env = "DOMO_ACCESS_TOKEN", hide_env_values = true, value_name = "TOKEN", global = true)]
    pub(crate) access_token: Option<Secret>,
    /// How long one API call may take [default: 60s].
    #[arg(long, env = "DOMO_TIMEOUT", value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub(crate) timeout: Option<Duration>,
    /// How long connecting may take [default: 10s].
    #[arg(long, env = "DOMO_CONNECT_TIMEOUT", value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub(crate) connect_timeout: Option<Duration>,
    /// How long a data import or export may take [default: 1h].
    #[arg(long, env = "DOMO_TRANSFER_TIMEOUT", value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub(crate) transfer_timeout: Option<Duration>,
    /// How many times a failed call that is safe to repeat is retried [default: 3].
    #[arg(long, env = "DOMO_RETRIES", value_name = "N", global = true)]
    pub(crate) retries: Option<u32>,
    /// A PEM file of certificates to trust besides the system's, such as the
    /// one `domo serve --tls` prints.
    #[arg(long, env = "DOMO_CA_CERT", value_name = "FILE", global = true)]
    pub(crate) ca_cert: Option<PathBuf>,
}

/// Where the API host came from, to name it in a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostOrigin {
    /// `--api-host`.
    Flag,
    /// `DOMO_API_HOST`.
    Env,
    /// `api_host` in a profile.
    Profile { name: String, file: PathBuf },
    /// Nothing set one: `api.domo.com`.
    Default,
}

impl std::fmt::Display for HostOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostOrigin::Flag => f.write_str("from --api-host"),
            HostOrigin::Env => f.write_str("from DOMO_API_HOST"),
            HostOrigin::Profile { name, file } => {
                write!(f, "from `api_host` of profile `{name}` in `{}`", file.display())
            }
            HostOrigin::Default => f.write_str("the default: neither --api-host, DOMO_API_HOST nor a profile sets one"),
        }
    }
}

/// The host a live command connected to, as given and as used.
#[derive(Debug, Clone)]
struct TriedHost {
    /// As given, such as `127.0.0.1:8470`.
    host: String,
    /// As used, such as `https://127.0.0.1:8470`.
    base_url: String,
    origin: HostOrigin,
}

/// The host of this process's connection, for [`connection_hint`]: a command
/// connects once, and its error is printed after it returns.
static TRIED_HOST: std::sync::Mutex<Option<TriedHost>> = std::sync::Mutex::new(None);

fn remember_host(tried: TriedHost) {
    if let Ok(mut slot) = TRIED_HOST.lock() {
        *slot = Some(tried);
    }
}

/// A hint for an error that is a failure to reach the API: which host was
/// tried and where it came from, that `domo serve` may not be running, or
/// that a plain-HTTP server wants `http://`.
pub(crate) fn connection_hint(error: &anyhow::Error) -> Option<String> {
    let failure = error.chain().find_map(|cause| cause.downcast_ref::<domo_http::Error>())?;
    let tried = TRIED_HOST.lock().ok()?.clone()?;
    hint_for(failure_kind(failure)?, &tried)
}

/// The kinds of failure to reach the API that a hint can help with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unreachable {
    /// Nothing answered: refused, unknown host, unreachable.
    Connect,
    /// An `https://` URL reached a server that answers in plain HTTP.
    PlainHttp,
    /// Any other TLS failure, such as a certificate that does not verify.
    Tls,
}

fn failure_kind(error: &domo_http::Error) -> Option<Unreachable> {
    if error.is_plain_text_answer_to_tls() {
        Some(Unreachable::PlainHttp)
    } else if error.is_tls_failure() {
        Some(Unreachable::Tls)
    } else if error.is_connect_failure() {
        Some(Unreachable::Connect)
    } else {
        None
    }
}

fn hint_for(kind: Unreachable, tried: &TriedHost) -> Option<String> {
    let TriedHost { host, base_url, origin } = tried;
    let setting = match origin {
        HostOrigin::Flag => "--api-host",
        HostOrigin::Env | HostOrigin::Default => "DOMO_API_HOST",
        HostOrigin::Profile { .. } => "the profile's `api_host`",
    };
    Some(match kind {
        Unreachable::Connect if *origin == HostOrigin::Default => format!(
            "nothing answered at {base_url} ({origin}); check the network, or for the local emulator run `domo serve` and set DOMO_API_HOST=http://127.0.0.1:8470"
        ),
        Unreachable::Connect => format!(
            "nothing answered at {base_url} ({origin}); is the emulator running? Start it with `domo serve` \
             (it prints the URL to use), or fix {setting}"
        ),
        Unreachable::PlainHttp => {
            let plain = base_url.strip_prefix("https://").unwrap_or(base_url);
            let bare = if host.contains("://") {
                String::new()
            } else {
                format!("`{host}` has no scheme, so https:// was used, but ")
            };
            format!(
                "{bare}{base_url} ({origin}) answers in plain HTTP, as `domo serve` does without --tls: \
                 set {setting} to http://{plain}"
            )
        }
        Unreachable::Tls if base_url.starts_with("https://") => format!(
            "the TLS handshake with {base_url} ({origin}) failed; for `domo serve --tls`, trust the certificate \
             it prints with DOMO_CA_CERT (or --ca-cert, or `ca_cert` in the profile)"
        ),
        Unreachable::Tls => return None,
    })
}

/// The profile file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// One profile of the profile file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    api_host: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    access_token: Option<Secret>,
    scopes: Option<Vec<String>>,
    timeout: Option<String>,
    connect_timeout: Option<String>,
    transfer_timeout: Option<String>,
    retries: Option<u32>,
    ca_cert: Option<PathBuf>,
}

/// A client ready to call Domo, and how it was configured (for messages).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: Client,
    /// The base URL, such as `https://api.domo.com`.
    pub(crate) base_url: String,
    /// The client id, when client credentials are used.
    pub(crate) client_id: Option<String>,
    /// The profile used, if any.
    pub(crate) profile: Option<String>,
}

impl ConnectionArgs {
    /// Resolves flags, environment and profile into a client.
    pub(crate) fn connect(&self) -> anyhow::Result<Connection> {
        let (profile_name, profile) = self.load_profile()?;
        let profile = profile.unwrap_or_default();
        let (host, origin) = match (&self.api_host, &profile.api_host) {
            (Some(host), _) => {
                let from_env = std::env::var("DOMO_API_HOST").is_ok_and(|env| env == *host);
                (host.clone(), if from_env { HostOrigin::Env } else { HostOrigin::Flag })
            }
            (None, Some(host)) => (
                host.clone(),
                HostOrigin::Profile {
                    name: profile_name.clone().unwrap_or_default(),
                    file: self.config.clone().or_else(default_config_path).unwrap_or_default(),
                },
            ),
            (None, None) => (DEFAULT_API_HOST.to_owned(), HostOrigin::Default),
        };
        let base_url = base_url(&host);
        remember_host(TriedHost { host: host.trim().to_owned(), base_url: base_url.clone(), origin });
        let scopes: Vec<Scope> = match &profile.scopes {
            Some(scopes) => scopes.iter().map(|s| Scope::from(s.as_str())).collect(),
            None => vec![Scope::Data, Scope::User],
        };
        // A token given as a flag or in the environment wins; then a client id
        // and secret (each from a flag, the environment or the profile); then
        // the profile's token.
        let client_id = self.client_id.clone().or(profile.client_id.clone());
        let client_secret = self.client_secret.clone().or(profile.client_secret.clone());
        let (credentials, client_id) = match (&self.access_token, client_id, client_secret) {
            (Some(token), _, _) => (Credentials::token(token.clone()), None),
            (None, Some(id), Some(secret)) => (Credentials::client_credentials(id.clone(), secret, scopes), Some(id)),
            (None, Some(_), None) => bail!(
                "a client id but no client secret: set DOMO_CLIENT_SECRET, pass --client-secret, or use a profile"
            ),
            (None, None, Some(_)) => {
                bail!("a client secret but no client id: set DOMO_CLIENT_ID, pass --client-id, or use a profile")
            }
            (None, None, None) => match &profile.access_token {
                Some(token) => (Credentials::token(token.clone()), None),
                None => bail!(
                    "no credentials: set DOMO_CLIENT_ID and DOMO_CLIENT_SECRET, pass --client-id and --client-secret, \
                     or name a profile with --profile (the profile file is described in `domo auth --help`)"
                ),
            },
        };
        let duration =
            |flag: Option<Duration>, text: &Option<String>, field: &str| -> anyhow::Result<Option<Duration>> {
                match (flag, text) {
                    (Some(d), _) => Ok(Some(d)),
                    (None, Some(text)) => parse_duration(text).map(Some).map_err(|e| {
                        anyhow::anyhow!("profile `{}`: `{field}`: {e}", profile_name.as_deref().unwrap_or("?"))
                    }),
                    (None, None) => Ok(None),
                }
            };
        let mut builder = Client::builder(credentials).base_url(&base_url);
        if let Some(limit) = duration(self.timeout, &profile.timeout, "timeout")? {
            builder = builder.timeout(limit);
        }
        if let Some(limit) = duration(self.connect_timeout, &profile.connect_timeout, "connect_timeout")? {
            builder = builder.connect_timeout(limit);
        }
        if let Some(limit) = duration(self.transfer_timeout, &profile.transfer_timeout, "transfer_timeout")? {
            builder = builder.transfer_timeout(limit);
        }
        if let Some(path) = self.ca_cert.as_ref().or(profile.ca_cert.as_ref()) {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the CA certificate file `{}`", path.display()))?;
            builder = builder.extra_root_certificates(pem);
        }
        let retries = self.retries.or(profile.retries).unwrap_or(3);
        builder = builder.retry(RetryPolicy { max_attempts: retries.saturating_add(1), ..RetryPolicy::default() });
        let client = builder.build().with_context(|| format!("cannot set up a client for `{base_url}`"))?;
        Ok(Connection { base_url: client.base_url().to_owned(), client, client_id, profile: profile_name })
    }

    /// The profile to use, if any: `--profile`, else the file's `default_profile`, else one named `default`.
    fn load_profile(&self) -> anyhow::Result<(Option<String>, Option<Profile>)> {
        let explicit_file = self.config.is_some();
        let Some(path) = self.config.clone().or_else(default_config_path) else {
            if let Some(name) = &self.profile {
                bail!("profile `{name}`: no profile file (neither XDG_CONFIG_HOME nor HOME is set; use --config)");
            }
            return Ok((None, None));
        };
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => parse_profile_file(&path, &text)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !explicit_file && self.profile.is_none() => {
                return Ok((None, None));
            }
            Err(error) => {
                return Err(
                    anyhow::Error::new(error).context(format!("cannot read the profile file `{}`", path.display()))
                );
            }
        };
        let name = self
            .profile
            .clone()
            .or(file.default_profile.clone())
            .or_else(|| file.profiles.contains_key("default").then(|| "default".to_owned()));
        let Some(name) = name else { return Ok((None, None)) };
        let Some(profile) = file.profiles.get(&name).cloned() else {
            let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
            bail!(
                "no profile `{name}` in `{}` (it has: {})",
                path.display(),
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            );
        };
        if profile.client_secret.is_some() || profile.access_token.is_some() {
            warn_if_readable_by_others(&path);
        }
        Ok((Some(name), Some(profile)))
    }
}

fn parse_profile_file(path: &Path, text: &str) -> anyhow::Result<ProfileFile> {
    // toml's message quotes the offending line, which could hold a secret: keep only its first line.
    toml::from_str(text).map_err(|error| {
        let message = error.message().to_owned();
        let at = error.span().map(|span| line_of(text, span.start)).map(|l| format!(" (line {l})")).unwrap_or_default();
        anyhow::anyhow!("the profile file `{}` is not valid{at}: {message}", path.display())
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |before| before.matches('\n').count()) + 1
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: `{}` holds a secret and others can read it; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// `$XDG_CONFIG_HOME/domo/profiles.toml`, else `~/.config/domo/profiles.toml`.
fn default_config_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".config"),
    };
    Some(base.join("domo").join("profiles.toml"))
}

/// `api.domo.com` means `https://api.domo.com`; a full URL is kept as it is.
pub(crate) fn base_url(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    if host.contains("://") { host.to_owned() } else { format!("https://{host}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_become_base_urls() {
        assert_eq!(base_url("api.domo.com"), "https://api.domo.com");
        assert_eq!(base_url("http://127.0.0.1:8470/"), "http://127.0.0.1:8470");
    }

    #[test]
    fn hints_name_the_host_tried_and_where_it_came_from() {
        let tried = |host: &str, origin| TriedHost { host: host.to_owned(), base_url: base_url(host), origin };
        let check = |kind, tried: TriedHost, expected: &str| assert_eq!(hint_for(kind, &tried).unwrap(), expected);
        check(
            Unreachable::Connect,
            tried("http://127.0.0.1:8470", HostOrigin::Env),
            "nothing answered at http://127.0.0.1:8470 (from DOMO_API_HOST); is the emulator running? Start it \
             with `domo serve` (it prints the URL to use), or fix DOMO_API_HOST",
        );
        check(
            Unreachable::Connect,
            tried("http://127.0.0.1:8470", HostOrigin::Flag),
            "nothing answered at http://127.0.0.1:8470 (from --api-host); is the emulator running? Start it \
             with `domo serve` (it prints the URL to use), or fix --api-host",
        );
        check(
            Unreachable::Connect,
            tried("api.domo.com", HostOrigin::Default),
            "nothing answered at https://api.domo.com (the default: neither --api-host, DOMO_API_HOST nor a \
             profile sets one); check the network, or for the local emulator run `domo serve` and set \
             DOMO_API_HOST=http://127.0.0.1:8470",
        );
        let profile = HostOrigin::Profile { name: "emu".to_owned(), file: PathBuf::from("p.toml") };
        check(
            Unreachable::PlainHttp,
            tried("127.0.0.1:8470", profile),
            "`127.0.0.1:8470` has no scheme, so https:// was used, but https://127.0.0.1:8470 (from `api_host` \
             of profile `emu` in `p.toml`) answers in plain HTTP, as `domo serve` does without --tls: set the \
             profile's `api_host` to http://127.0.0.1:8470",
        );
        check(
            Unreachable::PlainHttp,
            tried("https://127.0.0.1:8470", HostOrigin::Env),
            "https://127.0.0.1:8470 (from DOMO_API_HOST) answers in plain HTTP, as `domo serve` does without \
             --tls: set DOMO_API_HOST to http://127.0.0.1:8470",
        );
        check(
            Unreachable::Tls,
            tried("https://localhost:8470", HostOrigin::Env),
            "the TLS handshake with https://localhost:8470 (from DOMO_API_HOST) failed; for `domo serve --tls`, \
             trust the certificate it prints with DOMO_CA_CERT (or --ca-cert, or `ca_cert` in the profile)",
        );
    }

    #[test]
    fn profile_errors_name_the_line_but_not_the_text() {
        let text = "[profiles.a]\nclient_secret = \"hush\"\nbogus = 1\n";
        let error = parse_profile_file(Path::new("p.toml"), text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains("bogus"), "{error}");
        assert!(!error.contains("hush"), "{error}");
    }
}
