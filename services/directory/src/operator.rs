//! Validation of the operator's requests: every bad field is named, nothing reaches the
//! store unchecked.

use liaison_core::{
    AgencyId, GroupId, PrincipalId, PrincipalKind, PrincipalName, Role, Violations,
    federation::AgencyKind,
};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_store::{AgencyRecord, StateRecord};

/// Longest name or reason accepted, in characters.
const TEXT_MAX: usize = 500;

/// An agency kind an operator may register: not the hub's.
fn kind_from_proto(value: i32) -> Option<AgencyKind> {
    AgencyKind::from_proto(value).filter(|kind| *kind != AgencyKind::Hub)
}

/// The violations of an operator write, starting with its `request_id`'s.
pub(crate) fn violations_with_request_id(request_id: &str) -> Violations {
    let mut violations = Violations::new();
    liaison_rpc::check_request_id(&mut violations, request_id, "request_id");
    violations
}

/// A required text of at most [`TEXT_MAX`] characters, trimmed.
pub(crate) fn text(violations: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        violations.add(field, "required");
    } else if value.chars().count() > TEXT_MAX {
        violations.add(field, format!("at most {TEXT_MAX} characters"));
    }
    value.to_owned()
}

/// Parses an agency id field.
pub(crate) fn agency_id(violations: &mut Violations, field: &str, value: &str) -> Option<AgencyId> {
    violations.check(field, AgencyId::parse(value))
}

/// The roles of a request: known values, each once, consistent with the principal's kind
/// and agency (hub roles only for the hub's principals, `system` only for systems).
pub(crate) fn roles(
    violations: &mut Violations,
    field: &str,
    values: &[i32],
    principal: Option<(&PrincipalId, bool)>,
) -> Vec<Role> {
    let mut roles = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let field = format!("{field}[{index}]");
        let Some(role) = Role::from_proto(*value) else {
            violations.add(field, "unknown role");
            continue;
        };
        if roles.contains(&role) {
            violations.add(field, "listed twice");
            continue;
        }
        if let Some((principal, is_hub)) = principal {
            let hub_role = matches!(role, Role::Operator | Role::OversightAuditor);
            if hub_role && !is_hub {
                violations.add(
                    field.clone(),
                    "operator and oversight_auditor are roles of the hub's own principals",
                );
            }
            if is_hub && matches!(role, Role::System | Role::Officer) {
                violations.add(field.clone(), "the hub's principals exchange no traffic");
            }
            let system_kind = principal.kind() == PrincipalKind::System;
            if (role == Role::System) != system_kind {
                violations.add(
                    field,
                    "the system role belongs to system principals, and only to them",
                );
            }
        }
        roles.push(role);
    }
    if values.is_empty() {
        violations.add(field, "at least one role is required");
    }
    roles
}

/// A principal reference field.
pub(crate) fn principal(
    violations: &mut Violations,
    field: &str,
    value: Option<&v1::PrincipalRef>,
) -> Option<PrincipalId> {
    let Some(value) = value else {
        violations.add(field, "required");
        return None;
    };
    let agency = agency_id(violations, &format!("{field}.agency_id"), &value.agency_id);
    let kind = PrincipalKind::from_proto(value.kind);
    if kind.is_none() {
        violations.add(format!("{field}.kind"), "system or person");
    }

    let name = violations.check(format!("{field}.name"), PrincipalName::parse(&value.name));
    Some(PrincipalId::new(agency?, kind?, name?))
}

/// A new agency from a RegisterAgency request. The state, when given, must be one the
/// directory knows (`known_state`) and prefix the id.
pub(crate) fn new_agency(
    violations: &mut Violations,
    agency: Option<&v1::Agency>,
    known_state: Option<StateRecord>,
) -> Option<AgencyRecord> {
    let Some(agency) = agency else {
        violations.add("agency", "required");
        return None;
    };
    let id = agency_id(violations, "agency.id", &agency.id);
    let name = text(violations, "agency.name", &agency.name);
    let kind = kind_from_proto(agency.kind);
    if kind.is_none() {
        violations.add(
            "agency.kind",
            "police, cert, ministry or international (the hub is not registered)",
        );
    }
    let native_name = match &agency.native_name {
        Some(native) if !native.text.trim().is_empty() => {
            let text = text(violations, "agency.native_name.text", &native.text);
            if native.language.is_empty() || native.language.len() > 35 {
                violations.add("agency.native_name.language", "a BCP 47 language tag");
            }
            Some((text, native.language.clone()))
        }
        _ => None,
    };
    let state = match (&agency.state, &id) {
        (Some(state), Some(id)) => {
            if id.state_code() != Some(state.code.as_str()) {
                violations.add(
                    "agency.state.code",
                    "must be the state code the agency id starts with",
                );
            }
            if known_state.is_none() {
                violations.add(
                    "agency.state.code",
                    "no such state in the directory (states come from the federation file)",
                );
            }
            known_state
        }
        (None, Some(id)) => {
            if id.state_code().is_some() {
                violations.add(
                    "agency.state",
                    "a national agency needs its state; INT- and EU- bodies have none",
                );
            }
            None
        }
        _ => None,
    };
    Some(AgencyRecord {
        id: id?,
        name,
        native_name,
        kind: kind?,
        state,
        suspended: false,
    })
}

/// A sharing group's id, name and members from a request (members unchecked against the
/// directory: the caller does that).
pub(crate) fn group(
    violations: &mut Violations,
    group: Option<&v1::SharingGroup>,
    id: Option<GroupId>,
) -> Option<(GroupId, String, Vec<AgencyId>)> {
    let Some(group) = group else {
        violations.add("sharing_group", "required");
        return None;
    };
    let id = match id {
        Some(id) => Some(id),
        None => violations.check("sharing_group.id", GroupId::parse(&group.id)),
    };
    let name = text(violations, "sharing_group.name", &group.name);
    let mut members: Vec<AgencyId> = Vec::new();
    for (index, member) in group.member_agency_ids.iter().enumerate() {
        let field = format!("sharing_group.member_agency_ids[{index}]");
        if let Some(member) = agency_id(violations, &field, member) {
            if members.contains(&member) {
                violations.add(field, "listed twice");
            } else {
                members.push(member);
            }
        }
    }
    if group.member_agency_ids.is_empty() {
        violations.add("sharing_group.member_agency_ids", "at least one member");
    }
    members.sort();
    Some((id?, name, members))
}

/// A certificate fingerprint: 64 hex digits, returned lowercase.
pub(crate) fn fingerprint(violations: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim().to_ascii_lowercase();
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        violations.add(
            field,
            "the certificate's SHA-256 fingerprint: 64 hex digits",
        );
    }
    value
}
