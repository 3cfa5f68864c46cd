//! Replies on notifications and in consultation threads (PostReply, ListReplies and
//! REPLY_POSTED on the watch).
//!
//! A reply is seen only by those who see its parent, and then by audience: on a
//! notification, SENDER replies by the notification's sender and the replying agency,
//! ALL_RECIPIENTS replies by the sender and every recipient; in a consultation, every
//! participant (PARTICIPANTS, the only audience there). A reply is never less restricted
//! than its parent; a TLP:RED reply reaches persons only.

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::Caller;
use liaison_core::{
    AgencyId, ObjectId, PrincipalKind, Tlp, Violations,
    cbm::{
        CONSULTATION_PREFIX, Consultation, NOTIFICATION_PREFIX, REPLY_PREFIX, Reply, ReplyAudience,
    },
    indicator::is_language_tag,
};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    v1,
};
use liaison_rpc::{Call, ServiceError, page_size, to_timestamp};
use liaison_store::{Store, WriteOutcome};
use tonic::Request;

use crate::{CbmServiceImpl, consultations, convert, notify::Visible};

/// What a reply belongs to, as the caller may see it.
pub(crate) enum Thread {
    /// A notification.
    Notification(Visible),
    /// A consultation.
    Consultation(Consultation),
}

impl Thread {
    /// The parent as `caller` may see it; `None` when it may not.
    pub(crate) async fn load(
        store: &Store,
        caller: &Caller,
        parent: &ObjectId,
    ) -> Result<Option<Thread>, ServiceError> {
        if parent.as_str().starts_with(CONSULTATION_PREFIX) {
            Ok(store
                .get_consultation(parent)
                .await?
                .filter(|consultation| consultations::may_see(caller, consultation))
                .map(Thread::Consultation))
        } else {
            Ok(crate::notify::visible_to(store, caller, parent)
                .await?
                .map(Thread::Notification))
        }
    }

    fn id(&self) -> &ObjectId {
        match self {
            Thread::Notification(visible) => &visible.notification.id,
            Thread::Consultation(consultation) => &consultation.id,
        }
    }

    /// The agency that owns the thread: the sender or the requester.
    pub(crate) fn owner(&self) -> &AgencyId {
        match self {
            Thread::Notification(visible) => &visible.notification.sender_agency,
            Thread::Consultation(consultation) => consultation.requester_agency(),
        }
    }

    fn tlp(&self) -> Tlp {
        match self {
            Thread::Notification(visible) => visible.notification.content.tlp,
            Thread::Consultation(consultation) => consultation.tlp,
        }
    }

    /// May `caller`, who sees this thread, see `reply`?
    pub(crate) fn may_see(&self, caller: &Caller, reply: &Reply) -> bool {
        let audience_ok = match (self, reply.audience) {
            (Thread::Notification(_), ReplyAudience::AllRecipients) => true,
            (Thread::Notification(visible), ReplyAudience::Sender) => {
                visible.whole_table || caller.agency() == &reply.sender_agency
            }
            (Thread::Consultation(_), ReplyAudience::Participants) => true,
            _ => false,
        };
        let tlp_ok = reply.tlp != Tlp::Red || caller.principal().kind() == PrincipalKind::Person;
        audience_ok && tlp_ok
    }
}

pub(crate) fn reply_to_proto(reply: &Reply) -> v1::CbmReply {
    let parent = if reply.parent.as_str().starts_with(CONSULTATION_PREFIX) {
        v1::cbm_reply::Parent::ConsultationId(reply.parent.to_string())
    } else {
        v1::cbm_reply::Parent::NotificationId(reply.parent.to_string())
    };
    v1::CbmReply {
        id: reply.id.to_string(),
        parent: Some(parent),
        sender_agency_id: reply.sender_agency.to_string(),
        sender: Some(principal_ref(&reply.sender)),
        body: Some(convert::text_to_proto(&reply.body)),
        audience: match reply.audience {
            ReplyAudience::Sender => v1::CbmReplyAudience::Sender,
            ReplyAudience::AllRecipients => v1::CbmReplyAudience::AllRecipients,
            ReplyAudience::Participants => v1::CbmReplyAudience::Participants,
        } as i32,
        in_reply_to_id: reply
            .in_reply_to
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        tlp: reply.tlp.to_proto(),
        create_time: Some(to_timestamp(reply.created)),
    }
}

/// The parent id of a request's oneof, checked.
fn parent_id(
    notification: Option<String>,
    consultation: Option<String>,
    violations: &mut Violations,
) -> Option<ObjectId> {
    match (notification, consultation) {
        (Some(id), _) => {
            violations.check("notification_id", ObjectId::parse(NOTIFICATION_PREFIX, &id))
        }
        (None, Some(id)) => {
            violations.check("consultation_id", ObjectId::parse(CONSULTATION_PREFIX, &id))
        }
        (None, None) => {
            violations.add(
                "notification_id",
                "a notification or consultation is required",
            );
            None
        }
    }
}

