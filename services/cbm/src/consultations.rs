//! Consultations (OSCE CBM 3): requested → acknowledged → scheduled → held → closed.
//!
//! Only participants (the requesting agency and the invited ones) see or act on a
//! consultation, and the hub's oversight auditors read it; anyone else gets NOT_FOUND. A
//! TLP:RED consultation reaches persons only. The request also sends a
//! CONSULTATION_REQUEST notification to the invited agencies, in the same transaction.

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Action, Caller, authorize};
use liaison_core::{
    AgencyId, ObjectId, PrincipalKind, Role, Scope, Tlp, Violations,
    cbm::{
        CONSULTATION_PREFIX, Consultation, ConsultationOutcome, ConsultationState,
        ConsultationStep, LocalizedText, NOTIFICATION_PREFIX, NewNotification, Notification,
        NotificationKind, Participant, REPLY_PREFIX, Reply, ReplyAudience, Severity,
    },
    federation::AgencyKind,
    indicator::is_language_tag,
};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    methods, v1,
};
use liaison_rpc::{
    AuditContext, Call, ServiceError, from_timestamp, page_size, request_id, to_timestamp,
};
use liaison_store::WriteOutcome;
use tonic::Request;

use crate::{CbmServiceImpl, convert};

/// The acknowledgement period of a consultation request when the requester sets none.
const DEFAULT_ACK_WITHIN: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// May `caller` see `consultation`?
pub(crate) fn may_see(caller: &Caller, consultation: &Consultation) -> bool {
    if caller.is_hub() {
        return caller.has_role(Role::OversightAuditor);
    }
    let person_ok =
        consultation.tlp != Tlp::Red || caller.principal().kind() == PrincipalKind::Person;
    person_ok && consultation.participant(caller.agency()).is_some()
}

fn text(text: &Option<LocalizedText>) -> Option<v1::LocalizedText> {
    text.as_ref().map(convert::text_to_proto)
}

pub(crate) fn consultation_to_proto(c: &Consultation) -> v1::CbmConsultation {
    v1::CbmConsultation {
        id: c.id.to_string(),
        requester_agency_id: c.requester_agency().to_string(),
        participants: c
            .participants
            .iter()
            .map(|p| v1::CbmConsultationParticipant {
                agency_id: p.agency.to_string(),
                requester: p.requester,
                acknowledge_time: p.acknowledged.map(to_timestamp),
                acknowledged_by: p.acknowledged_by.as_ref().map(principal_ref),
                attended: p.attended,
            })
            .collect(),
        subject: Some(convert::text_to_proto(&c.subject)),
        description: text(&c.description),
        state: c.state.to_proto(),
        tlp: c.tlp.to_proto(),
        related_notification_ids: c.related.iter().map(ToString::to_string).collect(),
        request_notification_id: c.request_notification.to_string(),
        proposed_times: c.proposed.iter().copied().map(to_timestamp).collect(),
        schedule_time: c.schedule.map(to_timestamp),
        planned_duration: c.planned_duration.map(convert::duration_to_proto),
        venue: text(&c.venue),
        agenda: text(&c.agenda),
        hold_time: c.held.map(to_timestamp),
        summary: text(&c.summary),
        outcome: c.outcome.map_or(0, ProtoEnum::to_proto),
        close_time: c.closed.map(to_timestamp),
        meta: Some(v1::RecordMeta {
            create_time: Some(to_timestamp(c.created)),
            update_time: Some(to_timestamp(c.updated)),
            creator: Some(principal_ref(&c.requester)),
        }),
    }
}

/// An optional text: checked when present.
fn optional_text(
    value: Option<v1::LocalizedText>,
    field: &str,
    violations: &mut Violations,
) -> Option<LocalizedText> {
    let value = convert::text_from_proto(value)?;
    if value.text.chars().count() > liaison_core::cbm::limits::BODY_CHARS {
        violations.add(format!("{field}.text"), "at most 20000 characters");
    }
    if !is_language_tag(&value.language) {
        violations.add(format!("{field}.language"), "language must be a BCP 47 tag");
    }
    Some(value)
}

fn parse_id(value: &str) -> Result<ObjectId, ServiceError> {
    ObjectId::parse(CONSULTATION_PREFIX, value)
        .map_err(|error| ServiceError::invalid("consultation_id", error.to_string()))
}

fn step(
    consultation: &Consultation,
    step: ConsultationStep,
) -> Result<ConsultationState, ServiceError> {
    consultation
        .state
        .after(step)
        .map_err(|error| ServiceError::FailedPrecondition(error.to_string()))
}

