//! `/v1/datasets/{id}/data`: CSV import (REPLACE or APPEND) and export under PDP.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use domo_model::UpdateMethod;
use http::{HeaderMap, HeaderValue, header};
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::pdp::Visibility;
use crate::request::{Params, now};
use crate::routes::datasets::{find_managed, find_mut, open_visible};
use crate::state::App;
use crate::store::{Concat, FileKind, State as Stored, Store};
use crate::upload::{FirstRow, Upload, receive_csv};

/// `PUT /v1/datasets/{id}/data?updateMethod=…`: `APPEND` exactly appends,
/// anything else replaces, as in Domo. Only those who may manage the DataSet
/// may import (checked before the body is read and again when the rows land).
/// The body (maybe gzip) is checked against the schema in full before any row changes.
pub(crate) async fn import(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let method = UpdateMethod::from_query(Params::parse(query.as_deref()).get("updateMethod"));
    let dataset_id = id.clone();
    let columns = app
        .store
        .read(|state| find_managed(state, &id, caller.user, "import into").map(|d| d.dataset.schema.columns.clone()))?;
    let upload =
        receive_csv(&app.store, &headers, body, app.limits.max_body_bytes, columns.clone(), FirstRow::Detect).await?;
    let kept = keep(&app.store, upload, FileKind::Segment).await?;
    let store = Arc::clone(&app.store);
    let rel = kept.0.clone();
    let result = app
        .store
        .write_blocking(move |state| {
            let stored = find_managed(state, &id, caller.user, "import into")?;
            if stored.dataset.schema.columns != columns {
                return Err(ApiError::conflict("The DataSet's schema changed during the upload; upload again"));
            }
            apply_rows(state, &id, method, vec![kept])
        })
        .await;
    if result.is_err() {
        store.discard(&rel);
    }
    result?;
    if method == UpdateMethod::Append {
        compact(&app, &dataset_id).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A DataSet with more row files than this has them merged into one, so that
/// an export never needs more open files than this (plus appends under way).
const MAX_SEGMENTS: usize = 32;

/// Merges a DataSet's row files into one when there are too many, after many
/// APPENDs. The merged file replaces the files it copied only if they are
/// still the DataSet's first files; appends that landed meanwhile stay after it.
/// A failure leaves the files as they were: merging is only housekeeping.
pub(crate) async fn compact(app: &Arc<App>, id: &str) {
    let Ok(_merging) = app.compacting.try_lock() else { return };
    let opened = app.store.read(|state| {
        let stored = state.dataset(id)?;
        if stored.segments.len() <= MAX_SEGMENTS {
            return None;
        }
        let files = app.store.open_files(&stored.segments).ok()?;
        Some((stored.segments.clone(), files))
    });
    let Some((merged, files)) = opened else { return };
    let store = Arc::clone(&app.store);
    let written = tokio::task::spawn_blocking(move || {
        let mut out = store.temp_file()?;
        io::copy(&mut io::BufReader::new(Concat::new(files)), out.as_file_mut())?;
        store.keep(out, FileKind::Segment)
    })
    .await;
    let Ok(Ok(rel)) = written else {
        tracing::warn!(dataset = id, "cannot merge the row files of DataSet {id}; they stay as they are");
        return;
    };
    let (store, id, kept) = (Arc::clone(&app.store), id.to_owned(), rel.clone());
    let swapped = app
        .store
        .write_blocking(move |state| {
            let stored = find_mut(state, &id)?;
            if !stored.segments.starts_with(&merged) {
                return Ok(false);
            }
            stored.segments.splice(..merged.len(), [kept]);
            Ok(true)
        })
        .await;
    if !matches!(swapped, Ok(true)) {
        store.discard(&rel);
    }
}

/// Fsyncs an upload and moves it next to the other row files (off the async threads).
pub(crate) async fn keep(store: &Arc<Store>, upload: Upload, kind: FileKind) -> Result<(String, u64), ApiError> {
    let store = Arc::clone(store);
    let rows = upload.rows;
    tokio::task::spawn_blocking(move || store.keep(upload.file, kind))
        .await
        .map_err(|err| ApiError::internal("keeping the upload failed", &err))?
        .map(|rel| (rel, rows))
        .map_err(|err| ApiError::internal("cannot keep the upload", &err))
}

/// Records row files in a DataSet: REPLACE drops the old ones, APPEND adds after them.
pub(crate) fn apply_rows(
    state: &mut Stored,
    id: &str,
    method: UpdateMethod,
    files: Vec<(String, u64)>,
) -> Result<(), ApiError> {
    let stored = find_mut(state, id)?;
    let added: u64 = files.iter().map(|(_, rows)| rows).sum();
    let names = files.into_iter().map(|(rel, _)| rel);
    match method {
        UpdateMethod::Replace => {
            stored.segments = names.collect();
            stored.dataset.rows = added;
        }
        UpdateMethod::Append => {
            stored.segments.extend(names);
            stored.dataset.rows = stored.dataset.rows.saturating_add(added);
        }
    }
    let at = now();
    stored.dataset.updated_at = Some(at);
    stored.dataset.data_current_at = Some(at);
    Ok(())
}

/// `GET /v1/datasets/{id}/data?includeHeader=…&fileName=…`: the rows the
/// caller may see, streamed from disk.
pub(crate) async fn export(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let include_header = params.get("includeHeader").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let file_name = params.get("fileName").map(str::to_owned);
    let (dataset, files, visibility) = open_visible(&app, &id, caller.user)?;
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let error_tx = tx.clone();
    let crash_tx = tx.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut out = BufWriter::with_capacity(64 * 1024, ChannelWriter(tx));
        let result = (|| {
            if include_header {
                let mut header =
                    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
                header
                    .write_record(dataset.schema.columns.iter().map(|c| c.name.as_str()))
                    .map_err(io::Error::other)?;
                out.write_all(&header.into_inner().map_err(|e| io::Error::other(e.to_string()))?)?;
            }
            let rows = Concat::new(files);
            match visibility {
                Visibility::All => {
                    io::copy(&mut io::BufReader::new(rows), &mut out)?;
                }
                Visibility::Filtered(filter) => filter.write_visible(rows, &mut out)?,
            }
            out.flush()
        })();
        if let Err(err) = result
            && err.kind() != io::ErrorKind::BrokenPipe
        {
            tracing::warn!(error = %err, "an export failed midway: {err}");
            let _ = error_tx.blocking_send(Err(err));
        }
    });
    // A crashed export task drops its senders, which would end the body cleanly
    // and pass a cut export off as whole: send an error instead, so the reply is aborted.
    tokio::spawn(async move {
        if let Err(err) = task.await {
            tracing::error!(error = %err, "an export task crashed: {err}");
            let _ = crash_tx.send(Err(io::Error::other("the export failed midway"))).await;
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Some(value) = file_name.as_deref().and_then(content_disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `attachment; filename="…"`, plus RFC 5987 `filename*` when the name is not plain ASCII.
fn content_disposition(name: &str) -> Option<HeaderValue> {
    let plain: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect();
    let mut value = format!("attachment; filename=\"{plain}\"");
    if plain != name {
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        value.push_str(&format!("; filename*=UTF-8''{encoded}"));
    }
    HeaderValue::from_str(&value).ok()
}

/// Sends what is written to the response body; a closed body reads as a broken pipe.
struct ChannelWriter(mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_disposition_quotes_and_encodes() {
        let plain = super::content_disposition("sales 2024.csv").unwrap();
        assert_eq!(plain, "attachment; filename=\"sales 2024.csv\"");
        let odd = super::content_disposition("ventes é\".csv").unwrap();
        assert_eq!(odd, "attachment; filename=\"ventes __.csv\"; filename*=UTF-8''ventes%20%C3%A9%22.csv");
    }
}
