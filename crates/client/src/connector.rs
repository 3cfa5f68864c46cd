//! The TCP connector under the client's TLS: it tells a hub that closed the connection
//! before saying anything (before the TLS handshake could complete: the hub is busy or
//! refusing connections) apart from one that closed it later (after the handshake, as a
//! hub that refuses the client certificate does in TLS 1.3).

use std::{
    fmt, io,
    pin::Pin,
    task::{Context, Poll},
};

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

/// The cause of an I/O error when the hub closed or reset the connection before it sent
/// a single byte: no TLS handshake can have completed, so the client certificate was
/// never judged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClosedBeforeHandshake;

impl fmt::Display for ClosedBeforeHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the hub closed the connection before the TLS handshake completed")
    }
}

impl std::error::Error for ClosedBeforeHandshake {}

/// Connects plain TCP to the URI's host and port (TLS is added over it by tonic).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HubConnector;

impl tower::Service<Uri> for HubConnector {
    type Response = TokioIo<WatchedTcp>;
    type Error = io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            Ok(TokioIo::new(WatchedTcp {
                inner: tcp,
                heard: false,
            }))
        })
    }
}

/// A TCP stream that remembers whether the hub has sent anything; while it has not, an
/// end of stream, a reset or a broken pipe becomes an error caused by
/// [`ClosedBeforeHandshake`].
#[derive(Debug)]
pub(crate) struct WatchedTcp {
    inner: TcpStream,
    heard: bool,
}

fn is_closed(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl WatchedTcp {
    fn closed_early<T>(&self, result: io::Result<T>) -> io::Result<T> {
        match result {
            Err(error) if !self.heard && is_closed(error.kind()) => {
                Err(io::Error::new(error.kind(), ClosedBeforeHandshake))
            }
            other => other,
        }
    }
}

impl AsyncRead for WatchedTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.heard = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) if wanted && !self.heard => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                ClosedBeforeHandshake,
            ))),
            Poll::Ready(result) => Poll::Ready(self.closed_early(result)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for WatchedTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        polled.map(|result| self.closed_early(result))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        polled.map(|result| self.closed_early(result))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        polled.map(|result| self.closed_early(result))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
