//! Revocation, listing, sightings, lookups and correlations. Every answer is computed from
//! the stored indicators the caller may see (`authorize(…, Action::Receive)`); an indicator
//! the caller may not see contributes nothing — no count, no date, no id — so that
//! nothing derived from it leaks (MISP leaked correlations across sharing groups this way).

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Action, Caller, agency_may_receive, authorize};
use liaison_core::ObservableType;
use liaison_core::{
    AgencyId, Indicator, ObjectId, Observable, PrincipalKind, Timestamp, Violations,
};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{AuditContext, ServiceError, from_timestamp, page_size, to_timestamp};
use liaison_store::{
    CorrelationRecord, Holder, IndicatorFilter, RevokeOutcome, SightingRecord, Store, Viewer,
};

use crate::{
    convert,
    visibility::{Filter, receives, visible, without_personal_data},
};

/// Longest revocation reason, in characters.
const REASON_MAX: usize = 500;
/// Most indicators holding one observable a Lookup considers (of those the caller may
/// see: visibility is decided before this limit).
const MATCHES_MAX: u32 = 1_000;
/// Most sightings of one value a Lookup reads (at most
/// [`liaison_store::SIGHTINGS_PER_AGENCY`] of each reporting agency).
const SIGHTINGS_MAX: u32 = 1_000;

/// What the store needs to decide in SQL what `caller` may receive: the inputs of
/// `authorize(…, Action::Receive)`.
pub(crate) fn viewer(caller: &Caller) -> Viewer {
    Viewer {
        agency: caller.agency().clone(),
        groups: caller.groups().to_vec(),
        person: caller.principal().kind() == PrincipalKind::Person,
        hub: caller.is_hub(),
    }
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// [`visible`] for an item a Lookup found.
fn holder_visible(caller: &Caller, holder: &Holder) -> bool {
    receives(caller, &holder.source_agency, &holder.scope, holder.tlp)
}

pub(crate) fn observable_from_proto(
    violations: &mut Violations,
    field: &str,
    observable: Option<&v1::Observable>,
) -> Option<Observable> {
    let Some(observable) = observable else {
        violations.add(field, "required");
        return None;
    };
    let Some(kind) = ObservableType::from_proto(observable.r#type) else {
        violations.add(format!("{field}.type"), "unknown observable type");
        return None;
    };
    violations.check(
        format!("{field}.value"),
        Observable::parse(kind, &observable.value),
    )
}

/// RevokeIndicator: the stored owner only; others who may see it are refused, others
/// still get NOT_FOUND.
pub(crate) async fn revoke(
    store: &Store,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::RevokeIndicatorRequest,
) -> Result<v1::RevokeIndicatorResponse, ServiceError> {
    let mut violations = Violations::new();
    liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
    let id = violations.check(
        "indicator_id",
        ObjectId::parse(ObjectId::INDICATOR, &request.indicator_id),
    );
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        violations.add(
            "reason",
            format!("required, at most {REASON_MAX} characters"),
        );
    }
    violations.into_result(|| ())?;
    let Some(id) = id else {
        return Err(ServiceError::invalid("indicator_id", "required"));
    };
    let stored = store
        .get_indicator(&id)
        .await?
        .filter(|indicator| visible(caller, indicator))
        .ok_or(ServiceError::NotFound("indicator"))?;
    authorize(
        caller,
        Action::Change {
            owner: &stored.source_agency,
        },
    )?;
    let record = audit.write_record(ObjectAccess {
        id: stored.id.to_string(),
        access: Access::Write,
        owner_agency: Some(stored.source_agency.to_string()),
        anonymous: stored.content.anonymous,
    });
    let outcome = store
        .revoke_indicator(&id, &reason, now(), &record)
        .await?
        .ok_or(ServiceError::NotFound("indicator"))?;
    let indicator = match outcome {
        RevokeOutcome::Revoked(indicator) => {
            audit.mark_recorded();
            tracing::info!(indicator = %indicator.id, agency = %caller.agency(), "indicator revoked");
            indicator
        }
        // Revoking twice changes nothing; the first reason stands.
        RevokeOutcome::AlreadyRevoked(indicator) => {
            audit.touch_sourced(
                indicator.id.as_str(),
                Access::Read,
                Some(&indicator.source_agency),
                indicator.content.anonymous,
            );
            audit.commit_read(store).await?;
            indicator
        }
    };
    Ok(v1::RevokeIndicatorResponse {
        indicator: Some(convert::indicator_to_proto(&indicator, caller)),
    })
}

