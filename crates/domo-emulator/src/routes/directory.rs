//! `/v1/users` and `/v1/groups`: the directory the emulator was seeded with, read only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use domo_model::{Group, GroupId, GroupRef, User, UserId};

use serde_json::Value;

use crate::error::ApiError;
use crate::request::{Params, numeric_id, page};
use crate::state::{App, ResponseShapes};

/// Domo's default page of users and groups.
const DEFAULT_PAGE: u64 = 50;
/// Domo's largest page of users and groups.
const MAX_PAGE: u64 = 500;

pub(crate) async fn users(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Value>>, ApiError> {
    let window = Params::parse(query.as_deref()).page(DEFAULT_PAGE, MAX_PAGE)?;
    let users = app.store.read(|state| page(&state.directory.users, window));
    users.into_iter().map(|u| shown_user(&app, &User { groups: None, ..u })).collect::<Result<_, _>>().map(Json)
}

/// A user as the API shows it. In the reference's minimal shape a
/// digits-only `employeeNumber` is a JSON number, as the reference's examples
/// show it (its schema says string).
pub(crate) fn shown_user(app: &App, user: &User) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(user).map_err(|e| ApiError::internal("user", &e))?;
    if app.shapes == ResponseShapes::ReferenceMinimal
        && let Some(slot) = value.get_mut("employeeNumber")
        && let Some(number) = slot.as_str().and_then(|text| text.parse::<u64>().ok())
    {
        *slot = Value::from(number);
    }
    Ok(value)
}

/// One user, with the groups they are in.
pub(crate) async fn user(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let id = UserId(numeric_id(&id, "User")?);
    app.store.read(|state| {
        let directory = &state.directory;
        let user = directory.user(id).ok_or_else(|| ApiError::not_found(format!("User not found: `{id}`")))?;
        let groups = directory
            .groups
            .iter()
            .filter(|g| g.user_ids.contains(&id))
            .map(|g| GroupRef { id: g.id, name: Some(g.name.clone()) })
            .collect();
        shown_user(&app, &User { groups: Some(groups), ..user.clone() }).map(Json)
    })
}

pub(crate) fn group_of(g: &domo_model::DirectoryGroup) -> Group {
    Group {
        id: g.id,
        name: g.name.clone(),
        default: Some(false),
        active: Some(true),
        member_count: Some(g.user_ids.len() as u64),
        creator_id: None,
    }
}

pub(crate) async fn groups(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Group>>, ApiError> {
    let window = Params::parse(query.as_deref()).page(DEFAULT_PAGE, MAX_PAGE)?;
    let groups = app.store.read(|state| page(&state.directory.groups, window));
    Ok(Json(groups.iter().map(group_of).collect()))
}

pub(crate) async fn group(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Group>, ApiError> {
    let id = GroupId(numeric_id(&id, "Group")?);
    app.store.read(|state| {
        state
            .directory
            .group(id)
            .map(|g| Json(group_of(g)))
            .ok_or_else(|| ApiError::not_found(format!("Group not found: `{id}`")))
    })
}

/// The members of a group: a bare array of user ids.
pub(crate) async fn group_users(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<UserId>>, ApiError> {
    let id = GroupId(numeric_id(&id, "Group")?);
    let window = Params::parse(query.as_deref()).page(DEFAULT_PAGE, MAX_PAGE)?;
    app.store.read(|state| {
        state
            .directory
            .group(id)
            .map(|g| Json(page(&g.user_ids, window)))
            .ok_or_else(|| ApiError::not_found(format!("Group not found: `{id}`")))
    })
}
