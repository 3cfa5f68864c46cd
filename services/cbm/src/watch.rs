//! WatchInbox: the caller's agency's CBM events, resumable from a cursor.
//!
//! The loop (pages of topic `cbm` after the cursor, waits, re-checks of the caller,
//! audit records, back-pressure) is [`liaison_rpc::EventStream`]'s. Each event is resolved
//! here against the stored objects as they are now, and delivered only to those who may
//! see them.

use liaison_auth::Caller;
use liaison_core::{AgencyId, ObjectId, cbm::Notification};
use liaison_proto::v1;
use liaison_rpc::{Call, Clock, Delivery, EventFeed, ServiceError, delivered, to_timestamp};
use liaison_store::{CbmEvent, CbmEventKind, Store};

use crate::{convert, notify::may_receive};

/// One watcher's fixed state.
pub(crate) struct Watcher {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) caller: Caller,
    /// Event kinds asked for; empty for all.
    pub(crate) kinds: Vec<v1::CbmEventKind>,
}

pub(crate) fn kinds_from_request(
    request: &v1::WatchInboxRequest,
) -> Result<Vec<v1::CbmEventKind>, ServiceError> {
    let mut violations = liaison_core::Violations::new();
    let mut kinds = Vec::new();
    for (index, value) in request.kinds.iter().enumerate() {
        match v1::CbmEventKind::try_from(*value) {
            Ok(v1::CbmEventKind::Unspecified) | Err(_) => {
                violations.add(format!("kinds[{index}]"), "unknown event kind");
            }
            Ok(kind) => kinds.push(kind),
        }
    }
    violations.into_result(|| kinds).map_err(ServiceError::from)
}

impl EventFeed for Watcher {
    type Event = CbmEvent;
    type Message = v1::WatchInboxResponse;
    /// The notifications the page delivers first to the caller's agency.
    type Page = Vec<ObjectId>;

    async fn read_after(
        &self,
        store: &Store,
        cursor: u64,
        limit: u32,
    ) -> Result<Vec<CbmEvent>, ServiceError> {
        Ok(store.cbm_events_after(cursor, limit).await?)
    }

    fn position(event: &CbmEvent) -> u64 {
        event.position
    }

    fn open_page(&self, _call: &Call) -> Vec<ObjectId> {
        Vec::new()
    }

    async fn resolve(
        &self,
        _call: &Call,
        first_deliveries: &mut Vec<ObjectId>,
        event: &CbmEvent,
    ) -> Result<Option<Delivery<v1::WatchInboxResponse>>, ServiceError> {
        let resolved = self.event_message(event, first_deliveries).await?;
        Ok(resolved.map(|(message, id, owner)| Delivery {
            message: v1::WatchInboxResponse {
                event: Some(message),
            },
            objects: vec![delivered(id.as_str(), owner.as_ref(), false)],
        }))
    }

    /// The deliver times of the notifications the page delivers first commit with its
    /// record.
    async fn commit(
        &self,
        store: &Store,
        call: &Call,
        first_deliveries: Vec<ObjectId>,
    ) -> Result<(), ServiceError> {
        if first_deliveries.is_empty() {
            return call.audit.commit_read(store).await;
        }
        let record = call.audit.write_record_of(std::iter::empty());
        let now = self.clock.now();
        store
            .mark_delivered(&first_deliveries, call.caller.agency(), now, record)
            .await?;
        call.audit.mark_recorded();
        Ok(())
    }
}

impl Watcher {
    /// The event as this watcher may see it, or `None`.
    /// A notification delivered for the first time to the caller's agency is added to
    /// `delivered`, for the page's record to stamp.
    async fn event_message(
        &self,
        event: &CbmEvent,
        delivered: &mut Vec<ObjectId>,
    ) -> Result<Option<(v1::CbmEvent, ObjectId, Option<AgencyId>)>, ServiceError> {
        let caller = &self.caller;
        let now = self.clock.now();
        let id = match &event.kind {
            CbmEventKind::CheckStarted(check) => {
                return self
                    .resolve_check(event, check, v1::CbmEventKind::CheckStarted)
                    .await;
            }
            CbmEventKind::CheckClosed(check) => {
                return self
                    .resolve_check(event, check, v1::CbmEventKind::CheckUpdated)
                    .await;
            }
            CbmEventKind::ReplyPosted(reply) => return self.resolve_reply(event, reply).await,
            CbmEventKind::ConsultationChanged(id) => {
                return self.resolve_consultation(event, id).await;
            }
            CbmEventKind::NotificationSent(id)
            | CbmEventKind::AcknowledgementChanged(id, _)
            | CbmEventKind::Escalated(id, _) => id,
            CbmEventKind::Other => return Ok(None),
        };
        let Some(notification) = self.store.get_notification(id).await? else {
            return Ok(None);
        };
        if !may_receive(caller, &notification) {
            return Ok(None);
        }
        let sender = notification.sender_agency.clone();
        let is_sender = caller.agency() == &sender;
        let (kind, payload) = match &event.kind {
            CbmEventKind::NotificationSent(_) => {
                let wanted = v1::CbmEventKind::NotificationReceived;
                if !self.kinds.is_empty() && !self.kinds.contains(&wanted) {
                    return Ok(None);
                }
                let Some(mut row) = self.store.acknowledgement(id, caller.agency()).await? else {
                    return Ok(None);
                };
                // The first delivery to the agency, on any of its streams, is its deliver
                // time: stamped with the page's record, once the page is decided.
                if row.delivered.is_none() {
                    row.delivered = Some(now);
                    delivered.push(id.clone());
                }
                (
                    v1::CbmEventKind::NotificationReceived,
                    v1::cbm_event::Payload::Notification(convert::notification_to_proto(
                        &notification,
                        &[row],
                        false,
                        now,
                    )),
                )
            }
            CbmEventKind::AcknowledgementChanged(_, agency)
            | CbmEventKind::Escalated(_, agency) => {
                if !is_sender && caller.agency() != agency {
                    return Ok(None);
                }
                let Some(row) = self.store.acknowledgement(id, agency).await? else {
                    return Ok(None);
                };
                if matches!(event.kind, CbmEventKind::Escalated(..)) {
                    // The late agency's points of contact are the ones alerted.
                    let contacts = self
                        .store
                        .list_points_of_contact(Some(agency), 0, 100)
                        .await?
                        .into_iter()
                        .map(|poc| poc.id.to_string())
                        .collect();
                    let mut alert = escalation(&notification, &row.agency, row.due, row.escalated);
                    alert.point_of_contact_ids = contacts;
                    (
                        v1::CbmEventKind::Escalation,
                        v1::cbm_event::Payload::Escalation(alert),
                    )
                } else {
                    (
                        v1::CbmEventKind::AcknowledgementChanged,
                        v1::cbm_event::Payload::Acknowledgement(convert::ack_to_proto(&row, now)),
                    )
                }
            }
            CbmEventKind::Other
            | CbmEventKind::CheckStarted(_)
            | CbmEventKind::CheckClosed(_)
            | CbmEventKind::ReplyPosted(_)
            | CbmEventKind::ConsultationChanged(_) => {
                return Ok(None);
            }
        };
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return Ok(None);
        }
        Ok(Some((
            v1::CbmEvent {
                cursor: Some(v1::Cursor {
                    position: event.position,
                }),
                kind: kind as i32,
                event_time: Some(to_timestamp(event.time)),
                payload: Some(payload),
            },
            notification.id,
            Some(sender),
        )))
    }
}

