//! Points of contact (OSCE CBM 8, Budapest Convention Art. 35): each agency's officers keep
//! their own; every member reads them; every change is announced to all members by a
//! POC-update notification (committed with the change); a contact not confirmed (set
//! again) for a year is flagged stale, by the hub's deadline clock.

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Action, Caller, authorize};
use liaison_core::{
    AgencyId, ObjectId, Scope, Tlp,
    cbm::{
        ChannelKind, ContactLevel, LocalizedText, NOTIFICATION_PREFIX, NewNotification,
        Notification, NotificationKind, POC_PREFIX, PocContent, PocDraft, PointOfContact, Severity,
    },
};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{Call, ServiceError, page_size, request_id, to_timestamp};
use liaison_store::{PocChange, WriteOutcome};
use tonic::Request;

use crate::DirectoryService;

pub(crate) fn draft_from_proto(poc: &v1::PointOfContact) -> PocDraft {
    PocDraft {
        level: ContactLevel::from_proto(poc.level),
        function: poc.function.clone(),
        channels: poc
            .channels
            .iter()
            .map(|channel| {
                (
                    ChannelKind::from_proto(channel.kind),
                    channel.address.clone(),
                )
            })
            .collect(),
        languages: poc.languages.clone(),
        hours: poc.hours.clone(),
        around_the_clock: poc.around_the_clock,
    }
}

fn to_proto(poc: &PointOfContact, now: liaison_core::Timestamp) -> v1::PointOfContact {
    let content = &poc.content;
    v1::PointOfContact {
        id: poc.id.to_string(),
        agency_id: poc.agency.to_string(),
        level: content.level.to_proto(),
        function: content.function.clone(),
        channels: content
            .channels
            .iter()
            .map(|(kind, address)| v1::ContactChannel {
                kind: kind.to_proto(),
                address: address.clone(),
            })
            .collect(),
        languages: content.languages.clone(),
        hours: content.hours.clone(),
        around_the_clock: content.around_the_clock,
        confirm_time: Some(to_timestamp(poc.confirmed)),
        stale: poc.is_stale(now),
    }
}

/// The POC-update notification announcing a change to all members: GREEN, in English,
/// no acknowledgement required.
fn announcement(
    caller: &Caller,
    poc_id: &ObjectId,
    what: &str,
    content: &PocContent,
    now: liaison_core::Timestamp,
) -> Notification {
    let channels = content
        .channels
        .iter()
        .map(|(kind, address)| format!("{}: {address}", kind.as_str()))
        .collect::<Vec<_>>()
        .join("; ");
    let availability = if content.around_the_clock {
        "24/7".to_owned()
    } else {
        content.hours.clone()
    };
    Notification {
        id: ObjectId::generate(NOTIFICATION_PREFIX),
        sender_agency: caller.agency().clone(),
        sender: caller.principal().clone(),
        content: NewNotification {
            kind: NotificationKind::PocUpdate,
            severity: Severity::Info,
            title: LocalizedText {
                text: format!(
                    "{} {} point of contact {what}: {}",
                    caller.agency(),
                    content.level.as_str(),
                    content.function
                ),
                language: "en".into(),
            },
            body: LocalizedText {
                text: format!(
                    "Channels: {channels}. Languages: {}. Availability: {availability}.",
                    content.languages.join(", ")
                ),
                language: "en".into(),
            },
            sectors: Vec::new(),
            other_sectors: Vec::new(),
            tlp: Tlp::Green,
            scope: Scope::AllMembers,
            ack_within: None,
            references: Vec::new(),
            event_time: None,
            related_notification: None,
            point_of_contact: Some(poc_id.clone()),
        },
        created: now,
        consultation: None,
    }
}

impl DirectoryService {
    pub(crate) async fn list_points_of_contact_call(
        &self,
        request: Request<v1::ListPointsOfContactRequest>,
    ) -> Result<v1::ListPointsOfContactResponse, ServiceError> {
        let audit = Call::begin(&self.auth, &request).await?.audit;
        let request = request.into_inner();
        let agency = if request.agency_id.is_empty() {
            None
        } else {
            Some(
                AgencyId::parse(&request.agency_id)
                    .map_err(|error| ServiceError::invalid("agency_id", error.to_string()))?,
            )
        };
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&request.page_token)?;
        let found = self
            .store
            .list_points_of_contact(agency.as_ref(), offset, limit)
            .await?;
        for poc in &found {
            audit.touch(poc.id.as_str(), Access::Read, Some(&poc.agency));
        }
        audit.commit_read(&self.store).await?;
        let now = self.clock.now();
        Ok(v1::ListPointsOfContactResponse {
            next_page_token: if found.len() == limit as usize {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
            points_of_contact: found.iter().map(|poc| to_proto(poc, now)).collect(),
        })
    }

