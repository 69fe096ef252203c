//! Standard output: the one writer every command prints through, which marks a closed stdout (`| head`) so that
//! exit handling tells it from any other broken pipe (such as a server that reset the connection mid-upload).

use std::fmt;
use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The cause of an `io::Error` raised when stdout itself was closed by the
/// reader. Only this marker lets `domo` exit quietly with 0; a broken pipe
/// anywhere else is an error.
#[derive(Debug)]
pub(crate) struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// A broken pipe on stdout, marked; any other error as it is.
fn mark(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe && !is_marked(&error) {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        error
    }
}

fn is_marked(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<StdoutClosed>())
}

/// A writer whose every byte goes to stdout (possibly through buffers and
/// colour stripping), with its broken pipes marked [`StdoutClosed`].
#[derive(Debug)]
pub(crate) struct Stdout<W>(W);

impl<W: Write> Stdout<W> {
    /// Wraps `inner`, which must write to stdout and nowhere else.
    pub(crate) fn new(inner: W) -> Self {
        Self(inner)
    }
}

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

/// Writes `bytes` to stdout and flushes.
pub(crate) fn write_all(bytes: &[u8]) -> io::Result<()> {
    let mut out = Stdout::new(io::stdout().lock());
    out.write_all(bytes)?;
    out.flush()
}

/// Stdout for async code (a streamed export), with its broken pipes marked.
#[derive(Debug)]
pub(crate) struct AsyncStdout(tokio::io::Stdout);

impl AsyncStdout {
    pub(crate) fn new() -> Self {
        Self(tokio::io::stdout())
    }
}

impl tokio::io::AsyncWrite for AsyncStdout {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(ready!(Pin::new(&mut self.0).poll_write(cx, buf)).map_err(mark))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(ready!(Pin::new(&mut self.0).poll_flush(cx)).map_err(mark))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(ready!(Pin::new(&mut self.0).poll_shutdown(cx)).map_err(mark))
    }
}

/// Whether an error's cause chain holds the [`StdoutClosed`] marker: stdout
/// was closed, and nothing else went wrong. `io::Error` keeps its payload out
/// of `source()`, so each one is opened with `get_ref()`.
pub(crate) fn was_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<StdoutClosed>() || cause.downcast_ref::<io::Error>().is_some_and(is_marked))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails as a closed pipe or a full disk would.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    fn check(error: anyhow::Error, closed: bool) {
        assert_eq!(was_closed(&error), closed, "{error:?}");
    }

    #[test]
    fn only_a_broken_pipe_on_stdout_counts_as_a_closed_stdout() {
        let on_stdout = Stdout::new(Failing(io::ErrorKind::BrokenPipe)).write_all(b"x").unwrap_err();
        check(anyhow::Error::new(on_stdout).context("cannot print the table"), true);
        let buffered = Stdout::new(io::BufWriter::new(Failing(io::ErrorKind::BrokenPipe)));
        check(anyhow::Error::new(write_then_flush(buffered)), true);

        // A server that resets the connection mid-upload shows up as a broken pipe deep in the chain.
        let reset = io::Error::from(io::ErrorKind::BrokenPipe);
        check(anyhow::Error::new(reset).context("PUT /v1/datasets/x/data: the connection failed"), false);
        let full_disk = Stdout::new(Failing(io::ErrorKind::StorageFull)).write_all(b"x").unwrap_err();
        check(anyhow::Error::new(full_disk), false);
        check(anyhow::anyhow!("broken pipe"), false);
    }

    fn write_then_flush(mut out: impl Write) -> io::Error {
        out.write_all(b"x").and_then(|()| out.flush()).unwrap_err()
    }
}
