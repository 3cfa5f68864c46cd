//! Notifications: Notify, GetNotification, ListNotifications, AcknowledgeNotification.
//!
//! Who sees what is decided on the stored notification: its source, scope and TLP through
//! `authorize(Action::Receive)` (TLP:RED to persons of named agencies only), and its
//! acknowledgement table (the recipients fixed when it was sent). The sender's agency and
//! the hub's oversight auditors see the whole table; a recipient sees its own row; anyone
//! else gets NOT_FOUND, exactly as for an id that does not exist.

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Action, Caller, authorize};
use liaison_core::cbm::{NotificationKind, Severity};
use liaison_core::{
    AgencyId, ObjectId, Role, Scope, Violations,
    cbm::{
        AckError, AckStatus, Acknowledgement, NOTIFICATION_PREFIX, NewNotification, Notification,
        next_ack_status,
    },
    federation::AgencyKind,
    indicator::is_language_tag,
};
use liaison_proto::{domain::ProtoEnum, methods, v1};
use liaison_rpc::{Call, ServiceError, from_timestamp, page_size, request_id};
use liaison_store::{AckChange, MailboxQuery, Store, WriteOutcome};
use tonic::Request;

use crate::{CbmServiceImpl, convert};

/// What a caller may see of one notification.
pub(crate) struct Visible {
    pub(crate) notification: Notification,
    /// The rows the caller may see.
    pub(crate) rows: Vec<Acknowledgement>,
    /// True for the sender's agency and oversight auditors.
    pub(crate) whole_table: bool,
}

/// May `caller` receive `notification` at all (scope and TLP)?
pub(crate) fn may_receive(caller: &Caller, notification: &Notification) -> bool {
    authorize(
        caller,
        Action::Receive {
            source: &notification.sender_agency,
            scope: &notification.content.scope,
            tlp: notification.content.tlp,
        },
    )
    .is_ok()
}

/// The notification as `caller` may see it, or `None` when it may not (or there is none).
pub(crate) async fn visible_to(
    store: &Store,
    caller: &Caller,
    id: &ObjectId,
) -> Result<Option<Visible>, ServiceError> {
    let Some(notification) = store.get_notification(id).await? else {
        return Ok(None);
    };
    let oversight = caller.is_hub() && caller.has_role(Role::OversightAuditor);
    let receives = may_receive(caller, &notification);
    if oversight || (receives && caller.agency() == &notification.sender_agency) {
        let rows = store.acknowledgements(id).await?;
        return Ok(Some(Visible {
            notification,
            rows,
            whole_table: true,
        }));
    }
    if !receives {
        return Ok(None);
    }
    Ok(store
        .acknowledgement(id, caller.agency())
        .await?
        .map(|row| Visible {
            notification,
            rows: vec![row],
            whole_table: false,
        }))
}

fn parse_notification_id(value: &str, field: &str) -> Result<ObjectId, ServiceError> {
    ObjectId::parse(NOTIFICATION_PREFIX, value)
        .map_err(|error| ServiceError::invalid(field, error.to_string()))
}

impl CbmServiceImpl {
    /// The notification as `caller` may see it; NOT_FOUND when it may not.
    pub(crate) async fn visible(
        &self,
        caller: &Caller,
        id: &ObjectId,
    ) -> Result<Visible, ServiceError> {
        visible_to(&self.store, caller, id)
            .await?
            .ok_or(ServiceError::NotFound("notification"))
    }

    /// Every agency a scope names must be a member agency (not the hub).
    async fn check_recipients(&self, scope: &Scope) -> Result<(), ServiceError> {
        let mut violations = Violations::new();
        if let Scope::Agencies(agencies) = scope {
            for agency in agencies {
                let member = self
                    .store
                    .get_agency(agency)
                    .await?
                    .is_some_and(|record| record.kind != AgencyKind::Hub);
                if !member {
                    violations.add(
                        "notification.scope.agencies.agency_ids",
                        format!("{agency} is not a member agency"),
                    );
                }
            }
        }
        violations.into_result(|| ()).map_err(ServiceError::from)
    }

