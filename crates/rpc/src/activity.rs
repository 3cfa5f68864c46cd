//! What a connection is doing: how many calls are open on it and since when it has had
//! none. The hub's idle timeout reads it (an HTTP/2 connection kept alive by PINGs alone
//! is idle); [`ActivityLayer`] keeps it, one call at a time.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use http_body::Frame;
use tokio::time::Instant;
use tonic::body::Body;

use crate::ConnectionInfo;

/// The calls open on one connection, and when the connection last had none.
#[derive(Debug)]
pub struct ConnectionActivity {
    open: AtomicUsize,
    quiet_since: Mutex<Instant>,
}

impl Default for ConnectionActivity {
    fn default() -> Self {
        Self {
            open: AtomicUsize::new(0),
            quiet_since: Mutex::new(Instant::now()),
        }
    }
}

impl ConnectionActivity {
    /// Counts a call as open until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> CallGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        CallGuard(self.clone())
    }

    /// `None` while a call is open; otherwise when the last one ended (or the connection
    /// was made, if it never had one).
    pub fn idle_since(&self) -> Option<Instant> {
        let quiet_since = *self
            .quiet_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (self.open.load(Ordering::SeqCst) == 0).then_some(quiet_since)
    }
}

/// One open call; dropped when the call's response has been sent (or abandoned).
#[derive(Debug)]
pub struct CallGuard(Arc<ConnectionActivity>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        // The time first, so that a reader that sees no open call sees this end.
        *self
            .0
            .quiet_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The tower layer that counts each call as open on its connection
/// ([`ConnectionInfo::activity`]) from its request until its response body ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityLayer;

impl<S> tower::Layer<S> for ActivityLayer {
    type Service = ActivityMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ActivityMiddleware { inner }
    }
}

/// The service [`ActivityLayer`] makes.
#[derive(Debug, Clone)]
pub struct ActivityMiddleware<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for ActivityMiddleware<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let guard = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.activity.begin());
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            Ok(match guard {
                Some(guard) => response.map(|body| HoldingBody::wrap(body, guard)),
                None => response,
            })
        })
    }
}

/// A response body that holds `G` (a call's open-call guard, a stream's permit) until
/// it is dropped: when the call has ended or its client went away.
pub(crate) struct HoldingBody<G> {
    inner: Body,
    _held: G,
}

impl<G: Send + Unpin + 'static> HoldingBody<G> {
    /// `body`, holding `held` for as long as it lives.
    pub(crate) fn wrap(body: Body, held: G) -> Body {
        Body::new(Self {
            inner: body,
            _held: held,
        })
    }
}

impl<G: Unpin> http_body::Body for HoldingBody<G> {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_only_without_open_calls() {
        let activity = Arc::new(ConnectionActivity::default());
        assert!(activity.idle_since().is_some());
        let first = activity.begin();
        let second = activity.begin();
        assert!(activity.idle_since().is_none());
        drop(first);
        assert!(activity.idle_since().is_none());
        let before = Instant::now();
        drop(second);
        assert!(activity.idle_since().is_some_and(|since| since >= before));
    }
}
