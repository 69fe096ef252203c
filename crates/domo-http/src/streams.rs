//! Streams: large uploads in parts, executions, and a helper that uploads a CSV file in parallel parts.

use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;
use domo_model::{DatasetId, Execution, ExecutionId, ExecutionState, Header, Stream, StreamCreate, StreamId, UserId};
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::body::{Compression, Direction, Progress, Transferred};
use crate::client::{Call, CallBody, Client};
use crate::error::Error;
use crate::paths::with_query;

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 256 * 1024;

/// Options of [`Client::upload_csv_file`].
#[derive(Debug, Clone)]
pub struct PartUploadOptions {
    /// About how many CSV bytes go in one part (before compression). Parts are
    /// cut at row boundaries, so a part can be a little longer when a row
    /// crosses the limit. 32 MiB by default.
    pub part_size: usize,
    /// How many parts are uploaded at the same time; 4 by default. Memory use
    /// stays near `part_size × (parallel + 1)`.
    pub parallel: usize,
    /// Whether parts are gzipped; gzip by default.
    pub compression: Compression,
    /// Whether the file starts with a header row, which is then left out
    /// (Domo's parts carry rows only). [`Header::Omit`] by default.
    pub header: Header,
    /// Progress reports, after each part, in CSV bytes of the file.
    pub progress: Option<Progress>,
}

impl Default for PartUploadOptions {
    fn default() -> Self {
        Self {
            part_size: 32 * 1024 * 1024,
            parallel: 4,
            compression: Compression::Gzip,
            header: Header::Omit,
            progress: None,
        }
    }
}

/// What [`Client::upload_csv_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartUploadSummary {
    /// The committed execution.
    pub execution: ExecutionId,
    /// How many parts were uploaded, numbered 1 to `parts`.
    pub parts: u32,
    /// CSV bytes uploaded (before compression, header left out).
    pub bytes: u64,
}

impl Client {
    /// `POST /v1/streams`: creates a stream and its DataSet.
    pub async fn create_stream(&self, stream: &StreamCreate) -> Result<Stream, Error> {
        self.json(Call::new(Method::POST, "/v1/streams".to_owned()).json_body(stream)?).await
    }

    /// `GET /v1/streams/{id}`. A stream whose DataSet was deleted is [`Error::Deleted`].
    pub async fn get_stream(&self, id: StreamId) -> Result<Stream, Error> {
        self.execute(&mut Call::new(Method::GET, format!("/v1/streams/{id}")), crate::response::decode_live_json).await
    }

    /// `GET /v1/streams/search?q=dataSource.id:{id}`: the streams that feed a DataSet.
    pub async fn find_streams_by_dataset(&self, dataset: &DatasetId) -> Result<Vec<Stream>, Error> {
        let path = with_query("/v1/streams/search".to_owned(), [("q", format!("dataSource.id:{dataset}"))]);
        self.json(Call::new(Method::GET, path)).await
    }

    /// `GET /v1/streams/search?q=dataSource.owner.id:{id}`: the streams whose DataSet this user owns.
    pub async fn find_streams_by_owner(&self, owner: UserId) -> Result<Vec<Stream>, Error> {
        let path = with_query("/v1/streams/search".to_owned(), [("q", format!("dataSource.owner.id:{owner}"))]);
        self.json(Call::new(Method::GET, path)).await
    }

    /// `POST /v1/streams/{id}/executions`: starts an upload (Domo aborts any
    /// other active one).
    pub async fn create_execution(&self, stream: StreamId) -> Result<Execution, Error> {
        self.json(Call::new(Method::POST, format!("/v1/streams/{stream}/executions"))).await
    }

    /// `GET /v1/streams/{id}/executions/{eid}`.
    pub async fn get_execution(&self, stream: StreamId, execution: ExecutionId) -> Result<Execution, Error> {
        self.json(Call::new(Method::GET, format!("/v1/streams/{stream}/executions/{execution}"))).await
    }

    /// `PUT /v1/streams/{id}/executions/{eid}/part/{n}`: uploads one part of
    /// header-less CSV, gzipped here if asked. Part numbers must be contiguous;
    /// this crate starts them at 1 as Domo's documentation does. A failed part
    /// is retried like any `PUT`.
    pub async fn upload_part(
        &self,
        stream: StreamId,
        execution: ExecutionId,
        part: u32,
        csv: impl Into<Bytes>,
        compression: Compression,
    ) -> Result<(), Error> {
        let path = format!("/v1/streams/{stream}/executions/{execution}/part/{part}");
        let mut call = Call::new(Method::PUT, path);
        call.transfer = true;
        let csv = csv.into();
        let (bytes, encoding) = match compression {
            Compression::None => (csv, None),
            Compression::Gzip => {
                let request = call.describe();
                let gzipped = tokio::task::spawn_blocking(move || gzip(&csv))
                    .await
                    .map_err(|e| Error::build(&request, format!("compression stopped: {e}")))?
                    .map_err(|source| Error::Io { request, what: "cannot gzip the part".to_owned(), source })?;
                (Bytes::from(gzipped), Some("gzip"))
            }
        };
        call.body = CallBody::Bytes { bytes, content_type: "text/csv", encoding };
        self.no_content(call).await
    }

