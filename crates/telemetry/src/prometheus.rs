//! The same meters in Prometheus text (exposition format 0.0.4), for the admin port's
//! `/metrics`: a reader every few seconds renders what the SDK aggregated, and
//! [`prometheus_text`] hands out the last rendering.
//!
//! Names become Prometheus names (`liaison.rpc.calls` → `liaison_rpc_calls_total`,
//! `liaison.rpc.duration` in seconds → `liaison_rpc_duration_seconds`), attributes labels.

use std::{
    fmt::Write as _,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use opentelemetry::KeyValue;
use opentelemetry_sdk::{
    error::OTelSdkResult,
    metrics::{
        Temporality,
        data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics},
        exporter::PushMetricExporter,
    },
};

static LATEST: OnceLock<Mutex<String>> = OnceLock::new();

/// The latest rendering, once the admin port's reader is installed.
pub fn prometheus_text() -> Option<String> {
    LATEST
        .get()
        .map(|latest| latest.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// The reader's exporter: renders each collection into [`LATEST`].
#[derive(Debug)]
pub(crate) struct TextExporter;

impl TextExporter {
    pub(crate) fn new() -> Self {
        let _ = LATEST.set(Mutex::new(String::new()));
        TextExporter
    }
}

impl PushMetricExporter for TextExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let text = render(metrics);
        if let Some(latest) = LATEST.get() {
            *latest.lock().unwrap_or_else(|e| e.into_inner()) = text;
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// Renders every metric of a collection.
pub(crate) fn render(metrics: &ResourceMetrics) -> String {
    let mut out = String::new();
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            render_metric(&mut out, metric);
        }
    }
    out
}

fn render_metric(out: &mut String, metric: &Metric) {
    let base = metric
        .name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>();
    let base = if metric.unit() == "s" {
        format!("{base}_seconds")
    } else {
        base
    };
    let help = metric
        .description()
        .replace('\\', "\\\\")
        .replace('\n', " ");
    match metric.data() {
        AggregatedMetrics::F64(data) => render_data(out, &base, &help, data, |v| v),
        AggregatedMetrics::U64(data) => render_data(out, &base, &help, data, |v| v as f64),
        AggregatedMetrics::I64(data) => render_data(out, &base, &help, data, |v| v as f64),
    }
}

fn render_data<T: Copy>(
    out: &mut String,
    base: &str,
    help: &str,
    data: &MetricData<T>,
    float: impl Fn(T) -> f64,
) {
    match data {
        MetricData::Gauge(gauge) => {
            let _ = writeln!(out, "# HELP {base} {help}\n# TYPE {base} gauge");
            for point in gauge.data_points() {
                sample(
                    out,
                    base,
                    &labels(point.attributes(), None),
                    float(point.value()),
                );
            }
        }
        MetricData::Sum(sum) => {
            let (name, kind) = if sum.is_monotonic() {
                (format!("{base}_total"), "counter")
            } else {
                (base.to_owned(), "gauge")
            };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for point in sum.data_points() {
                sample(
                    out,
                    &name,
                    &labels(point.attributes(), None),
                    float(point.value()),
                );
            }
        }
        MetricData::Histogram(histogram) => {
            let _ = writeln!(out, "# HELP {base} {help}\n# TYPE {base} histogram");
            for point in histogram.data_points() {
                let mut cumulative = 0;
                let bounds: Vec<f64> = point.bounds().collect();
                for (index, count) in point.bucket_counts().enumerate() {
                    cumulative += count;
                    let le = bounds
                        .get(index)
                        .map_or_else(|| "+Inf".to_owned(), |bound| bound.to_string());
                    let labels = labels(point.attributes(), Some(&le));
                    sample(out, &format!("{base}_bucket"), &labels, cumulative as f64);
                }
                let plain = labels(point.attributes(), None);
                sample(out, &format!("{base}_sum"), &plain, float(point.sum()));
                sample(out, &format!("{base}_count"), &plain, point.count() as f64);
            }
        }
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn labels<'a>(attributes: impl Iterator<Item = &'a KeyValue>, le: Option<&str>) -> String {
    let mut pairs: Vec<String> = attributes
        .map(|KeyValue { key, value, .. }| {
            let name: String = key
                .as_str()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            format!("{name}=\"{}\"", escape(&value.to_string()))
        })
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    let _ = writeln!(out, "{name}{labels} {value}");
}
