//! `/v1/datasets`: create, list, get, update, delete, and the query endpoint.

use std::collections::HashSet;
use std::io::BufReader;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domo_model::{
    Dataset, DatasetCreate, DatasetId, DatasetSummary, DatasetUpdate, Grant, Policy, PolicyId, PolicyType, Schema,
    Sort, UserId,
};

use crate::auth::Caller;
use crate::csv_check::{CsvCheckError, check_csv};
use crate::error::ApiError;
use crate::permissions::{require_grant, require_manage};
use crate::policy_check::check_policy;
use crate::request::{Params, now, owner, page};
use crate::routes::strict::read_strict;
use crate::state::App;
use crate::store::{Concat, DeletedStream, State as Stored, Store, StoredDataset, Tombstone};

/// Domo's default and largest page of DataSets.
const MAX_PAGE: u64 = 50;

pub(crate) fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("DataSet not found: `{id}`"))
}

/// What an export or a query reads: the DataSet, its row files opened under
/// the state lock (so a concurrent write cannot swap them), and what `user`
/// may see of them.
pub(crate) fn open_visible(
    app: &App,
    id: &str,
    user: domo_model::UserId,
) -> Result<(domo_model::Dataset, Vec<std::fs::File>, crate::pdp::Visibility), ApiError> {
    app.store.read(|state| {
        let stored = find(state, id)?;
        let visibility = crate::pdp::visibility(&stored.dataset, &state.directory, user)?;
        let files = app
            .store
            .open_files(&stored.segments)
            .map_err(|err| ApiError::internal("cannot read the DataSet", &err))?;
        Ok((stored.dataset.clone(), files, visibility))
    })
}

/// Looks a DataSet up or answers 404.
pub(crate) fn find<'a>(state: &'a Stored, id: &str) -> Result<&'a StoredDataset, ApiError> {
    state.dataset(id).ok_or_else(|| not_found(id))
}

/// Looks a DataSet up for a change or answers 404.
pub(crate) fn find_mut<'a>(state: &'a mut Stored, id: &str) -> Result<&'a mut StoredDataset, ApiError> {
    state.dataset_mut(id).ok_or_else(|| not_found(id))
}

/// Looks a DataSet up (404) and checks that `user` may manage it (403).
/// `action` completes "may not …".
pub(crate) fn find_managed<'a>(
    state: &'a Stored,
    id: &str,
    user: UserId,
    action: &str,
) -> Result<&'a StoredDataset, ApiError> {
    let stored = find(state, id)?;
    require_manage(state, &stored.dataset, user, action)?;
    Ok(stored)
}

/// [`find_managed`] for a change: the check and the change happen under the same lock.
pub(crate) fn find_managed_mut<'a>(
    state: &'a mut Stored,
    id: &str,
    user: UserId,
    action: &str,
) -> Result<&'a mut StoredDataset, ApiError> {
    find_managed(state, id, user, action)?;
    find_mut(state, id)
}

/// A schema needs at least one column, and names that are non-empty and unique.
pub(crate) fn check_schema(schema: &Schema) -> Result<(), ApiError> {
    if schema.columns.is_empty() {
        return Err(ApiError::bad_request("The schema must have at least one column"));
    }
    let mut seen = HashSet::new();
    for (index, column) in schema.columns.iter().enumerate() {
        if column.name.trim().is_empty() {
            return Err(ApiError::bad_request(format!("Column {} of the schema has no name", index + 1)));
        }
        if !seen.insert(column.name.as_str()) {
            return Err(ApiError::bad_request(format!("The schema names the column `{}` twice", column.name)));
        }
    }
    Ok(())
}

