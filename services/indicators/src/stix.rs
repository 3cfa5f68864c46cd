//! ExportStix and ImportStix: the STIX 2.1 mapping itself is `liaison_core::stix`; here
//! are visibility, authorization, idempotency and audit.

use liaison_audit::Access;
use liaison_auth::{Action, Caller, authorize};
use liaison_core::Tlp;
use liaison_core::{ObjectId, ObservableType, Violations, stix};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{AuditContext, ServiceError};
use liaison_store::{PublishOutcome, StoreError};

use crate::{IndicatorService, convert, exchange, visibility};

/// ExportStix: exactly the visibility of GetIndicator — NOT_FOUND for what the caller may
/// not see — and, like it, a purpose for personal data and a read record before the data.
pub(crate) async fn export(
    store: &liaison_store::Store,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::ExportStixRequest,
) -> Result<v1::ExportStixResponse, ServiceError> {
    let id = ObjectId::parse(ObjectId::INDICATOR, &request.indicator_id)
        .map_err(|error| ServiceError::invalid("indicator_id", error.to_string()))?;
    let indicator = store
        .get_indicator(&id)
        .await?
        .filter(|indicator| visibility::visible(caller, indicator))
        .ok_or(ServiceError::NotFound("indicator"))?;
    if indicator
        .observable_types()
        .any(ObservableType::is_personal_data)
    {
        audit.require_justification()?;
    }
    audit.touch_sourced(
        indicator.id.as_str(),
        Access::Read,
        Some(&indicator.source_agency),
        indicator.content.anonymous,
    );
    audit.commit_read(store).await?;
    Ok(v1::ExportStixResponse {
        bundle_json: stix::export(&indicator, stix::Source::of(&indicator)),
    })
}

/// The idempotency key of the `index`th item of an import. A space never occurs in a
/// client's request_id (printable ASCII without spaces), so these keys cannot collide
/// with a Publish of the same principal.
fn item_request_id(request_id: &str, index: usize) -> String {
    format!("{request_id} stix {index}")
}

/// The indicators an earlier import with `request_id` stored (none: not a retry), each
/// recorded as read.
async fn retried(
    service: &IndicatorService,
    caller: &Caller,
    audit: &AuditContext,
    request_id: &str,
) -> Result<Vec<v1::Indicator>, ServiceError> {
    let mut first = Vec::new();
    while let Some(indicator) = service
        .store
        .published_by_request(
            caller.principal(),
            &item_request_id(request_id, first.len()),
        )
        .await
        .map_err(|error| match error {
            StoreError::RequestIdReused(_) => ServiceError::invalid(
                "request_id",
                "request_id was already used for a different call",
            ),
            error => error.into(),
        })?
    {
        audit.touch_sourced(
            indicator.id.as_str(),
            Access::Read,
            Some(&indicator.source_agency),
            indicator.content.anonymous,
        );
        first.push(convert::indicator_to_proto(&indicator, caller));
    }
    if !first.is_empty() {
        audit.commit_read(&service.store).await?;
    }
    Ok(first)
}

/// What ImportStix checks before it stores anything: the request id, the default TLP and
/// the bundle, all or nothing.
pub(crate) fn check_import(
    request: &v1::ImportStixRequest,
) -> Result<Vec<stix::ImportedIndicator>, Violations> {
    let mut violations = Violations::new();
    liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
    let default_tlp = match request.default_tlp {
        0 => None,
        value => {
            let tlp = Tlp::from_proto(value);
            if tlp.is_none() {
                violations.add("default_tlp", "unknown TLP");
            }
            tlp
        }
    };
    let scope = convert::scope_draft(request.scope.clone());
    let imported = match stix::import(&request.bundle_json, default_tlp, &scope) {
        Ok(imported) => imported,
        Err(found) => {
            for violation in found {
                violations.add(violation.field, violation.description);
            }
            Vec::new()
        }
    };
    violations.into_result(|| imported)
}

/// ImportStix: the bundle is read and every item validated before anything is stored
/// (one refused object refuses the import, each named by its STIX id); then all items are
/// stored in one transaction as the caller's agency, each with its audit record. A retry
/// with the same request_id returns the first import's indicators and stores nothing.
pub(crate) async fn import(
    service: &IndicatorService,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::ImportStixRequest,
) -> Result<v1::ImportStixResponse, ServiceError> {
    let imported = check_import(&request)?;
    // A retry answers with the first import's indicators, whatever the bundle is now.
    let first = retried(service, caller, audit, &request.request_id).await?;
    if !first.is_empty() {
        return Ok(v1::ImportStixResponse {
            indicators: first,
            duplicate: true,
        });
    }
    for item in &imported {
        authorize(
            caller,
            Action::Publish {
                tlp: item.indicator.tlp,
                scope: &item.indicator.scope,
            },
        )?;
    }
    if let Some(first) = imported.first() {
        service
            .check_scope_members(&first.indicator.scope, "scope")
            .await?;
    }

    let items: Vec<(String, liaison_core::NewIndicator)> = imported
        .into_iter()
        .enumerate()
        .map(|(index, item)| (item_request_id(&request.request_id, index), item.indicator))
        .collect();
    let outcomes = service
        .store_items(
            caller,
            audit,
            &items,
            &mut liaison_store::BatchOrder::default(),
        )
        .await?;
    let mut stored = Vec::new();
    let mut indicators = Vec::with_capacity(outcomes.len());
    // The first imports that a repeated import returns are read.
    let mut read = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(PublishOutcome::Stored(indicator)) => {
                indicators.push(convert::indicator_to_proto(&indicator, caller));
                stored.push(indicator);
            }
            Ok(PublishOutcome::Duplicate(first)) => {
                indicators.push(convert::indicator_to_proto(&first, caller));
                read.push(first);
            }
            Err(StoreError::RequestIdReused(_)) => {
                return Err(ServiceError::invalid(
                    "request_id",
                    "request_id was already used for a different call",
                ));
            }
            Err(error) => return Err(error.into()),
        }
    }
    crate::record_reads(&service.store, audit, &read).await?;
    if let Err(error) = exchange::correlate_batch(&service.store, &stored).await {
        tracing::error!(%error, "correlation of an import failed");
    }
    tracing::info!(agency = %caller.agency(), stored = stored.len(), items = indicators.len(), "STIX bundle imported");
    // A retry that raced the first import: every item came back as that import's.
    let duplicate = stored.is_empty() && !read.is_empty();
    Ok(v1::ImportStixResponse {
        indicators,
        duplicate,
    })
}
