//! One client connection: its idle and request-head timeouts, the state the
//! accept loop reads to close the longest idle connection at the cap, and the
//! rewrite of hyper's own error replies into Domo's JSON.
//!
//! hyper answers a request it cannot parse (bytes that are not HTTP, a path
//! longer than 65,534 bytes, headers past its buffer) itself, with an empty
//! body, and offers no hook to change that reply. It writes such a reply only
//! between requests, with no response of ours under way, in a fixed shape
//! (`HTTP/1.1 4xx …`, `connection: close`, `content-length: 0`, `date`), and
//! then closes the connection. [`Tracked`] sits between hyper and the socket,
//! recognises exactly that reply when no response of the service is alive,
//! and writes a Domo-shaped one in its place.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;

/// How long a connection that hyper closes after an unparsable request keeps
/// reading (and discarding) what the client still sends, so that the client
/// gets the error reply instead of a reset.
const LINGER: Duration = Duration::from_secs(1);
/// At most this much is read and discarded while lingering.
const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// What a connection shares with the accept loop and with its service.
#[derive(Debug)]
pub(super) struct ConnState {
    /// Responses of the service that are alive (being computed or written).
    active: AtomicUsize,
    /// Set by the accept loop (at the cap) or by shutdown: close the next time
    /// the connection would wait for a request.
    evict: AtomicBool,
    times: Mutex<Times>,
    /// The waker of the read side while it waits for a request head.
    reader: Mutex<Option<Waker>>,
}

#[derive(Debug, Clone, Copy)]
struct Times {
    /// When the connection last had no response under way.
    idle_since: Instant,
    /// When the first byte of the next request head arrived, if one did.
    head_started: Option<Instant>,
}

impl ConnState {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            active: AtomicUsize::new(0),
            evict: AtomicBool::new(false),
            times: Mutex::new(Times { idle_since: Instant::now(), head_started: None }),
            reader: Mutex::new(None),
        })
    }

    fn times(&self) -> MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_idle(&self) -> bool {
        self.active.load(Ordering::SeqCst) == 0
    }

    /// Since when the connection has been waiting for a request, if it is.
    pub(super) fn idle_since(&self) -> Option<Instant> {
        (self.is_idle() && !self.evict.load(Ordering::SeqCst)).then(|| self.times().idle_since)
    }

    /// Whether the connection was told to close and is about to: it has no
    /// request under way (one that arrived just then is answered first).
    pub(super) fn is_closing(&self) -> bool {
        self.evict.load(Ordering::SeqCst) && self.is_idle()
    }

    /// Asks the connection to close as soon as it waits for a request; a
    /// request already under way is answered first.
    pub(super) fn evict(&self) {
        self.evict.store(true, Ordering::SeqCst);
        self.wake_reader();
    }

    fn wake_reader(&self) {
        let waker = self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Marks a response under way until the guard is dropped (when hyper has
    /// taken the whole body, or the request was abandoned).
    pub(super) fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.times().head_started = None;
        ActiveGuard(Arc::clone(self))
    }
}

/// A response under way on a connection.
#[derive(Debug)]
pub(super) struct ActiveGuard(Arc<ConnState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            {
                let mut times = self.0.times();
                times.idle_since = Instant::now();
                times.head_started = None;
            }
            // The read side last waited with a response under way, without a
            // timer: have it wait again, now with the idle timeout.
            self.0.wake_reader();
        }
    }
}

/// The timeouts of a connection waiting for a request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    /// From the first byte of a request head to its end.
    pub(super) head: Duration,
    /// From the end of the last response to the first byte of the next request.
    pub(super) idle: Duration,
}

/// What the write side is doing.
#[derive(Debug)]
enum Output {
    /// Passing hyper's bytes through.
    Through,
    /// Writing a reply of its own (`bytes[written..]` left), then closing.
    Own { bytes: Vec<u8>, written: usize, lingering: Option<(Pin<Box<Sleep>>, usize)> },
}

/// A socket as hyper sees it, with the connection's timeouts and the rewrite
/// of hyper's automatic error replies.
#[derive(Debug)]
pub(super) struct Tracked<S> {
    inner: S,
    state: Arc<ConnState>,
    timeouts: Timeouts,
    timer: Pin<Box<Sleep>>,
    /// Runs while the client takes none of what is written to it; drops the
    /// connection once that lasts the idle timeout.
    write_stalled: Option<Pin<Box<Sleep>>>,
    output: Output,
}

impl<S> Tracked<S> {
    pub(super) fn new(inner: S, state: Arc<ConnState>, timeouts: Timeouts) -> Self {
        let timer = Box::pin(tokio::time::sleep(timeouts.idle));
        Self { inner, state, timeouts, timer, write_stalled: None, output: Output::Through }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Tracked<S> {
    /// Writes what is left of the reply of its own; `Ready(Ok)` once all is written.
    fn poll_own(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Output::Own { bytes, written, lingering } = &mut self.output else {
            return Poll::Ready(Ok(()));
        };
        while let Some(rest) = bytes.get(*written..).filter(|rest| !rest.is_empty()) {
            match Pin::new(&mut self.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
        std::task::ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        // The client may still be sending what made hyper give up: read and drop
        // it for a moment, so that closing does not reset the connection before
        // the client has read the reply.
        let (timer, discarded) = lingering.get_or_insert_with(|| (Box::pin(tokio::time::sleep(LINGER)), 0));
        let _ = Pin::new(&mut self.inner).poll_shutdown(cx);
        let mut buf = [0u8; 8192];
        while *discarded < LINGER_BYTES && timer.as_mut().poll(cx).is_pending() {
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut self.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => *discarded += read.filled().len(),
                Poll::Ready(_) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// A client that reads nothing of a response for the idle timeout would
    /// hold its connection (and a place under the cap) for good: the write
    /// fails instead, and hyper drops the connection.
    fn watch_stall<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.write_stalled = None;
            return poll;
        }
        let idle = self.timeouts.idle;
        let timer = self.write_stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the response for the idle timeout",
            )));
        }
        Poll::Pending
    }

