//! Canonical audit records (JSON) to API messages.

use liaison_proto::v1;
use liaison_rpc::to_timestamp;
use serde_json::Value;

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

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

/// A logged record as the API shows it. A record that does not parse shows only its index.
pub(crate) fn record(leaf_index: u64, canonical: &str) -> v1::AuditRecord {
    let Ok(value) = serde_json::from_str::<Value>(canonical) else {
        return v1::AuditRecord {
            leaf_index,
            ..v1::AuditRecord::default()
        };
    };
    let actor = &value["actor"];
    let kind = match actor["kind"].as_str() {
        Some("system") => v1::PrincipalKind::System,
        Some("person") => v1::PrincipalKind::Person,
        _ => v1::PrincipalKind::Unspecified,
    };
    let principal = actor["agency"].as_str().map(|agency| v1::PrincipalRef {
        agency_id: agency.to_owned(),
        kind: kind as i32,
        name: text(&actor["name"]),
    });
    let time = value["time_us"]
        .as_i64()
        .map(|micros| to_timestamp(liaison_core::Timestamp::from_micros(micros)));
    v1::AuditRecord {
        leaf_index,
        time,
        actor: Some(v1::AuditActor {
            principal,
            certificate_sha256: text(&actor["certificate_sha256"]),
            token_id: text(&actor["token_id"]),
            roles: actor["roles"]
                .as_array()
                .map(|roles| {
                    roles
                        .iter()
                        .map(|r| role(r.as_str().unwrap_or_default()) as i32)
                        .collect()
                })
                .unwrap_or_default(),
        }),
        method: text(&value["method"]),
        objects: value["objects"]
            .as_array()
            .map(|objects| {
                objects
                    .iter()
                    .map(|object| v1::AuditObjectAccess {
                        object_id: text(&object["id"]),
                        access: match object["access"].as_str() {
                            Some("read") => v1::AuditAccessKind::Read,
                            Some("write") => v1::AuditAccessKind::Write,
                            Some("deliver") => v1::AuditAccessKind::Deliver,
                            _ => v1::AuditAccessKind::Unspecified,
                        } as i32,
                        owner_agency_id: text(&object["owner"]),
                        recipient_agency_ids: Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        outcome: Some(v1::AuditOutcome {
            code: i32::try_from(value["outcome"].as_i64().unwrap_or(2)).unwrap_or(2),
            deny_reason: text(&value["deny_reason"]),
        }),
        justification: text(&value["justification"]),
        client_address: text(&value["client_address"]),
        trace_id: text(&value["trace_id"]),
        ..v1::AuditRecord::default()
    }
}
