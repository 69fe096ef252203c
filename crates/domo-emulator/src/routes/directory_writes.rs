//! Writes of the User and Group APIs: create, update and delete users and groups, add and remove members.
//!
//! Every write needs the `directory.manage` grant; a role may be given only by a caller who holds
//! every grant of that role (a `Privileged` user cannot make an Admin). A user or group that a
//! policy names cannot be deleted (409 naming the policies): removing it from the policies would
//! silently change who sees what, and leaving a dangling id would make the policies fail to compile.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domo_model::{
    DirectoryGroup, Grant, GroupCreate, GroupId, GroupUpdate, Policy, Role, User, UserCreate, UserId, UserUpdate,
    role_of,
};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::permissions::require_grant;
use crate::request::numeric_id;
use crate::routes::directory::{group_of, shown_user};
use crate::routes::strict::read_strict;
use crate::state::App;
use crate::store::State as Stored;

const ACTION: &str = "manage users and groups";

fn require_manage_directory(state: &Stored, caller: UserId) -> Result<(), ApiError> {
    require_grant(state, caller, Grant::ManageDirectory, ACTION)
}

/// The caller holds every grant of `role`, or 403: a role cannot be handed out above one's own.
fn require_may_give(state: &Stored, caller: UserId, role: &Role) -> Result<(), ApiError> {
    let directory = &state.directory;
    let own = directory.user(caller).map(|u| directory.grants_of(&role_of(u))).unwrap_or_default();
    let missing: Vec<String> =
        directory.grants_of(role).into_iter().filter(|g| !own.contains(g)).map(|g| format!("`{g}`")).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "User {caller} may not give or take the role `{role}`: it holds {} that their own role does not",
            missing.join(", ")
        ),
    ))
}

fn text_field(value: &str, field: &str, what: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ApiError::bad_request(format!("Invalid {what}: `{field}` must not be empty")));
    }
    Ok(trimmed.to_owned())
}

fn user_id(text: &str) -> Result<UserId, ApiError> {
    Ok(UserId(numeric_id(text, "User")?))
}

fn group_id(text: &str) -> Result<GroupId, ApiError> {
    Ok(GroupId(numeric_id(text, "Group")?))
}

fn user_not_found(id: UserId) -> ApiError {
    ApiError::not_found(format!("User not found: `{id}`"))
}

fn group_not_found(id: GroupId) -> ApiError {
    ApiError::not_found(format!("Group not found: `{id}`"))
}

/// The policies, on any DataSet, for which `names` is true, as `` `name` (id 8) on DataSet `…` ``.
fn policies_naming(state: &Stored, names: impl Fn(&Policy) -> bool) -> Vec<String> {
    state
        .datasets
        .iter()
        .flat_map(|d| d.dataset.policies.iter().flatten().map(move |p| (d, p)))
        .filter(|(_, p)| names(p))
        .map(|(d, p)| {
            let id = p.id.map(|id| id.to_string()).unwrap_or_default();
            format!("`{}` (id {id}) on DataSet `{}`", p.name, d.dataset.id)
        })
        .collect()
}

/// Refuses a directory that a write left unfit (defence in depth), then marks the directory changed.
fn finish(state: &mut Stored) -> Result<(), ApiError> {
    let problems = state.directory.problems();
    if let Some(first) = problems.first() {
        return Err(ApiError::bad_request(format!("Invalid directory after this change: {first}")));
    }
    state.directory_changed = true;
    Ok(())
}

/// The next id above every id in use and every id handed out before.
fn next_id(last: &mut u64, used: impl Iterator<Item = u64>) -> u64 {
    let next = used.max().unwrap_or(0).max(*last).saturating_add(1);
    *last = next;
    next
}

