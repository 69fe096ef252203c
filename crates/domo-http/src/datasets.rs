//! DataSets: create, get, list, update, delete, find by name, import and export their data.

use std::path::Path;

use domo_model::{
    Dataset, DatasetCreate, DatasetId, DatasetSummary, DatasetUpdate, ExportOptions, Header, ListDatasets, UpdateMethod,
};
use futures_util::{Stream, TryStreamExt as _, future};
use http::Method;
use http::Version;
use http::header::{CONTENT_TYPE, TRANSFER_ENCODING};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::body::{CsvSource, Direction, ImportOptions, Progress, Transferred};
use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::client::{Call, CallBody, Client, Repeat};
use crate::error::{ConnectionFailure, Error};
use crate::head::RecordCut;
use crate::paths::{segment, with_query};
use crate::response::Success;
use crate::response::{
    CSV, MAX_ERROR_BODY, body_error, content_length, decode_live_json, describe_body, looks_like_html, read_excerpt,
};

/// What [`Client::export_data_head`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportedHead {
    /// Bytes written, the header row included.
    pub bytes: u64,
    /// Data rows written (the header row not counted).
    pub rows: u64,
    /// `true` when the download stopped at the end of the last row wanted
    /// (the DataSet may hold more rows); `false` when the export ended first,
    /// so that what was written is all of it.
    pub stopped: bool,
}

impl Client {
    /// `POST /v1/datasets`: creates a DataSet (PDP starts disabled).
    pub async fn create_dataset(&self, dataset: &DatasetCreate) -> Result<Dataset, Error> {
        let call = Call::new(Method::POST, "/v1/datasets".to_owned()).json_body(dataset)?;
        self.json(call).await
    }

    /// `GET /v1/datasets/{id}`: one DataSet with its schema, `pdpEnabled` and policies.
    pub async fn get_dataset(&self, id: &DatasetId) -> Result<Dataset, Error> {
        let path = dataset_path(&Method::GET, id, "")?;
        self.execute(&mut Call::new(Method::GET, path), decode_live_json).await
    }

    /// `PUT /v1/datasets/{id}`: changes the fields that are set; the others keep their value.
    pub async fn update_dataset(&self, id: &DatasetId, update: &DatasetUpdate) -> Result<Dataset, Error> {
        let path = dataset_path(&Method::PUT, id, "")?;
        self.json(Call::new(Method::PUT, path).json_body(update)?).await
    }

    /// `DELETE /v1/datasets/{id}`.
    pub async fn delete_dataset(&self, id: &DatasetId) -> Result<(), Error> {
        let path = dataset_path(&Method::DELETE, id, "")?;
        self.no_content(Call::new(Method::DELETE, path)).await
    }

