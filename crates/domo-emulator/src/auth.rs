//! OAuth client credentials and the tokens handed out: issuing one for
//! `/oauth/token` and checking the one every other request carries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use domo_model::{Role, Scope, Secret, TokenResponse, UserId};
use http::{HeaderMap, header};

use crate::error::ApiError;
use crate::random;

/// An API client: an id and secret that act as one user, as in Domo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// The client id, sent as the HTTP Basic user name.
    pub id: String,
    /// The client secret, sent as the HTTP Basic password.
    pub secret: Secret,
    /// The user the client acts as: owner of what it creates, and whose rows it exports.
    pub user: UserId,
}

impl ApiClient {
    /// A client with this id and secret, acting as `user`.
    pub fn new(id: impl Into<String>, secret: impl Into<Secret>, user: UserId) -> Self {
        Self { id: id.into(), secret: secret.into(), user }
    }
}

impl std::str::FromStr for ApiClient {
    type Err = crate::error::ParseClientError;

    /// Reads `ID:SECRET:USER_ID`; the secret may itself contain `:`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err =
            || crate::error::ParseClientError { shown: format!("{}:…", s.split(':').next().unwrap_or_default()) };
        let (id, rest) = s.split_once(':').ok_or_else(err)?;
        let (secret, user) = rest.rsplit_once(':').ok_or_else(err)?;
        let user: UserId = user.parse().map_err(|_| err())?;
        if id.is_empty() || secret.is_empty() {
            return Err(err());
        }
        Ok(Self::new(id, secret, user))
    }
}

/// Who is calling: the user behind a valid token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: UserId,
}

#[derive(Debug)]
struct Grant {
    user: UserId,
    scopes: Vec<Scope>,
    expires: Instant,
}

/// The clients this emulator knows and the tokens it has handed out. Tokens
/// live in memory only: a restart asks every client for a new token, which
/// the SDKs do on their own after a 401.
#[derive(Debug)]
pub(crate) struct Auth {
    clients: HashMap<String, ApiClient>,
    tokens: Mutex<HashMap<String, Grant>>,
    ttl: Duration,
}

/// The scopes a token gets when the request names none.
pub(crate) const DEFAULT_SCOPES: [Scope; 2] = [Scope::Data, Scope::User];

impl Auth {
    pub(crate) fn new(clients: Vec<ApiClient>, ttl: Duration) -> Self {
        let clients = clients.into_iter().map(|c| (c.id.clone(), c)).collect();
        Self { clients, tokens: Mutex::new(HashMap::new()), ttl }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Grant>> {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn client(&self, headers: &HeaderMap) -> Result<&ApiClient, ApiError> {
        let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            ApiError::bad_client("HTTP Basic authentication with the client id and secret is required")
        })?;
        let encoded = strip_scheme(value, "basic").ok_or_else(|| {
            ApiError::bad_client("HTTP Basic authentication with the client id and secret is required")
        })?;
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| ApiError::bad_client("The HTTP Basic credentials are not valid base64"))?;
        let (id, secret) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        match self.clients.get(id) {
            Some(client) if constant_time_eq(client.secret.expose().as_bytes(), secret.as_bytes()) => Ok(client),
            _ => Err(ApiError::bad_client("Bad client credentials")),
        }
    }

    pub(crate) fn issue(&self, client: &ApiClient, scopes: Vec<Scope>, role: Option<&Role>) -> TokenResponse {
        let now = Instant::now();
        let jti = random::uuid();
        let expires_in = self.ttl.as_secs_f64().ceil() as u64;
        let unix_now = jiff::Timestamp::now().as_second();
        let claims = serde_json::json!({
            "role": role.map(Role::as_str),
            "customer": CUSTOMER,
            "userId": client.user,
            "scope": scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
            "iat": unix_now,
            "exp": unix_now.saturating_add(i64::try_from(expires_in).unwrap_or(i64::MAX)),
            "jti": jti,
            "client_id": client.id,
        });
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let token = format!("{header}.{payload}.{}", random::hex(32));
        let mut tokens = self.tokens();
        tokens.retain(|_, grant| grant.expires > now);
        tokens.insert(token.clone(), Grant { user: client.user, scopes: scopes.clone(), expires: now + self.ttl });
        TokenResponse {
            access_token: Secret::new(token),
            token_type: "bearer".to_owned(),
            expires_in,
            scope: Scope::join(&scopes),
            customer: Some(CUSTOMER.to_owned()),
            user_id: Some(client.user),
            role: role.map(|r| r.as_str().to_owned()),
            jti: Some(jti),
        }
    }

    /// Checks a bearer token and the scope a call needs.
    pub(crate) fn check(&self, headers: &HeaderMap, needs: Scope) -> Result<Caller, ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::missing_token());
        };
        let token = value.to_str().ok().and_then(|v| strip_scheme(v, "bearer")).map(str::trim);
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ApiError::missing_token());
        };
        let tokens = self.tokens();
        let Some(grant) = tokens.get(token) else {
            return Err(ApiError::invalid_token("The access token is not valid"));
        };
        if grant.expires <= Instant::now() {
            return Err(ApiError::invalid_token("The access token expired"));
        }
        if !grant.scopes.contains(&needs) {
            return Err(ApiError::insufficient_scope(needs.as_str()));
        }
        Ok(Caller { user: grant.user })
    }
}

/// The customer name tokens carry.
const CUSTOMER: &str = "domo-emulator";

/// `Bearer x` / `bearer x` / `BASIC x`: the scheme is case-insensitive.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.trim_start().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_spec_parses_and_hides_the_secret_in_errors() {
        let client: ApiClient = "app:s3:cr:et:27".parse().unwrap();
        assert_eq!(client, ApiClient::new("app", "s3:cr:et", UserId(27)));
        let err = "app:secret:bob".parse::<ApiClient>().unwrap_err();
        assert_eq!(err.to_string(), "expected `ID:SECRET:USER_ID` with a numeric user id, got `app:…`");
        assert!("app:27".parse::<ApiClient>().is_err());
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(strip_scheme("bearer abc", "bearer"), Some("abc"));
        assert_eq!(strip_scheme("Bearer abc", "bearer"), Some("abc"));
        assert_eq!(strip_scheme("Basic abc", "bearer"), None);
    }
}
