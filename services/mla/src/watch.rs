//! WatchRequests, and the deadline scanner that puts deadline events on its stream.
//!
//! Like indicator subscriptions, each watcher reads the sequenced `events` table itself
//! (topic `mla`) after its cursor and waits on the high-water mark; it delivers only
//! events on requests its agency is a party to (drafts only to their author's agency),
//! each with the request in the basic view, and commits one audit record per page before
//! sending it.
//!
//! The scanner follows the hub's clock (`liaison_rpc::Clock`, manual in tests): when a
//! running deadline comes within the policy's warning period, or passes, it marks the
//! deadline and writes a `deadline_approaching.KIND` or `deadline_passed.KIND` event,
//! once per deadline across replicas. Tests move the clock; nothing sleeps to wait.

use std::time::Duration;

use liaison_audit::{Access, AuditRecord, ObjectAccess};
use liaison_core::{
    ObjectId, Timestamp,
    mla::{Actor, DeadlineKind, DeadlinePolicy, MlaStep, deadlines::after, step},
};
use liaison_proto::v1;
use liaison_rpc::{Clock, ServiceError, Shutdown, StreamWait, to_timestamp};
use liaison_store::{MlaEvent, MlaRecord, MlaWrite, Store};
use prost::Message;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, codegen::BoxStream};

use crate::{
    MlaServiceImpl,
    convert::{
        deadline_kind_to_proto, decode_document, preservation_to_proto, request_to_proto,
        state_to_proto,
    },
    workflow::{Call, parse_id, side_of},
};

const PAGE: u32 = 256;
const CHANNEL: usize = 64;
/// How often the scanner looks again when nothing woke it (the system clock moves on
/// its own; a manual clock wakes it when moved).
const SCAN_POLL: Duration = Duration::from_secs(1);
/// The audit log's `method` of the hub's own expiry step.
const EXPIRE_METHOD: &str = "liaison.hub/mla/ExpirePreservation";

/// An event kind as written by the service and the scanner, with the deadline it names.
fn event_kind(kind: &str) -> (v1::MlaEventKind, Option<DeadlineKind>) {
    if let Some(deadline) = kind.strip_prefix("deadline_passed.") {
        return (
            v1::MlaEventKind::DeadlinePassed,
            DeadlineKind::parse(deadline),
        );
    }
    if let Some(deadline) = kind.strip_prefix("deadline_approaching.") {
        return (
            v1::MlaEventKind::DeadlineApproaching,
            DeadlineKind::parse(deadline),
        );
    }
    let kind = match kind {
        "submitted" => v1::MlaEventKind::Submitted,
        "receipt_issued" => v1::MlaEventKind::ReceiptIssued,
        "message_posted" => v1::MlaEventKind::MessagePosted,
        _ => v1::MlaEventKind::StateChanged,
    };
    (kind, None)
}

struct Filter {
    ids: Vec<ObjectId>,
    kinds: Vec<i32>,
}

impl MlaServiceImpl {
    pub(crate) fn watch(
        &self,
        call: Call,
        message: v1::WatchRequestsRequest,
    ) -> Result<BoxStream<v1::WatchRequestsResponse>, ServiceError> {
        let ids = message
            .mla_request_ids
            .iter()
            .map(|id| parse_id(id, "mla_request_ids"))
            .collect::<Result<Vec<_>, _>>()?;
        if message
            .kinds
            .iter()
            .any(|kind| v1::MlaEventKind::try_from(*kind).is_err())
        {
            return Err(ServiceError::invalid("kinds", "unknown event kind"));
        }
        let filter = Filter {
            ids,
            kinds: message.kinds,
        };
        let after = message.after.map_or(0, |cursor| cursor.position);
        let (sender, receiver) = mpsc::channel(CHANNEL);
        tokio::spawn(self.clone().feed_watcher(call, filter, after, sender));
        Ok(Box::pin(ReceiverStream::new(receiver)))
    }

