//! OpenTelemetry export: OTLP over gRPC to the collector named by
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, with the resource of `OTEL_SERVICE_NAME` (default: the
//! binary's name) and `OTEL_RESOURCE_ATTRIBUTES`. Off when the endpoint is unset.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{
    Resource,
    metrics::{PeriodicReader, SdkMeterProvider},
    trace::{SdkTracer, SdkTracerProvider},
};

/// Set once an export is running.
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process exports telemetry (so that sampling gauges is worth its reads).
pub fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// How often metrics are sent.
const METRIC_INTERVAL: Duration = Duration::from_secs(10);
/// How often the Prometheus text is rendered anew.
const PROMETHEUS_INTERVAL: Duration = Duration::from_secs(5);

/// Where telemetry goes.
#[derive(Debug, Clone)]
pub struct Export {
    endpoint: Option<String>,
    service_name: String,
    prometheus: bool,
}

impl Export {
    /// As the standard variables say: `OTEL_EXPORTER_OTLP_ENDPOINT` (off when unset or
    /// empty), the service name `liaison` unless `OTEL_SERVICE_NAME` says otherwise.
    pub fn from_env() -> Self {
        Self {
            endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .ok()
                .filter(|endpoint| !endpoint.trim().is_empty()),
            service_name: "liaison".into(),
            prometheus: false,
        }
    }

    /// To the OTLP/gRPC collector at `endpoint` (`http://HOST:PORT`).
    pub fn to(endpoint: &str) -> Self {
        Self {
            endpoint: Some(endpoint.to_owned()),
            service_name: "liaison".into(),
            prometheus: false,
        }
    }

    /// Nowhere.
    pub fn off() -> Self {
        Self {
            endpoint: None,
            service_name: "liaison".into(),
            prometheus: false,
        }
    }

    /// Also keeps the metrics in Prometheus text, for the admin port's `/metrics`.
    pub fn with_prometheus(mut self, on: bool) -> Self {
        self.prometheus = on;
        self
    }

    /// The service name used when `OTEL_SERVICE_NAME` is unset.
    pub fn default_service_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.service_name);
        self
    }

    pub(crate) fn start(self) -> Telemetry {
        if self.endpoint.is_none() && !self.prometheus {
            return Telemetry::default();
        }
        let mut resource = Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(self.service_name);
        }
        let resource = resource.build();
        let mut meter = SdkMeterProvider::builder().with_resource(resource.clone());
        if self.prometheus {
            meter = meter.with_reader(
                PeriodicReader::builder(crate::prometheus::TextExporter::new())
                    .with_interval(PROMETHEUS_INTERVAL)
                    .build(),
            );
        }
        let mut tracer = None;
        if let Some(endpoint) = self.endpoint {
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build();
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build();
            match (spans, metrics) {
                (Ok(spans), Ok(metrics)) => {
                    let provider = SdkTracerProvider::builder()
                        .with_batch_exporter(spans)
                        .with_resource(resource)
                        .build();
                    opentelemetry::global::set_tracer_provider(provider.clone());
                    tracer = Some(provider);
                    meter = meter.with_reader(
                        PeriodicReader::builder(metrics)
                            .with_interval(METRIC_INTERVAL)
                            .build(),
                    );
                }
                (Err(error), _) | (_, Err(error)) => {
                    eprintln!("OpenTelemetry export to {endpoint} is off: {error}");
                }
            }
        }
        let meter = meter.build();
        EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
        opentelemetry::global::set_meter_provider(meter.clone());
        Telemetry {
            tracer,
            meter: Some(meter),
        }
    }
}

/// The running export: flush it to send what is pending, shut it down last.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn is_exporting(&self) -> bool {
        self.tracer.is_some()
    }

    /// Sends the spans and metrics gathered so far.
    pub fn flush(&self) {
        if let Some(tracer) = &self.tracer
            && let Err(error) = tracer.force_flush()
        {
            tracing::warn!(%error, "flushing spans");
        }
        if let Some(meter) = &self.meter
            && let Err(error) = meter.force_flush()
        {
            tracing::warn!(%error, "flushing metrics");
        }
    }

    /// Flushes and stops the export.
    pub fn shutdown(self) {
        if let Some(tracer) = self.tracer {
            let _ = tracer.shutdown();
        }
        if let Some(meter) = self.meter {
            let _ = meter.shutdown();
        }
    }

    pub(crate) fn tracing_layer<S>(
        &self,
    ) -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let tracer = self.tracer.as_ref()?.tracer("liaison");
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    }
}
