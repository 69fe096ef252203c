//! Request bodies: CSV sources that stream from bytes, files or readers, gzip, and progress reports.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::ReaderStream;

use crate::error::BoxError;

/// The body type every request is sent with.
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// A reader of CSV bytes that can be sent across tasks.
pub(crate) type BoxReader = Pin<Box<dyn AsyncRead + Send>>;

type ReopenFn = dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<BoxReader>> + Send>> + Send + Sync;

/// Bytes read from a body at a time.
const CHUNK: usize = 64 * 1024;

pub(crate) fn empty() -> RequestBody {
    http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Whether a body is sent compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Sent as it is.
    #[default]
    None,
    /// Compressed with gzip while it is sent, with `Content-Encoding: gzip`.
    Gzip,
}

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent to Domo (imports and stream parts). Counts CSV bytes read from the
    /// source, before compression.
    Sent,
    /// Received from Domo (exports).
    Received,
}

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transferred {
    /// Which way.
    pub direction: Direction,
    /// Bytes so far in this attempt. A retried import starts again from 0.
    pub bytes: u64,
    /// The whole size when known (file size, `Content-Length`).
    pub total: Option<u64>,
}

/// A progress callback, called after each chunk (about 64 KiB) sent or
/// received, so that a CLI can draw a bar. Cheap to clone.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(Transferred) + Send + Sync>);

impl Progress {
    /// Calls `report` with each progress report.
    pub fn new(report: impl Fn(Transferred) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    pub(crate) fn report(&self, transferred: Transferred) {
        (self.0)(transferred);
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Whether the CSV is gzipped on the way (Domo decompresses it).
    pub compression: Compression,
    /// Progress reports.
    pub progress: Option<Progress>,
}

/// Where the CSV of an import comes from. Only [`CsvSource::bytes`] holds the
/// data in memory; the others stream it.
///
/// A failed import is retried only when the source can be read again: bytes,
/// a file (reopened), or a [`CsvSource::reopen`] closure. A plain reader is sent
/// once.
pub struct CsvSource {
    kind: SourceKind,
}

enum SourceKind {
    Bytes(Bytes),
    File(PathBuf),
    Reader(Option<BoxReader>),
    Reopen(Box<ReopenFn>),
}

impl fmt::Debug for CsvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SourceKind::Bytes(bytes) => write!(f, "CsvSource::bytes({} bytes)", bytes.len()),
            SourceKind::File(path) => write!(f, "CsvSource::file({})", path.display()),
            SourceKind::Reader(_) => f.write_str("CsvSource::reader(..)"),
            SourceKind::Reopen(_) => f.write_str("CsvSource::reopen(..)"),
        }
    }
}

impl CsvSource {
    /// CSV held in memory.
    pub fn bytes(csv: impl Into<Bytes>) -> Self {
        Self { kind: SourceKind::Bytes(csv.into()) }
    }

    /// A CSV file, streamed; reopened for a retry.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self { kind: SourceKind::File(path.into()) }
    }

    /// Any reader, streamed; sent once, never retried (nothing can rewind it),
    /// not even after a 401 from a token that expired mid-run. Prefer
    /// [`CsvSource::file`] or [`CsvSource::reopen`] for long jobs.
    pub fn reader(reader: impl AsyncRead + Send + 'static) -> Self {
        Self { kind: SourceKind::Reader(Some(Box::pin(reader))) }
    }

    /// A reader that `open` makes anew for each attempt, so the import can be
    /// retried.
    pub fn reopen<F, Fut, R>(open: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<R>> + Send + 'static,
        R: AsyncRead + Send + 'static,
    {
        let open = move || -> Pin<Box<dyn Future<Output = io::Result<BoxReader>> + Send>> {
            let fut = open();
            Box::pin(async move { fut.await.map(|reader| Box::pin(reader) as BoxReader) })
        };
        Self { kind: SourceKind::Reopen(Box::new(open)) }
    }

    /// Whether another attempt can read the data again.
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self.kind, SourceKind::Reader(_))
    }

    /// A reader over the data for one attempt, its size when known, and a
    /// description for errors. `None` when a one-shot reader was used already.
    pub(crate) async fn open(&mut self) -> Result<Option<(BoxReader, Option<u64>)>, (String, io::Error)> {
        match &mut self.kind {
            SourceKind::Bytes(bytes) => {
                let len = bytes.len() as u64;
                Ok(Some((Box::pin(io::Cursor::new(bytes.clone())), Some(len))))
            }
            SourceKind::File(path) => {
                let what = || format!("cannot open `{}`", path.display());
                let file = tokio::fs::File::open(&path).await.map_err(|e| (what(), e))?;
                let metadata = file.metadata().await.map_err(|e| (what(), e))?;
                // A pipe or a device has no length to announce: it is sent chunked.
                let len = metadata.is_file().then_some(metadata.len());
                Ok(Some((Box::pin(file), len)))
            }
            SourceKind::Reader(reader) => Ok(reader.take().map(|r| (r, None))),
            SourceKind::Reopen(open) => {
                let reader = open().await.map_err(|e| ("cannot reopen the CSV source".to_owned(), e))?;
                Ok(Some((reader, None)))
            }
        }
    }
}

