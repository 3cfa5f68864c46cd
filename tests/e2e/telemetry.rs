//! OpenTelemetry against a real OTLP/gRPC collector (the collector services of
//! `opentelemetry-proto`, in process): the hub exports a span per call with its method,
//! principal, agency and status code, in a trace of its own that links the caller's
//! `traceparent`; the call's audit record carries the hub's trace id; the call metrics and
//! the gauges arrive by name.
//!
//! The export is process-wide (a global subscriber and providers), so this module holds one
//! test per backend; nextest runs each test in a process of its own.

use std::sync::{Arc, Mutex};

use liaison_proto::v1;
use liaison_telemetry::{Export, LogFormat};
use liaison_testkit::{Backend, TestHub, both};
use opentelemetry_proto::tonic::{
    collector::{
        metrics::v1::{
            ExportMetricsServiceRequest, ExportMetricsServiceResponse,
            metrics_service_server::{MetricsService, MetricsServiceServer},
        },
        trace::v1::{
            ExportTraceServiceRequest, ExportTraceServiceResponse,
            trace_service_server::{TraceService, TraceServiceServer},
        },
    },
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::Span,
};
use serde_json::Value as Json;

use crate::support::eventually;

both!(calls_are_traced_and_measured_by_the_hub);

/// What the collector received.
#[derive(Debug, Default, Clone)]
struct Received {
    spans: Arc<Mutex<Vec<Span>>>,
    metrics: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut names = self.metrics.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                names.extend(scope.metrics.into_iter().map(|metric| metric.name));
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|KeyValue { key: name, .. }| name == key)
        .and_then(|KeyValue { value, .. }| value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}

fn text(value: Option<&Value>) -> Option<&str> {
    match value {
        Some(Value::StringValue(text)) => Some(text),
        _ => None,
    }
}

async fn calls_are_traced_and_measured_by_the_hub(backend: Backend) -> anyhow::Result<()> {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let collector = format!("http://{}", listener.local_addr()?);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .add_service(MetricsServiceServer::new(received.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let telemetry = liaison_telemetry::init_with(LogFormat::Text, "warn", Export::to(&collector));
    assert!(telemetry.is_exporting());
    let hub = TestHub::start(backend).await?;

    // A call with the caller's own trace context, which a peer could choose freely.
    let callers_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(v1::WhoAmIRequest {});
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{callers_trace}-00f067aa0ba902b7-01").parse()?,
    );
    hub.client("UA-CERT", "feed")
        .await?
        .directory()
        .who_am_i(request)
        .await?;
    hub.drained().await?;
    let record: Json = hub
        .store()
        .audit_records(hub.start_audit_size(), 1_000)
        .await?
        .iter()
        .map(|row| serde_json::from_str::<Json>(&row.record))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|record| record["method"] == "/liaison.v1.DirectoryService/WhoAmI")
        .ok_or_else(|| anyhow::anyhow!("no audit record of the call"))?;
    let recorded_trace = record["trace_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(recorded_trace.len(), 32, "{record}");
    assert_ne!(
        recorded_trace, callers_trace,
        "the record took the caller's trace id"
    );

    let span = eventually("the call's span did not reach the collector", || async {
        telemetry.flush();
        let spans = received.spans.lock().unwrap();
        spans
            .iter()
            .find(|span| span.name == "liaison.v1.DirectoryService/WhoAmI")
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("not yet: {} spans", spans.len()))
    })
    .await?;
    assert_eq!(
        text(attribute(&span, "rpc.method")),
        Some("liaison.v1.DirectoryService/WhoAmI")
    );
    assert_eq!(
        text(attribute(&span, "liaison.principal")),
        Some("UA-CERT/system/feed")
    );
    assert_eq!(text(attribute(&span, "liaison.agency")), Some("UA-CERT"));
    assert_eq!(
        attribute(&span, "rpc.grpc.status_code"),
        Some(&Value::IntValue(0))
    );
    // The hub's trace, named in the audit record; the caller's only as a link.
    assert_eq!(hex::encode(&span.trace_id), recorded_trace);
    assert!(span.parent_span_id.is_empty(), "the span adopted a parent");
    assert!(
        span.links
            .iter()
            .any(|link| hex::encode(&link.trace_id) == callers_trace),
        "no link to the caller's trace: {:?}",
        span.links
    );

    // The metrics, by name: the calls, and the gauges the hub samples.
    eventually("the metrics did not reach the collector", || async {
        telemetry.flush();
        let names = received.metrics.lock().unwrap();
        for name in [
            "liaison.rpc.calls",
            "liaison.rpc.duration",
            "liaison.outbox.depth",
            "liaison.audit.log_size",
            "liaison.audit.checkpoint_age",
            "liaison.db.pool.in_use",
        ] {
            anyhow::ensure!(
                names.iter().any(|got| got == name),
                "no {name} in {names:?}"
            );
        }
        Ok(())
    })
    .await?;
    hub.stop().await?;
    telemetry.shutdown();
    Ok(())
}