impl CbmServiceImpl {
    /// A retry of a step already taken (same principal and request_id): the consultation
    /// as it is now, without taking the step again. A request_id used for another call is
    /// INVALID_ARGUMENT.
    async fn retried(
        &self,
        caller: &Caller,
        request_id_value: &str,
        method: &'static str,
        id: &ObjectId,
    ) -> Result<Option<Consultation>, ServiceError> {
        match self
            .store
            .earlier_request(caller.principal(), request_id_value)
            .await?
        {
            None => Ok(None),
            Some((earlier, object)) if earlier == method && object == id.as_str() => {
                Ok(Some(self.consultation_for(caller, id).await?))
            }
            Some(_) => Err(ServiceError::invalid(
                "request_id",
                "request_id was already used for a different call",
            )),
        }
    }

    /// The consultation if `caller` may see it; NOT_FOUND otherwise.
    async fn consultation_for(
        &self,
        caller: &Caller,
        id: &ObjectId,
    ) -> Result<Consultation, ServiceError> {
        self.store
            .get_consultation(id)
            .await?
            .filter(|consultation| may_see(caller, consultation))
            .ok_or(ServiceError::NotFound("consultation"))
    }

    /// Commits a step taken by `caller` (with a comment for the thread, if any) and
    /// answers with the consultation as stored.
    async fn commit_step(
        &self,
        caller: &Caller,
        audit: &AuditContext,
        mut consultation: Consultation,
        comment: Option<LocalizedText>,
        method: &'static str,
        request_id_value: &str,
    ) -> Result<Consultation, ServiceError> {
        consultation.updated = self.clock.now();
        let reply = comment.map(|body| Reply {
            id: ObjectId::generate(REPLY_PREFIX),
            parent: consultation.id.clone(),
            sender_agency: caller.agency().clone(),
            sender: caller.principal().clone(),
            body,
            audience: ReplyAudience::Participants,
            in_reply_to: None,
            tlp: consultation.tlp,
            created: consultation.updated,
        });
        let record = audit.write_record(ObjectAccess {
            id: consultation.id.to_string(),
            access: Access::Write,
            owner_agency: Some(consultation.requester_agency().to_string()),
            anonymous: false,
        });
        match self
            .store
            .change_consultation(
                &consultation,
                reply.as_ref(),
                caller.principal(),
                method,
                request_id_value,
                &record,
            )
            .await?
        {
            None => {
                return Err(ServiceError::Aborted(
                    "the consultation changed while this step was decided; read it again and retry"
                        .into(),
                ));
            }
            Some(WriteOutcome::Stored(())) => audit.mark_recorded(),
            Some(WriteOutcome::Duplicate(_)) => {
                audit.touch(
                    consultation.id.as_str(),
                    Access::Read,
                    Some(consultation.requester_agency()),
                );
                audit.commit_read(&self.store).await?;
            }
        }
        self.consultation_for(caller, &consultation.id).await
    }

    /// Takes `step` on consultation `id` for `call`, as `method` with `request_id_value`:
    /// a retry answers with the consultation as it is now; otherwise the step's state is
    /// set, `change` completes the consultation, and it is committed.
    async fn consultation_step(
        &self,
        call: &Call,
        method: &'static str,
        request_id_value: &str,
        id: &ObjectId,
        taken: ConsultationStep,
        change: impl FnOnce(&mut Consultation) -> Result<(), ServiceError>,
    ) -> Result<Consultation, ServiceError> {
        if let Some(current) = self
            .retried(&call.caller, request_id_value, method, id)
            .await?
        {
            return Ok(current);
        }
        let mut consultation = self.consultation_for(&call.caller, id).await?;
        consultation.state = step(&consultation, taken)?;
        change(&mut consultation)?;
        self.commit_step(
            &call.caller,
            &call.audit,
            consultation,
            None,
            method,
            request_id_value,
        )
        .await
    }

