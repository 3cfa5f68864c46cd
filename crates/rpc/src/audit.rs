//! Recording every call: [`AuditLayer`] opens an [`AuditContext`] for each request and
//! makes sure a record is written when the call ends; handlers add the objects they touch
//! and commit data accesses themselves — in the transaction of a write, or before the data
//! of a read leaves the hub — so that nothing is released or changed unrecorded.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use http::HeaderMap;
use http_body::Frame;
use liaison_audit::{Access, Actor, AuditRecord, ObjectAccess};
use liaison_core::{AgencyId, Role, Timestamp};
use liaison_store::{RECORD_OBJECTS, Store};
use tonic::{Status, body::Body};

use crate::{ConnectionInfo, ServiceError, limits::Refused};

/// The metadata key of the caller's justification: a case reference or legal basis.
pub const PURPOSE_HEADER: &str = "x-liaison-purpose";
/// Longest justification kept, in characters.
const PURPOSE_MAX_CHARS: usize = 500;

/// The audit record being built for one call. Cheap to clone; clones share the record.
#[derive(Debug, Clone)]
pub struct AuditContext(Arc<Mutex<AuditState>>);

#[derive(Debug)]
struct AuditState {
    record: AuditRecord,
    /// A handler committed the record of what the call did.
    recorded: bool,
    /// False only under [`AuditLayer::disabled`], for benchmarks of what auditing costs.
    enabled: bool,
    /// The call's span, told the outcome when the call ends.
    trace: Option<liaison_telemetry::CallTrace>,
}

impl AuditContext {
    /// A context for a call to `method` on a connection.
    pub fn start(
        method: &str,
        connection: Option<&ConnectionInfo>,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Self {
        let mut actor = Actor::default();
        if let Some(Ok(identity)) = connection.map(|info| info.identity.as_ref()) {
            let principal = identity.principal();
            actor.agency = Some(principal.agency().to_string());
            actor.kind = Some(principal.kind().as_str().to_owned());
            actor.name = Some(principal.name().to_string());
            actor.certificate_sha256 = Some(identity.certificate_sha256().to_owned());
        }
        let justification = headers
            .get(PURPOSE_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                percent_decode(value)
                    .chars()
                    .take(PURPOSE_MAX_CHARS)
                    .collect::<String>()
            })
            .filter(|value| !value.trim().is_empty());
        // The hub's own trace id (the call's span's, set by the layer from its
        // `CallTrace`): never the caller's `traceparent`, which a peer can forge.
        let trace_id = format!("{:032x}", ulid::Ulid::new().0);
        Self(Arc::new(Mutex::new(AuditState {
            record: AuditRecord {
                time_us: now.as_micros(),
                actor,
                method: crate::audited_method(method),
                objects: Vec::new(),
                outcome: 0,
                deny_reason: None,
                justification,
                client_address: connection
                    .and_then(|info| info.remote_addr)
                    .map(|addr| addr.to_string()),
                trace_id,
            },
            recorded: false,
            enabled: true,
            trace: None,
        })))
    }

