//! `/v1/datasets/{id}/policies`: PDP policies of one DataSet.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domo_model::{Policy, PolicyId, PolicyType};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::policy_check::check_policy;
use crate::request::{now, numeric_id};
use crate::routes::datasets::{find, find_managed, find_managed_mut};
use crate::routes::strict::{parse_strict, read_strict};
use crate::state::App;

/// The fields a policy update may name, each optional: only for rejecting unknown ones.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "parsed only to reject unknown fields and wrong types; the JSON is merged as is")]
struct PolicyChange {
    id: Option<PolicyId>,
    #[serde(rename = "type")]
    policy_type: Option<PolicyType>,
    name: Option<String>,
    filters: Option<Vec<domo_model::PolicyFilter>>,
    users: Option<Vec<domo_model::UserId>>,
    virtual_users: Option<Vec<String>>,
    groups: Option<Vec<domo_model::GroupId>>,
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request(format!("Invalid policy: {message}"))
}

fn policy_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("Policy not found: `{id}`"))
}

pub(crate) async fn list(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Vec<Policy>>, ApiError> {
    app.store.read(|state| find(state, &id).map(|d| Json(d.dataset.policies.clone().unwrap_or_default())))
}

/// `POST …/policies`: only a `user` policy, with `filters` given (`[]` is
/// allowed and says "every row" on purpose); a left-out `filters` must not
/// turn into "every row" by default.
pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    // Look the DataSet up first so that a wrong id says 404 (and a caller who
    // may not manage it 403) whatever the body.
    app.store.read(|state| find_managed(state, &id, caller.user, "add policies to").map(|_| ()))?;
    let (mut policy, fields): (Policy, _) = read_strict(&app, body, "policy").await?;
    if !fields.contains_key("filters") {
        return Err(invalid("`filters` is required (give `[]` for a policy whose members see every row)".to_owned()));
    }
    if policy.policy_type != PolicyType::User {
        return Err(invalid(format!(
            "only `user` policies can be created through the API, not `{}`",
            policy.policy_type
        )));
    }
    let policy = app
        .store
        .write_blocking(move |state| {
            let directory = state.directory.clone();
            find_managed(state, &id, caller.user, "add policies to")?;
            state.last_id.policy += 1;
            policy.id = Some(PolicyId(state.last_id.policy));
            let stored = find_managed_mut(state, &id, caller.user, "add policies to")?;
            check_policy(&stored.dataset.schema, &directory, &policy).map_err(invalid)?;
            stored.dataset.policies.get_or_insert_with(Vec::new).push(policy.clone());
            stored.dataset.updated_at = Some(now());
            Ok(policy)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(policy)).into_response())
}

pub(crate) async fn get(
    State(app): State<Arc<App>>,
    Path((id, policy)): Path<(String, String)>,
) -> Result<Json<Policy>, ApiError> {
    let policy_id = numeric_id(&policy, "Policy")?;
    app.store.read(|state| {
        let stored = find(state, &id)?;
        stored
            .dataset
            .policies
            .iter()
            .flatten()
            .find(|p| p.id == Some(PolicyId(policy_id)))
            .map(|p| Json(p.clone()))
            .ok_or_else(|| policy_not_found(policy_id))
    })
}

/// Fields left out keep their value: the body is laid over the stored policy.
/// Unknown fields are a 400, and a policy's type cannot change.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((id, policy)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Policy>, ApiError> {
    let policy_id = numeric_id(&policy, "Policy")?;
    app.store.read(|state| find_managed(state, &id, caller.user, "change policies of").map(|_| ()))?;
    let (_, changes): (PolicyChange, _) = read_strict(&app, body, "policy").await?;
    let policy = app
        .store
        .write_blocking(move |state| {
            let directory = state.directory.clone();
            let stored = find_managed_mut(state, &id, caller.user, "change policies of")?;
            let policies = stored.dataset.policies.get_or_insert_with(Vec::new);
            let slot = policies
                .iter_mut()
                .find(|p| p.id == Some(PolicyId(policy_id)))
                .ok_or_else(|| policy_not_found(policy_id))?;
            let mut merged =
                serde_json::to_value(&*slot).map_err(|err| ApiError::internal("cannot update the policy", &err))?;
            if let Value::Object(fields) = &mut merged {
                for (key, value) in changes {
                    if key != "id" {
                        fields.insert(key, value);
                    }
                }
            }
            let Value::Object(merged) = merged else {
                return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot update the policy"));
            };
            let mut updated: Policy = parse_strict(&merged, "policy")?;
            if updated.policy_type != slot.policy_type {
                return Err(invalid(format!(
                    "a policy's type cannot change (it is `{}`, the request says `{}`)",
                    slot.policy_type, updated.policy_type
                )));
            }
            updated.id = Some(PolicyId(policy_id));
            check_policy(&stored.dataset.schema, &directory, &updated).map_err(invalid)?;
            *slot = updated.clone();
            stored.dataset.updated_at = Some(now());
            Ok(updated)
        })
        .await?;
    Ok(Json(policy))
}

/// Deleting the last policy turns PDP off, as in Domo: only those who may
/// manage the DataSet may delete a policy, so only they can open it this way.
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((id, policy)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let policy_id = numeric_id(&policy, "Policy")?;
    app.store
        .write_blocking(move |state| {
            let stored = find_managed_mut(state, &id, caller.user, "delete policies of")?;
            let policies = stored.dataset.policies.get_or_insert_with(Vec::new);
            let before = policies.len();
            policies.retain(|p| p.id != Some(PolicyId(policy_id)));
            if policies.len() == before {
                return Err(policy_not_found(policy_id));
            }
            if policies.is_empty() {
                stored.dataset.pdp_enabled = false;
            }
            stored.dataset.updated_at = Some(now());
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
