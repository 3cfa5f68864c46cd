//! Replies on notifications (PostReply, ListReplies and REPLY_POSTED on the watch).
//!
//! A reply is seen only by those who see its notification, and then by audience: SENDER
//! replies by the notification's sender and the replying agency, ALL_RECIPIENTS replies by
//! the sender and every recipient. A reply is never less restricted than its notification;
//! a TLP:RED reply reaches persons only. Replies in consultations are not built yet.

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::Caller;
use liaison_core::{
    ObjectId, PrincipalKind, Tlp, Violations,
    cbm::{NOTIFICATION_PREFIX, REPLY_PREFIX, Reply, ReplyAudience},
    indicator::is_language_tag,
};
use liaison_proto::v1;
use liaison_rpc::{AuditContext, ServiceError, page_size, request_id, to_timestamp};
use liaison_store::WriteOutcome;
use tonic::Request;

use crate::{CbmServiceImpl, convert, notify::Visible};

/// May `caller`, who sees the reply's notification (`parent`), see `reply`?
pub(crate) fn may_see_reply(caller: &Caller, parent: &Visible, reply: &Reply) -> bool {
    let audience_ok = match reply.audience {
        ReplyAudience::AllRecipients => true,
        ReplyAudience::Sender => parent.whole_table || caller.agency() == &reply.sender_agency,
    };
    let tlp_ok = reply.tlp != Tlp::Red || caller.principal().kind() == PrincipalKind::Person;
    audience_ok && tlp_ok
}

pub(crate) fn reply_to_proto(reply: &Reply) -> v1::CbmReply {
    v1::CbmReply {
        id: reply.id.to_string(),
        parent: Some(v1::cbm_reply::Parent::NotificationId(
            reply.notification.to_string(),
        )),
        sender_agency_id: reply.sender_agency.to_string(),
        sender: Some(convert::principal_to_proto(&reply.sender)),
        body: Some(convert::text_to_proto(&reply.body)),
        audience: match reply.audience {
            ReplyAudience::Sender => v1::CbmReplyAudience::Sender,
            ReplyAudience::AllRecipients => v1::CbmReplyAudience::AllRecipients,
        } as i32,
        in_reply_to_id: reply
            .in_reply_to
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        tlp: convert::tlp_to_proto(reply.tlp),
        create_time: Some(to_timestamp(reply.created)),
    }
}

fn page_offset(token: &str) -> Result<u64, ServiceError> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .parse()
        .map_err(|_| ServiceError::invalid("page_token", "page_token is not one this server made"))
}

const CONSULTATIONS_LATER: &str = "liaison.v1.CbmService/PostReply (consultations)";

impl CbmServiceImpl {
    pub(crate) async fn post_reply_call(
        &self,
        request: Request<v1::PostReplyRequest>,
    ) -> Result<v1::PostReplyResponse, ServiceError> {
        let caller = self.auth.caller(&request).await?;
        let audit = AuditContext::of(&request);
        let request = request.into_inner();
        let mut violations = Violations::new();
        if let Err(ServiceError::InvalidArgument(bad)) =
            request_id(&request.request_id, "request_id")
        {
            for violation in bad {
                violations.add(violation.field, violation.description);
            }
        }
        let parent = match request.parent {
            Some(v1::post_reply_request::Parent::NotificationId(id)) => {
                violations.check("notification_id", ObjectId::parse(NOTIFICATION_PREFIX, &id))
            }
            Some(v1::post_reply_request::Parent::ConsultationId(_)) => {
                return Err(ServiceError::Unimplemented(CONSULTATIONS_LATER));
            }
            None => {
                violations.add("notification_id", "a notification to reply to is required");
                None
            }
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
            Ok(v1::CbmReplyAudience::Unspecified) => None,
            Ok(v1::CbmReplyAudience::Sender) => Some(ReplyAudience::Sender),
            Ok(v1::CbmReplyAudience::AllRecipients) => Some(ReplyAudience::AllRecipients),
            Ok(v1::CbmReplyAudience::Participants) | Err(_) => {
                violations.add("audience", "notifications take SENDER or ALL_RECIPIENTS");
                None
            }
        };
        let tlp = match request.tlp {
            0 => None,
            value => {
                let tlp = convert::tlp_from_proto(value);
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
        let visible = self.visible(&caller, &parent).await?;
        let notification = &visible.notification;
        let tlp = tlp.unwrap_or(notification.content.tlp);
        if tlp < notification.content.tlp {
            return Err(ServiceError::invalid(
                "tlp",
                "a reply may not be less restricted than its notification",
            ));
        }
        if let Some(earlier) = &in_reply_to {
            let same_thread = self.store.get_reply(earlier).await?.is_some_and(|earlier| {
                earlier.notification == notification.id
                    && may_see_reply(&caller, &visible, &earlier)
            });
            if !same_thread {
                return Err(ServiceError::invalid(
                    "in_reply_to_id",
                    "no such reply on this notification",
                ));
            }
        }
        let is_sender = caller.agency() == &notification.sender_agency;
        let audience = audience.unwrap_or(if is_sender {
            ReplyAudience::AllRecipients
        } else {
            ReplyAudience::Sender
        });
        let reply = Reply {
            id: ObjectId::generate(REPLY_PREFIX),
            notification: notification.id.clone(),
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
            owner_agency: Some(notification.sender_agency.to_string()),
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
                audit.touch(
                    first.as_str(),
                    Access::Read,
                    Some(&notification.sender_agency),
                );
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
        let caller = self.auth.caller(&request).await?;
        let audit = AuditContext::of(&request);
        let request = request.into_inner();
        let parent = match request.parent {
            Some(v1::list_replies_request::Parent::NotificationId(id)) => {
                ObjectId::parse(NOTIFICATION_PREFIX, &id)
                    .map_err(|error| ServiceError::invalid("notification_id", error.to_string()))?
            }
            Some(v1::list_replies_request::Parent::ConsultationId(_)) => {
                return Err(ServiceError::Unimplemented(CONSULTATIONS_LATER));
            }
            None => {
                return Err(ServiceError::invalid(
                    "notification_id",
                    "a notification is required",
                ));
            }
        };
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = page_offset(&request.page_token)?;
        let visible = self.visible(&caller, &parent).await?;
        let replies = self.store.replies_of(&parent, offset, limit).await?;
        let full_page = replies.len() == limit as usize;
        let shown: Vec<_> = replies
            .into_iter()
            .filter(|reply| may_see_reply(&caller, &visible, reply))
            .collect();
        audit.touch(
            parent.as_str(),
            Access::Read,
            Some(&visible.notification.sender_agency),
        );
        for reply in &shown {
            audit.touch(
                reply.id.as_str(),
                Access::Read,
                Some(&visible.notification.sender_agency),
            );
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
