//! `/v1/streams`: streams, their upload executions, parts, commits and aborts.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domo_model::{
    DatasetSummary, Execution, ExecutionId, ExecutionState, Grant, Stream, StreamCreate, StreamId, UpdateMethod, UserId,
};
use http::HeaderMap;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::permissions::require_grant;
use crate::request::{Params, now, numeric_id, page, read_optional_json};
use crate::routes::data::{apply_rows, compact, keep};
use crate::routes::datasets::{create_in, find, find_managed};
use crate::routes::strict::{parse_strict, read_strict};
use crate::state::{App, ResponseShapes};
use crate::store::{FileKind, State as Stored, StoredExecution, StoredStream};
use crate::upload::{FirstRow, receive_csv};

/// Domo's default page of streams.
const DEFAULT_PAGE: u64 = 50;
/// Domo's largest page of streams.
const MAX_PAGE: u64 = 500;

fn stream_not_found(id: StreamId) -> ApiError {
    ApiError::not_found(format!("Stream not found: `{id}`"))
}

fn execution_not_found(id: ExecutionId) -> ApiError {
    ApiError::not_found(format!("Execution not found: `{id}`"))
}

fn find_stream(state: &Stored, id: StreamId) -> Result<&StoredStream, ApiError> {
    state.streams.iter().find(|s| s.id == id).map(|s| &**s).ok_or_else(|| stream_not_found(id))
}

/// Looks a stream up (404) and checks that `user` may manage its DataSet (403):
/// every write to a stream writes to its DataSet.
fn find_stream_managed(state: &Stored, id: StreamId, user: UserId, action: &str) -> Result<(), ApiError> {
    let stream = find_stream(state, id)?;
    find_managed(state, stream.dataset_id.as_str(), user, action).map(|_| ())
}

fn find_stream_mut(state: &mut Stored, id: StreamId) -> Result<&mut StoredStream, ApiError> {
    state.streams.iter_mut().find(|s| s.id == id).map(Arc::make_mut).ok_or_else(|| stream_not_found(id))
}

fn find_execution_mut(stream: &mut StoredStream, id: ExecutionId) -> Result<&mut StoredExecution, ApiError> {
    stream.executions.iter_mut().find(|e| e.execution.id == id).ok_or_else(|| execution_not_found(id))
}

/// A stream as the API shows it, with its DataSet's current summary.
fn view(state: &Stored, stream: &StoredStream) -> Result<Stream, ApiError> {
    let dataset = find(state, stream.dataset_id.as_str())?;
    Ok(Stream {
        id: stream.id,
        dataset: DatasetSummary::from(&dataset.dataset).into(),
        update_method: stream.update_method,
        created_at: Some(stream.created_at),
        modified_at: Some(stream.modified_at),
    })
}

/// A stream as a list or a search shows it: whole, or in the reference's
/// minimal shape (the DataSet's id and `pdpEnabled` only).
fn listed(app: &App, state: &Stored, stream: &StoredStream) -> Result<Stream, ApiError> {
    let mut shown = view(state, stream)?;
    if app.shapes == ResponseShapes::ReferenceMinimal {
        shown.dataset = shown.dataset.minimal();
    }
    Ok(shown)
}

fn ids(path: &(String, String)) -> Result<(StreamId, ExecutionId), ApiError> {
    Ok((StreamId(numeric_id(&path.0, "Stream")?), ExecutionId(numeric_id(&path.1, "Execution")?)))
}

