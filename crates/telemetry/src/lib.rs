//! Logging for the Liaison binaries: structured `tracing` events to standard error, as
//! text for people or JSON lines for collectors. The filter comes from `LIAISON_LOG`
//! (then `RUST_LOG`), for example `LIAISON_LOG=info,liaison_store=debug`.
//!
//! OpenTelemetry export plugs in here as another layer; it is not wired yet.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `default_directive` applies when neither variable is set.
pub fn init(format: LogFormat, default_directive: &str) {
    let filter = std::env::var("LIAISON_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(default_directive));
    let registry = tracing_subscriber::registry().with(filter);
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let result = match format {
        LogFormat::Text => registry
            .with(fmt::layer().with_ansi(colour).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
    // A subscriber already installed (tests) is fine.
    drop(result);
}