impl Watcher {
    /// A requested or changed consultation, for its participants.
    async fn resolve_consultation(
        &self,
        event: &CbmEvent,
        id: &ObjectId,
    ) -> Result<Option<(v1::CbmEvent, ObjectId, Option<AgencyId>)>, ServiceError> {
        let kind = v1::CbmEventKind::ConsultationChanged;
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return Ok(None);
        }
        let Some(stored) = self.store.get_consultation(id).await? else {
            return Ok(None);
        };
        if !crate::consultations::may_see(&self.caller, &stored) {
            return Ok(None);
        }
        Ok(Some((
            v1::CbmEvent {
                cursor: Some(v1::Cursor {
                    position: event.position,
                }),
                kind: kind as i32,
                event_time: Some(to_timestamp(event.time)),
                payload: Some(v1::cbm_event::Payload::Consultation(
                    crate::consultations::consultation_to_proto(&stored),
                )),
            },
            id.clone(),
            Some(stored.requester_agency().clone()),
        )))
    }

    /// A reply, for those who may see it.
    async fn resolve_reply(
        &self,
        event: &CbmEvent,
        reply: &ObjectId,
    ) -> Result<Option<(v1::CbmEvent, ObjectId, Option<AgencyId>)>, ServiceError> {
        let kind = v1::CbmEventKind::ReplyPosted;
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return Ok(None);
        }
        let Some(stored) = self.store.get_reply(reply).await? else {
            return Ok(None);
        };
        let Some(thread) =
            crate::replies::Thread::load(&self.store, &self.caller, &stored.parent).await?
        else {
            return Ok(None);
        };
        if !thread.may_see(&self.caller, &stored) {
            return Ok(None);
        }
        Ok(Some((
            v1::CbmEvent {
                cursor: Some(v1::Cursor {
                    position: event.position,
                }),
                kind: kind as i32,
                event_time: Some(to_timestamp(event.time)),
                payload: Some(v1::cbm_event::Payload::Reply(
                    crate::replies::reply_to_proto(&stored),
                )),
            },
            reply.clone(),
            Some(thread.owner().clone()),
        )))
    }

    /// A started or closed check, for the agencies it checks.
    async fn resolve_check(
        &self,
        event: &CbmEvent,
        check: &ObjectId,
        kind: v1::CbmEventKind,
    ) -> Result<Option<(v1::CbmEvent, ObjectId, Option<AgencyId>)>, ServiceError> {
        if !self.kinds.is_empty() && !self.kinds.contains(&kind) {
            return Ok(None);
        }
        let Some(stored) = self.store.get_check(check).await? else {
            return Ok(None);
        };
        let results: Vec<_> = self
            .store
            .check_results(check)
            .await?
            .into_iter()
            .filter(|result| &result.agency == self.caller.agency())
            .collect();
        if results.is_empty() {
            return Ok(None);
        }
        let message =
            crate::checks::check_to_proto(&stored, &results, &self.caller, self.clock.now());
        Ok(Some((
            v1::CbmEvent {
                cursor: Some(v1::Cursor {
                    position: event.position,
                }),
                kind: kind as i32,
                event_time: Some(to_timestamp(event.time)),
                payload: Some(v1::cbm_event::Payload::CommunicationCheck(message)),
            },
            check.clone(),
            None,
        )))
    }
}

fn escalation(
    notification: &Notification,
    agency: &AgencyId,
    due: Option<liaison_core::Timestamp>,
    escalated: Option<liaison_core::Timestamp>,
) -> v1::CbmEscalation {
    v1::CbmEscalation {
        notification_id: notification.id.to_string(),
        agency_id: agency.to_string(),
        due_time: due.map(to_timestamp),
        escalate_time: escalated.map(to_timestamp),
        point_of_contact_ids: Vec::new(),
    }
}
