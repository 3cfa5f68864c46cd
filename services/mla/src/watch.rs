//! WatchRequests, and the deadline scanner that puts deadline events on its stream.
//!
//! Like indicator subscriptions, each watcher reads the sequenced `events` table itself
//! (topic `mla`) after its cursor and waits on the high-water mark; it delivers only
//! events on requests its agency is a party to (drafts only to their author's agency),
//! each with the request in the basic view, and commits one audit record per page before
//! sending it. Message bodies and step comments only go to a watch with a purpose.
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

/// What an event refers to, from the suffix of its stored kind.
#[derive(Debug, PartialEq, Eq)]
enum Reference<'a> {
    /// The deadline (`deadline_passed.acknowledgement`).
    Deadline(DeadlineKind),
    /// The index of the history entry (`state_changed.4`, `submitted.1`).
    History(usize),
    /// A message, evidence file or receipt by id (`message_posted.msg_…`).
    Object(&'a str),
    /// Nothing (events written before references were).
    None,
}

/// An event kind as written by the service and the scanner, with what it refers to.
fn event_kind(stored: &str) -> (v1::MlaEventKind, Reference<'_>) {
    let (kind, suffix) = stored.split_once('.').unwrap_or((stored, ""));
    let kind = match kind {
        "deadline_passed" | "deadline_approaching" => {
            let deadline = DeadlineKind::parse(suffix).map_or(Reference::None, Reference::Deadline);
            let kind = if kind == "deadline_passed" {
                v1::MlaEventKind::DeadlinePassed
            } else {
                v1::MlaEventKind::DeadlineApproaching
            };
            return (kind, deadline);
        }
        "submitted" => v1::MlaEventKind::Submitted,
        "receipt_issued" => v1::MlaEventKind::ReceiptIssued,
        "message_posted" => v1::MlaEventKind::MessagePosted,
        "evidence_added" => v1::MlaEventKind::EvidenceAdded,
        _ => v1::MlaEventKind::StateChanged,
    };
    let reference = match kind {
        _ if suffix.is_empty() => Reference::None,
        v1::MlaEventKind::Submitted | v1::MlaEventKind::StateChanged => {
            suffix.parse().map_or(Reference::None, Reference::History)
        }
        _ => Reference::Object(suffix),
    };
    (kind, reference)
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
        let (kind, reference) = event_kind(&event.kind);
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
        let mut message = v1::MlaEvent::default();
        match reference {
            Reference::Deadline(kind) => {
                message.deadline = request
                    .deadlines
                    .iter()
                    .find(|deadline| deadline.kind == deadline_kind_to_proto(kind))
                    .cloned();
            }
            Reference::History(index) => {
                message.transition = decode_document(&record)?.history.get(index).cloned();
            }
            Reference::Object(id) => match kind {
                v1::MlaEventKind::MessagePosted => {
                    message.message = match self.store.get_mla_message(id).await? {
                        Some(row) if row.request_id == record.id => {
                            call.audit
                                .touch(&row.id, Access::Deliver, Some(&row.sender_agency));
                            Some(crate::messages::message_to_proto(&row)?)
                        }
                        _ => None,
                    };
                }
                v1::MlaEventKind::EvidenceAdded => {
                    message.evidence = match self.store.get_mla_evidence(id).await? {
                        Some(row) if row.request_id == record.id => {
                            call.audit
                                .touch(&row.id, Access::Deliver, Some(&row.uploader_agency));
                            Some(crate::evidence::evidence_to_proto(&row)?)
                        }
                        _ => None,
                    };
                }
                v1::MlaEventKind::ReceiptIssued => {
                    message.receipt = self
                        .store
                        .mla_receipts(&record.id)
                        .await?
                        .iter()
                        .find(|row| row.id == id)
                        .map(crate::receipts::receipt_to_proto);
                }
                _ => {}
            },
            Reference::None => {}
        }
        // Message bodies and the comments of steps (reasons, refusal texts) are content:
        // delivered only to a watch that stated its purpose, as ListMessages and
        // GetRequest(FULL) require; without one, ids, kinds, senders and states.
        if call.audit.justification().is_none() {
            if let Some(posted) = message.message.as_mut() {
                posted.body = None;
            }
            if let Some(entry) = message.transition.as_mut() {
                entry.comment = None;
            }
        }
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
                ..message
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
            // A client that went away ends its task here, not only once caught up: its permit
            // is already given back, and pages it would never read must not be scanned.
            if sender.is_closed() {
                return;
            }
            // A directory change made here applies to this very page.
            if let Err(error) = self
                .auth
                .recheck_if_changed(&mut access, &call.caller)
                .await
            {
                let _ = sender.send(Err(error.into())).await;
                return;
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
            anonymous: false,
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
            events: &[format!(
                "state_changed.{}",
                document.history.len().saturating_sub(1)
            )],
            audit_record: audit.seal(),
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

#[cfg(test)]
mod event_kind_tests {
    use super::*;

    #[test]
    fn stored_kinds_name_what_they_refer_to() {
        let check = |stored, kind, reference| assert_eq!(event_kind(stored), (kind, reference));
        use v1::MlaEventKind as K;
        check("submitted.0", K::Submitted, Reference::History(0));
        check("state_changed.12", K::StateChanged, Reference::History(12));
        check("state_changed", K::StateChanged, Reference::None);
        check("state_changed.x", K::StateChanged, Reference::None);
        check(
            "deadline_passed.acknowledgement",
            K::DeadlinePassed,
            Reference::Deadline(DeadlineKind::Acknowledgement),
        );
        check(
            "deadline_approaching.preservation_expiry",
            K::DeadlineApproaching,
            Reference::Deadline(DeadlineKind::PreservationExpiry),
        );
        check(
            "deadline_passed.nonsense",
            K::DeadlinePassed,
            Reference::None,
        );
        check(
            "message_posted.msg_1",
            K::MessagePosted,
            Reference::Object("msg_1"),
        );
        check(
            "evidence_added.evd_1",
            K::EvidenceAdded,
            Reference::Object("evd_1"),
        );
        check(
            "receipt_issued.rct_1",
            K::ReceiptIssued,
            Reference::Object("rct_1"),
        );
        check("receipt_issued", K::ReceiptIssued, Reference::None);
    }
}
