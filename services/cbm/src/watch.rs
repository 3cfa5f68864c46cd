//! WatchInbox: the caller's agency's CBM events, resumable from a cursor.
//!
//! Built like indicators' Subscribe: each watcher reads the sequenced `events` table
//! (topic `cbm`) after its cursor in pages, waits on the high-water mark when caught up,
//! and re-checks its caller whenever access changes (revocation, suspension, roles), ending
//! the stream when the caller lost access. Each event is resolved against the stored
//! objects as they are now, and delivered only to those who may see them.

use liaison_audit::Access;
use liaison_auth::Caller;
use liaison_core::{AgencyId, ObjectId, cbm::Notification};
use liaison_proto::v1;
use liaison_rpc::{
    AuditContext, Authenticator, Clock, ServiceError, Shutdown, StreamWait, to_timestamp,
};
use liaison_store::{CbmEvent, CbmEventKind, Store};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, codegen::BoxStream};

use crate::{convert, notify::may_receive};

/// Events read from the store per query.
const PAGE: u32 = 256;
/// Messages buffered per watcher before the reader waits for the client.
const CHANNEL: usize = 64;

/// One watcher's fixed state.
pub(crate) struct Watcher {
    pub(crate) store: Store,
    pub(crate) auth: Authenticator,
    pub(crate) clock: Clock,
    pub(crate) caller: Caller,
    pub(crate) audit: AuditContext,
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

/// Starts delivering to a new watcher; the returned stream is the response body.
pub(crate) fn spawn(
    watcher: Watcher,
    after: u64,
    shutdown: Shutdown,
) -> BoxStream<v1::WatchInboxResponse> {
    let (sender, receiver) = mpsc::channel(CHANNEL);
    tokio::spawn(deliver(watcher, after, sender, shutdown));
    Box::pin(ReceiverStream::new(receiver))
}

impl Watcher {
    /// The event as this watcher may see it, or `None`.
    /// A notification delivered for the first time to the caller's agency is added to
    /// `delivered`, for the page's record to stamp.
    async fn resolve(
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

async fn deliver(
    watcher: Watcher,
    mut cursor: u64,
    sender: mpsc::Sender<Result<v1::WatchInboxResponse, Status>>,
    mut shutdown: Shutdown,
) {
    let store = watcher.store.clone();
    let auth = watcher.auth.clone();
    let caller = watcher.caller.clone();
    let mut high_water = store.watch_high_water();
    let mut access = auth.watch_access();
    loop {
        let events = match store.cbm_events_after(cursor, PAGE).await {
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
                auth: &auth,
                caller: &caller,
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
        if let Err(error) = auth.recheck_if_changed(&mut access, &caller).await {
            let _ = sender.send(Err(error.into())).await;
            return;
        }
        let delivery = watcher.audit.fork();
        let mut batch = Vec::new();
        let mut first_deliveries = Vec::new();
        for event in &events {
            cursor = event.position;
            match watcher.resolve(event, &mut first_deliveries).await {
                Ok(None) => {}
                Ok(Some((message, id, owner))) => {
                    delivery.touch(id.as_str(), Access::Deliver, owner.as_ref());
                    batch.push(v1::WatchInboxResponse {
                        event: Some(message),
                    });
                }
                Err(error) => {
                    let _ = sender.send(Err(error.into())).await;
                    return;
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        // One record per page delivered, committed before the page leaves the hub; the
        // deliver times of the notifications it delivers first commit with it.
        let committed = if first_deliveries.is_empty() {
            delivery.commit_read(&store).await
        } else {
            let record = delivery.write_record_of(std::iter::empty());
            let now = watcher.clock.now();
            store
                .mark_delivered(&first_deliveries, caller.agency(), now, record)
                .await
                .map(|()| delivery.mark_recorded())
                .map_err(ServiceError::from)
        };
        if let Err(error) = committed {
            let _ = sender.send(Err(error.into())).await;
            return;
        }
        for response in batch {
            let permit = loop {
                tokio::select! {
                    permit = sender.reserve() => match permit {
                        Ok(permit) => break permit,
                        Err(_) => return,
                    },
                    () = access.changed() => {
                        if let Err(error) = auth.recheck(&caller).await {
                            let _ = sender.try_send(Err(error.into()));
                            return;
                        }
                    }
                }
            };
            permit.send(Ok(response));
        }
    }
}