    /// Starts writing `error` in place of whatever hyper would write.
    fn answer_with(&mut self, error: &ApiError) {
        self.output = Output::Own { bytes: error.to_http1_bytes(), written: 0, lingering: None };
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if matches!(this.output, Output::Own { .. }) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.state.is_idle() {
                    let mut times = this.state.times();
                    times.head_started.get_or_insert_with(Instant::now);
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => {}
        }
        *this.state.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cx.waker().clone());
        if !this.state.is_idle() {
            // A response is under way: the request timeout covers it.
            return Poll::Pending;
        }
        if this.state.evict.load(Ordering::SeqCst) {
            // Nothing more to read now and asked to make room: end of stream.
            return Poll::Ready(Ok(()));
        }
        let times = *this.state.times();
        let deadline = match times.head_started {
            Some(started) => started + this.timeouts.head,
            None => times.idle_since + this.timeouts.idle,
        };
        if this.timer.deadline() != deadline {
            this.timer.as_mut().reset(deadline);
        }
        if this.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if times.head_started.is_none() {
            // Idle for too long: close, as at the end of a stream.
            return Poll::Ready(Ok(()));
        }
        let error = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request head took longer than this emulator allows ({} s) to arrive",
                this.timeouts.head.as_secs_f64()
            ),
        );
        this.answer_with(&error);
        match this.poll_own(cx) {
            // Written (or failed): hyper sees the end of the stream and closes.
            Poll::Ready(_) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if matches!(this.output, Output::Own { .. }) {
            // hyper's own bytes after ours: dropped.
            return Poll::Ready(Ok(buf.len()));
        }
        if this.state.is_idle()
            && let Some((start, status)) = automatic_reply(buf)
        {
            if let Some(previous) = buf.get(..start).filter(|previous| !previous.is_empty()) {
                // The end of the previous response goes out first.
                return Pin::new(&mut this.inner).poll_write(cx, previous);
            }
            this.answer_with(&ApiError::new(status, unparsable_message(status)));
            return Poll::Ready(Ok(buf.len()));
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch_stall(cx, written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if matches!(this.output, Output::Own { .. }) {
            return this.poll_own(cx);
        }
        let flushed = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch_stall(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if matches!(this.output, Output::Own { .. }) {
            std::task::ready!(this.poll_own(cx))?;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The message of the reply that replaces hyper's for a request it could not parse.
fn unparsable_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::URI_TOO_LONG => "The request URI is longer than this emulator accepts (65,534 bytes)",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "The request headers are larger than this emulator accepts (about 400 KiB in all, 100 headers)"
        }
        _ => "The request is not valid HTTP/1.1: its request line or a header could not be parsed",
    }
}

/// Where hyper's automatic error reply starts in `buf`, and its status: the
/// reply must end `buf` (hyper closes after it), carry a 4xx or 5xx status,
/// and have only the headers hyper gives it.
fn automatic_reply(buf: &[u8]) -> Option<(usize, StatusCode)> {
    const PREFIX: &[u8] = b"HTTP/1.1 ";
    // hyper's reply is about 110 bytes; look no further back than this.
    let from = buf.len().saturating_sub(512);
    let tail = buf.get(from..)?;
    // The last one: the end of a previous response may hold the same text.
    let at = tail.windows(PREFIX.len()).rposition(|w| w == PREFIX)?;
    let head = std::str::from_utf8(tail.get(at..)?).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?.strip_prefix("HTTP/1.1 ")?;
    let code: u16 = status_line.get(..3)?.parse().ok()?;
    let status = StatusCode::from_u16(code).ok().filter(|s| s.is_client_error() || s.is_server_error())?;
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        let known = match name {
            "connection" => value == "close",
            "content-length" => value == "0",
            "date" => true,
            _ => false,
        };
        if !known {
            return None;
        }
    }
    Some((from + at, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_own_reply_is_recognised() {
        let date = "date: Tue, 01 Dec 2026 00:22:54 GMT";
        let hyper = format!("HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\n{date}\r\n\r\n");
        assert_eq!(automatic_reply(hyper.as_bytes()), Some((0, StatusCode::URI_TOO_LONG)));
        let after_chunked_end = format!("0\r\n\r\n{hyper}");
        assert_eq!(automatic_reply(after_chunked_end.as_bytes()), Some((5, StatusCode::URI_TOO_LONG)));
        let after_body = format!("{{\"name\":\"HTTP/1.1 200\"}}{hyper}");
        assert_eq!(automatic_reply(after_body.as_bytes()), Some((23, StatusCode::URI_TOO_LONG)));
        let check_none = |text: &str| assert_eq!(automatic_reply(text.as_bytes()), None, "{text}");
        check_none("HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n");
        check_none("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n");
        check_none("HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n");
        check_none(&format!("{hyper}trailing"));
        check_none("some,csv\r\nrows\r\n");
    }
}
