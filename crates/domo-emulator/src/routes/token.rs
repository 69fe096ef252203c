//! `/oauth/token`: client credentials exchanged for a token.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use domo_model::Scope;
use http::Method;

use crate::auth::DEFAULT_SCOPES;
use crate::error::ApiError;
use crate::state::App;

/// `GET` or `POST /oauth/token`: parameters in the query or in a form body.
pub(crate) async fn token(State(app): State<Arc<App>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let mut params: Vec<(String, String)> =
        parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    if parts.method == Method::POST {
        let bytes = axum::body::to_bytes(Body::new(body), 64 * 1024)
            .await
            .map_err(|_| ApiError::bad_request("The token request body is too large or was cut off"))?;
        params.extend(form_urlencoded::parse(&bytes).into_owned());
    }
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let client = app.auth.client(&parts.headers)?;
    match param("grant_type") {
        None | Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unsupported grant type `{other}`: this emulator grants `client_credentials` only"
            )));
        }
    }
    let scopes = match param("scope").map(Scope::parse_list) {
        Some(list) if !list.is_empty() => list,
        _ => DEFAULT_SCOPES.to_vec(),
    };
    if let Some(Scope::Other(unknown)) = scopes.iter().find(|s| matches!(s, Scope::Other(_))) {
        return Err(ApiError::bad_request(format!("Invalid scope: `{unknown}`")));
    }
    let role = app.store.read(|state| state.directory.user(client.user).and_then(|u| u.role.clone()));
    let response = app.auth.issue(client, scopes, role.as_ref());
    Ok(Json(response).into_response())
}