/// Creates a DataSet owned by `user`, with the All Rows policy and PDP off.
/// The user's role must hold `dataset.create`.
pub(crate) fn create_in(state: &mut Stored, user: UserId, create: DatasetCreate) -> Result<Dataset, ApiError> {
    require_grant(state, user, Grant::CreateDataset, "create DataSets")?;
    if create.name.trim().is_empty() {
        return Err(ApiError::bad_request("A DataSet needs a name"));
    }
    check_schema(&create.schema)?;
    state.last_id.policy += 1;
    let all_rows = Policy {
        id: Some(PolicyId(state.last_id.policy)),
        policy_type: PolicyType::Open,
        name: "All Rows".to_owned(),
        filters: Vec::new(),
        users: vec![user],
        virtual_users: Vec::new(),
        groups: Vec::new(),
    };
    let at = now();
    let dataset = Dataset {
        id: DatasetId(crate::random::uuid()),
        name: create.name,
        description: create.description,
        rows: 0,
        columns: create.schema.columns.len() as u64,
        schema: create.schema,
        owner: Some(owner(state, user)),
        created_at: Some(at),
        updated_at: Some(at),
        data_current_at: None,
        pdp_enabled: false,
        policies: Some(vec![all_rows]),
    };
    state.datasets.push(Arc::new(StoredDataset { dataset: dataset.clone(), segments: Vec::new() }));
    Ok(dataset)
}

pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Response, ApiError> {
    app.store.read(|state| require_grant(state, caller.user, Grant::CreateDataset, "create DataSets"))?;
    let (create, _): (DatasetCreate, _) = read_strict(&app, body, "DataSet").await?;
    let dataset = app.store.write_blocking(move |state| create_in(state, caller.user, create)).await?;
    Ok((StatusCode::CREATED, Json(dataset)).into_response())
}

pub(crate) async fn list(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DatasetSummary>>, ApiError> {
    let params = Params::parse(query.as_deref());
    let window = params.page(MAX_PAGE, MAX_PAGE)?;
    let sort = params
        .get("sort")
        .map(|s| s.parse::<Sort>().map_err(|err| ApiError::bad_request(format!("Invalid `sort`: {err}"))))
        .transpose()?;
    let name_like = params.get("nameLike").map(str::to_lowercase);
    let mut items: Vec<DatasetSummary> = app.store.read(|state| {
        state
            .datasets
            .iter()
            .map(|d| &d.dataset)
            .filter(|d| name_like.as_ref().is_none_or(|like| d.name.to_lowercase().contains(like)))
            .map(DatasetSummary::from)
            .collect()
    });
    sort_summaries(&mut items, sort);
    Ok(Json(page(&items, window)))
}

/// Sorts a listing. Card counts, card views, error states and data source ids
/// are all alike in the emulator; those orders keep creation order.
fn sort_summaries(items: &mut [DatasetSummary], sort: Option<Sort>) {
    let by_name = |a: &DatasetSummary, b: &DatasetSummary| {
        a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.name.cmp(&b.name))
    };
    match sort {
        Some(Sort::Name) => items.sort_by(by_name),
        Some(Sort::NameDescending) => items.sort_by(|a, b| by_name(b, a)),
        Some(Sort::LastTouched | Sort::LastUpdated) => items.sort_by_key(|d| std::cmp::Reverse(d.updated_at)),
        Some(Sort::LastTouchedAscending | Sort::LastUpdatedAscending) => items.sort_by_key(|d| d.updated_at),
        Some(Sort::CreatedAt) => items.sort_by_key(|d| std::cmp::Reverse(d.created_at)),
        Some(Sort::CreatedAtAscending) => items.sort_by_key(|d| d.created_at),
        _ => {}
    }
}

/// One DataSet; a deleted one answers 200 with what is left of it and
/// `deleted: true`, as Domo documents.
pub(crate) async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.store.read(|state| match find(state, &id) {
        Ok(d) => Ok(Json(d.dataset.clone()).into_response()),
        Err(not_found) => match state.deleted.iter().find(|t| t.id.as_str() == id) {
            Some(tombstone) => Ok(Json(deleted_view(tombstone)).into_response()),
            None => Err(not_found),
        },
    })
}