pub(crate) async fn create_user(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Response, ApiError> {
    app.store.read(|state| require_manage_directory(state, caller.user))?;
    let (create, _): (UserCreate, _) = read_strict(&app, body, "user").await?;
    let user = app
        .store
        .write_blocking(move |state| {
            require_manage_directory(state, caller.user)?;
            require_may_give(state, caller.user, &create.role)?;
            let name = text_field(&create.name, "name", "user")?;
            let email = text_field(&create.email, "email", "user")?;
            if state.directory.users.iter().any(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&email)))
            {
                return Err(ApiError::conflict(format!("A user with the email `{email}` already exists")));
            }
            let id = UserId(next_id(&mut state.last_id.user, state.directory.users.iter().map(|u| u.id.get())));
            let mut user = User::new(id, name, create.role);
            user.email = Some(email);
            user.title = create.title;
            user.alternate_email = create.alternate_email;
            user.phone = create.phone;
            user.location = create.location;
            user.timezone = create.timezone;
            user.locale = create.locale;
            user.employee_number = create.employee_number;
            let at = crate::request::now().to_string();
            user.created_at = Some(at.clone());
            user.updated_at = Some(at);
            state.directory_mut().users.push(user.clone());
            finish(state)?;
            Ok(User { groups: Some(Vec::new()), ..user })
        })
        .await?;
    Ok((StatusCode::OK, Json(shown_user(&app, &user)?)).into_response())
}

pub(crate) async fn update_user(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    app.store.read(|state| require_manage_directory(state, caller.user))?;
    let (update, _): (UserUpdate, _) = read_strict(&app, body, "user").await?;
    let user = app
        .store
        .write_blocking(move |state| {
            require_manage_directory(state, caller.user)?;
            let current = state.directory.user(id).cloned().ok_or_else(|| user_not_found(id))?;
            if let Some(role) = &update.role
                && *role != role_of(&current)
            {
                // Both the role taken away and the role given must be within the caller's own.
                require_may_give(state, caller.user, &role_of(&current))?;
                require_may_give(state, caller.user, role)?;
            }
            let mut user = current;
            if let Some(name) = &update.name {
                user.name = text_field(name, "name", "user")?;
            }
            if let Some(email) = &update.email {
                user.email = Some(text_field(email, "email", "user")?);
            }
            if let Some(role) = update.role {
                user.role = Some(role);
            }
            let keep = |new: Option<String>, old: Option<String>| new.or(old);
            user.title = keep(update.title, user.title);
            user.alternate_email = keep(update.alternate_email, user.alternate_email);
            user.phone = keep(update.phone, user.phone);
            user.location = keep(update.location, user.location);
            user.timezone = keep(update.timezone, user.timezone);
            user.locale = keep(update.locale, user.locale);
            user.employee_number = keep(update.employee_number, user.employee_number);
            user.updated_at = Some(crate::request::now().to_string());
            if let Some(slot) = state.directory_mut().users.iter_mut().find(|u| u.id == id) {
                *slot = user.clone();
            }
            finish(state)?;
            Ok(user)
        })
        .await?;
    Ok(Json(shown_user(&app, &user)?).into_response())
}

