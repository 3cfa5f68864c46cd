//! Indicators read from a STIX bundle (`liaison_core` values) as the messages
//! PublishMany takes.

use liaison_core::{NewIndicator, Tlp};
use liaison_proto::v1;

fn timestamp(time: liaison_core::Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = time.seconds_nanos();
    prost_types::Timestamp { seconds, nanos }
}

/// The message of `indicator`; its scope is the caller's to set.
pub fn indicator_to_proto(indicator: &NewIndicator) -> v1::Indicator {
    v1::Indicator {
        fraud_method: indicator
            .fraud_method
            .as_ref()
            .map(|method| v1::FraudMethod {
                title: method.title.clone(),
                description: method.description.clone(),
                countermeasures: method.countermeasures.clone(),
                category: v1::FraudCategory::from_str_name(&format!(
                    "FRAUD_CATEGORY_{}",
                    method.category.as_str().to_ascii_uppercase()
                ))
                .unwrap_or(v1::FraudCategory::Other) as i32,
            }),
        observables: indicator
            .observables
            .iter()
            .map(|observable| v1::Observable {
                r#type: v1::ObservableType::from_str_name(&format!(
                    "OBSERVABLE_TYPE_{}",
                    observable.kind().as_str().to_ascii_uppercase()
                ))
                .unwrap_or(v1::ObservableType::Unspecified) as i32,
                value: observable.value().to_owned(),
            })
            .collect(),
        language: indicator.language.clone(),
        first_seen_time: indicator.first_seen.map(timestamp),
        valid_until_time: indicator.valid_until.map(timestamp),
        confidence: u32::from(indicator.confidence),
        evaluation: indicator
            .evaluation
            .and_then(|evaluation| crate::parse::parse_evaluation(&evaluation.code()).ok()),
        tlp: match indicator.tlp {
            Tlp::Clear => v1::Tlp::Clear,
            Tlp::Green => v1::Tlp::Green,
            Tlp::Amber => v1::Tlp::Amber,
            Tlp::AmberStrict => v1::Tlp::AmberStrict,
            Tlp::Red => v1::Tlp::Red,
        } as i32,
        ..v1::Indicator::default()
    }
}

#[cfg(test)]
mod tests {
    use liaison_core::{FraudCategory, ObservableType};

    use super::*;

    #[test]
    fn every_category_and_observable_type_has_its_message_value() {
        for category in FraudCategory::ALL {
            let name = format!("FRAUD_CATEGORY_{}", category.as_str().to_ascii_uppercase());
            assert!(v1::FraudCategory::from_str_name(&name).is_some(), "{name}");
        }
        for kind in ObservableType::ALL {
            let name = format!("OBSERVABLE_TYPE_{}", kind.as_str().to_ascii_uppercase());
            assert!(v1::ObservableType::from_str_name(&name).is_some(), "{name}");
        }
    }
}
