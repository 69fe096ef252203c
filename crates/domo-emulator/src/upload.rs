//! Receiving CSV uploads: the body is streamed to a temporary file under a size
//! limit, un-gzipped, checked against the schema, and only then kept.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use axum::body::Body;
use domo_model::Column;
use http::HeaderMap;
use http_body_util::BodyExt;
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

use crate::csv_check::{CsvCheckError, check_csv};
use crate::error::ApiError;
use crate::store::Store;

/// Whether an upload's first row may be a header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstRow {
    /// A first row equal to the schema's column names, in order, is a header
    /// and is dropped (`domo_pdp::HeaderRow::detect`, the rule `domo data
    /// import` uses too): DataSet imports, whose documented example starts
    /// with one.
    Detect,
    /// Every row is data: stream parts, which Domo documents as header-less.
    Data,
}

/// A checked upload in a temporary file, ending in a newline unless empty.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) file: NamedTempFile,
    pub(crate) rows: u64,
}

/// Streams `body` to disk (never more than `limit` bytes, before and after
/// gunzip) and checks it against `columns`.
pub(crate) async fn receive_csv(
    store: &Arc<Store>,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    columns: Vec<Column>,
    first_row: FirstRow,
) -> Result<Upload, ApiError> {
    let io_err = |err: io::Error| ApiError::internal("cannot write the upload to disk", &err);
    let raw = store.temp_file().map_err(io_err)?;
    let mut out = tokio::fs::File::from_std(raw.as_file().try_clone().map_err(io_err)?);
    let mut body = body;
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| crate::request::body_error(&err, limit))?;
        if let Ok(data) = frame.into_data() {
            received = received.saturating_add(data.len() as u64);
            if received > limit {
                return Err(ApiError::too_large(limit));
            }
            out.write_all(&data).await.map_err(io_err)?;
        }
    }
    out.flush().await.map_err(io_err)?;
    drop(out);
    let gzip_header = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("gzip"));
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || check_upload(&store, raw, gzip_header, limit, &columns, first_row))
        .await
        .unwrap_or_else(|err| Err(ApiError::internal("checking the upload failed", &err)))
}

fn check_upload(
    store: &Store,
    raw: NamedTempFile,
    gzip_header: bool,
    limit: u64,
    columns: &[Column],
    first_row: FirstRow,
) -> Result<Upload, ApiError> {
    let io_err = |err: io::Error| ApiError::internal("cannot read the upload back", &err);
    let mut magic = [0u8; 2];
    let sniffed = raw.reopen().and_then(|mut f| f.read(&mut magic)).map_err(io_err)?;
    let gzip = gzip_header || (sniffed == 2 && magic == [0x1f, 0x8b]);
    let file = if gzip { gunzip(store, &raw, limit)? } else { raw };
    let file = match first_row {
        FirstRow::Detect => drop_header_row(store, file, columns)?,
        FirstRow::Data => file,
    };
    let rows = match check_csv(BufReader::new(file.reopen().map_err(io_err)?), columns) {
        Ok(rows) => rows,
        Err(CsvCheckError::Invalid(message)) => return Err(ApiError::bad_request(message)),
        Err(CsvCheckError::Io(err)) => return Err(io_err(err)),
    };
    end_with_newline(file.as_file()).map_err(io_err)?;
    Ok(Upload { file, rows })
}

/// The upload without its first row when that row is a header (the schema's
/// column names, in order). A first row that cannot be read is left for the
/// schema check to report.
fn drop_header_row(store: &Store, file: NamedTempFile, columns: &[Column]) -> Result<NamedTempFile, ApiError> {
    let io_err = |err: io::Error| ApiError::internal("cannot read the upload back", &err);
    let schema = domo_model::Schema { columns: columns.to_vec() };
    // The engine's own splitter says where the header ends, so the rows kept are the rows it reads.
    let Ok(Some(header)) = domo_pdp::HeaderRow::header_len(BufReader::new(file.reopen().map_err(io_err)?), &schema)
    else {
        return Ok(file);
    };
    let mut rest = file.reopen().map_err(io_err)?;
    rest.seek(SeekFrom::Start(header as u64)).map_err(io_err)?;
    let mut out = store.temp_file().map_err(|err| ApiError::internal("cannot write the upload to disk", &err))?;
    io::copy(&mut rest, out.as_file_mut()).map_err(io_err)?;
    Ok(out)
}

fn gunzip(store: &Store, raw: &NamedTempFile, limit: u64) -> Result<NamedTempFile, ApiError> {
    let io_err = |err: io::Error| ApiError::internal("cannot write the upload to disk", &err);
    let mut out = store.temp_file().map_err(io_err)?;
    let decoder = flate2::read::MultiGzDecoder::new(BufReader::new(raw.reopen().map_err(io_err)?));
    let copied = io::copy(&mut decoder.take(limit.saturating_add(1)), out.as_file_mut()).map_err(|err| {
        if err.kind() == io::ErrorKind::InvalidInput
            || err.kind() == io::ErrorKind::InvalidData
            || err.kind() == io::ErrorKind::UnexpectedEof
        {
            ApiError::bad_request(format!("The request body is not valid gzip: {err}"))
        } else {
            io_err(err)
        }
    })?;
    if copied > limit {
        return Err(ApiError::too_large(limit));
    }
    Ok(out)
}

/// Segments are concatenated on export, so each must end its last row.
fn end_with_newline(file: &File) -> io::Result<()> {
    let mut file = file;
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    if last != *b"\n" {
        file.seek(SeekFrom::End(0))?;
        file.write_all(b"\n")?;
    }
    Ok(())
}