    /// The context of a request; a detached one when no layer opened it (unit tests).
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<AuditContext>()
            .cloned()
            .unwrap_or_else(|| {
                Self::start(
                    "",
                    request.extensions().get::<ConnectionInfo>(),
                    &HeaderMap::new(),
                    Timestamp::from_micros(0),
                )
            })
    }

    fn with<R>(&self, change: impl FnOnce(&mut AuditState) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-update; the record is
        // still the best account of the call.
        let mut state = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut state)
    }

    /// A context for one item of a call (one publication of a stream, say): the same
    /// caller and call, none of the objects touched so far.
    pub fn fork(&self) -> Self {
        self.with(|state| {
            let mut record = state.record.clone();
            record.objects.clear();
            Self(Arc::new(Mutex::new(AuditState {
                record,
                recorded: false,
                enabled: state.enabled,
                // The call's end is told by the context the layer holds.
                trace: None,
            })))
        })
    }

    /// Records the caller's roles, from the directory.
    pub fn set_roles(&self, roles: &[Role]) {
        self.with(|state| {
            state.record.actor.roles = roles.iter().map(|role| role.as_str().to_owned()).collect()
        });
    }

    /// The call's full method path (`/liaison.v1.X/Y`).
    pub fn method(&self) -> String {
        self.with(|state| state.record.method.clone())
    }

    /// Records the id (`jti`) of the token the call presented.
    pub fn set_token_id(&self, jti: &str) {
        self.with(|state| state.record.actor.token_id = Some(jti.to_owned()));
    }

    /// Notes an object the call touched.
    pub fn touch(&self, id: &str, access: Access, owner: Option<&AgencyId>) {
        self.touch_sourced(id, access, owner, false);
    }

    /// Notes an object the call touched, and whether it was anonymous: the owner of an
    /// anonymous object is then shown to no other agency's auditors, the caller's included.
    pub fn touch_sourced(
        &self,
        id: &str,
        access: Access,
        owner: Option<&AgencyId>,
        anonymous: bool,
    ) {
        self.with(|state| {
            state.record.objects.push(ObjectAccess {
                id: id.to_owned(),
                access,
                owner_agency: owner.map(ToString::to_string),
                anonymous,
            });
        });
    }

    /// Notes objects the call touched, in order.
    pub fn touch_all(&self, objects: impl IntoIterator<Item = ObjectAccess>) {
        self.with(|state| state.record.objects.extend(objects));
    }

    /// The caller's justification, if sent.
    pub fn justification(&self) -> Option<String> {
        self.with(|state| state.record.justification.clone())
    }

    /// Refuses the call unless the caller stated a purpose (`x-liaison-purpose`): reads of
    /// personal data and of MLA content must be justified, and the justification is logged.
    pub fn require_justification(&self) -> Result<(), ServiceError> {
        if self.justification().is_some() {
            Ok(())
        } else {
            Err(ServiceError::invalid(
                PURPOSE_HEADER,
                "reading personal data needs a justification: send the case reference or legal basis in the \
                 x-liaison-purpose metadata",
            ))
        }
    }

    /// The record so far, with an outcome.
    pub fn record(&self, outcome: tonic::Code) -> AuditRecord {
        self.with(|state| {
            let mut record = state.record.clone();
            record.outcome = outcome as i32;
            record
        })
    }

    /// The encoded record of a successful write that also touched `extra`, for the
    /// write's own transaction. Call [`AuditContext::mark_recorded`] once it committed.
    pub fn write_record(&self, extra: ObjectAccess) -> Vec<u8> {
        self.write_record_of([extra])
    }

    /// The encoded record of a successful write that also touched each of `extra` (a
    /// batch of a stream), for the write's own transaction.
    pub fn write_record_of(&self, extra: impl IntoIterator<Item = ObjectAccess>) -> Vec<u8> {
        let mut record = self.record(tonic::Code::Ok);
        record.objects.extend(extra);
        record.seal()
    }

    /// Marks the call as recorded by its handler.
    pub fn mark_recorded(&self) {
        self.with(|state| state.recorded = true);
    }

    /// Commits the record of a successful read before its data is returned; if the record
    /// cannot be written, the read fails.
    pub async fn commit_read(&self, store: &Store) -> Result<(), ServiceError> {
        if !self.with(|state| state.enabled) {
            return Ok(());
        }
        let record = self.record(tonic::Code::Ok);
        if record.objects.len() <= RECORD_OBJECTS {
            store.append_audit(&record.seal(), now()).await?;
        } else {
            // Objects per record are capped: a read of many objects (a Lookup's holders)
            // is logged as several records of one call, in one transaction.
            let records: Vec<Vec<u8>> = record
                .objects
                .chunks(RECORD_OBJECTS)
                .map(|chunk| {
                    AuditRecord {
                        objects: chunk.to_vec(),
                        ..record.clone()
                    }
                    .seal()
                })
                .collect();
            store.append_audit_batch(&records, now()).await?;
        }
        self.mark_recorded();
        Ok(())
    }

    /// Writes the end-of-call record unless the handler already recorded a success.
    fn finish(&self, store: &Store, code: i32, message: Option<String>) {
        let record = self.with(|state| {
            if let Some(trace) = state.trace.take() {
                trace.finish(code);
            }
            if !state.enabled || (state.recorded && code == 0) {
                return None;
            }
            let mut record = state.record.clone();
            record.outcome = code;
            if code == tonic::Code::PermissionDenied as i32
                || code == tonic::Code::Unauthenticated as i32
            {
                record.deny_reason = message;
            }
            Some(record)
        });
        let Some(record) = record else { return };
        let store = store.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store.append_audit(&record.seal(), now()).await {
                    tracing::error!(%error, method = %record.method, "could not write an audit record");
                }
            });
        }
    }
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// The tower layer that opens an [`AuditContext`] for every call and records its end.
#[derive(Debug, Clone)]
pub struct AuditLayer {
    store: Store,
    enabled: bool,
}

impl AuditLayer {
    /// A layer writing to `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            enabled: true,
        }
    }

    /// A layer that records nothing, so that a benchmark can measure what auditing adds
    /// to a call. Writes still carry their record (it is part of their transaction); reads
    /// and call outcomes are not recorded. Never for a real hub.
    pub fn disabled(store: Store) -> Self {
        Self {
            store,
            enabled: false,
        }
    }
}

impl<S> tower::Layer<S> for AuditLayer {
    type Service = AuditMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuditMiddleware {
            inner,
            store: self.store.clone(),
            enabled: self.enabled,
        }
    }
}

