//! Limits a call meets before and around its handler: a per-principal rate limit and a
//! cap on how long a call may take to answer.
//!
//! Where they sit in the hub's stack (outermost first):
//!
//! 1. [`RateLimitLayer`], **outside** the audit layer. A token bucket per principal (the
//!    principal named by the connection's client certificate; connections whose
//!    certificate names no usable principal share a bucket per peer IP address). A call
//!    over the limit is answered RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` saying
//!    when a call will be admitted again, before anything else is done for it.
//!
//!    Why outside: the audit layer writes one record per call. Were refused calls
//!    recorded one by one, a flood would turn into as many database writes — the very
//!    load the limit exists to shed. So only the **first** refused call of a run of
//!    refusals (a throttling episode) is passed on to the audit layer, which records it
//!    (outcome RESOURCE_EXHAUSTED) without calling the handler; the rest of the episode is
//!    answered here and counted in the log when the episode ends. The audit log thus shows
//!    that, when and whom the hub throttled, at a cost of at most one write per admitted
//!    call.
//! 2. The audit layer ([`crate::AuditLayer`]).
//! 3. [`DeadlineLayer`], **inside** the audit layer: a call that has not answered within
//!    the hub's cap (or the client's shorter `grpc-timeout`) is answered
//!    DEADLINE_EXCEEDED, and the audit layer records that outcome. For a unary or
//!    client-streaming call the cap covers the whole call; for a server-streaming call
//!    (Subscribe, ExportRecords with follow) only the time until the stream starts, since
//!    a stream is meant to stay open. Uploads named with [`DeadlineLayer::paced_uploads`]
//!    (evidence files of up to 4 GiB, which no fixed cap fits at every line speed) are not
//!    capped as a whole: their handler instead ends the call DEADLINE_EXCEEDED when the
//!    next message does not arrive within the cap ([`next_within`]), so a stalled client
//!    still cannot hold a call open.
//!
//! tonic applies the client's `grpc-timeout` outside every layer as well (answering
//! CANCELLED "Timeout expired"); whichever fires first answers, and either way the audit
//! layer records the call.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http::HeaderMap;
use tonic::{Code, Status, body::Body};
use tonic_types::{ErrorDetails, StatusExt};

use crate::{
    ConnectionInfo,
    activity::HoldingBody,
    streams::{StreamCaps, StreamPermit, StreamPermits, StreamsFull, is_server_streaming},
};

/// Buckets kept at most; when full, buckets that have refilled (idle callers) are
/// dropped, and if none has, further callers share one overflow bucket.
const MAX_BUCKETS: usize = 10_000;
/// How often idle (refilled) buckets are dropped even when the table is not full.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A sustained rate and a burst: a token bucket of `burst` tokens refilled at
/// `per_second` tokens a second; every call takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls per second a principal may make in the long run.
    pub per_second: u32,
    /// Calls a principal may make at once (the bucket's size).
    pub burst: u32,
}

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// The principal a client certificate names (`UA-CERT/system/feed`).
    Principal(String),
    /// A connection whose certificate names no usable principal, by peer address.
    Address(IpAddr),
    /// No connection information at all (not on the hub's listener).
    Unknown,
    /// Everyone who arrived while the table was full of active buckets.
    Overflow,
}