fn page_token(indicator: &Indicator) -> String {
    format!("{}.{}", indicator.created.as_micros(), indicator.id)
}

fn parse_page_token(token: &str) -> Result<Option<(i64, String)>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ServiceError::invalid("page_token", "page_token is not one this hub issued");
    let (micros, id) = token.split_once('.').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    ObjectId::parse(ObjectId::INDICATOR, id).map_err(|_| bad())?;
    Ok(Some((micros, id.to_owned())))
}

/// ListIndicators: newest first, only what the caller may see, filtered. Visibility and
/// every filter are decided in SQL before the page's limit, so an item the caller may not
/// see is never read, never counted and never the source of a page token; each row read
/// is checked again with `authorize`. Whether a purpose is needed is decided from the
/// request alone, before anything is read: always, unless the filter names only types
/// that are not personal data, and then personal observables are left out of the answer
/// when no purpose was stated.
pub(crate) async fn list(
    store: &Store,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::ListIndicatorsRequest,
) -> Result<v1::ListIndicatorsResponse, ServiceError> {
    let limit = page_size(request.page_size, 50, 500)?;
    let filter = Filter::from_request(&v1::SubscribeRequest {
        after: None,
        categories: request.categories.clone(),
        observable_types: request.observable_types.clone(),
        tlps: request.tlps.clone(),
        source_agency_ids: request.source_agency_ids.clone(),
    })?;
    if request.text.chars().count() > 200 {
        return Err(ServiceError::invalid("text", "at most 200 characters"));
    }
    let position = parse_page_token(&request.page_token)?;
    if filter.may_deliver_personal_data() {
        audit.require_justification()?;
    }
    let withhold_personal = audit.justification().is_none();
    let store_filter = IndicatorFilter {
        categories: filter.categories().to_vec(),
        observable_types: filter.observable_types().to_vec(),
        source_agencies: filter.source_agencies().to_vec(),
        tlps: filter.tlps().to_vec(),
        text: request
            .text
            .split_whitespace()
            .take(8)
            .map(str::to_owned)
            .collect(),
        include_inactive: request.include_inactive,
        now: now(),
    };
    // One row more than the page tells whether another page follows.
    let mut rows = store
        .list_indicators(&viewer(caller), &store_filter, position.as_ref(), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut found = Vec::with_capacity(rows.len());
    for indicator in rows {
        if visible(caller, &indicator) && filter.matches_indicator(&indicator, caller) {
            found.push(indicator);
        } else {
            // SQL and `authorize` disagree: a bug. The row is not shown, and no token is
            // made from it.
            tracing::error!(indicator = %indicator.id, "a listed row failed the visibility check");
        }
    }
    for indicator in &found {
        audit.touch_sourced(
            indicator.id.as_str(),
            Access::Read,
            Some(&indicator.source_agency),
            indicator.content.anonymous,
        );
    }
    audit.commit_read(store).await?;
    // A page with more after it continues after its last item shown.
    let next_page_token = if more {
        found.last().map(page_token).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(v1::ListIndicatorsResponse {
        indicators: found
            .iter()
            .map(|indicator| {
                if withhold_personal {
                    convert::indicator_to_proto(&without_personal_data(indicator), caller)
                } else {
                    convert::indicator_to_proto(indicator, caller)
                }
            })
            .collect(),
        next_page_token,
    })
}

/// ReportSighting: any member that may see the observable.
pub(crate) async fn report_sighting(
    store: &Store,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::ReportSightingRequest,
) -> Result<v1::ReportSightingResponse, ServiceError> {
    let mut violations = Violations::new();
    liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
    let sighting = request.sighting.unwrap_or_default();
    let observable = observable_from_proto(
        &mut violations,
        "sighting.observable",
        sighting.observable.as_ref(),
    );
    if sighting.count == 0 {
        violations.add("sighting.count", "at least 1");
    }
    let now = now();
    let first = sighting.first_seen_time.as_ref().and_then(from_timestamp);
    let last = sighting.last_seen_time.as_ref().and_then(from_timestamp);
    let (first, last) = match (first, last) {
        (Some(first), Some(last)) if first <= last => (first, last),
        (Some(_), Some(_)) => {
            violations.add(
                "sighting.last_seen_time",
                "must not be before first_seen_time",
            );
            (now, now)
        }
        (None, None) => (now, now),
        (Some(one), None) | (None, Some(one)) => (one, one),
    };
    // A minute of clock skew is tolerated; a sighting in the future is not one.
    if last.as_micros() > now.as_micros() + 60_000_000 {
        violations.add("sighting.last_seen_time", "must not be in the future");
    }
    violations.into_result(|| ())?;
    let Some(observable) = observable else {
        return Err(ServiceError::invalid("sighting.observable", "required"));
    };
    if !store
        .visible_holder_exists(&viewer(caller), &observable, now)
        .await?
    {
        // Unknown, or known only in items the caller may not see: the same answer.
        return Err(ServiceError::NotFound("observable"));
    }
    let record = SightingRecord {
        observable: observable.clone(),
        agency: caller.agency().clone(),
        count: sighting.count,
        first_seen: first,
        last_seen: last,
    };
    let audit_record = audit.write_record(ObjectAccess {
        id: format!("observable:{}:{}", observable.kind(), observable.value()),
        access: Access::Write,
        owner_agency: Some(caller.agency().to_string()),
        anonymous: false,
    });
    store
        .report_sighting(caller.principal(), &record, now, &audit_record)
        .await?;
    audit.mark_recorded();
    Ok(v1::ReportSightingResponse {
        sighting: Some(sighting_to_proto(&record)),
    })
}

fn sighting_to_proto(record: &SightingRecord) -> v1::Sighting {
    v1::Sighting {
        observable: Some(convert::observable_to_proto(&record.observable)),
        count: record.count,
        first_seen_time: Some(to_timestamp(record.first_seen)),
        last_seen_time: Some(to_timestamp(record.last_seen)),
        agency_id: record.agency.to_string(),
    }
}

/// The sightings of a value that the caller may learn of: a sighting tells that its
/// reporting agency held the value, so the caller sees it only where the caller and the
/// reporter may both see one item holding the value (`holders`: those the caller may see).
/// Otherwise an item the caller may not see would leak through who sighted its values.
async fn sightings_visible(
    store: &Store,
    caller: &Caller,
    holders: &[Holder],
    sightings: Vec<SightingRecord>,
) -> Result<Vec<SightingRecord>, ServiceError> {
    let mut groups: std::collections::HashMap<AgencyId, Vec<liaison_core::GroupId>> =
        std::collections::HashMap::new();
    let mut visible = Vec::new();
    for sighting in sightings {
        if &sighting.agency != caller.agency() {
            if !groups.contains_key(&sighting.agency) {
                let found = store.groups_of(&sighting.agency).await?;
                groups.insert(sighting.agency.clone(), found);
            }
            let reporter_groups = groups
                .get(&sighting.agency)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let shared = holders.iter().any(|item| {
                agency_may_receive(
                    &sighting.agency,
                    reporter_groups,
                    &item.source_agency,
                    &item.scope,
                    item.tlp,
                )
            });
            if !shared {
                continue;
            }
        }
        visible.push(sighting);
    }
    Ok(visible)
}

/// Lookup: what the federation knows of one value, within the caller's visibility.
pub(crate) async fn lookup(
    store: &Store,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::LookupRequest,
) -> Result<v1::LookupResponse, ServiceError> {
    let mut violations = Violations::new();
    let observable =
        observable_from_proto(&mut violations, "observable", request.observable.as_ref());
    violations.into_result(|| ())?;
    let Some(observable) = observable else {
        return Err(ServiceError::invalid("observable", "required"));
    };
    if observable.kind().is_personal_data() {
        audit.require_justification()?;
    }
    let (holders, sightings) = store
        .observable_record(
            &viewer(caller),
            &observable,
            now(),
            MATCHES_MAX,
            SIGHTINGS_MAX,
        )
        .await?;
    let holders: Vec<Holder> = holders
        .into_iter()
        .filter(|holder| holder_visible(caller, holder))
        .collect();
    // Each anonymous item of another agency counts as one agency of its own: folding it
    // into a named agency's count would tell the caller who published it.
    let mut agencies: Vec<&AgencyId> = holders
        .iter()
        .filter(|i| !i.anonymous || &i.source_agency == caller.agency())
        .map(|i| &i.source_agency)
        .collect();
    agencies.sort();
    agencies.dedup();
    let anonymous = holders
        .iter()
        .filter(|i| i.anonymous && &i.source_agency != caller.agency())
        .count();
    let first_seen = holders
        .iter()
        .map(|i| i.first_seen.unwrap_or(i.created))
        .min();
    let mut last_seen = holders.iter().map(|i| i.created).max();
    let sightings = if holders.is_empty() {
        Vec::new()
    } else {
        sightings_visible(store, caller, &holders, sightings).await?
    };
    if let Some(latest) = sightings.iter().map(|s| s.last_seen).max() {
        last_seen = last_seen.max(Some(latest));
    }
    for indicator in &holders {
        audit.touch_sourced(
            indicator.id.as_str(),
            Access::Read,
            Some(&indicator.source_agency),
            indicator.anonymous,
        );
    }
    audit.commit_read(store).await?;
    Ok(v1::LookupResponse {
        observable: Some(convert::observable_to_proto(&observable)),
        reporting_agency_count: u32::try_from(agencies.len() + anonymous).unwrap_or(u32::MAX),
        first_seen_time: first_seen.map(to_timestamp),
        last_seen_time: last_seen.map(to_timestamp),
        fraud_method_ids: holders
            .iter()
            .filter(|i| i.fraud_method)
            .map(|i| i.id.to_string())
            .collect(),
        // Client-supplied counts: summed without overflow, saturating.
        sighting_count: u32::try_from(
            sightings
                .iter()
                .fold(0_u64, |sum, s| sum.saturating_add(u64::from(s.count))),
        )
        .unwrap_or(u32::MAX),
        sightings: sightings.iter().map(sighting_to_proto).collect(),
    })
}

/// After a publication: for each of its observables that another agency's active item
/// holds, and where each agency may see the other's item, both are told — once per other
/// agency and observable, about that agency's newest such item, so that a value many
/// items share does not multiply the events.
pub(crate) async fn correlate(store: &Store, published: &Indicator) -> Result<(), ServiceError> {
    correlate_batch(store, std::slice::from_ref(published)).await
}

/// [`correlate`] for the items of one PublishMany batch (all of one agency): one query
/// finds which of their values other agencies hold at all; only those are looked at.
pub(crate) async fn correlate_batch(
    store: &Store,
    batch: &[Indicator],
) -> Result<(), ServiceError> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    let mine = &first.source_agency;
    let all: Vec<Observable> = batch
        .iter()
        .flat_map(|indicator| indicator.content.observables.iter().cloned())
        .collect();
    let held = store.observables_held_by_others(mine, &all).await?;
    if held.is_empty() {
        return Ok(());
    }
    let my_groups = store.groups_of(mine).await?;
    let mut correlations = Vec::new();
    for published in batch {
        correlations.extend(matches_of(store, published, &my_groups, &held).await?);
    }
    store.record_correlations(&correlations, now()).await?;
    Ok(())
}

async fn matches_of(
    store: &Store,
    published: &Indicator,
    my_groups: &[liaison_core::GroupId],
    held: &std::collections::HashSet<(String, String)>,
) -> Result<Vec<CorrelationRecord>, ServiceError> {
    let mut correlations = Vec::new();
    let mine = &published.source_agency;
    for observable in &published.content.observables {
        let key = (
            observable.kind().as_str().to_owned(),
            observable.value().to_owned(),
        );
        if !held.contains(&key) {
            continue;
        }
        // At most one per other agency, each visible both ways (decided in SQL, so that
        // no other item crowds them out); checked again below.
        let holders = store
            .correlation_candidates(published, observable, now())
            .await?;
        let mut told: Vec<&AgencyId> = Vec::new();
        let mut groups: std::collections::HashMap<&AgencyId, Vec<liaison_core::GroupId>> =
            std::collections::HashMap::new();
        // Newest first: the first visible item of each agency is the one to name.
        for other in &holders {
            if told.contains(&&other.source_agency) {
                continue;
            }
            if !groups.contains_key(&other.source_agency) {
                let found = store.groups_of(&other.source_agency).await?;
                groups.insert(&other.source_agency, found);
            }
            let their_groups = groups
                .get(&other.source_agency)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let they_see_mine = agency_may_receive(
                &other.source_agency,
                their_groups,
                mine,
                &published.content.scope,
                published.content.tlp,
            );
            let i_see_theirs = agency_may_receive(
                mine,
                my_groups,
                &other.source_agency,
                &other.content.scope,
                other.content.tlp,
            );
            if !(they_see_mine && i_see_theirs) {
                continue;
            }
            told.push(&other.source_agency);
            for (target, own, theirs) in [
                (mine, &published.id, &other.id),
                (&other.source_agency, &other.id, &published.id),
            ] {
                correlations.push(CorrelationRecord {
                    id: ObjectId::generate(ObjectId::CORRELATION).to_string(),
                    target: target.clone(),
                    own_indicator: own.clone(),
                    other_indicator: theirs.clone(),
                    observable: observable.clone(),
                });
            }
        }
    }
    Ok(correlations)
}

/// LinkObservables: standalone observable items of the caller's agency joined to one of
/// its fraud methods. Every item is checked as stored: visible, the caller's agency's,
/// of the right kind.
pub(crate) async fn link(
    store: &Store,
    caller: &Caller,
    audit: &AuditContext,
    request: v1::LinkObservablesRequest,
) -> Result<v1::LinkObservablesResponse, ServiceError> {
    let mut violations = Violations::new();
    liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
    let method_id = violations.check(
        "fraud_method_id",
        ObjectId::parse(ObjectId::INDICATOR, &request.fraud_method_id),
    );
    let mut ids = Vec::new();
    for (index, id) in request.indicator_ids.iter().enumerate() {
        if let Some(id) = violations.check(
            format!("indicator_ids[{index}]"),
            ObjectId::parse(ObjectId::INDICATOR, id),
        ) {
            ids.push(id);
        }
    }
    if request.indicator_ids.is_empty() || request.indicator_ids.len() > 1_000 {
        violations.add("indicator_ids", "1 to 1000 indicator ids");
    }
    violations.into_result(|| ())?;
    let Some(method_id) = method_id else {
        return Err(ServiceError::invalid("fraud_method_id", "required"));
    };
    // Every item in one read (two queries per 500 ids), not one by one.
    let mut wanted = ids.clone();
    wanted.push(method_id.clone());
    let stored = store.get_indicators(&wanted).await?;
    let load = |id: &ObjectId| {
        stored
            .get(id)
            .filter(|indicator| visible(caller, indicator))
            .ok_or(ServiceError::NotFound("indicator"))
    };
    let method = load(&method_id)?;
    authorize(
        caller,
        Action::Change {
            owner: &method.source_agency,
        },
    )?;
    if method.content.fraud_method.is_none() {
        return Err(ServiceError::FailedPrecondition(
            "fraud_method_id names an indicator without a fraud method".into(),
        ));
    }
    for id in &ids {
        let item = load(id)?;
        authorize(
            caller,
            Action::Change {
                owner: &item.source_agency,
            },
        )?;
        if item.content.fraud_method.is_some() {
            return Err(ServiceError::FailedPrecondition(format!(
                "{id} is a fraud method, not a standalone observable item"
            )));
        }
        // Both ends of a link have one owner: a link between an anonymous item and a
        // named one would name the anonymous one's source (review M3).
        if item.content.anonymous != method.content.anonymous {
            return Err(ServiceError::FailedPrecondition(format!(
                "{id} and the fraud method differ in anonymity: linking them would name the \
                 anonymous one's source; publish them both anonymous or both named"
            )));
        }
    }
    for id in &ids {
        audit.touch(id.as_str(), Access::Write, Some(caller.agency()));
    }
    let record = audit.write_record(ObjectAccess {
        id: method.id.to_string(),
        access: Access::Write,
        owner_agency: Some(method.source_agency.to_string()),
        anonymous: false,
    });
    store
        .link_observables(&method.id, &ids, now(), &record)
        .await?;
    audit.mark_recorded();
    Ok(v1::LinkObservablesResponse {
        fraud_method: Some(convert::indicator_to_proto(method, caller)),
    })
}
