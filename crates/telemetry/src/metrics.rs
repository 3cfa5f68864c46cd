//! The hub's metrics, by name. Every instrument comes from the global meter, created on
//! first use (after [`crate::init`] has installed the exporter); without an exporter they
//! record nothing.
//!
//! | name | kind | attributes |
//! |---|---|---|
//! | `liaison.rpc.calls` | counter | `rpc.method`, `rpc.grpc.status_code` |
//! | `liaison.rpc.duration` | histogram, seconds | `rpc.method`, `rpc.grpc.status_code` |
//! | `liaison.streams.open` | up-down counter | `liaison.service` |
//! | `liaison.refusals` | counter | `liaison.refusal` (`rate_limit`, `stream_cap`, `handshake`, `connection`) |
//! | `liaison.outbox.depth` | gauge, rows | |
//! | `liaison.sequencer.lag` | gauge, seconds since the oldest unsequenced row | |
//! | `liaison.audit.log_size` | gauge, leaves | |
//! | `liaison.audit.checkpoint_age` | gauge, seconds | |
//! | `liaison.db.pool.in_use` | gauge, connections | |

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use opentelemetry::{
    KeyValue,
    metrics::{Counter, Histogram, UpDownCounter},
};

struct Instruments {
    calls: Counter<u64>,
    duration: Histogram<f64>,
    streams: UpDownCounter<i64>,
    refusals: Counter<u64>,
}

fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let meter = opentelemetry::global::meter("liaison");
        let _ = gauges();
        Instruments {
            calls: meter
                .u64_counter("liaison.rpc.calls")
                .with_description("Calls answered, by method and gRPC status code")
                .build(),
            duration: meter
                .f64_histogram("liaison.rpc.duration")
                .with_unit("s")
                .with_description("Time from request to the call's end (a stream's: its end)")
                .build(),
            streams: meter
                .i64_up_down_counter("liaison.streams.open")
                .with_description("Server streams open, by service")
                .build(),
            refusals: meter
                .u64_counter("liaison.refusals")
                .with_description("Calls and connections refused by a limit, by kind")
                .build(),
        }
    })
}

pub(crate) fn call_started(_method: &str) {
    let _ = instruments();
}

pub(crate) fn call_finished(method: &str, code: i32, elapsed: Duration) {
    let attributes = [
        KeyValue::new("rpc.method", method.to_owned()),
        KeyValue::new("rpc.grpc.status_code", i64::from(code)),
    ];
    let instruments = instruments();
    instruments.calls.add(1, &attributes);
    instruments
        .duration
        .record(elapsed.as_secs_f64(), &attributes);
}

/// A server stream of `service` opened (`+1`) or closed (`-1`).
pub fn stream_changed(service: &str, delta: i64) {
    instruments().streams.add(
        delta,
        &[KeyValue::new("liaison.service", service.to_owned())],
    );
}

/// A call or connection refused by a limit of `kind`.
pub fn refused(kind: &'static str) {
    instruments()
        .refusals
        .add(1, &[KeyValue::new("liaison.refusal", kind)]);
}

/// Values the hub samples (every few seconds) for the gauges.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Committed outbox rows not yet sequenced.
    pub outbox_depth: AtomicU64,
    /// Milliseconds since the oldest unsequenced outbox row was written.
    pub sequencer_lag_ms: AtomicU64,
    /// Leaves in the audit log.
    pub audit_log_size: AtomicU64,
    /// Seconds since the latest checkpoint was signed.
    pub checkpoint_age_s: AtomicU64,
    /// Database connections in use.
    pub pool_in_use: AtomicU64,
}

/// The gauges' values, registered with the meter on first use.
pub fn gauges() -> &'static Gauges {
    static GAUGES: OnceLock<&'static Gauges> = OnceLock::new();
    GAUGES.get_or_init(|| {
        let gauges: &'static Gauges = Box::leak(Box::default());
        let meter = opentelemetry::global::meter("liaison");
        let read = |value: &'static AtomicU64| move || value.load(Ordering::Relaxed);
        let outbox = read(&gauges.outbox_depth);
        let _ = meter
            .u64_observable_gauge("liaison.outbox.depth")
            .with_description("Committed outbox rows not yet sequenced")
            .with_callback(move |observer| observer.observe(outbox(), &[]))
            .build();
        let lag = read(&gauges.sequencer_lag_ms);
        let _ = meter
            .f64_observable_gauge("liaison.sequencer.lag")
            .with_unit("s")
            .with_description("Age of the oldest unsequenced outbox row")
            .with_callback(move |observer| observer.observe(lag() as f64 / 1000.0, &[]))
            .build();
        let size = read(&gauges.audit_log_size);
        let _ = meter
            .u64_observable_gauge("liaison.audit.log_size")
            .with_description("Leaves in the audit log")
            .with_callback(move |observer| observer.observe(size(), &[]))
            .build();
        let age = read(&gauges.checkpoint_age_s);
        let _ = meter
            .u64_observable_gauge("liaison.audit.checkpoint_age")
            .with_unit("s")
            .with_description("Time since the latest signed checkpoint")
            .with_callback(move |observer| observer.observe(age(), &[]))
            .build();
        let pool = read(&gauges.pool_in_use);
        let _ = meter
            .u64_observable_gauge("liaison.db.pool.in_use")
            .with_description("Database connections in use")
            .with_callback(move |observer| observer.observe(pool(), &[]))
            .build();
        gauges
    })
}