impl Key {
    fn of(info: Option<&ConnectionInfo>) -> Self {
        match info {
            Some(info) => match info.identity.as_ref() {
                Ok(identity) => Key::Principal(identity.principal().to_string()),
                Err(_) => match info.remote_addr {
                    Some(address) => Key::Address(address.ip()),
                    None => Key::Unknown,
                },
            },
            None => Key::Unknown,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Principal(principal) => write!(f, "principal {principal}"),
            Key::Address(address) => write!(f, "unidentified client at {address}"),
            Key::Unknown => f.write_str("unidentified client"),
            Key::Overflow => f.write_str("clients beyond the rate limiter's table"),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    /// Calls refused since the last admitted one.
    refused: u64,
}

impl Bucket {
    fn refill(&mut self, limit: RateLimit, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(limit.per_second)).min(limit.burst.into());
        self.updated = now;
    }

    /// Full again: forgetting the bucket loses nothing.
    fn idle(&self, limit: RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * f64::from(limit.per_second) >= f64::from(limit.burst)
    }
}

/// What the limiter decided for one call.
#[derive(Debug, PartialEq)]
enum Decision {
    Admit,
    Refuse {
        retry_after: Duration,
        /// The first refusal since the last admitted call.
        first: bool,
    },
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<Key, Bucket>,
    last_sweep: Instant,
}

/// The token buckets, shared by every connection.
#[derive(Debug)]
struct Limiter {
    limit: RateLimit,
    capacity: usize,
    buckets: Mutex<Buckets>,
}

impl Limiter {
    fn new(limit: RateLimit, capacity: usize) -> Self {
        Self {
            limit,
            capacity,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    fn check(&self, key: Key, now: Instant) -> Decision {
        let limit = self.limit;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.saturating_duration_since(buckets.last_sweep) >= SWEEP_EVERY {
            buckets.map.retain(|_, bucket| !bucket.idle(limit, now));
            buckets.last_sweep = now;
        }
        let mut key = key;
        if !buckets.map.contains_key(&key) && buckets.map.len() >= self.capacity {
            buckets.map.retain(|_, bucket| !bucket.idle(limit, now));
            buckets.last_sweep = now;
            if buckets.map.len() >= self.capacity {
                key = Key::Overflow;
            }
        }
        let bucket = buckets.map.entry(key.clone()).or_insert_with(|| Bucket {
            tokens: limit.burst.into(),
            updated: now,
            refused: 0,
        });
        bucket.refill(limit, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            if bucket.refused > 0 {
                tracing::warn!(
                    caller = %key,
                    refused = bucket.refused,
                    "rate limit: calls were refused; the caller is admitted again"
                );
                bucket.refused = 0;
            }
            Decision::Admit
        } else {
            bucket.refused += 1;
            let missing = 1.0 - bucket.tokens;
            let retry_after = Duration::from_secs_f64(missing / f64::from(limit.per_second))
                .max(Duration::from_millis(1));
            Decision::Refuse {
                retry_after,
                first: bucket.refused == 1,
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .map
            .len()
    }
}

/// A call the rate limiter refused and hands to the audit layer to be recorded (the first
/// of an episode); the audit layer answers it with this status without calling on.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub(crate) code: Code,
    pub(crate) message: String,
    retry_after: Duration,
}

impl Refused {
    /// The status to answer with.
    pub(crate) fn status(&self) -> Status {
        Status::with_error_details(
            self.code,
            self.message.clone(),
            ErrorDetails::with_retry_info(Some(self.retry_after)),
        )
    }
}

/// The tower layer of the per-principal rate limit and of the caps on open streams; see
/// the module documentation.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: Option<Arc<Limiter>>,
    streams: Option<Arc<StreamPermits>>,
}

impl RateLimitLayer {
    /// A rate limit of `limit` per principal; `None` (or a rate of zero) admits every
    /// call.
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limiter: limit
                .filter(|limit| limit.per_second > 0 && limit.burst > 0)
                .map(|limit| Arc::new(Limiter::new(limit, MAX_BUCKETS))),
            streams: None,
        }
    }

