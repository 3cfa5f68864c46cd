//! Subscriptions: catch up from the store after a cursor, then follow new events.
//!
//! The loop (pages, waits, re-checks, audit records, back-pressure) is
//! [`liaison_rpc::EventStream`]'s; this module says which events a subscriber receives and
//! as what.

use liaison_auth::{Action, Caller, authorize};
use liaison_core::{AgencyId, FraudCategory, ObservableType, Timestamp, Tlp};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{Call, Delivery, EventFeed, ServiceError, delivered, to_timestamp};
use liaison_store::{CorrelationRecord, IndicatorEvent, IndicatorEventKind, Store};

use crate::convert;

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

/// A subscriber's feed: the indicator events its filter and visibility let through, each
/// as the caller may see it.
pub(crate) struct Subscription {
    pub(crate) store: Store,
    pub(crate) filter: Filter,
}

/// What holds for a whole page.
pub(crate) struct Page {
    /// The time expiry is decided against.
    now: Timestamp,
    /// Without a purpose nothing personal leaves the hub: the filter at open names only
    /// other types, and the items it matches go out without their personal observables
    /// (an item holding a domain may hold a phone number too), nor correlations on one.
    withhold_personal: bool,
}

impl EventFeed for Subscription {
    type Event = IndicatorEvent;
    type Message = v1::SubscribeResponse;
    type Page = Page;

    async fn read_after(
        &self,
        store: &Store,
        cursor: u64,
        limit: u32,
    ) -> Result<Vec<IndicatorEvent>, ServiceError> {
        Ok(store.indicator_events_after(cursor, limit).await?)
    }

    fn position(event: &IndicatorEvent) -> u64 {
        event.position
    }

    fn open_page(&self, call: &Call) -> Page {
        Page {
            now: Timestamp::from_system_time(std::time::SystemTime::now()),
            withhold_personal: call.audit.justification().is_none(),
        }
    }

    async fn resolve(
        &self,
        call: &Call,
        page: &mut Page,
        event: &IndicatorEvent,
    ) -> Result<Option<Delivery<v1::SubscribeResponse>>, ServiceError> {
        let indicator = &event.indicator;
        let content = &indicator.content;
        let visible = authorize(
            &call.caller,
            Action::Receive {
                source: &indicator.source_agency,
                scope: &content.scope,
                tlp: content.tlp,
            },
        )
        .is_ok();
        if !visible {
            return Ok(None);
        }
        match &event.correlation {
            Some(correlation) => self.correlation(call, page, event, correlation).await,
            None => Ok(self.publication(call, page, event)),
        }
    }
}

impl Subscription {
    /// A correlation event: only for the agency told, and only while it may still see the
    /// other item.
    async fn correlation(
        &self,
        call: &Call,
        page: &Page,
        event: &IndicatorEvent,
        correlation: &CorrelationRecord,
    ) -> Result<Option<Delivery<v1::SubscribeResponse>>, ServiceError> {
        let caller = &call.caller;
        if &correlation.target != caller.agency()
            || (page.withhold_personal && correlation.observable.kind().is_personal_data())
        {
            return Ok(None);
        }
        let other = match self
            .store
            .get_indicator(&correlation.other_indicator)
            .await?
        {
            Some(other) if crate::exchange::visible(caller, &other) => other,
            _ => return Ok(None),
        };
        let objects = vec![
            delivered(correlation.id.as_str(), Some(caller.agency()), false),
            delivered(
                other.id.as_str(),
                Some(&other.source_agency),
                other.content.anonymous,
            ),
        ];
        let reveal = !other.content.anonymous;
        let message = v1::CorrelationMatch {
            observable: Some(convert::observable_to_proto(&correlation.observable)),
            own_indicator_id: correlation.own_indicator.to_string(),
            other_indicator_id: other.id.to_string(),
            other_agency_id: if reveal {
                other.source_agency.to_string()
            } else {
                String::new()
            },
        };
        Ok(Some(Delivery {
            message: response(
                event.position,
                event.time,
                v1::indicator_event::Event::Correlation(message),
            ),
            objects,
        }))
    }

    /// A publication or revocation, if the filter matches and the item has not expired.
    fn publication(
        &self,
        call: &Call,
        page: &Page,
        event: &IndicatorEvent,
    ) -> Option<Delivery<v1::SubscribeResponse>> {
        let caller = &call.caller;
        let indicator = &event.indicator;
        let content = &indicator.content;
        let expired = content.valid_until.is_some_and(|until| until <= page.now);
        if expired || !self.filter.matches_indicator(indicator, caller) {
            return None;
        }
        let objects = vec![delivered(
            indicator.id.as_str(),
            Some(&indicator.source_agency),
            indicator.content.anonymous,
        )];
        let message = if page.withhold_personal {
            convert::indicator_to_proto(&crate::exchange::without_personal_data(indicator), caller)
        } else {
            convert::indicator_to_proto(indicator, caller)
        };
        // Another agency's anonymous item: its event time is the day only (review M3).
        let event_time =
            if indicator.content.anonymous && caller.agency() != &indicator.source_agency {
                convert::coarse_time(event.time)
            } else {
                event.time
            };
        let body = match event.kind {
            IndicatorEventKind::Published => v1::indicator_event::Event::Published(message),
            IndicatorEventKind::Revoked => v1::indicator_event::Event::Revoked(message),
            // A correlation carries its own record; never reaches here.
            IndicatorEventKind::Correlation => return None,
        };
        Some(Delivery {
            message: response(event.position, event_time, body),
            objects,
        })
    }
}

fn response(
    position: u64,
    time: Timestamp,
    event: v1::indicator_event::Event,
) -> v1::SubscribeResponse {
    v1::SubscribeResponse {
        event: Some(v1::IndicatorEvent {
            cursor: Some(v1::Cursor { position }),
            event_time: Some(to_timestamp(time)),
            event: Some(event),
        }),
    }
}
