//! Directory records to API messages.

use liaison_proto::{domain::ProtoEnum, v1};
use liaison_store::{AgencyRecord, SharingGroupRecord};

pub(crate) fn agency(record: AgencyRecord) -> v1::Agency {
    v1::Agency {
        id: record.id.to_string(),
        name: record.name,
        native_name: record
            .native_name
            .map(|(text, language)| v1::LocalizedText { text, language }),
        kind: record.kind.to_proto(),
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