    /// Also caps the server streams open at once per principal and per agency: a stream
    /// over a cap is refused RESOURCE_EXHAUSTED (and recorded: it was an admitted call).
    pub fn with_stream_caps(mut self, caps: StreamCaps) -> Self {
        self.streams = Some(StreamPermits::new(caps));
        self
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimitMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitMiddleware {
            inner,
            limiter: self.limiter.clone(),
            streams: self.streams.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] makes.
#[derive(Debug, Clone)]
pub struct RateLimitMiddleware<S> {
    inner: S,
    limiter: Option<Arc<Limiter>>,
    streams: Option<Arc<StreamPermits>>,
}

impl<S> RateLimitMiddleware<S> {
    /// The permit an admitted server stream needs, if it is one and caps are set.
    fn stream_permit<B>(
        &self,
        request: &http::Request<B>,
    ) -> Result<Option<StreamPermit>, StreamsFull> {
        let Some(streams) = &self.streams else {
            return Ok(None);
        };
        if !is_server_streaming(request.uri().path()) {
            return Ok(None);
        }
        let Some(Ok(identity)) = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.identity.as_ref())
        else {
            // Refused as unauthenticated by its handler.
            return Ok(None);
        };
        let principal = identity.principal();
        let service = request
            .uri()
            .path()
            .trim_start_matches("/liaison.v1.")
            .split('/')
            .next()
            .unwrap_or_default();
        streams
            .take(&principal.to_string(), principal.agency().as_str(), service)
            .map(Some)
    }

    /// Calls on an admitted call: with its stream permit held by the response body, or
    /// refused (recorded by the audit layer) when a stream cap is reached.
    fn admitted<B>(
        &mut self,
        mut request: http::Request<B>,
    ) -> BoxFuture<Result<http::Response<Body>, S::Error>>
    where
        S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
        S::Future: Send + 'static,
    {
        match self.stream_permit(&request) {
            Ok(None) => Box::pin(self.inner.call(request)),
            Ok(Some(permit)) => {
                let call = self.inner.call(request);
                Box::pin(async move {
                    let response = call.await?;
                    Ok(response.map(|body| HoldingBody::wrap(body, permit)))
                })
            }
            Err(full) => {
                tracing::warn!(method = %request.uri().path(), "stream cap: refusing a stream");
                liaison_telemetry::metrics::refused("stream_cap");
                request.extensions_mut().insert(Refused {
                    code: Code::ResourceExhausted,
                    message: full.message(),
                    retry_after: Duration::from_secs(1),
                });
                Box::pin(self.inner.call(request))
            }
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for RateLimitMiddleware<S>
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

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let Some(limiter) = self.limiter.clone() else {
            return self.admitted(request);
        };
        let key = Key::of(request.extensions().get::<ConnectionInfo>());
        let caller = key.to_string();
        match limiter.check(key, Instant::now()) {
            Decision::Admit => self.admitted(request),
            Decision::Refuse { retry_after, first } => {
                liaison_telemetry::metrics::refused("rate_limit");
                let limit = limiter.limit;
                let refused = Refused {
                    code: Code::ResourceExhausted,
                    message: format!(
                        "rate limit exceeded: the {caller} may make {} calls per second, in \
                         bursts of up to {}; retry in {} ms",
                        limit.per_second,
                        limit.burst,
                        retry_after.as_millis().max(1)
                    ),
                    retry_after,
                };
                if first {
                    tracing::warn!(caller = %caller, "rate limit: refusing calls");
                    // Recorded by the audit layer, which answers without calling on.
                    request.extensions_mut().insert(refused);
                    Box::pin(self.inner.call(request))
                } else {
                    let response = refused.status().into_http();
                    Box::pin(std::future::ready(Ok(response)))
                }
            }
        }
    }
}

/// The tower layer that caps how long a call may take to answer; see the module
/// documentation.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    cap: Duration,
    paced: &'static [&'static str],
}

impl DeadlineLayer {
    /// Calls must answer within `cap` (or the client's shorter `grpc-timeout`).
    pub fn new(cap: Duration) -> Self {
        Self { cap, paced: &[] }
    }

    /// Client-streaming methods (paths such as `/liaison.v1.MlaService/UploadEvidence`)
    /// whose whole call is not capped, because a large upload takes as long as the line
    /// needs. Their handlers must bound the wait for each message instead, with
    /// [`next_within`] and the same cap; the client's `grpc-timeout` still applies.
    pub fn paced_uploads(mut self, paths: &'static [&'static str]) -> Self {
        self.paced = paths;
        self
    }
}

