//! `domo auth check`: a token, and who the credentials act as.

use serde::Serialize;

use super::config::ConnectionArgs;
use super::output::{self, Format};
use crate::exit::Outcome;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    api: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in_seconds: Option<u64>,
}

/// Asks for a token and prints who it acts as. With a ready token, checks it
/// with one cheap call instead (a token carries no answer to print).
pub(crate) fn check(connection: &ConnectionArgs, format: Format) -> anyhow::Result<Outcome> {
    let connection = connection.connect()?;
    let identity = super::block_on(async {
        let client = &connection.client;
        let mut identity = Identity {
            api: connection.base_url.clone(),
            profile: connection.profile.clone(),
            client_id: connection.client_id.clone(),
            user_id: None,
            user_name: None,
            role: None,
            customer: None,
            scopes: None,
            expires_in_seconds: None,
        };
        match client.authenticate().await? {
            Some(answer) => {
                identity.user_id = answer.user_id.map(|id| id.get());
                identity.role = answer.role.clone();
                identity.customer = answer.customer.clone();
                identity.scopes = Some(answer.scope.clone());
                identity.expires_in_seconds = Some(answer.expires_in);
                // The name needs the `user` scope; without it the id is enough.
                let user_scope = domo_model::Scope::parse_list(&answer.scope).contains(&domo_model::Scope::User);
                if let Some(user) = answer.user_id.filter(|_| user_scope) {
                    identity.user_name = match client.get_user(user).await {
                        Ok(found) => Some(found.name),
                        // Refused or unknown: the id alone is still true.
                        Err(error) if matches!(error.status(), Some(403 | 404)) => None,
                        // An answer that does not decode, or no answer, is an error, never a missing name.
                        Err(error) => {
                            return Err(anyhow::Error::new(error).context(format!("reading the name of user {user}")));
                        }
                    };
                }
            }
            None => {
                use futures_util::TryStreamExt as _;
                let query = domo_model::ListDatasets { limit: Some(1), ..Default::default() };
                let mut first = std::pin::pin!(client.list_datasets(&query));
                first.try_next().await?;
            }
        }
        Ok(identity)
    })?;
    match format {
        Format::Json => output::json(&identity)?,
        Format::Table | Format::Csv | Format::Markdown => {
            let mut lines = vec![format!("api:       {}", identity.api)];
            if let Some(profile) = &identity.profile {
                lines.push(format!("profile:   {profile}"));
            }
            match &identity.client_id {
                Some(id) => lines.push(format!("client id: {id}")),
                None => lines.push("token:     a ready access token (valid)".to_owned()),
            }
            if let Some(user) = identity.user_id {
                let name = identity.user_name.as_deref().map(|n| format!(" `{n}`")).unwrap_or_default();
                let role = identity.role.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                lines.push(format!("acts as:   user {user}{name}{role}"));
            }
            if let Some(customer) = &identity.customer {
                lines.push(format!("customer:  {customer}"));
            }
            if let Some(scopes) = &identity.scopes {
                lines.push(format!("scopes:    {scopes}"));
            }
            if let Some(secs) = identity.expires_in_seconds {
                lines.push(format!("token:     valid for {secs}s"));
            }
            output::text(&lines.join("\n"))?;
        }
    }
    Ok(Outcome::Ok)
}