    /// `PUT /v1/streams/{id}/executions/{eid}/commit`: makes the uploaded parts
    /// the DataSet's data. An answer whose body is the execution in state
    /// `ERROR` or `ABORTED` is an [`Error::UnexpectedBody`], not a commit.
    pub async fn commit_execution(&self, stream: StreamId, execution: ExecutionId) -> Result<(), Error> {
        let path = format!("/v1/streams/{stream}/executions/{execution}/commit");
        self.acknowledged(Call::new(Method::PUT, path), "a committed execution", failed_execution).await
    }

    /// `PUT /v1/streams/{id}/executions/{eid}/abort`: drops the uploaded parts.
    pub async fn abort_execution(&self, stream: StreamId, execution: ExecutionId) -> Result<(), Error> {
        let path = format!("/v1/streams/{stream}/executions/{execution}/abort");
        self.no_content(Call::new(Method::PUT, path)).await
    }

    /// `PUT /v1/streams/{id}/executions/abort`: aborts the stream's current
    /// execution, whatever its id (Domo answers 204).
    pub async fn abort_current_execution(&self, stream: StreamId) -> Result<(), Error> {
        self.no_content(Call::new(Method::PUT, format!("/v1/streams/{stream}/executions/abort"))).await
    }

    /// Uploads a CSV file through a stream: starts an execution, cuts the file
    /// into parts at row boundaries (quoted newlines stay inside their row),
    /// uploads `options.parallel` parts at a time numbered from 1, and commits.
    /// The file is never read whole into memory. On any failure the execution
    /// is aborted and the error returned.
    pub async fn upload_csv_file(
        &self,
        stream: StreamId,
        path: &Path,
        options: &PartUploadOptions,
    ) -> Result<PartUploadSummary, Error> {
        let request = format!("PUT /v1/streams/{stream}/executions/…/part");
        let io = |what: String| {
            let request = request.clone();
            move |source| Error::Io { request, what, source }
        };
        let file = tokio::fs::File::open(path).await.map_err(io(format!("cannot open `{}`", path.display())))?;
        let total = file.metadata().await.map_err(io(format!("cannot read `{}`", path.display())))?.len();
        let execution = self.create_execution(stream).await?.id;
        let uploaded = self.upload_parts(stream, execution, file, total, path, options).await;
        match uploaded {
            Ok((parts, bytes)) => {
                self.commit_execution(stream, execution).await?;
                Ok(PartUploadSummary { execution, parts, bytes })
            }
            Err(error) => {
                if let Err(abort) = self.abort_execution(stream, execution).await {
                    tracing::warn!(%abort, "cannot abort the failed upload: {abort}");
                }
                Err(error)
            }
        }
    }

    async fn upload_parts(
        &self,
        stream: StreamId,
        execution: ExecutionId,
        mut file: impl AsyncRead + Unpin,
        total: u64,
        path: &Path,
        options: &PartUploadOptions,
    ) -> Result<(u32, u64), Error> {
        let request = format!("PUT /v1/streams/{stream}/executions/{execution}/part");
        let part_size = options.part_size.max(1);
        let parallel = options.parallel.max(1);
        let mut rows = RowSplitter::new(options.header, part_size);
        let mut running = tokio::task::JoinSet::new();
        let mut number = 0u32;
        let mut sent = 0u64;
        let mut read_all = false;
        loop {
            while !read_all && running.len() < parallel {
                let part = rows.next_part(&mut file).await.map_err(|source| Error::Io {
                    request: request.clone(),
                    what: format!("cannot read `{}`", path.display()),
                    source,
                })?;
                let Some(part) = part else {
                    read_all = true;
                    break;
                };
                number =
                    number.checked_add(1).ok_or_else(|| Error::build(&request, "more parts than Domo can number"))?;
                let client = self.clone();
                let compression = options.compression;
                let part_number = number;
                running.spawn(async move {
                    let len = part.len() as u64;
                    client.upload_part(stream, execution, part_number, part, compression).await.map(|()| len)
                });
            }
            let Some(done) = running.join_next().await else { break };
            let len = done.map_err(|e| Error::build(&request, format!("a part upload stopped: {e}")))??;
            sent += len;
            if let Some(progress) = &options.progress {
                progress.report(Transferred { direction: Direction::Sent, bytes: sent, total: Some(total) });
            }
        }
        Ok((number, sent))
    }
}