pub(crate) async fn create(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Response, ApiError> {
    app.store.read(|state| require_grant(state, caller.user, Grant::CreateDataset, "create streams"))?;
    let (create, _): (StreamCreate, _) = read_strict(&app, body, "stream").await?;
    let stream = app
        .store
        .write_blocking(move |state| {
            let dataset = create_in(state, caller.user, create.dataset)?;
            state.last_id.stream += 1;
            let at = now();
            let stream = StoredStream {
                id: StreamId(state.last_id.stream),
                dataset_id: dataset.id,
                update_method: create.update_method,
                created_at: at,
                modified_at: at,
                executions: Vec::new(),
            };
            let shown = view(state, &stream)?;
            state.streams.push(Arc::new(stream));
            Ok(shown)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(stream)).into_response())
}

pub(crate) async fn list(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Stream>>, ApiError> {
    let window = Params::parse(query.as_deref()).page(DEFAULT_PAGE, MAX_PAGE)?;
    app.store.read(|state| {
        let streams = page(&state.streams, window);
        streams.iter().map(|s| listed(&app, state, s)).collect::<Result<_, _>>().map(Json)
    })
}

/// `q=dataSource.id:{datasetId}` or `q=dataSource.owner.id:{userId}` (Domo's
/// documented qualifiers; `dataSource.ownerId:` is read as the latter).
/// Several qualifiers joined by `,` must all match. `fields` is ignored:
/// every stream is shown whole.
pub(crate) async fn search(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Stream>>, ApiError> {
    let params = Params::parse(query.as_deref());
    let q = params.get("q").unwrap_or_default();
    let qualifiers = q.split(',').map(Qualifier::parse).collect::<Result<Vec<_>, _>>()?;
    app.store.read(|state| {
        state
            .streams
            .iter()
            .filter(|s| qualifiers.iter().all(|q| q.matches(state, s)))
            .map(|s| listed(&app, state, s))
            .collect::<Result<_, _>>()
            .map(Json)
    })
}

/// One search qualifier of `GET /v1/streams/search`.
enum Qualifier<'a> {
    Dataset(&'a str),
    Owner(&'a str),
}

impl<'a> Qualifier<'a> {
    fn parse(text: &'a str) -> Result<Self, ApiError> {
        let text = text.trim();
        if let Some(id) = text.strip_prefix("dataSource.id:") {
            Ok(Self::Dataset(id.trim()))
        } else if let Some(id) =
            text.strip_prefix("dataSource.owner.id:").or_else(|| text.strip_prefix("dataSource.ownerId:"))
        {
            Ok(Self::Owner(id.trim()))
        } else {
            Err(ApiError::bad_request(format!(
                "Invalid `q`: expected `dataSource.id:{{id}}` or `dataSource.owner.id:{{id}}`, got `{text}`"
            )))
        }
    }

    fn matches(&self, state: &Stored, stream: &StoredStream) -> bool {
        match self {
            Self::Dataset(id) => stream.dataset_id.as_str() == *id,
            Self::Owner(id) => state
                .dataset(stream.dataset_id.as_str())
                .and_then(|d| d.dataset.owner.as_ref())
                .is_some_and(|o| o.id.to_string() == *id),
        }
    }
}

/// One stream; one whose DataSet was deleted answers 200 with what is left of
/// it and `deleted: true`, as Domo documents.
pub(crate) async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = StreamId(numeric_id(&id, "Stream")?);
    app.store.read(|state| match find_stream(state, id) {
        Ok(stream) => Ok(Json(view(state, stream)?).into_response()),
        Err(not_found) => {
            let found = state.deleted.iter().find_map(|t| t.streams.iter().find(|s| s.id == id).map(|s| (t, s)));
            let Some((tombstone, stream)) = found else { return Err(not_found) };
            Ok(Json(serde_json::json!({
                "id": stream.id,
                "dataSet": crate::routes::datasets::deleted_view(tombstone),
                "updateMethod": stream.update_method,
                "createdAt": stream.created_at,
                "modifiedAt": tombstone.deleted_at,
                "deleted": true,
            }))
            .into_response())
        }
    })
}

/// `PATCH /v1/streams/{id}` `{"updateMethod": …}`.
pub(crate) async fn update(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Stream>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct StreamUpdate {
        update_method: Option<UpdateMethod>,
    }
    let id = StreamId(numeric_id(&id, "Stream")?);
    app.store.read(|state| find_stream_managed(state, id, caller.user, "change streams of"))?;
    let (change, _): (StreamUpdate, _) = read_strict(&app, body, "stream update").await?;
    let stream = app
        .store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "change streams of")?;
            let stream = find_stream_mut(state, id)?;
            if let Some(method) = change.update_method {
                stream.update_method = method;
            }
            stream.modified_at = now();
            let stream = stream.clone();
            view(state, &stream)
        })
        .await?;
    Ok(Json(stream))
}