pub(crate) async fn delete_user(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    app.store
        .write_blocking(move |state| {
            require_manage_directory(state, caller.user)?;
            let user = state.directory.user(id).cloned().ok_or_else(|| user_not_found(id))?;
            if id == caller.user {
                return Err(ApiError::conflict(format!("User {id} cannot delete themselves")));
            }
            require_may_give(state, caller.user, &role_of(&user))?;
            let naming = policies_naming(state, |p| p.users.contains(&id));
            if !naming.is_empty() {
                return Err(ApiError::conflict(format!(
                    "User {id} `{}` is named by PDP policies {}: remove them from the policies first",
                    user.name,
                    naming.join(", ")
                )));
            }
            let owned: Vec<String> = state
                .datasets
                .iter()
                .filter(|d| d.dataset.owner.as_ref().is_some_and(|o| o.id == id))
                .map(|d| format!("`{}`", d.dataset.id))
                .collect();
            if !owned.is_empty() {
                return Err(ApiError::conflict(format!(
                    "User {id} `{}` owns DataSets {}: give them another owner first",
                    user.name,
                    owned.join(", ")
                )));
            }
            state.directory_mut().users.retain(|u| u.id != id);
            for group in &mut state.directory_mut().groups {
                group.user_ids.retain(|u| *u != id);
            }
            finish(state)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn create_group(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Response, ApiError> {
    app.store.read(|state| require_manage_directory(state, caller.user))?;
    let (create, _): (GroupCreate, _) = read_strict(&app, body, "group").await?;
    let group = app
        .store
        .write_blocking(move |state| {
            require_manage_directory(state, caller.user)?;
            let name = text_field(&create.name, "name", "group")?;
            if create.active == Some(false) {
                return Err(ApiError::bad_request(
                    "Invalid group: the emulator keeps every group active (`active` must be true)",
                ));
            }
            if create.default == Some(true) {
                return Err(ApiError::bad_request(
                    "Invalid group: the emulator makes no default groups (`default` must be false)",
                ));
            }
            if state.directory.groups.iter().any(|g| g.name == name) {
                return Err(ApiError::conflict(format!("A group named `{name}` already exists")));
            }
            let id = GroupId(next_id(&mut state.last_id.group, state.directory.groups.iter().map(|g| g.id.get())));
            let group = DirectoryGroup { id, name, user_ids: Vec::new() };
            state.directory_mut().groups.push(group.clone());
            finish(state)?;
            Ok(domo_model::Group { creator_id: Some(caller.user), ..group_of(&group) })
        })
        .await?;
    Ok((StatusCode::OK, Json(group)).into_response())
}

pub(crate) async fn update_group(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = group_id(&id)?;
    app.store.read(|state| require_manage_directory(state, caller.user))?;
    let (update, _): (GroupUpdate, _) = read_strict(&app, body, "group").await?;
    let group = app
        .store
        .write_blocking(move |state| {
            require_manage_directory(state, caller.user)?;
            if update.active == Some(false) {
                // What an inactive group means for its policies is not documented: refuse rather than guess.
                return Err(ApiError::bad_request(
                    "Invalid group: the emulator keeps every group active (`active` must be true)",
                ));
            }
            let name = update.name.as_deref().map(|n| text_field(n, "name", "group")).transpose()?;
            if let Some(name) = &name
                && state.directory.groups.iter().any(|g| g.id != id && g.name == *name)
            {
                return Err(ApiError::conflict(format!("A group named `{name}` already exists")));
            }
            let group =
                state.directory_mut().groups.iter_mut().find(|g| g.id == id).ok_or_else(|| group_not_found(id))?;
            if let Some(name) = name {
                group.name = name;
            }
            let shown = group_of(group);
            finish(state)?;
            Ok(shown)
        })
        .await?;
    Ok(Json(group).into_response())
}

pub(crate) async fn delete_group(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = group_id(&id)?;
    app.store
        .write_blocking(move |state| {
            require_manage_directory(state, caller.user)?;
            let group = state.directory.group(id).cloned().ok_or_else(|| group_not_found(id))?;
            let naming = policies_naming(state, |p| p.groups.contains(&id));
            if !naming.is_empty() {
                return Err(ApiError::conflict(format!(
                    "Group {id} `{}` is named by PDP policies {}: remove it from the policies first",
                    group.name,
                    naming.join(", ")
                )));
            }
            state.directory_mut().groups.retain(|g| g.id != id);
            finish(state)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What a membership call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    Add,
    Remove,
}

/// Adds or removes a member; adding one already there, or removing one not there, changes nothing.
fn change_member(
    state: &mut Stored,
    caller: UserId,
    group: GroupId,
    user: UserId,
    change: Membership,
) -> Result<(), ApiError> {
    require_manage_directory(state, caller)?;
    if state.directory.user(user).is_none() {
        return Err(user_not_found(user));
    }
    let entry =
        state.directory_mut().groups.iter_mut().find(|g| g.id == group).ok_or_else(|| group_not_found(group))?;
    let present = entry.user_ids.contains(&user);
    match (change, present) {
        (Membership::Add, false) => entry.user_ids.push(user),
        (Membership::Remove, true) => entry.user_ids.retain(|u| *u != user),
        _ => return Ok(()),
    }
    finish(state)
}

pub(crate) async fn add_member(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((group, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (group, user) = (group_id(&group)?, user_id(&user)?);
    app.store.write_blocking(move |state| change_member(state, caller.user, group, user, Membership::Add)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn remove_member(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((group, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (group, user) = (group_id(&group)?, user_id(&user)?);
    app.store.write_blocking(move |state| change_member(state, caller.user, group, user, Membership::Remove)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
