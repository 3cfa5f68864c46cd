//! Indicator messages to domain values and back. Invalid input cannot get past
//! [`draft_from_proto`] and [`NewIndicator::validate`].

use liaison_auth::Caller;
use liaison_core::{
    FraudCategory, Indicator, ObservableType, Tlp,
    indicator::{FraudMethodDraft, IndicatorDraft, ScopeDraft},
};
use liaison_proto::{domain::ProtoEnum, v1};
use liaison_rpc::{from_timestamp, to_timestamp};

pub(crate) fn observable_to_proto(observable: &liaison_core::Observable) -> v1::Observable {
    v1::Observable {
        r#type: observable.kind().to_proto(),
        value: observable.value().to_owned(),
    }
}

/// The raw values of an indicator message. Fields the hub sets (`id`, `source_agency_id`,
/// `create_time`, `revoke_*`, `linked_fraud_method_id`) are ignored.
pub(crate) fn draft_from_proto(indicator: v1::Indicator) -> IndicatorDraft {
    IndicatorDraft {
        fraud_method: indicator.fraud_method.map(|method| FraudMethodDraft {
            title: method.title,
            description: method.description,
            countermeasures: method.countermeasures,
            category: FraudCategory::from_proto(method.category),
        }),
        observables: indicator
            .observables
            .into_iter()
            .map(|observable| {
                (
                    ObservableType::from_proto(observable.r#type),
                    observable.value,
                )
            })
            .collect(),
        language: indicator.language,
        first_seen: indicator.first_seen_time.as_ref().and_then(from_timestamp),
        valid_until: indicator.valid_until_time.as_ref().and_then(from_timestamp),
        confidence: indicator.confidence,
        evaluation: indicator.evaluation.map(|evaluation| {
            let source =
                match v1::evaluation::SourceReliability::try_from(evaluation.source_reliability) {
                    Ok(v1::evaluation::SourceReliability::A) => Some('A'),
                    Ok(v1::evaluation::SourceReliability::B) => Some('B'),
                    Ok(v1::evaluation::SourceReliability::C) => Some('C'),
                    Ok(v1::evaluation::SourceReliability::X) => Some('X'),
                    _ => None,
                };
            let accuracy = u8::try_from(evaluation.information_accuracy)
                .ok()
                .filter(|accuracy| (1..=4).contains(accuracy));
            (source, accuracy)
        }),
        tlp: Tlp::from_proto(indicator.tlp),
        scope: scope_draft(indicator.scope),
        anonymous: indicator.anonymous,
    }
}

/// The raw scope of a request.
pub(crate) fn scope_draft(scope: Option<v1::Scope>) -> ScopeDraft {
    match scope.and_then(|scope| scope.target) {
        None => ScopeDraft::Missing,
        Some(v1::scope::Target::AllMembers(_)) => ScopeDraft::AllMembers,
        Some(v1::scope::Target::SharingGroupId(group)) => ScopeDraft::SharingGroup(group),
        Some(v1::scope::Target::Agencies(list)) => ScopeDraft::Agencies(list.agency_ids),
    }
}

/// `time` cut to the start of its UTC day: what other agencies are told of when an
/// anonymous item was published or changed.
pub(crate) fn coarse_time(time: liaison_core::Timestamp) -> liaison_core::Timestamp {
    const DAY_US: i64 = 86_400 * 1_000_000;
    liaison_core::Timestamp::from_micros(time.as_micros().div_euclid(DAY_US) * DAY_US)
}

/// An indicator as `viewer` may see it: the source of an anonymous item is hidden from
/// other agencies.
pub(crate) fn indicator_to_proto(indicator: &Indicator, viewer: &Caller) -> v1::Indicator {
    let content = &indicator.content;
    let reveal_source = !content.anonymous || viewer.agency() == &indicator.source_agency;
    v1::Indicator {
        id: indicator.id.to_string(),
        fraud_method: content.fraud_method.as_ref().map(|method| v1::FraudMethod {
            title: method.title.clone(),
            description: method.description.clone(),
            countermeasures: method.countermeasures.clone(),
            category: method.category.to_proto(),
        }),
        observables: content
            .observables
            .iter()
            .map(observable_to_proto)
            .collect(),
        language: content.language.clone(),
        first_seen_time: content.first_seen.map(to_timestamp),
        valid_until_time: content.valid_until.map(to_timestamp),
        confidence: u32::from(content.confidence),
        evaluation: content.evaluation.map(|evaluation| v1::Evaluation {
            source_reliability: match evaluation.source_reliability() {
                'A' => v1::evaluation::SourceReliability::A,
                'B' => v1::evaluation::SourceReliability::B,
                'C' => v1::evaluation::SourceReliability::C,
                _ => v1::evaluation::SourceReliability::X,
            } as i32,
            information_accuracy: i32::from(evaluation.information_accuracy()),
        }),
        tlp: content.tlp.to_proto(),
        scope: Some(scope_to_proto(&content.scope)),
        source_agency_id: if reveal_source {
            indicator.source_agency.to_string()
        } else {
            String::new()
        },
        anonymous: content.anonymous,
        // Of another agency's anonymous item, neither its link (both ends have one owner)
        // nor its exact publication time (shared by the rest of its batch) is shown: the
        // day it was published only (review M3).
        linked_fraud_method_id: if reveal_source {
            indicator
                .linked_fraud_method
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        } else {
            String::new()
        },
        create_time: Some(to_timestamp(if reveal_source {
            indicator.created
        } else {
            coarse_time(indicator.created)
        })),
        revoke_time: indicator
            .revoked
            .as_ref()
            .map(|(time, _)| to_timestamp(*time)),
        revoke_reason: indicator
            .revoked
            .as_ref()
            .map(|(_, reason)| reason.clone())
            .unwrap_or_default(),
    }
}

fn scope_to_proto(scope: &liaison_core::Scope) -> v1::Scope {
    use liaison_core::Scope;
    v1::Scope {
        target: Some(match scope {
            Scope::AllMembers => v1::scope::Target::AllMembers(v1::AllMembers {}),
            Scope::SharingGroup(group) => v1::scope::Target::SharingGroupId(group.to_string()),
            Scope::Agencies(agencies) => v1::scope::Target::Agencies(v1::AgencyList {
                agency_ids: agencies.iter().map(ToString::to_string).collect(),
            }),
        }),
    }
}
