//! The federation file's `[mla_deadlines]` section: the federation's [`DeadlinePolicy`].
//! Every key is optional; one left out keeps the default (the values in
//! [`DeadlinePolicy::default`], also shown in `deploy/federation.example.toml`).
//!
//! ```toml
//! [mla_deadlines]
//! acknowledgement_hours = { routine = 72, urgent = 24, emergency = 4 }
//! response_days = { subscriber = 20, traffic = 45, content = 90, emergency = 4, preservation = 7 }
//! information_days = 14
//! warning_hours = 24
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::DeadlinePolicy;

const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// `[mla_deadlines]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlinePolicySection {
    /// Acknowledgement time by urgency, in hours.
    #[serde(default)]
    pub acknowledgement_hours: AcknowledgementHours,
    /// Default response time, in days: by data category, for emergencies (Second
    /// Protocol Arts. 9–10 or emergency urgency) and for Art. 29 preservation.
    #[serde(default)]
    pub response_days: ResponseDays,
    /// Time to answer a request for more information, in days.
    pub information_days: Option<u64>,
    /// How long before a deadline it counts as approaching, in hours (never more than the
    /// last quarter of its window).
    pub warning_hours: Option<u64>,
}

/// `acknowledgement_hours`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgementHours {
    /// A routine request.
    pub routine: Option<u64>,
    /// An urgent request.
    pub urgent: Option<u64>,
    /// An emergency: imminent risk to life or safety.
    pub emergency: Option<u64>,
}

/// `response_days`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseDays {
    /// Subscriber information (Second Protocol Art. 8(6): 20).
    pub subscriber: Option<u64>,
    /// Traffic data (Second Protocol Art. 8(6): 45).
    pub traffic: Option<u64>,
    /// Content data.
    pub content: Option<u64>,
    /// An emergency, by basis (Protocol Arts. 9–10) or urgency.
    pub emergency: Option<u64>,
    /// An Art. 29 preservation request (the confirmation of preservation).
    pub preservation: Option<u64>,
}

/// The longest acknowledgement time accepted: 30 days.
const MAX_ACK_HOURS: u64 = 30 * 24;
/// The longest response or information time accepted: two years.
const MAX_DAYS: u64 = 730;

impl DeadlinePolicySection {
    /// The policy this section sets, the defaults filling what it leaves out; or what is
    /// wrong with it, naming the key (`mla_deadlines.acknowledgement_hours.emergency: …`).
    pub fn policy(&self) -> Result<DeadlinePolicy, String> {
        let default = DeadlinePolicy::default();
        let hours = |key: &str, value: Option<u64>, default: Duration| match value {
            None => Ok(default),
            Some(hours @ 1..=MAX_ACK_HOURS) => Ok(Duration::from_secs(hours * HOUR)),
            Some(_) => Err(format!(
                "mla_deadlines.{key}: between 1 and {MAX_ACK_HOURS} hours"
            )),
        };
        let days = |key: &str, value: Option<u64>, default: Duration| match value {
            None => Ok(default),
            Some(days @ 1..=MAX_DAYS) => Ok(Duration::from_secs(days * DAY)),
            Some(_) => Err(format!(
                "mla_deadlines.{key}: between 1 and {MAX_DAYS} days"
            )),
        };
        let ack = &self.acknowledgement_hours;
        let response = &self.response_days;
        let policy = DeadlinePolicy {
            ack_routine: hours(
                "acknowledgement_hours.routine",
                ack.routine,
                default.ack_routine,
            )?,
            ack_urgent: hours(
                "acknowledgement_hours.urgent",
                ack.urgent,
                default.ack_urgent,
            )?,
            ack_emergency: hours(
                "acknowledgement_hours.emergency",
                ack.emergency,
                default.ack_emergency,
            )?,
            response_subscriber: days(
                "response_days.subscriber",
                response.subscriber,
                default.response_subscriber,
            )?,
            response_traffic: days(
                "response_days.traffic",
                response.traffic,
                default.response_traffic,
            )?,
            response_content: days(
                "response_days.content",
                response.content,
                default.response_content,
            )?,
            response_emergency: days(
                "response_days.emergency",
                response.emergency,
                default.response_emergency,
            )?,
            response_preservation: days(
                "response_days.preservation",
                response.preservation,
                default.response_preservation,
            )?,
            information: days(
                "information_days",
                self.information_days,
                default.information,
            )?,
            warning: hours("warning_hours", self.warning_hours, default.warning)?,
        };
        // Swapped values are the likeliest slip: more urgency must never mean more time.
        if !(policy.ack_emergency <= policy.ack_urgent && policy.ack_urgent <= policy.ack_routine) {
            return Err(
                "mla_deadlines.acknowledgement_hours: emergency must be at most urgent, and \
                 urgent at most routine"
                    .into(),
            );
        }
        let slowest_category = policy
            .response_subscriber
            .min(policy.response_traffic)
            .min(policy.response_content);
        if policy.response_emergency > slowest_category {
            return Err(
                "mla_deadlines.response_days.emergency: at most the shortest of subscriber, \
                 traffic and content"
                    .into(),
            );
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> DeadlinePolicySection {
        toml::from_str(text).expect("a section")
    }

    #[test]
    fn an_empty_section_is_the_default_policy() {
        assert_eq!(section("").policy(), Ok(DeadlinePolicy::default()));
    }

    #[test]
    fn keys_set_what_they_name_and_nothing_else() {
        let policy = section(
            "acknowledgement_hours = { emergency = 2 }\nresponse_days = { traffic = 30 }\n",
        )
        .policy()
        .expect("valid");
        assert_eq!(policy.ack_emergency, Duration::from_secs(2 * HOUR));
        assert_eq!(policy.response_traffic, Duration::from_secs(30 * DAY));
        assert_eq!(
            DeadlinePolicy {
                ack_emergency: DeadlinePolicy::default().ack_emergency,
                response_traffic: DeadlinePolicy::default().response_traffic,
                ..policy
            },
            DeadlinePolicy::default()
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let error = |text: &str| section(text).policy().unwrap_err();
        assert_eq!(
            error("acknowledgement_hours = { emergency = 0 }"),
            "mla_deadlines.acknowledgement_hours.emergency: between 1 and 720 hours"
        );
        assert_eq!(
            error("response_days = { content = 1000 }"),
            "mla_deadlines.response_days.content: between 1 and 730 days"
        );
        assert!(
            error("acknowledgement_hours = { emergency = 48 }")
                .contains("emergency must be at most urgent")
        );
        assert!(error("response_days = { emergency = 30 }").contains("response_days.emergency"));
        assert!(toml::from_str::<DeadlinePolicySection>("acknowledgment_hours = {}").is_err());
    }
}