    pub(crate) async fn set_point_of_contact_call(
        &self,
        request: Request<v1::SetPointOfContactRequest>,
    ) -> Result<v1::SetPointOfContactResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        request_id(&request.request_id, "request_id")?;
        let poc = request.point_of_contact.ok_or_else(|| {
            ServiceError::invalid("point_of_contact", "point_of_contact is required")
        })?;
        let content = PocContent::validate(draft_from_proto(&poc), "point_of_contact")?;
        let (id, what) = if poc.id.is_empty() {
            if !poc.agency_id.is_empty() && poc.agency_id != caller.agency().as_str() {
                return Err(ServiceError::PermissionDenied(liaison_auth::Denied(
                    "officers keep their own agency's points of contact only",
                )));
            }
            (ObjectId::generate(POC_PREFIX), "added")
        } else {
            let id = ObjectId::parse(POC_PREFIX, &poc.id)
                .map_err(|error| ServiceError::invalid("point_of_contact.id", error.to_string()))?;
            let stored = self
                .store
                .get_point_of_contact(&id)
                .await?
                .ok_or(ServiceError::NotFound("point of contact"))?;
            authorize(
                &caller,
                Action::Change {
                    owner: &stored.agency,
                },
            )?;
            (id, "changed")
        };
        let now = self.clock.now();
        let stored = PointOfContact {
            id: id.clone(),
            agency: caller.agency().clone(),
            content,
            confirmed: now,
        };
        let announcement = announcement(&caller, &id, what, &stored.content, now);
        let record = audit.write_record(ObjectAccess {
            id: id.to_string(),
            access: Access::Write,
            owner_agency: Some(caller.agency().to_string()),
            anonymous: false,
        });
        let outcome = self
            .store
            .set_point_of_contact(
                &stored,
                PocChange {
                    actor: caller.principal(),
                    request_id: &request.request_id,
                    announcement: &announcement,
                    audit_record: record,
                },
            )
            .await?;
        let result = match outcome {
            WriteOutcome::Stored(()) => {
                audit.mark_recorded();
                stored
            }
            WriteOutcome::Duplicate(first) => {
                let first = ObjectId::parse(POC_PREFIX, &first)
                    .map_err(|_| ServiceError::NotFound("point of contact"))?;
                self.store
                    .get_point_of_contact(&first)
                    .await?
                    .ok_or(ServiceError::NotFound("point of contact"))?
            }
        };
        Ok(v1::SetPointOfContactResponse {
            point_of_contact: Some(to_proto(&result, self.clock.now())),
        })
    }

    pub(crate) async fn delete_point_of_contact_call(
        &self,
        request: Request<v1::DeletePointOfContactRequest>,
    ) -> Result<v1::DeletePointOfContactResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        request_id(&request.request_id, "request_id")?;
        let id = ObjectId::parse(POC_PREFIX, &request.point_of_contact_id)
            .map_err(|error| ServiceError::invalid("point_of_contact_id", error.to_string()))?;
        let Some(stored) = self.store.get_point_of_contact(&id).await? else {
            return Err(ServiceError::NotFound("point of contact"));
        };
        authorize(
            &caller,
            Action::Change {
                owner: &stored.agency,
            },
        )?;
        let announcement = announcement(&caller, &id, "removed", &stored.content, self.clock.now());
        let record = audit.write_record(ObjectAccess {
            id: id.to_string(),
            access: Access::Write,
            owner_agency: Some(stored.agency.to_string()),
            anonymous: false,
        });
        if let WriteOutcome::Stored(()) = self
            .store
            .delete_point_of_contact(
                &id,
                PocChange {
                    actor: caller.principal(),
                    request_id: &request.request_id,
                    announcement: &announcement,
                    audit_record: record,
                },
            )
            .await?
        {
            audit.mark_recorded();
        }
        Ok(v1::DeletePointOfContactResponse {})
    }
}
