//! One span per RPC, started by the hub, and the call metrics.
//!
//! [`RpcTraceLayer`] opens a span `rpc` for every request with its method (an unknown path
//! is named `(unknown method)`, so a caller cannot mint span names or metric series), and
//! puts a [`CallTrace`] into the request's extensions. The audit layer fills in the
//! principal and agency and, when the call ends, its status code; the audit record carries
//! the span's trace id. An incoming W3C `traceparent` becomes a *link* of the span, never
//! its parent: a peer can name any trace id it likes, and the hub's record of the call
//! must not be placed in a trace of the peer's choosing.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use tracing::{Instrument as _, Span, field::Empty, instrument::Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::metrics;

/// What the hub knows of a call's trace: its span and the hub's trace id.
#[derive(Debug, Clone)]
pub struct CallTrace(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    span: Span,
    trace_id: String,
    method: String,
    started: Instant,
    finished: AtomicBool,
}

impl CallTrace {
    /// The trace id the hub gave the call (32 lowercase hex digits): the span's when
    /// traces are exported, a random one otherwise.
    pub fn trace_id(&self) -> &str {
        &self.0.trace_id
    }

    /// The call's span.
    pub fn span(&self) -> &Span {
        &self.0.span
    }

    /// Names who called.
    pub fn identify(&self, principal: &str, agency: &str) {
        self.0.span.record("liaison.principal", principal);
        self.0.span.record("liaison.agency", agency);
    }

    /// Records the call's end with its gRPC status code, once: the span's status field,
    /// the call counter and the latency histogram by method and code.
    pub fn finish(&self, code: i32) {
        if self.0.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        self.0.span.record("rpc.grpc.status_code", code);
        metrics::call_finished(&self.0.method, code, self.0.started.elapsed());
    }
}

/// The tower layer that opens a call's span; `known` tells the methods the hub serves.
#[derive(Debug, Clone, Copy)]
pub struct RpcTraceLayer {
    known: fn(&str) -> bool,
}

impl RpcTraceLayer {
    /// A layer naming spans by method when `known(path)`, `(unknown method)` otherwise.
    pub fn new(known: fn(&str) -> bool) -> Self {
        Self { known }
    }
}

impl<S> tower::Layer<S> for RpcTraceLayer {
    type Service = RpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTrace {
            inner,
            known: self.known,
        }
    }
}

/// See [`RpcTraceLayer`].
#[derive(Debug, Clone)]
pub struct RpcTrace<S> {
    inner: S,
    known: fn(&str) -> bool,
}

impl<S, B> tower::Service<http::Request<B>> for RpcTrace<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let method = if (self.known)(path) {
            path.trim_start_matches('/').to_owned()
        } else {
            "(unknown method)".to_owned()
        };
        let span = tracing::info_span!(
            parent: None,
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            liaison.principal = Empty,
            liaison.agency = Empty,
            rpc.grpc.status_code = Empty,
        );
        if let Some(peer) = request
            .headers()
            .get("traceparent")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_traceparent)
        {
            span.add_link(peer);
        }
        let context = span.context();
        let own = context.span().span_context().trace_id();
        let trace_id = if own == TraceId::INVALID {
            random_trace_id()
        } else {
            format!("{own:032x}")
        };
        metrics::call_started(&method);
        request.extensions_mut().insert(CallTrace(Arc::new(Inner {
            span: span.clone(),
            trace_id,
            method,
            started: Instant::now(),
            finished: AtomicBool::new(false),
        })));
        self.inner.call(request).instrument(span)
    }
}

/// A W3C `traceparent` (version 00): `00-<32 hex trace id>-<16 hex span id>-<2 hex
/// flags>`, neither id all zeros. Anything else is ignored.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |text: &str, len: usize| {
        text.len() == len
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if parts.next().is_some()
        || version != "00"
        || !lower_hex(trace, 32)
        || !lower_hex(span, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    let trace = TraceId::from_hex(trace)
        .ok()
        .filter(|id| *id != TraceId::INVALID)?;
    let span = SpanId::from_hex(span)
        .ok()
        .filter(|id| *id != SpanId::INVALID)?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()?);
    Some(SpanContext::new(
        trace,
        span,
        flags,
        true,
        TraceState::default(),
    ))
}

/// A fresh `traceparent` for an outgoing call (clients send one; the hub links it).
pub fn new_traceparent() -> String {
    let trace = random_trace_id();
    let span = &random_trace_id()[..16];
    format!("00-{trace}-{span}-01")
}

fn random_trace_id() -> String {
    let mut bytes = [0u8; 16];
    // An id nobody can predict; should the system RNG fail, a time-based one still
    // names the call.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_traceparents_are_linked() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse_traceparent(good).unwrap();
        assert_eq!(
            format!("{:032x}", context.trace_id()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
        assert!(parse_traceparent(&new_traceparent()).is_some());
    }
}