    async fn event_message(
        &self,
        call: &Call,
        filter: &Filter,
        event: &MlaEvent,
    ) -> Result<Option<v1::WatchRequestsResponse>, ServiceError> {
        let (kind, deadline_kind) = event_kind(&event.kind);
        if !filter.kinds.is_empty() && !filter.kinds.contains(&(kind as i32)) {
            return Ok(None);
        }
        let Ok(id) = parse_id(&event.request_id, "id") else {
            return Ok(None);
        };
        if !filter.ids.is_empty() && !filter.ids.contains(&id) {
            return Ok(None);
        }
        // A deleted draft, or a request of other agencies: nothing to deliver.
        let Some(record) = self.store.get_mla(&id).await? else {
            return Ok(None);
        };
        if side_of(&call.caller, &record).is_none() {
            return Ok(None);
        }
        let now = self.clock.now();
        let request = request_to_proto(&record, false, &self.policy, now)?;
        let deadline = deadline_kind.and_then(|kind| {
            request
                .deadlines
                .iter()
                .find(|deadline| deadline.kind == deadline_kind_to_proto(kind))
                .cloned()
        });
        call.audit.touch(
            record.id.as_str(),
            Access::Deliver,
            Some(&record.requesting),
        );
        Ok(Some(v1::WatchRequestsResponse {
            event: Some(v1::MlaEvent {
                cursor: Some(v1::Cursor {
                    position: event.position,
                }),
                kind: kind as i32,
                event_time: Some(to_timestamp(event.time)),
                mla_request_id: record.id.to_string(),
                mla_request: Some(request),
                deadline,
                ..v1::MlaEvent::default()
            }),
        }))
    }

    async fn feed_watcher(
        self,
        call: Call,
        filter: Filter,
        mut cursor: u64,
        sender: mpsc::Sender<Result<v1::WatchRequestsResponse, Status>>,
    ) {
        let mut high_water = self.store.watch_high_water();
        let mut access = self.auth.watch_access();
        let mut shutdown = self.shutdown.clone();
        loop {
            let events = match self.store.mla_events_after(cursor, PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    let _ = sender.send(Err(ServiceError::from(error).into())).await;
                    return;
                }
            };
            if events.is_empty() {
                let mut wait = StreamWait {
                    high_water: &mut high_water,
                    shutdown: &mut shutdown,
                    access: &mut access,
                    auth: &self.auth,
                    caller: &call.caller,
                };
                if !wait.until_more(cursor, &sender).await {
                    return;
                }
                continue;
            }
            let page = Call {
                caller: call.caller.clone(),
                audit: call.audit.fork(),
            };
            let mut batch = Vec::new();
            for event in &events {
                cursor = event.position;
                match self.event_message(&page, &filter, event).await {
                    Ok(Some(message)) => batch.push(message),
                    Ok(None) => {}
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                }
            }
            if batch.is_empty() {
                continue;
            }
            if let Err(error) = page.audit.commit_read(&self.store).await {
                let _ = sender.send(Err(error.into())).await;
                return;
            }
            for message in batch {
                let permit = loop {
                    tokio::select! {
                        permit = sender.reserve() => match permit {
                            Ok(permit) => break permit,
                            Err(_) => return,
                        },
                        () = access.changed() => {
                            if let Err(error) = self.auth.recheck(&call.caller).await {
                                let _ = sender.try_send(Err(error.into()));
                                return;
                            }
                        }
                    }
                };
                permit.send(Ok(message));
            }
        }
    }
}

