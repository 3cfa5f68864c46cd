//! What a caller may see of the indicator exchange: the visibility rule every answer is
//! computed from, the filter a subscription or listing asks for, and what a caller that
//! stated no purpose is shown. Shared by Subscribe (`subscribe.rs`) and the other reads
//! (`exchange.rs`, `stix.rs`); it depends on neither.

use liaison_auth::{Action, Caller, authorize};
use liaison_core::{AgencyId, FraudCategory, Indicator, ObservableType, Scope, Tlp};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::ServiceError;

/// True when `caller` may see `indicator`.
pub(crate) fn visible(caller: &Caller, indicator: &Indicator) -> bool {
    receives(
        caller,
        &indicator.source_agency,
        &indicator.content.scope,
        indicator.content.tlp,
    )
}

/// Whether the caller may receive an item of `source` with this scope and TLP.
pub(crate) fn receives(caller: &Caller, source: &AgencyId, scope: &Scope, tlp: Tlp) -> bool {
    authorize(caller, Action::Receive { source, scope, tlp }).is_ok()
}

/// `indicator` without its personal-data observables (e-mail, phone, IBAN, messenger):
/// what a caller that stated no purpose is given.
pub(crate) fn without_personal_data(indicator: &Indicator) -> Indicator {
    let mut shown = indicator.clone();
    shown
        .content
        .observables
        .retain(|observable| !observable.kind().is_personal_data());
    shown
}

/// What a subscriber asked for; empty lists match everything.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    categories: Vec<FraudCategory>,
    observable_types: Vec<ObservableType>,
    tlps: Vec<Tlp>,
    source_agencies: Vec<AgencyId>,
}

/// Most source agencies one filter may name.
const SOURCES_MAX: usize = 100;

/// `values` without repeats, in their first order; a violation on `field` if more than
/// `max` were sent (a filter never needs a value twice, so a longer list is a mistake or
/// an attempt to make the query large).
fn distinct<T: PartialEq>(
    violations: &mut liaison_core::Violations,
    field: &str,
    sent: usize,
    max: usize,
    values: &mut Vec<T>,
) {
    if sent > max {
        violations.add(field, format!("at most {max} values"));
    }
    let mut kept: Vec<T> = Vec::with_capacity(values.len());
    for value in values.drain(..) {
        if !kept.contains(&value) {
            kept.push(value);
        }
    }
    *values = kept;
}

impl Filter {
    /// The filter of a request: each list checked, capped (at the number of values its
    /// field has, or [`SOURCES_MAX`] agencies) and without repeats.
    pub(crate) fn from_request(request: &v1::SubscribeRequest) -> Result<Self, ServiceError> {
        let mut violations = liaison_core::Violations::new();
        let mut filter = Filter::default();
        let too_many = |sent: usize, max: usize| sent > max;
        // Each value is looked at only when the list is within its cap.
        if !too_many(request.categories.len(), FraudCategory::ALL.len()) {
            for (index, value) in request.categories.iter().enumerate() {
                match FraudCategory::from_proto(*value) {
                    Some(category) => filter.categories.push(category),
                    None => {
                        violations.add(format!("categories[{index}]"), "unknown fraud category")
                    }
                }
            }
        }
        if !too_many(request.observable_types.len(), ObservableType::ALL.len()) {
            for (index, value) in request.observable_types.iter().enumerate() {
                match ObservableType::from_proto(*value) {
                    Some(kind) => filter.observable_types.push(kind),
                    None => violations.add(
                        format!("observable_types[{index}]"),
                        "unknown observable type",
                    ),
                }
            }
        }
        if !too_many(request.tlps.len(), Tlp::ALL.len()) {
            for (index, value) in request.tlps.iter().enumerate() {
                match Tlp::from_proto(*value) {
                    Some(tlp) => filter.tlps.push(tlp),
                    None => violations.add(format!("tlps[{index}]"), "unknown TLP marking"),
                }
            }
        }
        if !too_many(request.source_agency_ids.len(), SOURCES_MAX) {
            for (index, value) in request.source_agency_ids.iter().enumerate() {
                if let Some(agency) = violations.check(
                    format!("source_agency_ids[{index}]"),
                    AgencyId::parse(value),
                ) {
                    filter.source_agencies.push(agency);
                }
            }
        }
        distinct(
            &mut violations,
            "categories",
            request.categories.len(),
            FraudCategory::ALL.len(),
            &mut filter.categories,
        );
        distinct(
            &mut violations,
            "observable_types",
            request.observable_types.len(),
            ObservableType::ALL.len(),
            &mut filter.observable_types,
        );
        distinct(
            &mut violations,
            "tlps",
            request.tlps.len(),
            Tlp::ALL.len(),
            &mut filter.tlps,
        );
        distinct(
            &mut violations,
            "source_agency_ids",
            request.source_agency_ids.len(),
            SOURCES_MAX,
            &mut filter.source_agencies,
        );
        violations
            .into_result(|| filter)
            .map_err(ServiceError::from)
    }

    /// False only when the filter asks for observable types none of which is personal data.
    pub(crate) fn may_deliver_personal_data(&self) -> bool {
        self.observable_types.is_empty()
            || self
                .observable_types
                .iter()
                .any(|kind| kind.is_personal_data())
    }

    /// The categories asked for.
    pub(crate) fn categories(&self) -> &[FraudCategory] {
        &self.categories
    }

    /// The TLPs asked for.
    pub(crate) fn tlps(&self) -> &[Tlp] {
        &self.tlps
    }

    /// The observable types asked for.
    pub(crate) fn observable_types(&self) -> &[ObservableType] {
        &self.observable_types
    }

    /// The source agencies asked for.
    pub(crate) fn source_agencies(&self) -> &[AgencyId] {
        &self.source_agencies
    }

    pub(crate) fn matches_indicator(
        &self,
        indicator: &liaison_core::Indicator,
        viewer: &Caller,
    ) -> bool {
        let content = &indicator.content;
        let category_ok = self.categories.is_empty()
            || content
                .fraud_method
                .as_ref()
                .is_some_and(|method| self.categories.contains(&method.category));
        let type_ok = self.observable_types.is_empty()
            || indicator
                .observable_types()
                .any(|kind| self.observable_types.contains(&kind));
        let tlp_ok = self.tlps.is_empty() || self.tlps.contains(&content.tlp);
        // Filtering by source must not reveal the source of anonymous items.
        let source_visible = !content.anonymous || viewer.agency() == &indicator.source_agency;
        let source_ok = self.source_agencies.is_empty()
            || (source_visible && self.source_agencies.contains(&indicator.source_agency));
        category_ok && type_ok && tlp_ok && source_ok
    }
}
