//! Directory records to API messages.

use liaison_core::{PrincipalId, PrincipalKind, Role, federation::AgencyKind};
use liaison_proto::v1;
use liaison_store::{AgencyRecord, SharingGroupRecord};

pub(crate) fn principal_ref(principal: &PrincipalId) -> v1::PrincipalRef {
    v1::PrincipalRef {
        agency_id: principal.agency().to_string(),
        kind: match principal.kind() {
            PrincipalKind::System => v1::PrincipalKind::System,
            PrincipalKind::Person => v1::PrincipalKind::Person,
        } as i32,
        name: principal.name().to_string(),
    }
}

pub(crate) fn role(role: Role) -> v1::Role {
    match role {
        Role::System => v1::Role::System,
        Role::Officer => v1::Role::Officer,
        Role::Auditor => v1::Role::Auditor,
        Role::OversightAuditor => v1::Role::OversightAuditor,
        Role::Operator => v1::Role::Operator,
    }
}

pub(crate) fn agency(record: AgencyRecord) -> v1::Agency {
    v1::Agency {
        id: record.id.to_string(),
        name: record.name,
        native_name: record
            .native_name
            .map(|(text, language)| v1::LocalizedText { text, language }),
        kind: match record.kind {
            AgencyKind::Police => v1::AgencyKind::Police,
            AgencyKind::Cert => v1::AgencyKind::Cert,
            AgencyKind::Ministry => v1::AgencyKind::Ministry,
            AgencyKind::International => v1::AgencyKind::International,
            AgencyKind::Hub => v1::AgencyKind::Hub,
        } as i32,
        state: record.state.map(|state| v1::StateInfo {
            code: state.code,
            name: state.name,
            budapest_convention_party: state.budapest_convention,
            second_protocol_party: state.second_protocol,
            osce_participating_state: state.osce_participating_state,
        }),
        status: if record.suspended {
            v1::AgencyStatus::Suspended
        } else {
            v1::AgencyStatus::Active
        } as i32,
    }
}

pub(crate) fn group(record: SharingGroupRecord) -> v1::SharingGroup {
    v1::SharingGroup {
        id: record.id.as_str().to_owned(),
        name: record.name,
        member_agency_ids: record.members.iter().map(ToString::to_string).collect(),
    }
}
