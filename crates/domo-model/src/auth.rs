//! OAuth: scopes and the token response of `POST /oauth/token`.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::secret::Secret;
use crate::string_enum::string_enum;

string_enum!(open
    /// An OAuth scope. DataSets, PDP and Streams need `data`; users and groups
    /// need `user`.
    Scope {
        /// DataSets, data, PDP policies and Streams.
        Data = "data",
        /// Users and groups.
        User = "user",
        /// The activity log.
        Audit = "audit",
        /// Pages and cards.
        Dashboard = "dashboard",
        /// Accounts.
        Account = "account",
        /// Buzz.
        Buzz = "buzz",
        /// Workflows.
        Workflow = "workflow",
    }
);

impl Scope {
    /// Reads a space-separated scope list, as the token request and response carry it.
    pub fn parse_list(text: &str) -> Vec<Scope> {
        text.split_whitespace().map(Scope::from).collect()
    }

    /// Writes scopes space-separated.
    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

/// The body of a successful `POST /oauth/token`. The token is a JWT; there is
/// no refresh token: a client asks again before `expires_in` runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The bearer token. Never printed: `Debug` shows `[redacted]`.
    #[serde(rename = "access_token")]
    pub access_token: Secret,
    /// Always `bearer`.
    #[serde(rename = "token_type", default = "bearer")]
    pub token_type: String,
    /// Seconds until the token expires (Domo says 3599).
    #[serde(rename = "expires_in")]
    pub expires_in: u64,
    /// The granted scopes, space-separated.
    #[serde(default)]
    pub scope: String,
    /// The customer (instance) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The user the client acts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// That user's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The token's unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

fn bearer() -> String {
    "bearer".to_owned()
}