/// The next message of a client stream, or DEADLINE_EXCEEDED if none arrives within
/// `idle`: how a paced upload (see [`DeadlineLayer::paced_uploads`]) bounds a stalled
/// client.
pub async fn next_within<T>(
    stream: &mut tonic::Streaming<T>,
    idle: Duration,
) -> Result<Option<T>, Status> {
    match tokio::time::timeout(idle, stream.message()).await {
        Ok(message) => message,
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no message within {} ms (the hub's limit between the messages of an upload)",
            idle.as_millis()
        ))),
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = DeadlineMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineMiddleware {
            inner,
            cap: self.cap,
            paced: self.paced,
        }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub struct DeadlineMiddleware<S> {
    inner: S,
    cap: Duration,
    paced: &'static [&'static str],
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for DeadlineMiddleware<S>
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
        let client = grpc_timeout(request.headers());
        let paced = self.paced.contains(&request.uri().path());
        let (limit, whose) = match client {
            Some(client) if client < self.cap || paced => (client, "the client's grpc-timeout"),
            _ if paced => {
                // The handler bounds the wait for each message (`next_within`).
                return Box::pin(self.inner.call(request));
            }
            _ => (self.cap, "the hub's limit"),
        };
        let call = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(answered) => answered,
                Err(_) => {
                    let status = Status::deadline_exceeded(format!(
                        "the call did not answer within {} ms ({whose})",
                        limit.as_millis()
                    ));
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// The client's deadline from the `grpc-timeout` header: at most 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`). `None` when absent or malformed (no deadline then).
pub fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_second: 2,
        burst: 3,
    };

    fn principal(name: &str) -> Key {
        Key::Principal(name.to_owned())
    }

    #[test]
    fn a_burst_is_admitted_then_refused_then_admitted_after_refill() {
        let limiter = Limiter::new(LIMIT, 100);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(principal("a"), start), Decision::Admit);
        }
        let Decision::Refuse { retry_after, first } = limiter.check(principal("a"), start) else {
            panic!("the fourth call of a burst of three was admitted");
        };
        assert!(first);
        assert_eq!(retry_after, Duration::from_millis(500));
        assert!(matches!(
            limiter.check(principal("a"), start),
            Decision::Refuse { first: false, .. }
        ));
        // Another principal has its own bucket.
        assert_eq!(limiter.check(principal("b"), start), Decision::Admit);
        // Half a second later one token has come back, and only one.
        let later = start + Duration::from_millis(500);
        assert_eq!(limiter.check(principal("a"), later), Decision::Admit);
        assert!(matches!(
            limiter.check(principal("a"), later),
            Decision::Refuse { first: true, .. }
        ));
        // The bucket never holds more than the burst.
        let much_later = start + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check(principal("a"), much_later), Decision::Admit);
        }
        assert!(matches!(
            limiter.check(principal("a"), much_later),
            Decision::Refuse { .. }
        ));
    }

    #[test]
    fn memory_is_bounded_and_idle_buckets_are_forgotten() {
        let limiter = Limiter::new(LIMIT, 4);
        let start = Instant::now();
        // Four active callers fill the table; a fifth shares the overflow bucket.
        for name in ["a", "b", "c", "d"] {
            for _ in 0..3 {
                limiter.check(principal(name), start);
            }
        }
        assert_eq!(limiter.tracked(), 4);
        for _ in 0..3 {
            assert_eq!(limiter.check(principal("e"), start), Decision::Admit);
        }
        assert!(matches!(
            limiter.check(principal("f"), start),
            Decision::Refuse { .. }
        ));
        assert_eq!(limiter.tracked(), 5, "four callers and the overflow bucket");
        // Once the buckets have refilled, the callers are idle and make room.
        let later = start + Duration::from_secs(2);
        assert_eq!(limiter.check(principal("g"), later), Decision::Admit);
        assert_eq!(limiter.tracked(), 1);
        // And the periodic sweep forgets idle callers even when the table is not full.
        let much_later = later + SWEEP_EVERY;
        assert_eq!(limiter.check(principal("h"), much_later), Decision::Admit);
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn refusals_carry_retry_info() {
        let refused = Refused {
            code: Code::ResourceExhausted,
            message: "slow down".into(),
            retry_after: Duration::from_millis(250),
        };
        let status = refused.status();
        assert_eq!(status.code(), Code::ResourceExhausted);
        let retry = status.get_details_retry_info().expect("RetryInfo detail");
        assert_eq!(retry.retry_delay, Some(Duration::from_millis(250)));
    }

    #[test]
    fn grpc_timeouts_parse() {
        let header = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("grpc-timeout", value.parse().unwrap());
            grpc_timeout(&headers)
        };
        assert_eq!(header("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(header("2M"), Some(Duration::from_secs(120)));
        assert_eq!(header("30S"), Some(Duration::from_secs(30)));
        assert_eq!(header("250m"), Some(Duration::from_millis(250)));
        assert_eq!(header("7u"), Some(Duration::from_micros(7)));
        assert_eq!(header("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "S", "10", "123456789S", "1x", "-1S", "1.5S"] {
            assert_eq!(header(bad), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&HeaderMap::new()), None);
    }
}
