//! Communication checks started by a schedule in the configuration (`communication_check_
//! every_hours`), the way the OSCE runs its point-of-contact exercises.
//!
//! Slots are multiples of the interval since the Unix epoch on the deadline clock, and each
//! slot's check is started with the request id `scheduled-<slot>` and no actor: a retry,
//! a restart or a second replica finds the first start and does nothing. The check's
//! audit record names the hub as the actor (method `liaison.hub/cbm/ScheduledCheck`).

use std::time::Duration;

use liaison_audit::{Access, AuditRecord, ObjectAccess};
use liaison_core::{
    ObjectId, Scope, Timestamp,
    cbm::{CHECK_PREFIX, CommunicationCheck, LocalizedText},
};
use liaison_rpc::{Clock, Shutdown};
use liaison_store::{Store, WriteOutcome};
use tokio::task::JoinHandle;

/// How often the scheduler looks at the clock when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);

/// A schedule of communication checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSchedule {
    /// Time between checks.
    pub every: Duration,
    /// How long contacts have to answer each.
    pub window: Duration,
}

/// The start of the slot `now` falls in.
fn slot_of(now: Timestamp, every: Duration) -> i64 {
    let every = i64::try_from(every.as_micros()).unwrap_or(i64::MAX).max(1);
    now.as_micros().div_euclid(every) * every
}

/// Starts the slot's check unless it exists. Returns true when it started one now.
pub async fn start_scheduled_check(
    store: &Store,
    schedule: CheckSchedule,
    slot: i64,
    now: Timestamp,
) -> Result<bool, liaison_store::StoreError> {
    let check = CommunicationCheck {
        id: ObjectId::generate(CHECK_PREFIX),
        started_by: None,
        scope: Scope::AllMembers,
        contact_level: None,
        started: now,
        window: schedule.window,
        message: LocalizedText {
            text: "Scheduled communication check: please confirm that this point of contact is reachable."
                .into(),
            language: "en".into(),
        },
        challenge: crate::checks::new_challenge(),
    };
    let record = AuditRecord {
        time_us: Timestamp::from_system_time(std::time::SystemTime::now()).as_micros(),
        method: "liaison.hub/cbm/ScheduledCheck".into(),
        objects: vec![ObjectAccess {
            id: check.id.to_string(),
            access: Access::Write,
            owner_agency: None,
            anonymous: false,
        }],
        trace_id: format!("scheduled-{slot}"),
        ..AuditRecord::default()
    };
    let outcome = store
        .start_check(&check, &format!("scheduled-{slot}"), &record.seal())
        .await?;
    Ok(matches!(outcome, WriteOutcome::Stored(())))
}

/// Runs the schedule until `shutdown`: a check at the start of every slot, the current
/// slot's at once if it has none yet.
pub fn spawn_check_schedule(
    store: Store,
    clock: Clock,
    schedule: CheckSchedule,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            let slot = slot_of(now, schedule.every);
            match start_scheduled_check(&store, schedule, slot, now).await {
                Ok(true) => tracing::info!(slot, "scheduled communication check started"),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "scheduled communication check failed; retrying")
                }
            }
            let every = i64::try_from(schedule.every.as_micros()).unwrap_or(i64::MAX);
            let next = Timestamp::from_micros(slot.saturating_add(every));
            tokio::select! {
                () = clock.sleep_until_or(next, POLL) => {}
                () = shutdown.wait() => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_to_the_epoch() {
        let day = Duration::from_secs(86_400);
        let noon = Timestamp::from_micros(1_790_000_000_000_000 + 43_200_000_000);
        let slot = slot_of(noon, day);
        assert_eq!(slot % 86_400_000_000, 0);
        assert!(slot <= noon.as_micros() && noon.as_micros() - slot < 86_400_000_000);
        assert_eq!(slot_of(Timestamp::from_micros(slot), day), slot);
    }
}
