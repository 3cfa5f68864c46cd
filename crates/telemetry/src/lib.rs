//! Logging, traces and metrics for the Liaison binaries.
//!
//! - Logs: structured `tracing` events to standard error, as text for people or JSON lines
//!   for collectors. The filter comes from `LIAISON_LOG` (then `RUST_LOG`), for example
//!   `LIAISON_LOG=info,liaison_store=debug`.
//! - OpenTelemetry ([`export`]): with `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans and metrics
//!   go to that OTLP collector over gRPC (the tonic the hub already uses), named by
//!   `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`; unset, nothing is exported and the
//!   instruments cost next to nothing.
//! - Calls ([`call`]): one span per RPC with its method, principal, agency and status
//!   code, started by the hub — an incoming W3C `traceparent` is linked, never adopted —
//!   and the call metrics.
//! - Metrics ([`metrics`]): the hub's instruments, by name.

pub mod call;
pub mod export;
pub mod metrics;
pub mod prometheus;

use tracing_subscriber::{EnvFilter, Layer as _, fmt, prelude::*};

pub use call::{CallTrace, RpcTraceLayer};
pub use export::{Export, Telemetry, exporting};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber, exporting to OpenTelemetry as the standard variables
/// say. `default_directive` applies when neither log variable is set. Call it inside the
/// Tokio runtime (the exporter's gRPC client needs one); keep what it returns and
/// [`Telemetry::shutdown`] it last, so that the last spans and metrics are sent.
pub fn init(format: LogFormat, default_directive: &str) -> Telemetry {
    init_with(format, default_directive, Export::from_env())
}

/// [`init`], with the export chosen by the caller (tests name their collector).
pub fn init_with(format: LogFormat, default_directive: &str, export: Export) -> Telemetry {
    let filter = std::env::var("LIAISON_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(default_directive));
    let telemetry = export.start();
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = match format {
        LogFormat::Text => fmt::layer()
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(logs)
        .with(telemetry.tracing_layer())
        .try_init();
    // A subscriber already installed (tests) is fine.
    drop(result);
    telemetry
}
