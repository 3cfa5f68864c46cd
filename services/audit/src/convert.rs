//! Audit records, as one viewer may see them, to API messages.

use liaison_audit::{Access, Disclosure, Sealed, Viewer};
use liaison_proto::v1;
use liaison_rpc::to_timestamp;

fn role(name: &str) -> v1::Role {
    match name {
        "system" => v1::Role::System,
        "officer" => v1::Role::Officer,
        "auditor" => v1::Role::Auditor,
        "oversight_auditor" => v1::Role::OversightAuditor,
        "operator" => v1::Role::Operator,
        _ => v1::Role::Unspecified,
    }
}

/// The viewer an auditor is: `None` is hub oversight, else the auditor's agency.
pub(crate) fn viewer(visible_to: Option<&str>) -> Viewer<'_> {
    visible_to.map_or(Viewer::Oversight, Viewer::Agency)
}

/// What `viewer` may be shown of a stored record.
pub(crate) fn disclose(stored: &str, viewer: Viewer<'_>) -> Disclosure {
    Sealed::parse(stored.as_bytes()).disclose(viewer)
}

/// A disclosed record as the API shows it.
pub(crate) fn record(leaf_index: u64, disclosure: &Disclosure) -> v1::AuditRecord {
    let record = &disclosure.view.record;
    let actor = &record.actor;
    let kind = match actor.kind.as_deref() {
        Some("system") => v1::PrincipalKind::System,
        Some("person") => v1::PrincipalKind::Person,
        _ => v1::PrincipalKind::Unspecified,
    };
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    v1::AuditRecord {
        leaf_index,
        time: (record.time_us != 0)
            .then(|| to_timestamp(liaison_core::Timestamp::from_micros(record.time_us))),
        actor: Some(v1::AuditActor {
            principal: actor.agency.as_ref().map(|agency| v1::PrincipalRef {
                agency_id: agency.clone(),
                kind: kind as i32,
                name: text(&actor.name),
            }),
            certificate_sha256: text(&actor.certificate_sha256),
            token_id: text(&actor.token_id),
            roles: actor.roles.iter().map(|r| role(r) as i32).collect(),
        }),
        method: record.method.clone(),
        objects: record
            .objects
            .iter()
            .map(|object| v1::AuditObjectAccess {
                object_id: object.id.clone(),
                access: match object.access {
                    Access::Read => v1::AuditAccessKind::Read,
                    Access::Write => v1::AuditAccessKind::Write,
                    Access::Deliver => v1::AuditAccessKind::Deliver,
                } as i32,
                owner_agency_id: text(&object.owner_agency),
                recipient_agency_ids: Vec::new(),
                anonymous: object.anonymous,
            })
            .collect(),
        outcome: Some(v1::AuditOutcome {
            code: record.outcome,
            deny_reason: text(&record.deny_reason),
        }),
        justification: text(&record.justification),
        client_address: text(&record.client_address),
        trace_id: record.trace_id.clone(),
        redacted: disclosure.view.redacted,
        ..v1::AuditRecord::default()
    }
}
