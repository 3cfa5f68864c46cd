//! WatchRequests, and the deadline scanner that puts deadline events on its stream.
//!
//! The loop (pages of topic `mla` after the cursor, waits, re-checks of the caller, one
//! audit record per page committed before it is sent) is [`liaison_rpc::EventStream`]'s.
//! A watch receives only events on requests its agency is a party to (drafts only to
//! their author's agency), each with the request in the basic view. Message bodies and
//! step comments only go to a watch with a purpose.
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
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{
    Call, Clock, Delivery, EventFeed, EventStream, ServiceError, Shutdown, delivered, to_timestamp,
};
use liaison_store::{MlaEvent, MlaRecord, MlaWrite, Store};
use prost::Message;
use tokio::task::JoinHandle;
use tonic::codegen::BoxStream;

use crate::{
    MlaServiceImpl,
    convert::{decode_document, request_to_proto},
    workflow::{parse_id, side_of},
};
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

/// One watch: the service's store, clock and policy, and what the watch asked for.
struct Watch {
    service: MlaServiceImpl,
    filter: Filter,
}

impl EventFeed for Watch {
    type Event = MlaEvent;
    type Message = v1::WatchRequestsResponse;
    type Page = ();

    async fn read_after(
        &self,
        store: &Store,
        cursor: u64,
        limit: u32,
    ) -> Result<Vec<MlaEvent>, ServiceError> {
        Ok(store.mla_events_after(cursor, limit).await?)
    }

    fn position(event: &MlaEvent) -> u64 {
        event.position
    }

    fn open_page(&self, _call: &Call) {}

    async fn resolve(
        &self,
        call: &Call,
        _page: &mut (),
        event: &MlaEvent,
    ) -> Result<Option<Delivery<v1::WatchRequestsResponse>>, ServiceError> {
        self.service.event_message(call, &self.filter, event).await
    }
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
        let stream = EventStream {
            store: self.store.clone(),
            auth: self.auth.clone(),
            call,
            shutdown: self.shutdown.clone(),
            after: message.after.map_or(0, |cursor| cursor.position),
        };
        Ok(stream.spawn(Watch {
            service: self.clone(),
            filter,
        }))
    }

    async fn event_message(
        &self,
        call: &Call,
        filter: &Filter,
        event: &MlaEvent,
    ) -> Result<Option<Delivery<v1::WatchRequestsResponse>>, ServiceError> {
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
        let mut objects = Vec::new();
        match reference {
            Reference::Deadline(kind) => {
                message.deadline = request
                    .deadlines
                    .iter()
                    .find(|deadline| deadline.kind == kind.to_proto())
                    .cloned();
            }
            Reference::History(index) => {
                message.transition = decode_document(&record)?.history.get(index).cloned();
            }
            Reference::Object(id) => match kind {
                v1::MlaEventKind::MessagePosted => {
                    message.message = match self.store.get_mla_message(id).await? {
                        Some(row) if row.request_id == record.id => {
                            objects.push(delivered(&row.id, Some(&row.sender_agency), false));
                            Some(crate::messages::message_to_proto(&row)?)
                        }
                        _ => None,
                    };
                }
                v1::MlaEventKind::EvidenceAdded => {
                    message.evidence = match self.store.get_mla_evidence(id).await? {
                        Some(row) if row.request_id == record.id => {
                            objects.push(delivered(&row.id, Some(&row.uploader_agency), false));
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
        objects.push(delivered(
            record.id.as_str(),
            Some(&record.requesting),
            false,
        ));
        Ok(Some(Delivery {
            message: v1::WatchRequestsResponse {
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
            },
            objects,
        }))
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
        from_state: record.status.state.to_proto(),
        to_state: status.state.to_proto(),
        preservation_state: status.preservation.map_or(0, ProtoEnum::to_proto),
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