    pub(crate) async fn request_consultation_call(
        &self,
        request: Request<v1::RequestConsultationRequest>,
    ) -> Result<v1::RequestConsultationResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let mut invited = Vec::new();
        for (index, id) in request.agency_ids.iter().enumerate() {
            let field = format!("agency_ids[{index}]");
            let Some(agency) = violations.check(field.clone(), AgencyId::parse(id)) else {
                continue;
            };
            let member = self
                .store
                .get_agency(&agency)
                .await?
                .is_some_and(|record| record.kind != AgencyKind::Hub);
            if !member || &agency == caller.agency() {
                violations.add(field, "a member agency other than the caller's own");
            } else if !invited.contains(&agency) {
                invited.push(agency);
            }
        }
        if request.agency_ids.is_empty() {
            violations.add("agency_ids", "invite at least one agency");
        }
        let subject = convert::text_from_proto(request.subject);
        match &subject {
            Some(subject)
                if !subject.text.trim().is_empty() && is_language_tag(&subject.language) => {}
            _ => violations.add("subject", "required: a text with its language tag"),
        }
        let description = optional_text(request.description, "description", &mut violations);
        let tlp = Tlp::from_proto(request.tlp);
        if matches!(tlp, None | Some(Tlp::Clear)) {
            violations.add("tlp", "tlp is required: green, amber, amber+strict or red");
        }
        let mut related = Vec::new();
        for (index, id) in request.related_notification_ids.iter().enumerate() {
            if let Some(id) = violations.check(
                format!("related_notification_ids[{index}]"),
                ObjectId::parse(NOTIFICATION_PREFIX, id),
            ) {
                related.push(id);
            }
        }
        let mut proposed = Vec::new();
        for (index, time) in request.proposed_times.iter().enumerate() {
            match from_timestamp(time) {
                Some(time) => proposed.push(time),
                None => violations.add(format!("proposed_times[{index}]"), "out of range"),
            }
        }
        let ack_within = match convert::duration_from_proto(request.ack_within) {
            None => Some(DEFAULT_ACK_WITHIN),
            Some(Some(period))
                if !period.is_zero() && period <= liaison_core::cbm::limits::ACK_WITHIN_MAX =>
            {
                Some(period)
            }
            Some(_) => {
                violations.add(
                    "ack_within",
                    "ack_within must be positive and at most 90 days",
                );
                None
            }
        };
        let severity = match request.severity {
            0 => Some(Severity::Medium),
            value => {
                let severity = Severity::from_proto(value);
                if severity.is_none() {
                    violations.add("severity", "unknown severity");
                }
                severity
            }
        };
        let (Some(subject), Some(tlp), Some(ack_within), Some(severity)) =
            (subject, tlp, ack_within, severity)
        else {
            return Err(violations.into());
        };
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let scope = Scope::agencies(invited.clone())
            .map_err(|error| ServiceError::invalid("agency_ids", error.to_string()))?;
        authorize(&caller, Action::Publish { tlp, scope: &scope })?;
        for id in &related {
            if self.visible(&caller, id).await.is_err() {
                return Err(ServiceError::invalid(
                    "related_notification_ids",
                    "no such notification",
                ));
            }
        }
        let now = self.clock.now();
        let notification = Notification {
            id: ObjectId::generate(NOTIFICATION_PREFIX),
            sender_agency: caller.agency().clone(),
            sender: caller.principal().clone(),
            content: NewNotification {
                kind: NotificationKind::ConsultationRequest,
                severity,
                title: subject.clone(),
                body: description.clone().unwrap_or_else(|| subject.clone()),
                sectors: Vec::new(),
                other_sectors: Vec::new(),
                tlp,
                scope,
                ack_within: Some(ack_within),
                references: Vec::new(),
                event_time: None,
                related_notification: related.first().cloned(),
                point_of_contact: None,
            },
            created: now,
            consultation: None,
        };
        let mut participants = vec![Participant {
            agency: caller.agency().clone(),
            requester: true,
            acknowledged: None,
            acknowledged_by: None,
            attended: false,
        }];
        participants.extend(invited.into_iter().map(|agency| Participant {
            agency,
            requester: false,
            acknowledged: None,
            acknowledged_by: None,
            attended: false,
        }));
        let consultation = Consultation {
            id: liaison_core::ObjectId::generate(CONSULTATION_PREFIX),
            requester: caller.principal().clone(),
            participants,
            subject,
            description,
            state: ConsultationState::Requested,
            tlp,
            related,
            request_notification: notification.id.clone(),
            proposed,
            schedule: None,
            planned_duration: None,
            venue: None,
            agenda: None,
            held: None,
            summary: None,
            outcome: None,
            closed: None,
            created: now,
            updated: now,
            version: 0,
        };
        let record = audit.write_record(ObjectAccess {
            id: consultation.id.to_string(),
            access: Access::Write,
            owner_agency: Some(caller.agency().to_string()),
            anonymous: false,
        });
        let id = match self
            .store
            .request_consultation(&consultation, &notification, &request.request_id, &record)
            .await?
        {
            WriteOutcome::Stored(()) => {
                audit.mark_recorded();
                consultation.id.clone()
            }
            WriteOutcome::Duplicate(first) => {
                let first = parse_id(&first)?;
                audit.touch(first.as_str(), Access::Read, Some(caller.agency()));
                audit.commit_read(&self.store).await?;
                first
            }
        };
        let stored = self.consultation_for(&caller, &id).await?;
        let announced = self.visible(&caller, &stored.request_notification).await?;
        Ok(v1::RequestConsultationResponse {
            consultation: Some(consultation_to_proto(&stored)),
            notification: Some(convert::notification_to_proto(
                &announced.notification,
                &announced.rows,
                announced.whole_table,
                self.clock.now(),
            )),
        })
    }

    pub(crate) async fn acknowledge_consultation_call(
        &self,
        request: Request<v1::AcknowledgeConsultationRequest>,
    ) -> Result<v1::AcknowledgeConsultationResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        request_id(&request.request_id, "request_id")?;
        let id = parse_id(&request.consultation_id)?;
        let method = methods::CBM_ACKNOWLEDGE_CONSULTATION;
        if let Some(current) = self
            .retried(&caller, &request.request_id, method, &id)
            .await?
        {
            return Ok(v1::AcknowledgeConsultationResponse {
                consultation: Some(consultation_to_proto(&current)),
            });
        }
        let mut consultation = self.consultation_for(&caller, &id).await?;
        let state = step(&consultation, ConsultationStep::Acknowledge)?;
        let now = self.clock.now();
        let Some(own) = consultation
            .participants
            .iter_mut()
            .find(|p| &p.agency == caller.agency())
        else {
            return Err(ServiceError::NotFound("consultation"));
        };
        if own.requester {
            return Err(ServiceError::FailedPrecondition(
                "the requesting agency does not acknowledge its own consultation".into(),
            ));
        }
        if own.acknowledged.is_some() {
            return Ok(v1::AcknowledgeConsultationResponse {
                consultation: Some(consultation_to_proto(&consultation)),
            });
        }
        let mut violations = Violations::new();
        let comment = optional_text(request.comment, "comment", &mut violations);
        if !violations.is_empty() {
            return Err(violations.into());
        }
        own.acknowledged = Some(now);
        own.acknowledged_by = Some(caller.principal().clone());
        consultation.state = state;
        let stored = self
            .commit_step(
                &caller,
                &audit,
                consultation,
                comment,
                method,
                &request.request_id,
            )
            .await?;
        Ok(v1::AcknowledgeConsultationResponse {
            consultation: Some(consultation_to_proto(&stored)),
        })
    }

    pub(crate) async fn schedule_consultation_call(
        &self,
        request: Request<v1::ScheduleConsultationRequest>,
    ) -> Result<v1::ScheduleConsultationResponse, ServiceError> {
        let call = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let id = violations.check(
            "consultation_id",
            ObjectId::parse(CONSULTATION_PREFIX, &request.consultation_id),
        );
        let now = self.clock.now();
        let start = request.schedule_time.as_ref().and_then(from_timestamp);
        if start.is_none_or(|start| start <= now) {
            violations.add("schedule_time", "schedule_time is required, in the future");
        }
        let duration = match convert::duration_from_proto(request.planned_duration) {
            None => None,
            Some(Some(duration)) => Some(duration),
            Some(None) => {
                violations.add("planned_duration", "planned_duration must be positive");
                None
            }
        };
        let venue = optional_text(request.venue, "venue", &mut violations);
        let agenda = optional_text(request.agenda, "agenda", &mut violations);
        let (Some(id), true) = (id, violations.is_empty()) else {
            return Err(violations.into());
        };
        let stored = self
            .consultation_step(
                &call,
                methods::CBM_SCHEDULE_CONSULTATION,
                &request.request_id,
                &id,
                ConsultationStep::Schedule,
                |consultation| {
                    consultation.schedule = start;
                    consultation.planned_duration = duration;
                    consultation.venue = venue.or(consultation.venue.take());
                    consultation.agenda = agenda.or(consultation.agenda.take());
                    Ok(())
                },
            )
            .await?;
        Ok(v1::ScheduleConsultationResponse {
            consultation: Some(consultation_to_proto(&stored)),
        })
    }

    pub(crate) async fn record_held_call(
        &self,
        request: Request<v1::RecordConsultationHeldRequest>,
    ) -> Result<v1::RecordConsultationHeldResponse, ServiceError> {
        let call = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let id = violations.check(
            "consultation_id",
            ObjectId::parse(CONSULTATION_PREFIX, &request.consultation_id),
        );
        let held = match &request.hold_time {
            None => None,
            Some(time) => {
                let parsed = from_timestamp(time);
                if parsed.is_none() {
                    violations.add("hold_time", "out of range");
                }
                parsed
            }
        };
        let mut attending = Vec::new();
        for (index, agency) in request.attending_agency_ids.iter().enumerate() {
            if let Some(agency) = violations.check(
                format!("attending_agency_ids[{index}]"),
                AgencyId::parse(agency),
            ) {
                attending.push(agency);
            }
        }
        let summary = optional_text(request.summary, "summary", &mut violations);
        let (Some(id), true) = (id, violations.is_empty()) else {
            return Err(violations.into());
        };
        let stored = self
            .consultation_step(
                &call,
                methods::CBM_RECORD_CONSULTATION_HELD,
                &request.request_id,
                &id,
                ConsultationStep::RecordHeld,
                |consultation| {
                    if let Some(stranger) = attending
                        .iter()
                        .find(|agency| consultation.participant(agency).is_none())
                    {
                        return Err(ServiceError::invalid(
                            "attending_agency_ids",
                            format!("{stranger} does not take part in this consultation"),
                        ));
                    }
                    for participant in &mut consultation.participants {
                        participant.attended = attending.contains(&participant.agency);
                    }
                    consultation.held = held.or(consultation.schedule).or(Some(self.clock.now()));
                    consultation.summary = summary.or(consultation.summary.take());
                    Ok(())
                },
            )
            .await?;
        Ok(v1::RecordConsultationHeldResponse {
            consultation: Some(consultation_to_proto(&stored)),
        })
    }

    pub(crate) async fn close_consultation_call(
        &self,
        request: Request<v1::CloseConsultationRequest>,
    ) -> Result<v1::CloseConsultationResponse, ServiceError> {
        let call = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let id = violations.check(
            "consultation_id",
            ObjectId::parse(CONSULTATION_PREFIX, &request.consultation_id),
        );
        let outcome = ConsultationOutcome::from_proto(request.outcome);
        if outcome.is_none() {
            violations.add("outcome", "outcome is required");
        }
        let summary = optional_text(request.summary, "summary", &mut violations);
        let (Some(id), true) = (id, violations.is_empty()) else {
            return Err(violations.into());
        };
        let stored = self
            .consultation_step(
                &call,
                methods::CBM_CLOSE_CONSULTATION,
                &request.request_id,
                &id,
                ConsultationStep::Close,
                |consultation| {
                    consultation.outcome = outcome;
                    consultation.closed = Some(self.clock.now());
                    consultation.summary = summary.or(consultation.summary.take());
                    Ok(())
                },
            )
            .await?;
        Ok(v1::CloseConsultationResponse {
            consultation: Some(consultation_to_proto(&stored)),
        })
    }

    pub(crate) async fn get_consultation_call(
        &self,
        request: Request<v1::GetConsultationRequest>,
    ) -> Result<v1::GetConsultationResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let id = parse_id(&request.get_ref().consultation_id)?;
        let consultation = self.consultation_for(&caller, &id).await?;
        audit.touch(
            id.as_str(),
            Access::Read,
            Some(consultation.requester_agency()),
        );
        audit.commit_read(&self.store).await?;
        Ok(v1::GetConsultationResponse {
            consultation: Some(consultation_to_proto(&consultation)),
        })
    }

    pub(crate) async fn list_consultations_call(
        &self,
        request: Request<v1::ListConsultationsRequest>,
    ) -> Result<v1::ListConsultationsResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&request.page_token)?;
        let mut violations = Violations::new();
        let mut states = Vec::new();
        for (index, value) in request.states.iter().enumerate() {
            match ConsultationState::from_proto(*value) {
                Some(state) => states.push(state),
                None => violations.add(format!("states[{index}]"), "unknown state"),
            }
        }
        let counterpart = if request.counterpart_agency_id.is_empty() {
            None
        } else {
            violations.check(
                "counterpart_agency_id",
                AgencyId::parse(&request.counterpart_agency_id),
            )
        };
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let ids = if caller.is_hub() {
            Vec::new()
        } else {
            self.store
                .consultations_of(caller.agency(), offset, limit)
                .await?
        };
        let mut shown = Vec::new();
        for id in &ids {
            let Some(consultation) = self.store.get_consultation(id).await? else {
                continue;
            };
            let matches = may_see(&caller, &consultation)
                && (states.is_empty() || states.contains(&consultation.state))
                && counterpart
                    .as_ref()
                    .is_none_or(|agency| consultation.participant(agency).is_some());
            if matches {
                audit.touch(
                    id.as_str(),
                    Access::Read,
                    Some(consultation.requester_agency()),
                );
                shown.push(consultation_to_proto(&consultation));
            }
        }
        audit.commit_read(&self.store).await?;
        Ok(v1::ListConsultationsResponse {
            consultations: shown,
            next_page_token: if ids.len() == limit as usize {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
        })
    }
}
