//! The escalator: one task per hub that escalates acknowledgements still pending at their
//! due time and announces communication checks whose window closed. Time is the hub's
//! deadline clock, so tests move it instead of sleeping.

use std::time::Duration;

use liaison_rpc::{Clock, Shutdown};
use liaison_store::Store;
use tokio::task::JoinHandle;

/// How often the escalator looks again when nothing falls due sooner (on the system
/// clock), and the longest it waits on a manual clock before looking again.
const POLL: Duration = Duration::from_secs(1);

/// Starts the escalator; it stops with `shutdown`. Each escalation is written with its
/// stream event in one transaction, so the recipient and the sender see it on WatchInbox.
pub fn spawn_escalator(store: Store, clock: Clock, mut shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            match store.escalate_overdue(now).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "overdue acknowledgements escalated"),
                Err(error) => tracing::warn!(%error, "escalation failed; retrying"),
            }
            if let Err(error) = store.close_due_checks(now).await {
                tracing::warn!(%error, "closing communication checks failed; retrying");
            }
            let next = match (
                store.next_acknowledgement_due().await,
                store.next_check_due().await,
            ) {
                (Ok(ack), Ok(check)) => ack.into_iter().chain(check).min(),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, "could not read the next due time");
                    None
                }
            };
            // Far in the future when nothing is due: the poll wakes it to look again.
            let deadline = next.unwrap_or(liaison_core::Timestamp::from_micros(i64::MAX));
            tokio::select! {
                () = clock.sleep_until_or(deadline, POLL) => {}
                () = shutdown.wait() => return,
            }
        }
    })
}
