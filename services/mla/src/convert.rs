//! Between prost messages and the domain: enum numbers, the facts the submission rules
//! need, and a stored request as the API shows it.

use liaison_core::{
    AgencyId, Timestamp,
    mla::{DataCategory, DeadlinePolicy, LegalBasis, Side, SubmissionFacts, Urgency},
};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{ServiceError, to_timestamp};
use liaison_store::{MlaDeadline, MlaRecord, StoreError};
use prost::Message;

pub(crate) fn side_to_proto(side: Side) -> i32 {
    match side {
        Side::Requesting => v1::MlaPartyRole::Requesting as i32,
        Side::Requested => v1::MlaPartyRole::Requested as i32,
        Side::Hub => v1::MlaPartyRole::Unspecified as i32,
    }
}

fn has_text(text: Option<&v1::LocalizedText>) -> bool {
    text.is_some_and(|text| !text.text.trim().is_empty())
}

/// What the submission rules need to know of `content`.
pub(crate) fn submission_facts(content: &v1::MlaRequestContent) -> SubmissionFacts {
    SubmissionFacts {
        basis: LegalBasis::from_proto(content.legal_basis),
        has_bilateral_treaty: has_text(content.bilateral_treaty.as_ref()),
        urgency: Urgency::from_proto(content.urgency),
        has_emergency_justification: has_text(content.emergency_justification.as_ref()),
        has_requesting_authority: has_text(content.requesting_authority.as_ref()),
        has_offence: content
            .offence
            .as_ref()
            .is_some_and(|offence| has_text(offence.description.as_ref())),
        has_summary_of_facts: has_text(content.summary_of_facts.as_ref()),
        data_sought: content.data_sought.len(),
        data_without_relation: content
            .data_sought
            .iter()
            .enumerate()
            .filter(|(_, item)| !has_text(item.relation_to_offence.as_ref()))
            .map(|(index, _)| index)
            .collect(),
        preservation_requested: content.preservation_requested,
        has_preservation_necessity: has_text(content.preservation_necessity.as_ref()),
        full_request_to_follow: content.full_request_to_follow,
        h3_without_restrictions: content.handling_code == v1::MlaHandlingCode::H3 as i32
            && !has_text(content.handling_restrictions.as_ref()),
    }
}

/// The data categories sought.
pub(crate) fn categories(content: &v1::MlaRequestContent) -> Vec<DataCategory> {
    content
        .data_sought
        .iter()
        .filter_map(|item| DataCategory::from_proto(item.category))
        .collect()
}

/// The requested agency a content names, if it names a valid one.
pub(crate) fn requested_agency(content: &v1::MlaRequestContent) -> Option<AgencyId> {
    AgencyId::parse(&content.requested_agency_id).ok()
}

/// The service's encoding of a request's document.
pub(crate) fn decode_document(record: &MlaRecord) -> Result<v1::MlaRequest, ServiceError> {
    v1::MlaRequest::decode(record.document.as_slice()).map_err(|_| {
        ServiceError::Store(StoreError::Corrupt(format!("mla document {}", record.id)))
    })
}

fn deadline_to_proto(
    deadline: &MlaDeadline,
    policy: &DeadlinePolicy,
    now: Timestamp,
) -> v1::MlaDeadline {
    let status = if deadline.cancelled {
        v1::MlaDeadlineStatus::Cancelled
    } else if deadline.met.is_some() {
        v1::MlaDeadlineStatus::Met
    } else if deadline.due <= now {
        v1::MlaDeadlineStatus::Overdue
    } else if policy.is_approaching(deadline.set, deadline.due, now) {
        v1::MlaDeadlineStatus::Approaching
    } else {
        v1::MlaDeadlineStatus::Pending
    };
    v1::MlaDeadline {
        kind: deadline.kind.to_proto(),
        due_time: Some(to_timestamp(deadline.due)),
        meet_time: deadline.met.map(to_timestamp),
        status: status as i32,
        responsible_party: side_to_proto(deadline.kind.responsible()),
    }
}

/// A stored request as the API shows it: the full view, or the basic one (parties, basis,
/// urgency, case reference, states and deadlines; no facts, data sought or history).
pub(crate) fn request_to_proto(
    record: &MlaRecord,
    full: bool,
    policy: &DeadlinePolicy,
    now: Timestamp,
) -> Result<v1::MlaRequest, ServiceError> {
    let mut request = decode_document(record)?;
    request.id = record.id.to_string();
    request.requesting_agency_id = record.requesting.to_string();
    request.state = record.status.state.to_proto();
    request.etag = record.version.to_string();
    match record.status.preservation {
        Some(line) => request.preservation.get_or_insert_default().state = line.to_proto(),
        None => request.preservation = None,
    }
    request.deadlines = record
        .deadlines
        .iter()
        .map(|deadline| deadline_to_proto(deadline, policy, now))
        .collect();
    request.overdue = record
        .deadlines
        .iter()
        .any(|deadline| deadline.is_overdue(now));
    let meta = request.meta.get_or_insert_default();
    meta.create_time = Some(to_timestamp(record.created));
    meta.update_time = Some(to_timestamp(record.updated));
    if !full {
        request.content = request.content.take().map(|content| v1::MlaRequestContent {
            requested_agency_id: content.requested_agency_id,
            legal_basis: content.legal_basis,
            urgency: content.urgency,
            case_reference: content.case_reference,
            ..v1::MlaRequestContent::default()
        });
        request.history.clear();
        request.conditions = None;
        request.refusal = None;
        request.postponement = None;
        request.execution_report = None;
        if let Some(preservation) = request.preservation.as_mut() {
            preservation.note = None;
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use liaison_core::mla::{DeadlineKind, MlaState, PreservationState};

    use super::*;

    #[test]
    fn enum_numbers_follow_the_proto_declarations() {
        assert_eq!(MlaState::Draft.to_proto(), v1::MlaState::Draft as i32);
        assert_eq!(
            MlaState::Withdrawn.to_proto(),
            v1::MlaState::Withdrawn as i32
        );
        assert_eq!(
            MlaState::from_proto(v1::MlaState::PartiallyExecuted as i32),
            Some(MlaState::PartiallyExecuted)
        );
        assert_eq!(
            LegalBasis::from_proto(v1::MlaLegalBasis::BilateralTreaty as i32),
            Some(LegalBasis::BilateralTreaty)
        );
        assert_eq!(
            LegalBasis::from_proto(v1::MlaLegalBasis::ProtocolArt9EmergencyDisclosure as i32),
            Some(LegalBasis::ProtocolArt9EmergencyDisclosure)
        );
        assert_eq!(
            Urgency::from_proto(v1::MlaUrgency::Emergency as i32),
            Some(Urgency::Emergency)
        );
        assert_eq!(
            DataCategory::from_proto(v1::MlaDataCategory::Traffic as i32),
            Some(DataCategory::Traffic)
        );
        assert_eq!(
            PreservationState::Released.to_proto(),
            v1::MlaPreservationState::Released as i32
        );
        assert_eq!(
            DeadlineKind::PostponementEnd.to_proto(),
            v1::MlaDeadlineKind::PostponementEnd as i32
        );
        assert_eq!(LegalBasis::from_proto(0), None);
        assert_eq!(MlaState::from_proto(99), None);
    }
}
