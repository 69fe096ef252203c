//! Bodies a person writes (DataSets, policies, streams) read strictly: an unknown
//! or missing field is a 400 that names it, never a default that widens access.

use axum::body::Body;
use domo_model::{UserFileError, read_user_file};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::request::read_json;
use crate::state::App;

/// Reads a JSON object and parses it as `T`, rejecting unknown fields.
/// Returns the object too, for checks on which fields were given.
/// `what` names the thing in errors: "Invalid policy: unknown field `filter`".
pub(crate) async fn read_strict<T: DeserializeOwned>(
    app: &App,
    body: Body,
    what: &str,
) -> Result<(T, Map<String, Value>), ApiError> {
    let value: Value = read_json(app, body).await?;
    let Value::Object(fields) = value else {
        return Err(ApiError::bad_request(format!("Invalid {what}: the request body must be a JSON object")));
    };
    let parsed = parse_strict(&fields, what)?;
    Ok((parsed, fields))
}

/// Parses an object as `T`, rejecting unknown fields, with the field named in the 400.
pub(crate) fn parse_strict<T: DeserializeOwned>(fields: &Map<String, Value>, what: &str) -> Result<T, ApiError> {
    let text = Value::Object(fields.clone()).to_string();
    read_user_file(what, &text).map_err(|err| ApiError::bad_request(format!("Invalid {what}: {}", describe(&err))))
}

fn describe(err: &UserFileError) -> String {
    match err {
        UserFileError::UnknownField { path, field, .. } if path == "." => format!("unknown field `{field}`"),
        UserFileError::UnknownField { path, field, .. } => format!("unknown field `{field}` in `{path}`"),
        UserFileError::Invalid { path, message, .. } if path == "." => message.clone(),
        UserFileError::Invalid { path, message, .. } => format!("`{path}`: {message}"),
        UserFileError::Syntax { message, .. } => format!("invalid JSON: {message}"),
    }
}