/// The subset of a deleted DataSet's fields that a GET shows, with `deleted: true`.
pub(crate) fn deleted_view(tombstone: &Tombstone) -> serde_json::Value {
    let mut view = serde_json::json!({
        "id": tombstone.id,
        "name": tombstone.name,
        "updatedAt": tombstone.deleted_at,
        "deleted": true,
    });
    if let Some(fields) = view.as_object_mut() {
        if let Some(description) = &tombstone.description {
            fields.insert("description".to_owned(), description.clone().into());
        }
        if let Some(owner) = tombstone.owner.as_ref().and_then(|o| serde_json::to_value(o).ok()) {
            fields.insert("owner".to_owned(), owner);
        }
        if let Some(created_at) = tombstone.created_at {
            fields.insert("createdAt".to_owned(), created_at.to_string().into());
        }
    }
    view
}

/// `PUT /v1/datasets/{id}`: only those who may manage the DataSet (this
/// covers `pdpEnabled` and `owner`); fields left out keep their value.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Dataset>, ApiError> {
    app.store.read(|state| find_managed(state, &id, caller.user, "update").map(|_| ()))?;
    let (update, _): (DatasetUpdate, _) = read_strict(&app, body, "DataSet update").await?;
    let store = Arc::clone(&app.store);
    let dataset = app.store.write_blocking(move |state| apply_update(&store, state, &id, caller.user, update)).await?;
    Ok(Json(dataset))
}

fn apply_update(
    store: &Store,
    state: &mut Stored,
    id: &str,
    user: UserId,
    update: DatasetUpdate,
) -> Result<Dataset, ApiError> {
    find_managed(state, id, user, "update")?;
    let new_owner = match update.owner {
        Some(o) if state.directory.user(o.id).is_none() => {
            return Err(ApiError::bad_request(format!("Invalid owner: user {} does not exist", o.id)));
        }
        Some(o) => Some(owner(state, o.id)),
        None => None,
    };
    let directory = state.directory.clone();
    let stored = find_mut(state, id)?;
    if let Some(schema) = &update.schema {
        check_schema(schema)?;
        for policy in stored.dataset.policies.iter().flatten() {
            check_policy(schema, &directory, policy).map_err(|err| {
                ApiError::bad_request(format!("The new schema does not fit policy `{}`: {}", policy.name, err))
            })?;
        }
        if *schema != stored.dataset.schema && !stored.segments.is_empty() {
            let files = store
                .open_files(&stored.segments)
                .map_err(|err| ApiError::internal("cannot read the DataSet", &err))?;
            match check_csv(BufReader::new(Concat::new(files)), &schema.columns) {
                Ok(_) => {}
                Err(CsvCheckError::Invalid(message)) => {
                    return Err(ApiError::bad_request(format!(
                        "The DataSet's rows do not fit the new schema: {message}"
                    )));
                }
                Err(CsvCheckError::Io(err)) => return Err(ApiError::internal("cannot read the DataSet", &err)),
            }
        }
    }
    let dataset = &mut stored.dataset;
    if let Some(name) = update.name {
        if name.trim().is_empty() {
            return Err(ApiError::bad_request("A DataSet needs a name"));
        }
        dataset.name = name;
    }
    if let Some(description) = update.description {
        dataset.description = Some(description);
    }
    if let Some(schema) = update.schema {
        dataset.columns = schema.columns.len() as u64;
        dataset.schema = schema;
    }
    if let Some(pdp) = update.pdp_enabled {
        dataset.pdp_enabled = pdp;
    }
    if let Some(owner) = new_owner {
        dataset.owner = Some(owner);
    }
    dataset.updated_at = Some(now());
    Ok(dataset.clone())
}

pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.store
        .write_blocking(move |state| {
            let dataset = find_managed(state, &id, caller.user, "delete")?.dataset.clone();
            let streams = state
                .streams
                .iter()
                .filter(|s| s.dataset_id.as_str() == id)
                .map(|s| DeletedStream { id: s.id, update_method: s.update_method, created_at: s.created_at })
                .collect();
            state.deleted.push(Arc::new(Tombstone {
                id: dataset.id,
                name: dataset.name,
                description: dataset.description,
                owner: dataset.owner,
                created_at: dataset.created_at,
                deleted_at: now(),
                streams,
            }));
            state.datasets.retain(|d| d.dataset.id.as_str() != id);
            state.streams.retain(|s| s.dataset_id.as_str() != id);
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