/// The service [`AuditLayer`] makes.
#[derive(Debug, Clone)]
pub struct AuditMiddleware<S> {
    inner: S,
    store: Store,
    enabled: bool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for AuditMiddleware<S>
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
        // The clone is not ready; swap it in and call the one that is.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let context = AuditContext::start(
            request.uri().path(),
            request.extensions().get::<ConnectionInfo>(),
            request.headers(),
            now(),
        );
        if !self.enabled {
            context.with(|state| state.enabled = false);
        }
        if let Some(trace) = request
            .extensions()
            .get::<liaison_telemetry::CallTrace>()
            .cloned()
        {
            context.with(|state| {
                let actor = &state.record.actor;
                if let (Some(agency), Some(kind), Some(name)) =
                    (&actor.agency, &actor.kind, &actor.name)
                {
                    trace.identify(&format!("{agency}/{kind}/{name}"), agency);
                }
                trace.trace_id().clone_into(&mut state.record.trace_id);
                state.trace = Some(trace);
            });
        }
        // A call the rate limiter refused (the first of an episode; see crate::limits) is
        // recorded here and answered without reaching a handler.
        if let Some(refused) = request.extensions_mut().remove::<Refused>() {
            context.finish(
                &self.store,
                refused.code as i32,
                Some(refused.message.clone()),
            );
            return Box::pin(std::future::ready(Ok(refused.status().into_http())));
        }
        request.extensions_mut().insert(context.clone());
        let store = self.store.clone();
        Box::pin(async move {
            // Dropped before the handler answered: the client cancelled the call, or its
            // grpc-timeout passed (tonic then answers CANCELLED "Timeout expired").
            let mut unanswered = Unanswered(Some((context.clone(), store.clone())));
            let response = inner.call(request).await;
            unanswered.0 = None;
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    context.finish(&store, tonic::Code::Unknown as i32, None);
                    return Err(error);
                }
            };
            // A trailers-only response (an error) carries its status in the headers.
            if let Some(code) = grpc_status(response.headers()) {
                context.finish(&store, code, grpc_message(response.headers()));
                return Ok(response);
            }
            Ok(response.map(|body| {
                Body::new(AuditedBody {
                    inner: body,
                    finish: Some((context, store)),
                })
            }))
        })
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

fn grpc_message(headers: &HeaderMap) -> Option<String> {
    Some(percent_decode(headers.get("grpc-message")?.to_str().ok()?))
}

/// Decodes `%XX` escapes as UTF-8: grpc-message is percent-encoded, and so is a
/// justification that is not ASCII (a Cyrillic case reference, say), since metadata values
/// are ASCII.
pub fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |byte: u8| char::from(byte).to_digit(16);
        let escaped = (bytes[index] == b'%' && index + 3 <= bytes.len())
            .then(|| Some(hex(bytes[index + 1])? * 16 + hex(bytes[index + 2])?))
            .flatten()
            .and_then(|value| u8::try_from(value).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Records a call as CANCELLED if it is dropped before its handler answered.
struct Unanswered(Option<(AuditContext, Store)>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some((context, store)) = self.0.take() {
            context.finish(&store, tonic::Code::Cancelled as i32, None);
        }
    }
}

/// A response body that records the call when its trailers pass, or when it is dropped
/// unfinished (the client went away).
struct AuditedBody {
    inner: Body,
    finish: Option<(AuditContext, Store)>,
}

impl AuditedBody {
    fn finish(&mut self, code: i32, message: Option<String>) {
        if let Some((context, store)) = self.finish.take() {
            context.finish(&store, code, message);
        }
    }
}

impl http_body::Body for AuditedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = grpc_status(trailers).unwrap_or(tonic::Code::Unknown as i32);
                    let message = grpc_message(trailers);
                    self.finish(code, message);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let status: &Status = status;
                self.finish(status.code() as i32, Some(status.message().to_owned()));
            }
            Poll::Ready(None) => self.finish(tonic::Code::Unknown as i32, None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AuditedBody {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled as i32, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn justifications_are_decoded_from_ascii_metadata() {
        assert_eq!(percent_decode("case HU-2026-117"), "case HU-2026-117");
        assert_eq!(
            percent_decode("%D0%A1%D0%BF%D1%80%D0%B0%D0%B2%D0%B0 12"),
            "Справа 12"
        );
        assert_eq!(percent_decode("V%E1%BB%A5 %C3%A1n"), "Vụ án");
        // Malformed escapes pass through; nothing panics on odd input.
        for odd in ["50%", "%zz", "%a", "%aЖ", "%", "%%41"] {
            let _ = percent_decode(odd);
        }
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%%41"), "%A");
    }
}