/// Deletes the stream; its DataSet stays, as in Domo.
pub(crate) async fn delete(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = StreamId(numeric_id(&id, "Stream")?);
    app.store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "delete streams of")?;
            state.streams.retain(|s| s.id != id);
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn executions(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Execution>>, ApiError> {
    let id = StreamId(numeric_id(&id, "Stream")?);
    let window = Params::parse(query.as_deref()).page(DEFAULT_PAGE, MAX_PAGE)?;
    app.store.read(|state| {
        let stream = find_stream(state, id)?;
        let all: Vec<Execution> = stream.executions.iter().map(|e| e.execution.clone()).collect();
        Ok(Json(page(&all, window)))
    })
}

/// Starts an upload, aborting any other active one on the stream. The body,
/// when there is one, may set this execution's `updateMethod` (pydomo sends
/// `{"updateMethod": null}`, the Node SDK no body: both mean the stream's).
pub(crate) async fn start(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ExecutionCreate {
        #[serde(default)]
        update_method: Option<UpdateMethod>,
    }
    let id = StreamId(numeric_id(&id, "Stream")?);
    app.store.read(|state| find_stream_managed(state, id, caller.user, "upload into").map(|_| ()))?;
    let asked = match read_optional_json::<serde_json::Value>(&app, body).await? {
        None => None,
        Some(serde_json::Value::Object(fields)) => parse_strict::<ExecutionCreate>(&fields, "execution")?.update_method,
        Some(_) => return Err(ApiError::bad_request("Invalid execution: the request body must be a JSON object")),
    };
    let execution = app
        .store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "upload into")?;
            state.last_id.execution += 1;
            let execution_id = ExecutionId(state.last_id.execution);
            let stream = find_stream_mut(state, id)?;
            let at = now();
            for other in stream.executions.iter_mut().filter(|e| e.execution.current_state == ExecutionState::Active) {
                other.execution.current_state = ExecutionState::Aborted;
                other.execution.ended_at = Some(at);
                other.execution.modified_at = Some(at);
                other.parts.clear();
            }
            let execution = Execution {
                id: execution_id,
                current_state: ExecutionState::Active,
                started_at: Some(at),
                ended_at: None,
                created_at: Some(at),
                modified_at: Some(at),
                update_method: Some(asked.unwrap_or(stream.update_method)),
            };
            stream.executions.push(StoredExecution { execution: execution.clone(), parts: Default::default() });
            Ok(execution)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(execution)).into_response())
}

pub(crate) async fn execution(
    State(app): State<Arc<App>>,
    Path(path): Path<(String, String)>,
) -> Result<Json<Execution>, ApiError> {
    let (id, execution) = ids(&path)?;
    app.store.read(|state| {
        let stream = find_stream(state, id)?;
        stream
            .executions
            .iter()
            .find(|e| e.execution.id == execution)
            .map(|e| Json(e.execution.clone()))
            .ok_or_else(|| execution_not_found(execution))
    })
}

fn require_active(execution: &StoredExecution) -> Result<(), ApiError> {
    if execution.execution.current_state == ExecutionState::Active {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Execution {} is {}, not ACTIVE",
            execution.execution.id, execution.execution.current_state
        )))
    }
}