impl CbmServiceImpl {
    pub(crate) async fn post_reply_call(
        &self,
        request: Request<v1::PostReplyRequest>,
    ) -> Result<v1::PostReplyResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let parent = match request.parent {
            Some(v1::post_reply_request::Parent::NotificationId(id)) => {
                parent_id(Some(id), None, &mut violations)
            }
            Some(v1::post_reply_request::Parent::ConsultationId(id)) => {
                parent_id(None, Some(id), &mut violations)
            }
            None => parent_id(None, None, &mut violations),
        };
        let body = convert::text_from_proto(request.body);
        match &body {
            None => violations.add("body", "required: a text with its language tag"),
            Some(body) => {
                let chars = body.text.trim().chars().count();
                if chars == 0 || chars > liaison_core::cbm::limits::BODY_CHARS {
                    violations.add("body.text", "required, at most 20000 characters");
                }
                if !is_language_tag(&body.language) {
                    violations.add("body.language", "language must be a BCP 47 tag");
                }
            }
        }
        let audience = match v1::CbmReplyAudience::try_from(request.audience) {
            Ok(audience) => ReplyAudience::from_proto_enum(audience),
            Err(_) => {
                violations.add("audience", "unknown audience");
                None
            }
        };
        let tlp = match request.tlp {
            0 => None,
            value => {
                let tlp = Tlp::from_proto(value);
                if tlp.is_none() {
                    violations.add("tlp", "unknown TLP marking");
                }
                tlp
            }
        };
        let in_reply_to = if request.in_reply_to_id.is_empty() {
            None
        } else {
            violations.check(
                "in_reply_to_id",
                ObjectId::parse(REPLY_PREFIX, &request.in_reply_to_id),
            )
        };
        let (Some(parent), Some(body)) = (parent, body) else {
            return Err(violations.into());
        };
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let thread =
            Thread::load(&self.store, &caller, &parent)
                .await?
                .ok_or(ServiceError::NotFound(
                    if matches!(parent.as_str().get(..3), Some("cns")) {
                        "consultation"
                    } else {
                        "notification"
                    },
                ))?;
        let audience = match (&thread, audience) {
            (Thread::Consultation(_), None | Some(ReplyAudience::Participants)) => {
                ReplyAudience::Participants
            }
            (Thread::Notification(_), Some(ReplyAudience::Participants))
            | (Thread::Consultation(_), Some(_)) => {
                return Err(ServiceError::invalid(
                    "audience",
                    "notifications take SENDER or ALL_RECIPIENTS; consultations PARTICIPANTS",
                ));
            }
            (Thread::Notification(_), Some(audience)) => audience,
            (Thread::Notification(_), None) if caller.agency() == thread.owner() => {
                ReplyAudience::AllRecipients
            }
            (Thread::Notification(_), None) => ReplyAudience::Sender,
        };
        let tlp = tlp.unwrap_or(thread.tlp());
        if tlp < thread.tlp() {
            return Err(ServiceError::invalid(
                "tlp",
                "a reply may not be less restricted than what it replies to",
            ));
        }
        if let Some(earlier) = &in_reply_to {
            let same_thread = self.store.get_reply(earlier).await?.is_some_and(|earlier| {
                &earlier.parent == thread.id() && thread.may_see(&caller, &earlier)
            });
            if !same_thread {
                return Err(ServiceError::invalid(
                    "in_reply_to_id",
                    "no such reply in this thread",
                ));
            }
        }
        let reply = Reply {
            id: ObjectId::generate(REPLY_PREFIX),
            parent: thread.id().clone(),
            sender_agency: caller.agency().clone(),
            sender: caller.principal().clone(),
            body,
            audience,
            in_reply_to,
            tlp,
            created: self.clock.now(),
        };
        let record = audit.write_record(ObjectAccess {
            id: reply.id.to_string(),
            access: Access::Write,
            owner_agency: Some(thread.owner().to_string()),
            anonymous: false,
        });
        let stored = match self
            .store
            .post_reply(&reply, &request.request_id, &record)
            .await?
        {
            WriteOutcome::Stored(()) => {
                audit.mark_recorded();
                reply
            }
            WriteOutcome::Duplicate(first) => {
                let first = ObjectId::parse(REPLY_PREFIX, &first)
                    .map_err(|_| ServiceError::NotFound("reply"))?;
                audit.touch(first.as_str(), Access::Read, Some(thread.owner()));
                audit.commit_read(&self.store).await?;
                self.store
                    .get_reply(&first)
                    .await?
                    .ok_or(ServiceError::NotFound("reply"))?
            }
        };
        Ok(v1::PostReplyResponse {
            reply: Some(reply_to_proto(&stored)),
        })
    }

    pub(crate) async fn list_replies_call(
        &self,
        request: Request<v1::ListRepliesRequest>,
    ) -> Result<v1::ListRepliesResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let parent = match request.parent {
            Some(v1::list_replies_request::Parent::NotificationId(id)) => {
                parent_id(Some(id), None, &mut violations)
            }
            Some(v1::list_replies_request::Parent::ConsultationId(id)) => {
                parent_id(None, Some(id), &mut violations)
            }
            None => parent_id(None, None, &mut violations),
        };
        let Some(parent) = parent else {
            return Err(violations.into());
        };
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&request.page_token)?;
        let thread = Thread::load(&self.store, &caller, &parent)
            .await?
            .ok_or(ServiceError::NotFound("thread"))?;
        let replies = self.store.replies_of(&parent, offset, limit).await?;
        let full_page = replies.len() == limit as usize;
        let shown: Vec<_> = replies
            .into_iter()
            .filter(|reply| thread.may_see(&caller, reply))
            .collect();
        audit.touch(parent.as_str(), Access::Read, Some(thread.owner()));
        for reply in &shown {
            audit.touch(reply.id.as_str(), Access::Read, Some(thread.owner()));
        }
        audit.commit_read(&self.store).await?;
        Ok(v1::ListRepliesResponse {
            replies: shown.iter().map(reply_to_proto).collect(),
            next_page_token: if full_page {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
        })
    }
}
