//! Samples the store for the hub's gauges (outbox depth, sequencer lag, audit log size,
//! checkpoint age, connections in use) every few seconds, while telemetry is exported.

use std::{sync::atomic::Ordering, time::Duration};

use liaison_rpc::Shutdown;
use liaison_store::Store;
use tokio::task::JoinHandle;

/// How often the gauges are sampled.
const INTERVAL: Duration = Duration::from_secs(5);

/// Starts the sampler; it does nothing unless telemetry is exported.
pub fn spawn_gauges(store: Store, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        if !liaison_telemetry::exporting() {
            return;
        }
        let gauges = liaison_telemetry::metrics::gauges();
        loop {
            match store.gauges().await {
                Ok(sample) => {
                    let now_us =
                        liaison_core::Timestamp::from_system_time(std::time::SystemTime::now())
                            .as_micros();
                    let since = |us: Option<i64>| {
                        us.map_or(0, |us| {
                            u64::try_from(now_us.saturating_sub(us)).unwrap_or(0)
                        })
                    };
                    gauges
                        .outbox_depth
                        .store(sample.outbox_depth, Ordering::Relaxed);
                    gauges
                        .sequencer_lag_ms
                        .store(since(sample.oldest_outbox_us) / 1000, Ordering::Relaxed);
                    gauges
                        .audit_log_size
                        .store(sample.audit_log_size, Ordering::Relaxed);
                    gauges.checkpoint_age_s.store(
                        since(sample.checkpoint_signed_us) / 1_000_000,
                        Ordering::Relaxed,
                    );
                    gauges
                        .pool_in_use
                        .store(sample.pool_in_use, Ordering::Relaxed);
                }
                Err(error) => tracing::warn!(%error, "could not sample the gauges"),
            }
            tokio::select! {
                () = tokio::time::sleep(INTERVAL) => {}
                () = shutdown.wait() => return,
            }
        }
    })
}