/// `PUT …/part/{n}`: a header-less CSV part, maybe gzip; checked against the
/// schema when it arrives. Uploading the same part number again replaces it.
pub(crate) async fn upload_part(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path((stream, execution, part)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Execution>, ApiError> {
    let (id, execution) = ids(&(stream, execution))?;
    let part = numeric_id(&part, "Part")?;
    let columns = app.store.read(|state| {
        find_stream_managed(state, id, caller.user, "upload into")?;
        let stream = find_stream(state, id)?;
        let found = stream
            .executions
            .iter()
            .find(|e| e.execution.id == execution)
            .ok_or_else(|| execution_not_found(execution))?;
        require_active(found)?;
        find(state, stream.dataset_id.as_str()).map(|d| d.dataset.schema.columns.clone())
    })?;
    let upload = receive_csv(&app.store, &headers, body, app.limits.max_body_bytes, columns, FirstRow::Data).await?;
    let (file, rows) = keep(&app.store, upload, FileKind::Part).await?;
    let store = Arc::clone(&app.store);
    let rel = file.clone();
    let result = app
        .store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "upload into")?;
            let stream = find_stream_mut(state, id)?;
            let found = find_execution_mut(stream, execution)?;
            require_active(found)?;
            found.parts.insert(part, crate::store::StoredPart { file, rows });
            found.execution.modified_at = Some(now());
            Ok(found.execution.clone())
        })
        .await;
    if result.is_err() {
        store.discard(&rel);
    }
    result.map(Json)
}

/// Commits the parts, in order, to the DataSet. Part numbers must run without
/// gaps from 0 or from 1 (the Python SDK starts at 0, Domo's docs at 1).
pub(crate) async fn commit(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<(String, String)>,
) -> Result<Json<Execution>, ApiError> {
    let (id, execution) = ids(&path)?;
    let (done, dataset_id) = app
        .store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "commit uploads into")?;
            let stream = find_stream_mut(state, id)?;
            let dataset_id = stream.dataset_id.clone();
            let found = find_execution_mut(stream, execution)?;
            require_active(found)?;
            let first = found.parts.keys().next().copied().unwrap_or(0);
            if first > 1 {
                return Err(ApiError::bad_request(format!("Part numbers must start at 0 or 1; the first is {first}")));
            }
            for (expected, number) in (first..).zip(found.parts.keys()) {
                if *number != expected {
                    return Err(ApiError::bad_request(format!("Part {expected} is missing; parts must be contiguous")));
                }
            }
            let files: Vec<(String, u64)> = found.parts.values().map(|p| (p.file.clone(), p.rows)).collect();
            let method = found.execution.update_method.unwrap_or(UpdateMethod::Replace);
            let at = now();
            found.execution.current_state = ExecutionState::Success;
            found.execution.ended_at = Some(at);
            found.execution.modified_at = Some(at);
            found.parts.clear();
            let shown = found.execution.clone();
            apply_rows(state, dataset_id.as_str(), method, files)?;
            Ok((shown, dataset_id))
        })
        .await?;
    compact(&app, dataset_id.as_str()).await;
    Ok(Json(done))
}

pub(crate) async fn abort(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(path): Path<(String, String)>,
) -> Result<Json<Execution>, ApiError> {
    let (id, execution) = ids(&path)?;
    let done = app
        .store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "abort uploads into")?;
            let stream = find_stream_mut(state, id)?;
            let found = find_execution_mut(stream, execution)?;
            require_active(found)?;
            let at = now();
            found.execution.current_state = ExecutionState::Aborted;
            found.execution.ended_at = Some(at);
            found.execution.modified_at = Some(at);
            found.parts.clear();
            Ok(found.execution.clone())
        })
        .await?;
    Ok(Json(done))
}

/// `PUT /v1/streams/{id}/executions/abort`: aborts the stream's active
/// execution, if any, and answers 204 as pydomo expects (aborting when none
/// is active changes nothing and is not an error).
pub(crate) async fn abort_current(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = StreamId(numeric_id(&id, "Stream")?);
    app.store
        .write_blocking(move |state| {
            find_stream_managed(state, id, caller.user, "abort uploads into")?;
            let stream = find_stream_mut(state, id)?;
            let at = now();
            for active in stream.executions.iter_mut().filter(|e| e.execution.current_state == ExecutionState::Active) {
                active.execution.current_state = ExecutionState::Aborted;
                active.execution.ended_at = Some(at);
                active.execution.modified_at = Some(at);
                active.parts.clear();
            }
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