/// Whether a commit's answer is an execution that failed or was aborted.
fn failed_execution(body: &[u8]) -> bool {
    serde_json::from_slice::<Execution>(body)
        .is_ok_and(|e| matches!(e.current_state, ExecutionState::Error | ExecutionState::Aborted))
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Cuts CSV read from a reader into parts that end at row boundaries: a line
/// feed outside quotes. Quotes toggle the state, so an escaped `""` toggles
/// twice and changes nothing. A part ends at the last row boundary within
/// `part_size` bytes, or at the first one after it when a row is longer.
struct RowSplitter {
    part_size: usize,
    buf: Vec<u8>,
    /// How much of `buf` has been scanned.
    scanned: usize,
    in_quotes: bool,
    /// The end of the last row ending within `part_size`.
    last_within: Option<usize>,
    /// The end of the first row ending beyond `part_size`.
    first_beyond: Option<usize>,
    skip_header: bool,
    eof: bool,
}

impl RowSplitter {
    fn new(header: Header, part_size: usize) -> Self {
        Self {
            part_size: part_size.max(1),
            buf: Vec::new(),
            scanned: 0,
            in_quotes: false,
            last_within: None,
            first_beyond: None,
            skip_header: header == Header::Include,
            eof: false,
        }
    }

    /// The next non-empty part, or `None` at the end of the input.
    async fn next_part(&mut self, reader: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Bytes>> {
        loop {
            if self.skip_header {
                if let Some(end) = first_row_end(&self.buf) {
                    self.cut(end);
                    self.skip_header = false;
                    continue;
                }
                if self.eof {
                    // The whole input is one header row and no data.
                    self.buf.clear();
                    return Ok(None);
                }
            } else {
                self.scan();
                if self.eof {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(Bytes::from(std::mem::take(&mut self.buf))));
                }
                if self.buf.len() >= self.part_size
                    && let Some(end) = self.last_within.or(self.first_beyond)
                {
                    return Ok(Some(Bytes::from(self.cut(end))));
                }
            }
            self.buf.reserve(READ_CHUNK);
            if reader.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
        }
    }

    /// Takes the first `end` bytes out; the rest is scanned again.
    fn cut(&mut self, end: usize) -> Vec<u8> {
        let rest = self.buf.split_off(end.min(self.buf.len()));
        self.scanned = 0;
        self.in_quotes = false;
        self.last_within = None;
        self.first_beyond = None;
        std::mem::replace(&mut self.buf, rest)
    }

    fn scan(&mut self) {
        let start = self.scanned;
        for (offset, byte) in self.buf.iter().skip(start).enumerate() {
            match byte {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    let end = start + offset + 1;
                    if end <= self.part_size {
                        self.last_within = Some(end);
                    } else if self.first_beyond.is_none() {
                        self.first_beyond = Some(end);
                    }
                }
                _ => {}
            }
        }
        self.scanned = self.buf.len();
    }
}

/// The end of the first row.
fn first_row_end(buf: &[u8]) -> Option<usize> {
    let mut in_quotes = false;
    for (index, byte) in buf.iter().enumerate() {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => return Some(index + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn split(input: &str, part_size: usize, header: Header) -> Vec<String> {
        let mut reader = input.as_bytes();
        let mut rows = RowSplitter::new(header, part_size);
        let mut parts = Vec::new();
        while let Some(part) = rows.next_part(&mut reader).await.unwrap() {
            parts.push(String::from_utf8(part.to_vec()).unwrap());
        }
        parts
    }

    #[tokio::test]
    async fn parts_end_at_rows_and_keep_quoted_newlines() {
        let csv = "a,1\nb,2\n\"c\nstill c\",3\nd,\"\"\"q\"\"\"\ne,5";
        assert_eq!(
            split(csv, 1, Header::Omit).await,
            ["a,1\n", "b,2\n", "\"c\nstill c\",3\n", "d,\"\"\"q\"\"\"\n", "e,5"]
        );
        assert_eq!(split(csv, 9, Header::Omit).await, ["a,1\nb,2\n", "\"c\nstill c\",3\n", "d,\"\"\"q\"\"\"\n", "e,5"]);
        assert_eq!(split(csv, 15, Header::Omit).await, ["a,1\nb,2\n", "\"c\nstill c\",3\n", "d,\"\"\"q\"\"\"\ne,5"]);
        assert_eq!(split(csv, 1000, Header::Omit).await.concat(), csv);
        assert_eq!(split("", 10, Header::Omit).await, Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_header_row_is_left_out() {
        assert_eq!(split("\"x\ny\",n\na,1\nb,2\n", 1, Header::Include).await, ["a,1\n", "b,2\n"]);
        assert_eq!(split("x,n\n", 1, Header::Include).await, Vec::<String>::new());
        assert_eq!(split("x,n", 1, Header::Include).await, Vec::<String>::new());
    }
}