    /// `GET /v1/datasets`: every DataSet matching `query`, fetched a page at a
    /// time (50, Domo's maximum, unless `query.limit` is smaller) until an
    /// empty page. `query.offset` is where the first page starts.
    ///
    /// Fails with [`Error::Paging`] when a page repeats a DataSet already
    /// listed (a server that ignores `offset`) and past
    /// [`MAX_LIST_PAGES`](crate::MAX_LIST_PAGES) pages or
    /// [`ClientBuilder::max_list_items`](crate::ClientBuilder::max_list_items)
    /// items, rather than paging for ever.
    ///
    /// Consume it with `futures_util::TryStreamExt`, for instance
    /// `.try_collect::<Vec<_>>()`.
    pub fn list_datasets(
        &self,
        query: &ListDatasets,
    ) -> impl Stream<Item = Result<DatasetSummary, Error>> + Send + 'static {
        let limit = query.limit.unwrap_or(ListDatasets::MAX_LIMIT).clamp(1, ListDatasets::MAX_LIMIT);
        let template = ListDatasets { limit: Some(limit), ..query.clone() };
        self.paged(query.offset.unwrap_or(0), move |offset| {
            let page = ListDatasets { offset: Some(offset), ..template.clone() };
            with_query("/v1/datasets".to_owned(), page.query_pairs())
        })
    }

    /// The DataSets whose name is exactly `name` (case-sensitive), found with
    /// `nameLike` and checked here. Domo allows several DataSets with one name,
    /// hence a list.
    pub async fn find_datasets_by_name(&self, name: &str) -> Result<Vec<DatasetSummary>, Error> {
        let query = ListDatasets { name_like: Some(name.to_owned()), ..ListDatasets::default() };
        self.list_datasets(&query).try_filter(|d| future::ready(d.name == name)).try_collect().await
    }

    /// `PUT /v1/datasets/{id}/data?updateMethod=…`: imports CSV (rows only, no
    /// header, in schema order), streamed from `source` without loading it in
    /// memory (unless it is [`CsvSource::bytes`]).
    pub async fn import_data(
        &self,
        id: &DatasetId,
        method: UpdateMethod,
        mut source: CsvSource,
        options: &ImportOptions,
    ) -> Result<(), Error> {
        let path = dataset_path(&Method::PUT, id, "/data")?;
        let path = with_query(path, [("updateMethod", method.as_str())]);
        let mut call = Call::new(Method::PUT, path);
        call.transfer = true;
        if method == UpdateMethod::Append {
            // An APPEND that reached Domo before the failure would add its rows twice:
            // it is repeated only as a create is (see `CreateRetry`).
            call.repeat = Repeat::Create;
        }
        call.body =
            CallBody::Csv { source: &mut source, compression: options.compression, progress: options.progress.clone() };
        self.no_content(call).await
    }

    /// `GET /v1/datasets/{id}/data`: exports the DataSet as CSV, streamed into
    /// `writer` chunk by chunk, and returns the number of bytes written. The
    /// request is retried only until the first byte reaches `writer`.
    pub async fn export_data<W>(
        &self,
        id: &DatasetId,
        options: &ExportOptions,
        writer: &mut W,
        progress: Option<&Progress>,
    ) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let mut written = 0;
        self.export_counting(id, options, writer, progress, &mut written, None).await
    }

    /// `GET /v1/datasets/{id}/data`, kept to its first `rows` data rows (after
    /// the header row when `options` asks for one): the CSV is streamed into
    /// `writer` and the download stops at the end of the last row wanted, so
    /// that a sample of a large DataSet costs what the sample weighs. Quoted
    /// fields may hold newlines; a row ends only outside quotes. The request
    /// is retried only until the first byte reaches `writer`.
    pub async fn export_data_head<W>(
        &self,
        id: &DatasetId,
        options: &ExportOptions,
        rows: u64,
        writer: &mut W,
        progress: Option<&Progress>,
    ) -> Result<ExportedHead, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let header = u64::from(options.header == Header::Include);
        let mut cut = RecordCut::new(rows.saturating_add(header));
        let mut written = 0;
        let bytes = self.export_counting(id, options, writer, progress, &mut written, Some(&mut cut)).await?;
        Ok(ExportedHead { bytes, rows: cut.records().saturating_sub(header), stopped: cut.done() })
    }

    /// [`Client::export_data`], counting in `written` the bytes that reached
    /// the writer even when it fails.
    async fn export_counting<W>(
        &self,
        id: &DatasetId,
        options: &ExportOptions,
        writer: &mut W,
        progress: Option<&Progress>,
        written: &mut u64,
        mut cut: Option<&mut RecordCut>,
    ) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        let path = dataset_path(&Method::GET, id, "/data")?;
        let path = with_query(path, options.query_pairs());
        let mut call = Call::new(Method::GET, path);
        call.accept = CSV;
        call.transfer = true;
        let request = call.describe();
        // The start of the body is checked before anything reaches `writer`,
        // within the retries: a proxy's or maintenance page on 200 is no CSV.
        let (sniffed, deadline) = self.execute(&mut call, |success| sniff_csv(&request, success)).await?;
        let Sniffed { first, mut body, total } = sniffed;
        let copy = async {
            let mut next = Some(first);
            loop {
                let data = match next.take() {
                    Some(first) => first,
                    None => match body.frame().await {
                        None => break,
                        Some(frame) => match frame.map_err(|e| body_error(&request, e))?.into_data() {
                            Ok(data) => data,
                            Err(_) => continue,
                        },
                    },
                };
                if data.is_empty() {
                    continue;
                }
                let end = cut.as_deref_mut().and_then(|cut| cut.scan(&data));
                let data = match end {
                    Some(end) => data.slice(..end.min(data.len())),
                    None => data,
                };
                writer.write_all(&data).await.map_err(|source| Error::Io {
                    request: request.clone(),
                    what: "cannot write the export".to_owned(),
                    source,
                })?;
                *written += data.len() as u64;
                if let Some(progress) = progress {
                    progress.report(Transferred { direction: Direction::Received, bytes: *written, total });
                }
                if end.is_some() {
                    // The rows wanted are all written: the rest of the body is
                    // never read, and the connection is dropped with it.
                    break;
                }
            }
            writer.flush().await.map_err(|source| Error::Io {
                request: request.clone(),
                what: "cannot write the export".to_owned(),
                source,
            })?;
            Ok(*written)
        };
        match tokio::time::timeout_at(deadline, copy).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout { request, after: self.transfer_timeout() }),
        }
    }

    /// Like [`Client::export_data`], into the file at `path`: written to a
    /// temporary file beside it and renamed into place only when complete.
    /// Because a file can be rewound, an export cut short mid-way (connection
    /// lost, timeout) starts again from the beginning, within the retry policy.
    pub async fn export_data_to_file(
        &self,
        id: &DatasetId,
        options: &ExportOptions,
        path: &Path,
        progress: Option<&Progress>,
    ) -> Result<u64, Error> {
        let request = format!("GET /v1/datasets/{id}/data");
        let io = |what: String| {
            let request = request.clone();
            move |source| Error::Io { request, what, source }
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let temp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(io(format!("cannot create a temporary file in `{}`", dir.display())))?;
        let policy = self.retry_policy();
        let mut restarts = 0;
        loop {
            let file = temp.reopen().map_err(io(format!("cannot open `{}`", temp.path().display())))?;
            file.set_len(0).map_err(io(format!("cannot write `{}`", temp.path().display())))?;
            let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
            let mut written = 0;
            let result = self.export_counting(id, options, &mut file, progress, &mut written, None).await;
            match result {
                Ok(written) => {
                    file.shutdown().await.map_err(io(format!("cannot write `{}`", temp.path().display())))?;
                    // On disk before it takes the old file's place, so that a crash
                    // cannot leave an empty or partial file under the final name.
                    file.get_ref().sync_all().await.map_err(io(format!("cannot write `{}`", temp.path().display())))?;
                    temp.persist(path).map_err(|e| io(format!("cannot rename into `{}`", path.display()))(e.error))?;
                    return Ok(written);
                }
                // Failures before the first byte were retried already.
                Err(error @ (Error::Connection { .. } | Error::Timeout { .. }))
                    if written > 0 && error.is_retryable() && restarts + 1 < policy.max_attempts =>
                {
                    restarts += 1;
                    let wait = crate::retry::delay(policy, restarts, None);
                    tracing::warn!(
                        %error,
                        written,
                        restart = restarts,
                        "the export was cut short after {written} bytes ({error}); starting again (restart {restarts})"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

pub(crate) fn dataset_path(method: &Method, id: &DatasetId, rest: &str) -> Result<String, Error> {
    let request = format!("{method} /v1/datasets/{id}{rest}");
    Ok(format!("/v1/datasets/{}{rest}", segment(&request, "DataSet id", id.as_str())?))
}

/// How many bytes of an export are read before the first is written, to
/// tell CSV from an HTML page.
const SNIFF: usize = 512;

/// An export's response whose start was checked: the first bytes, the rest of
/// the body, and the length `Content-Length` announced.
struct Sniffed {
    first: Bytes,
    body: Incoming,
    total: Option<u64>,
}

/// Reads the first bytes of a CSV answer and refuses an HTML page.
async fn sniff_csv(request: &str, success: Success) -> Result<(Sniffed, Instant), Error> {
    let Success { response, deadline, redact } = success;
    let total = content_length(response.headers());
    let chunked = response
        .headers()
        .get_all(TRANSFER_ENCODING)
        .iter()
        .any(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase().contains("chunked"));
    if response.version() < Version::HTTP_2 && total.is_none() && !chunked {
        return Err(Error::Connection {
            request: request.to_owned(),
            what: ConnectionFailure::Unframed,
            source: format!("a {:?} answer that ends when the connection closes", response.version()).into(),
        });
    }
    let content_type = response.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut first = BytesMut::new();
    while first.len() < SNIFF {
        let Some(frame) = body.frame().await else { break };
        if let Ok(data) = frame.map_err(|e| body_error(request, e))?.into_data() {
            first.extend_from_slice(&data);
        }
    }
    if looks_like_html(&first) {
        let (bytes, read) = read_excerpt(first.freeze(), body, MAX_ERROR_BODY, total).await;
        return Err(Error::UnexpectedBody {
            request: request.to_owned(),
            status,
            expected: "CSV",
            content_type,
            body: Box::new(describe_body(&bytes, true, &redact)),
            read,
        });
    }
    Ok((Sniffed { first: first.freeze(), body, total }, deadline))
}
