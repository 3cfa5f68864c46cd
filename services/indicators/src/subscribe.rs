//! Subscriptions: catch up from the store after a cursor, then follow new events.
//!
//! Every subscriber reads the sequenced `events` table itself, in pages, and waits on the
//! high-water mark when it has caught up. No queue per subscriber is kept in the hub, so a
//! slow reader holds only its own page and its own channel (bounded): it never slows the
//! publisher or another subscriber.

use liaison_audit::Access;
use liaison_auth::{Action, Caller, authorize};
use liaison_core::{AgencyId, FraudCategory, ObservableType, Timestamp, Tlp};
use liaison_proto::v1;
use liaison_rpc::{AuditContext, Authenticator, ServiceError, Shutdown, StreamWait, to_timestamp};
use liaison_store::{IndicatorEventKind, Store};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, codegen::BoxStream};

use crate::convert;

/// Events read from the store per query.
const PAGE: u32 = 256;
/// Messages buffered per subscriber before the reader waits for the client.
const CHANNEL: usize = 64;

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
                match convert::category_from_proto(*value) {
                    Some(category) => filter.categories.push(category),
                    None => {
                        violations.add(format!("categories[{index}]"), "unknown fraud category")
                    }
                }
            }
        }
        if !too_many(request.observable_types.len(), ObservableType::ALL.len()) {
            for (index, value) in request.observable_types.iter().enumerate() {
                match convert::observable_type_from_proto(*value) {
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
                match convert::tlp_from_proto(*value) {
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

/// Starts delivering to a new subscriber; the returned stream is the response body.
pub(crate) fn spawn(
    store: Store,
    auth: Authenticator,
    caller: Caller,
    audit: AuditContext,
    filter: Filter,
    after: u64,
    shutdown: Shutdown,
) -> BoxStream<v1::SubscribeResponse> {
    let (sender, receiver) = mpsc::channel(CHANNEL);
    tokio::spawn(deliver(
        store, auth, caller, audit, filter, after, sender, shutdown,
    ));
    Box::pin(ReceiverStream::new(receiver))
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    store: Store,
    auth: Authenticator,
    caller: Caller,
    audit: AuditContext,
    filter: Filter,
    mut cursor: u64,
    sender: mpsc::Sender<Result<v1::SubscribeResponse, Status>>,
    mut shutdown: Shutdown,
) {
    let mut high_water = store.watch_high_water();
    let mut access = auth.watch_access();
    loop {
        let events = match store.indicator_events_after(cursor, PAGE).await {
            Ok(events) => events,
            Err(error) => {
                let _ = sender.send(Err(ServiceError::from(error).into())).await;
                return;
            }
        };
        if events.is_empty() {
            let mut wait = StreamWait {
                high_water: &mut high_water,
                shutdown: &mut shutdown,
                access: &mut access,
                auth: &auth,
                caller: &caller,
            };
            if !wait.until_more(cursor, &sender).await {
                return;
            }
            continue;
        }
        // A client that went away ends its task here, not only once caught up: its permit
        // is already given back, and pages it would never read must not be scanned.
        if sender.is_closed() {
            return;
        }
        // A change to the directory made here (a sharing group, a role, a suspension)
        // applies to this very page: the caller is re-checked before visibility is decided.
        if let Err(error) = auth.recheck_if_changed(&mut access, &caller).await {
            let _ = sender.send(Err(error.into())).await;
            return;
        }
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        // Without a purpose nothing personal leaves the hub: the filter at open names only
        // other types, and the items it matches go out without their personal observables
        // (an item holding a domain may hold a phone number too), nor correlations on one.
        let withhold_personal = audit.justification().is_none();
        let mut batch = Vec::new();
        let delivery = audit.fork();
        for event in events {
            cursor = event.position;
            let indicator = &event.indicator;
            let content = &indicator.content;
            let visible = authorize(
                &caller,
                Action::Receive {
                    source: &indicator.source_agency,
                    scope: &content.scope,
                    tlp: content.tlp,
                },
            )
            .is_ok();
            if let Some(correlation) = &event.correlation {
                // Only the agency told, and only while it may still see the other item.
                if !visible
                    || &correlation.target != caller.agency()
                    || (withhold_personal && correlation.observable.kind().is_personal_data())
                {
                    continue;
                }
                let other = match store.get_indicator(&correlation.other_indicator).await {
                    Ok(Some(other)) if crate::exchange::visible(&caller, &other) => other,
                    Ok(_) => continue,
                    Err(error) => {
                        let _ = sender.send(Err(ServiceError::from(error).into())).await;
                        return;
                    }
                };
                delivery.touch(
                    correlation.id.as_str(),
                    Access::Deliver,
                    Some(caller.agency()),
                );
                delivery.touch_sourced(
                    other.id.as_str(),
                    Access::Deliver,
                    Some(&other.source_agency),
                    other.content.anonymous,
                );
                let reveal = !other.content.anonymous;
                batch.push(v1::SubscribeResponse {
                    event: Some(v1::IndicatorEvent {
                        cursor: Some(v1::Cursor {
                            position: event.position,
                        }),
                        event_time: Some(to_timestamp(event.time)),
                        event: Some(v1::indicator_event::Event::Correlation(
                            v1::CorrelationMatch {
                                observable: Some(convert::observable_to_proto(
                                    &correlation.observable,
                                )),
                                own_indicator_id: correlation.own_indicator.to_string(),
                                other_indicator_id: other.id.to_string(),
                                other_agency_id: if reveal {
                                    other.source_agency.to_string()
                                } else {
                                    String::new()
                                },
                            },
                        )),
                    }),
                });
                continue;
            }
            let expired = content.valid_until.is_some_and(|until| until <= now);
            if !visible || expired || !filter.matches_indicator(&event.indicator, &caller) {
                continue;
            }
            delivery.touch_sourced(
                indicator.id.as_str(),
                Access::Deliver,
                Some(&indicator.source_agency),
                indicator.content.anonymous,
            );
            let message = if withhold_personal {
                convert::indicator_to_proto(
                    &crate::exchange::without_personal_data(indicator),
                    &caller,
                )
            } else {
                convert::indicator_to_proto(indicator, &caller)
            };
            // Another agency's anonymous item: its event time is the day only (review M3).
            let event_time =
                if indicator.content.anonymous && caller.agency() != &indicator.source_agency {
                    convert::coarse_time(event.time)
                } else {
                    event.time
                };
            batch.push(v1::SubscribeResponse {
                event: Some(v1::IndicatorEvent {
                    cursor: Some(v1::Cursor {
                        position: event.position,
                    }),
                    event_time: Some(to_timestamp(event_time)),
                    event: Some(match event.kind {
                        IndicatorEventKind::Published => {
                            v1::indicator_event::Event::Published(message)
                        }
                        IndicatorEventKind::Revoked => v1::indicator_event::Event::Revoked(message),
                        // Handled above; never reaches here.
                        IndicatorEventKind::Correlation => continue,
                    }),
                }),
            });
        }
        if batch.is_empty() {
            continue;
        }
        // One record per page delivered, committed before the page leaves the hub.
        if let Err(error) = delivery.commit_read(&store).await {
            let _ = sender.send(Err(error.into())).await;
            return;
        }
        for response in batch {
            // A client that does not read holds the stream here; a revocation or
            // suspension still ends it. Waiting for room (`reserve`) loses no message when
            // a re-check interrupts the wait.
            let permit = loop {
                tokio::select! {
                    permit = sender.reserve() => match permit {
                        Ok(permit) => break permit,
                        Err(_) => return,
                    },
                    () = access.changed() => {
                        if let Err(error) = auth.recheck(&caller).await {
                            let _ = sender.try_send(Err(error.into()));
                            return;
                        }
                    }
                }
            };
            permit.send(Ok(response));
        }
    }
}