/// Announces the deadlines due by the clock's time, expires preservation periods that ran
/// out; returns when the next deadline falls due.
async fn scan(
    store: &Store,
    policy: &DeadlinePolicy,
    now: Timestamp,
) -> Result<Option<Timestamp>, ServiceError> {
    for approaching in [false, true] {
        let until = if approaching {
            after(now, policy.warning)
        } else {
            now
        };
        for id in store.mla_with_deadlines_due(until, approaching).await? {
            let Some(record) = store.get_mla(&id).await? else {
                continue;
            };
            let due: Vec<(DeadlineKind, bool)> = record
                .deadlines
                .iter()
                .filter(|deadline| deadline.is_running())
                .filter(|deadline| {
                    if approaching {
                        !deadline.warned && policy.is_approaching(deadline.set, deadline.due, now)
                    } else {
                        !deadline.passed && deadline.due <= now
                    }
                })
                .map(|deadline| (deadline.kind, approaching))
                .collect();
            if !due.is_empty() {
                store.announce_mla_deadlines(&id, &due, now).await?;
            }
        }
    }
    for id in store.mla_preservations_due(now).await? {
        if let Some(record) = store.get_mla(&id).await? {
            expire_preservation(store, record, now).await?;
        }
    }
    Ok(store.mla_next_due().await?)
}

/// The hub's own step: a preservation period ran out with no extension or hold
/// (PRESERVED or EXTENDED → EXPIRED). Versioned like any step; a conflicting change is
/// retried on the next scan.
async fn expire_preservation(
    store: &Store,
    record: MlaRecord,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let Ok(status) = step(record.status, &MlaStep::ExpirePreservation, Actor::HUB) else {
        return Ok(());
    };
    let mut document = decode_document(&record)?;
    document.history.push(v1::MlaHistoryEntry {
        time: Some(to_timestamp(now)),
        actor: None,
        action: v1::MlaAction::ExpirePreservation as i32,
        from_state: state_to_proto(record.status.state),
        to_state: state_to_proto(status.state),
        preservation_state: status.preservation.map_or(0, preservation_to_proto),
        comment: None,
        content_version: document.content_version,
    });
    let mut deadlines = record.deadlines.clone();
    for deadline in &mut deadlines {
        if deadline.kind == DeadlineKind::PreservationExpiry && deadline.is_running() {
            // Reached, not missed: the period simply ended.
            deadline.met = Some(deadline.due);
            deadline.passed = true;
            deadline.warned = true;
        }
    }
    let updated = MlaRecord {
        status,
        version: record.version + 1,
        updated: now,
        document: document.encode_to_vec(),
        deadlines,
        ..record.clone()
    };
    let audit = AuditRecord {
        time_us: Timestamp::from_system_time(std::time::SystemTime::now()).as_micros(),
        method: EXPIRE_METHOD.to_owned(),
        objects: vec![ObjectAccess {
            id: record.id.to_string(),
            access: Access::Write,
            owner_agency: Some(record.requesting.to_string()),
        }],
        trace_id: format!("{:032x}", now.as_micros()),
        ..AuditRecord::default()
    };
    store
        .write_mla(MlaWrite {
            principal: None,
            request_id: "",
            method: EXPIRE_METHOD,
            record: &updated,
            expected_version: Some(record.version),
            receipts: &[],
            events: &["state_changed"],
            audit_record: audit.canonical_bytes(),
            now,
        })
        .await?;
    Ok(())
}

/// Starts the deadline scanner; it stops when `shutdown` fires.
pub fn spawn_deadline_scanner(
    store: Store,
    clock: Clock,
    policy: DeadlinePolicy,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            let next = match scan(&store, &policy, now).await {
                Ok(next) => next,
                Err(error) => {
                    tracing::warn!(%error, "mla deadline scan failed; retrying");
                    None
                }
            };
            // Wake when the next deadline falls due, or after the poll (which also
            // catches deadlines entering their warning period).
            let wake = next
                .filter(|due| *due > now)
                .unwrap_or_else(|| after(now, SCAN_POLL));
            tokio::select! {
                () = clock.sleep_until_or(wake, SCAN_POLL) => {}
                () = shutdown.wait() => return,
            }
        }
    })
}