/// What became of a streamed body: a failure of the local reader (so that the
/// error names the reader rather than the connection), and whether all of it
/// was handed to the connection (so that an answer that came before the end
/// of the upload is not taken for success).
#[derive(Debug, Default)]
pub(crate) struct BodyState {
    failure: Mutex<Option<io::Error>>,
    sent: AtomicU64,
    finished: AtomicBool,
}

impl BodyState {
    /// The local reader's failure, if any (taken out).
    pub(crate) fn take_failure(&self) -> Option<io::Error> {
        self.failure.lock().ok().and_then(|mut slot| slot.take())
    }

    /// Whether the whole body was handed to the connection.
    pub(crate) fn finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// Bytes handed to the connection (after compression).
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

pub(crate) type ReadFailure = Arc<BodyState>;

/// Builds a streamed request body: the reader, counted for progress, then
/// gzipped if asked.
pub(crate) fn streamed(
    reader: BoxReader,
    len: Option<u64>,
    compression: Compression,
    progress: Option<Progress>,
    failure: ReadFailure,
) -> RequestBody {
    let counted: BoxReader = match progress {
        Some(progress) => Box::pin(CountingReader { inner: reader, bytes: 0, total: len, progress }),
        None => reader,
    };
    let (reader, exact): (BoxReader, Option<u64>) = match compression {
        Compression::None => (counted, len),
        Compression::Gzip => {
            let buffered = tokio::io::BufReader::with_capacity(CHUNK, counted);
            (Box::pin(async_compression::tokio::bufread::GzipEncoder::new(buffered)), None)
        }
    };
    ReaderBody { stream: ReaderStream::with_capacity(reader, CHUNK), exact, failure }.boxed_unsync()
}

/// A request body read from an `AsyncRead`, chunk by chunk.
struct ReaderBody {
    stream: ReaderStream<BoxReader>,
    exact: Option<u64>,
    failure: ReadFailure,
}

impl Body for ReaderBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match ready!(Pin::new(&mut self.stream).poll_next(cx)) {
            Some(Ok(chunk)) => {
                let sent = self.failure.sent.fetch_add(chunk.len() as u64, Ordering::SeqCst) + chunk.len() as u64;
                if let Some(exact) = self.exact.filter(|exact| sent > *exact) {
                    // The file grew after its length was announced: what Domo would
                    // get is neither the old file nor the new one.
                    let error = io::Error::other(format!(
                        "the file grew past the {exact} bytes it had when the upload started"
                    ));
                    let message = error.to_string();
                    if let Ok(mut slot) = self.failure.failure.lock() {
                        *slot = Some(error);
                    }
                    return Poll::Ready(Some(Err(message.into())));
                }
                if self.exact == Some(sent) {
                    self.failure.finished.store(true, Ordering::SeqCst);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Some(Err(error)) => {
                let message = error.to_string();
                if let Ok(mut slot) = self.failure.failure.lock() {
                    *slot = Some(error);
                }
                Poll::Ready(Some(Err(message.into())))
            }
            None => {
                self.failure.finished.store(true, Ordering::SeqCst);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failure.finished()
    }

    fn size_hint(&self) -> SizeHint {
        self.exact.map(SizeHint::with_exact).unwrap_or_default()
    }
}

/// Counts the bytes read through it and reports them.
struct CountingReader {
    inner: BoxReader,
    bytes: u64,
    total: Option<u64>,
    progress: Progress,
}

impl AsyncRead for CountingReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(self.inner.as_mut().poll_read(cx, buf))?;
        let read = buf.filled().len().saturating_sub(before) as u64;
        if read > 0 {
            self.bytes += read;
            let report = Transferred { direction: Direction::Sent, bytes: self.bytes, total: self.total };
            self.progress.report(report);
        }
        Poll::Ready(Ok(()))
    }
}