    pub(crate) async fn notify_call(
        &self,
        request: Request<v1::NotifyRequest>,
    ) -> Result<v1::NotifyResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        request_id(&request.request_id, "request_id")?;
        let draft = request
            .notification
            .ok_or_else(|| ServiceError::invalid("notification", "notification is required"))?;
        let content = NewNotification::validate(convert::draft_from_proto(draft), "notification")?;
        authorize(
            &caller,
            Action::Publish {
                tlp: content.tlp,
                scope: &content.scope,
            },
        )?;
        self.check_recipients(&content.scope).await?;
        if let Some(related) = &content.related_notification
            && self.visible(&caller, related).await.is_err()
        {
            return Err(ServiceError::invalid(
                "notification.related_notification_id",
                "no such notification",
            ));
        }
        let notification = Notification {
            id: ObjectId::generate(NOTIFICATION_PREFIX),
            sender_agency: caller.agency().clone(),
            sender: caller.principal().clone(),
            content,
            created: self.clock.now(),
            consultation: None,
        };
        let record = audit.write_record(ObjectAccess {
            id: notification.id.to_string(),
            access: Access::Write,
            owner_agency: Some(notification.sender_agency.to_string()),
            anonymous: false,
        });
        let outcome = self
            .store
            .send_notification(&notification, &request.request_id, &record)
            .await?;
        let visible = match outcome {
            WriteOutcome::Stored(recipients) => {
                audit.mark_recorded();
                tracing::info!(
                    notification = %notification.id,
                    agency = %caller.agency(),
                    recipients = recipients.len(),
                    "notification sent"
                );
                self.visible(&caller, &notification.id).await?
            }
            WriteOutcome::Duplicate(first) => {
                let first = parse_notification_id(&first, "request_id")?;
                let visible = self.visible(&caller, &first).await?;
                audit.touch(
                    first.as_str(),
                    Access::Read,
                    Some(&visible.notification.sender_agency),
                );
                audit.commit_read(&self.store).await?;
                visible
            }
        };
        Ok(v1::NotifyResponse {
            notification: Some(self.to_proto(&visible)),
        })
    }

    fn to_proto(&self, visible: &Visible) -> v1::CbmNotification {
        convert::notification_to_proto(
            &visible.notification,
            &visible.rows,
            visible.whole_table,
            self.clock.now(),
        )
    }

    pub(crate) async fn get_notification_call(
        &self,
        request: Request<v1::GetNotificationRequest>,
    ) -> Result<v1::GetNotificationResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let id = parse_notification_id(&request.get_ref().notification_id, "notification_id")?;
        let mut visible = self.visible(&caller, &id).await?;
        audit.touch(
            id.as_str(),
            Access::Read,
            Some(&visible.notification.sender_agency),
        );
        // The recipient's first read is its delivery, stamped with the read's record.
        if !visible.whole_table
            && let Some(row) = visible.rows.first_mut()
            && row.delivered.is_none()
        {
            let now = self.clock.now();
            let record = audit.write_record_of(std::iter::empty());
            self.store
                .mark_delivered(std::slice::from_ref(&id), caller.agency(), now, record)
                .await?;
            audit.mark_recorded();
            row.delivered = Some(now);
        } else {
            audit.commit_read(&self.store).await?;
        }
        Ok(v1::GetNotificationResponse {
            notification: Some(self.to_proto(&visible)),
        })
    }

    pub(crate) async fn list_notifications_call(
        &self,
        request: Request<v1::ListNotificationsRequest>,
    ) -> Result<v1::ListNotificationsResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&request.page_token)?;
        let mut violations = Violations::new();
        let mut kinds = Vec::new();
        for (index, kind) in request.kinds.iter().enumerate() {
            match NotificationKind::from_proto(*kind) {
                Some(kind) => kinds.push(kind),
                None => violations.add(format!("kinds[{index}]"), "unknown notification kind"),
            }
        }
        let min_severity = match request.min_severity {
            0 => None,
            value => {
                let severity = Severity::from_proto(value);
                if severity.is_none() {
                    violations.add("min_severity", "unknown severity");
                }
                severity
            }
        };
        let start = request.start_time.as_ref().map(from_timestamp);
        let end = request.end_time.as_ref().map(from_timestamp);
        if matches!(start, Some(None)) {
            violations.add("start_time", "out of range");
        }
        if matches!(end, Some(None)) {
            violations.add("end_time", "out of range");
        }
        let outbox = match v1::CbmMailbox::try_from(request.mailbox) {
            Ok(v1::CbmMailbox::Unspecified | v1::CbmMailbox::Inbox) => false,
            Ok(v1::CbmMailbox::Outbox) => true,
            Err(_) => {
                violations.add("mailbox", "unknown mailbox");
                false
            }
        };
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let (start, end) = (start.flatten(), end.flatten());
        let query = MailboxQuery {
            unacknowledged_first: request.unacknowledged_first && !outbox,
            unacknowledged_only: request.unacknowledged_only,
            offset,
            limit,
        };
        let found: Vec<Visible> = if caller.is_hub() {
            // The hub's principals have no mailbox.
            Vec::new()
        } else if outbox {
            let mut found = Vec::new();
            for notification in self.store.outbox(caller.agency(), query).await? {
                let rows = self.store.acknowledgements(&notification.id).await?;
                found.push(Visible {
                    notification,
                    rows,
                    whole_table: true,
                });
            }
            found
        } else {
            self.store
                .inbox(caller.agency(), query)
                .await?
                .into_iter()
                .map(|(notification, row)| Visible {
                    notification,
                    rows: vec![row],
                    whole_table: false,
                })
                .collect()
        };
        let full_page = found.len() == limit as usize;
        let shown: Vec<Visible> = found
            .into_iter()
            .filter(|visible| {
                let notification = &visible.notification;
                let content = &notification.content;
                may_receive(&caller, notification)
                    && (kinds.is_empty() || kinds.contains(&content.kind))
                    && min_severity.is_none_or(|min| content.severity >= min)
                    && start.is_none_or(|start| notification.created >= start)
                    && end.is_none_or(|end| notification.created < end)
            })
            .collect();
        for visible in &shown {
            audit.touch(
                visible.notification.id.as_str(),
                Access::Read,
                Some(&visible.notification.sender_agency),
            );
        }
        audit.commit_read(&self.store).await?;
        Ok(v1::ListNotificationsResponse {
            notifications: shown.iter().map(|visible| self.to_proto(visible)).collect(),
            next_page_token: if full_page {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
        })
    }

    pub(crate) async fn acknowledge_call(
        &self,
        request: Request<v1::AcknowledgeNotificationRequest>,
    ) -> Result<v1::AcknowledgeNotificationResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let id = violations.check(
            "notification_id",
            ObjectId::parse(NOTIFICATION_PREFIX, &request.notification_id),
        );
        let status =
            AckStatus::from_proto(request.status).filter(|status| *status != AckStatus::Pending);
        if status.is_none() {
            violations.add("status", AckError::NotAnAcknowledgement.to_string());
        }
        let comment = convert::text_from_proto(request.comment);
        if let Some(comment) = &comment {
            if comment.text.chars().count() > liaison_core::cbm::limits::BODY_CHARS {
                violations.add("comment.text", "at most 20000 characters");
            }
            if !is_language_tag(&comment.language) {
                violations.add("comment.language", "language must be a BCP 47 tag");
            }
        }
        let (Some(id), Some(status)) = (id, status) else {
            return Err(violations.into());
        };
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let visible = self.visible(&caller, &id).await?;
        let own = |visible: &Visible| {
            visible
                .rows
                .iter()
                .find(|row| &row.agency == caller.agency())
                .cloned()
        };
        let Some(current) = own(&visible) else {
            return Err(ServiceError::FailedPrecondition(
                "the caller's agency is not a recipient of this notification".into(),
            ));
        };
        let sender: &AgencyId = &visible.notification.sender_agency;
        // A retry of an acknowledgement already made answers with the row as it is now.
        if let Some((method, object)) = self
            .store
            .earlier_request(caller.principal(), &request.request_id)
            .await?
        {
            if method != methods::CBM_ACKNOWLEDGE_NOTIFICATION || object != id.as_str() {
                return Err(ServiceError::invalid(
                    "request_id",
                    "request_id was already used for a different call",
                ));
            }
            audit.touch(id.as_str(), Access::Read, Some(sender));
            audit.commit_read(&self.store).await?;
            return Ok(v1::AcknowledgeNotificationResponse {
                acknowledgement: Some(convert::ack_to_proto(&current, self.clock.now())),
            });
        }
        let changed = match next_ack_status(current.status, status) {
            Err(error) => return Err(ServiceError::FailedPrecondition(error.to_string())),
            Ok(None) => None,
            Ok(Some(next)) => Some(next),
        };
        let row = match changed {
            None => {
                audit.touch(id.as_str(), Access::Read, Some(sender));
                audit.commit_read(&self.store).await?;
                current
            }
            Some(next) => {
                let record = audit.write_record(ObjectAccess {
                    id: id.to_string(),
                    access: Access::Write,
                    owner_agency: Some(sender.to_string()),
                    anonymous: false,
                });
                let outcome = self
                    .store
                    .acknowledge_notification(AckChange {
                        notification: &id,
                        agency: caller.agency(),
                        status: next,
                        by: caller.principal(),
                        comment,
                        now: self.clock.now(),
                        request_id: &request.request_id,
                        audit_record: record,
                    })
                    .await?;
                match outcome {
                    WriteOutcome::Stored(()) => audit.mark_recorded(),
                    WriteOutcome::Duplicate(_) => {
                        audit.touch(id.as_str(), Access::Read, Some(sender));
                        audit.commit_read(&self.store).await?;
                    }
                }
                self.store
                    .acknowledgement(&id, caller.agency())
                    .await?
                    .ok_or(ServiceError::NotFound("notification"))?
            }
        };
        Ok(v1::AcknowledgeNotificationResponse {
            acknowledgement: Some(convert::ack_to_proto(&row, self.clock.now())),
        })
    }
}
