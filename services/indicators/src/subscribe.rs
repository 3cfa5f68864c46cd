//! Subscriptions: catch up from the store after a cursor, then follow new events.
//!
//! The loop (pages, waits, re-checks, audit records, back-pressure) is
//! [`liaison_rpc::EventStream`]'s; this module says which events a subscriber receives and
//! as what.

use liaison_auth::{Action, authorize};
use liaison_core::Timestamp;
use liaison_proto::v1;
use liaison_rpc::{Call, Delivery, EventFeed, ServiceError, delivered, to_timestamp};
use liaison_store::{CorrelationRecord, IndicatorEvent, IndicatorEventKind, Store};

use crate::{convert, visibility::Filter};

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
            Some(other) if crate::visibility::visible(caller, &other) => other,
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
            convert::indicator_to_proto(
                &crate::visibility::without_personal_data(indicator),
                caller,
            )
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
