//! QueryRecords requests to store queries.

use liaison_proto::v1;
use liaison_rpc::{ServiceError, from_timestamp, page_size};
use liaison_store::{AuditQuery, OutcomeClass};

/// Translates a request; `visible_to` limits an agency auditor to its agency's records.
pub(crate) fn from_request(
    request: &v1::QueryRecordsRequest,
    visible_to: Option<String>,
) -> Result<AuditQuery, ServiceError> {
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let time = |field: &str, value: &Option<prost_types::Timestamp>| match value {
        None => Ok(None),
        Some(time) => from_timestamp(time)
            .map(|time| Some(time.as_micros()))
            .ok_or_else(|| ServiceError::invalid(field, "time out of range")),
    };
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(request.page_token.parse::<u64>().map_err(|_| {
            ServiceError::invalid("page_token", "page_token is not one this hub issued")
        })?)
    };
    let principal = request.principal.as_ref().map(|principal| {
        let kind = match v1::PrincipalKind::try_from(principal.kind) {
            Ok(v1::PrincipalKind::System) => "system",
            _ => "person",
        };
        format!("{}/{}/{}", principal.agency_id, kind, principal.name)
    });
    Ok(AuditQuery {
        start_us: time("start_time", &request.start_time)?,
        end_us: time("end_time", &request.end_time)?,
        actor_agency: non_empty(&request.agency_id),
        actor_principal: principal,
        method: non_empty(&request.method),
        object_id: non_empty(&request.object_id),
        owner_agency: non_empty(&request.owner_agency_id),
        outcome: match v1::AuditOutcomeClass::try_from(request.outcome_class) {
            Ok(v1::AuditOutcomeClass::Ok) => OutcomeClass::Ok,
            Ok(v1::AuditOutcomeClass::Denied) => OutcomeClass::Denied,
            Ok(v1::AuditOutcomeClass::Failed) => OutcomeClass::Failed,
            _ => OutcomeClass::Any,
        },
        codes: request.codes.iter().map(|code| i64::from(*code)).collect(),
        visible_to,
        after,
        newest_first: request.newest_first,
        limit: page_size(request.page_size, 100, 1_000)?,
    })
}
