//! Deadlines as pure functions of a request and the time: when acknowledgement is due (by
//! urgency), the default response date (by legal basis and data), the preservation
//! period (at least 60 days, Art. 29(7)), and when a deadline counts as approaching.

use std::time::Duration;

use super::{DataCategory, LegalBasis, Side, Urgency};
use crate::Timestamp;

const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// The least preservation period (Convention Art. 29(7)).
pub const MIN_PRESERVATION: Duration = Duration::from_secs(60 * DAY);

/// The kind of a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadlineKind {
    /// The requested agency must acknowledge.
    Acknowledgement,
    /// The response date.
    Response,
    /// The requester must answer a request for more information.
    Information,
    /// Preservation ends.
    PreservationExpiry,
    /// A postponement ends.
    PostponementEnd,
}

impl DeadlineKind {
    /// Every kind.
    pub const ALL: [DeadlineKind; 5] = [
        DeadlineKind::Acknowledgement,
        DeadlineKind::Response,
        DeadlineKind::Information,
        DeadlineKind::PreservationExpiry,
        DeadlineKind::PostponementEnd,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Acknowledgement => "acknowledgement",
            DeadlineKind::Response => "response",
            DeadlineKind::Information => "information",
            DeadlineKind::PreservationExpiry => "preservation_expiry",
            DeadlineKind::PostponementEnd => "postponement_end",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The side that must act before it passes.
    pub fn responsible(self) -> Side {
        match self {
            DeadlineKind::Information => Side::Requesting,
            _ => Side::Requested,
        }
    }
}

/// The federation's deadline settings. [`DeadlinePolicy::default`] holds the defaults:
/// Second Protocol Art. 8(6) for subscriber information (20 days) and traffic data (45
/// days); the rest are the hub's working figures, configurable per federation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlinePolicy {
    /// Acknowledgement of a routine request.
    pub ack_routine: Duration,
    /// Acknowledgement of an urgent request.
    pub ack_urgent: Duration,
    /// Acknowledgement in an emergency: hours.
    pub ack_emergency: Duration,
    /// Response on subscriber information (Second Protocol Art. 8(6): 20 days).
    pub response_subscriber: Duration,
    /// Response on traffic data (Second Protocol Art. 8(6): 45 days).
    pub response_traffic: Duration,
    /// Response on content data.
    pub response_content: Duration,
    /// Response to an emergency (Protocol Arts. 9–10, or emergency urgency).
    pub response_emergency: Duration,
    /// Response to an Art. 29 preservation request: confirmation of preservation.
    pub response_preservation: Duration,
    /// Time given to answer a request for more information, unless the asker sets one.
    pub information: Duration,
    /// Before a deadline, how long it counts as approaching.
    pub warning: Duration,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            ack_routine: Duration::from_secs(3 * DAY),
            ack_urgent: Duration::from_secs(DAY),
            ack_emergency: Duration::from_secs(4 * HOUR),
            response_subscriber: Duration::from_secs(20 * DAY),
            response_traffic: Duration::from_secs(45 * DAY),
            response_content: Duration::from_secs(90 * DAY),
            response_emergency: Duration::from_secs(4 * DAY),
            response_preservation: Duration::from_secs(7 * DAY),
            information: Duration::from_secs(14 * DAY),
            warning: Duration::from_secs(DAY),
        }
    }
}

/// `time` plus `duration`, saturating.
pub fn after(time: Timestamp, duration: Duration) -> Timestamp {
    let micros = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
    Timestamp::from_micros(time.as_micros().saturating_add(micros))
}

impl DeadlinePolicy {
    /// When acknowledgement of a request submitted at `submitted` is due.
    pub fn acknowledgement_due(&self, urgency: Urgency, submitted: Timestamp) -> Timestamp {
        let window = match urgency {
            Urgency::Routine => self.ack_routine,
            Urgency::Urgent => self.ack_urgent,
            Urgency::Emergency => self.ack_emergency,
        };
        after(submitted, window)
    }

    /// The default response date of a request submitted at `submitted`, when the
    /// requester set none: an emergency (by basis or urgency) is shortest; an Art. 29
    /// request needs only the confirmation of preservation; otherwise the longest period
    /// of the data sought (traffic data, say, when both subscriber and traffic data are
    /// sought).
    pub fn default_response_due(
        &self,
        basis: LegalBasis,
        urgency: Urgency,
        categories: &[DataCategory],
        submitted: Timestamp,
    ) -> Timestamp {
        let window = if basis.is_emergency() || urgency == Urgency::Emergency {
            self.response_emergency
        } else if basis == LegalBasis::Art29Preservation {
            self.response_preservation
        } else {
            categories
                .iter()
                .map(|category| match category {
                    DataCategory::Subscriber => self.response_subscriber,
                    DataCategory::Traffic => self.response_traffic,
                    DataCategory::Content => self.response_content,
                })
                .max()
                .unwrap_or(self.response_traffic)
        };
        after(submitted, window)
    }

    /// How long before `due` a deadline set at `set` counts as approaching: the policy's
    /// warning period, but never more than the last quarter of its window (an emergency
    /// acknowledgement due in 4 hours approaches after 3, not at once).
    pub fn warning_for(&self, set: Timestamp, due: Timestamp) -> Duration {
        let window = u64::try_from(due.as_micros().saturating_sub(set.as_micros())).unwrap_or(0);
        self.warning.min(Duration::from_micros(window / 4))
    }

    /// Whether a running deadline set at `set` and due at `due` is approaching at `now`.
    pub fn is_approaching(&self, set: Timestamp, due: Timestamp, now: Timestamp) -> bool {
        now < due && after(now, self.warning_for(set, due)) >= due
    }
}

/// Until when data confirmed preserved at `confirmed` are kept: the requested date, or the
/// requested period, and never less than 60 days (Art. 29(7)). An explicit date earlier
/// than 60 days is an error, returned as the earliest acceptable date.
pub fn preservation_until(
    confirmed: Timestamp,
    requested_date: Option<Timestamp>,
    requested_period: Option<Duration>,
) -> Result<Timestamp, Timestamp> {
    let earliest = after(confirmed, MIN_PRESERVATION);
    match requested_date {
        Some(date) if date < earliest => Err(earliest),
        Some(date) => Ok(date),
        None => Ok(after(
            confirmed,
            requested_period.map_or(MIN_PRESERVATION, |period| period.max(MIN_PRESERVATION)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_micros(1_764_000_000_000_000);

    fn days(n: u64) -> Duration {
        Duration::from_secs(n * DAY)
    }

    #[test]
    fn acknowledgement_is_due_in_hours_in_an_emergency() {
        let policy = DeadlinePolicy::default();
        assert_eq!(
            policy.acknowledgement_due(Urgency::Emergency, T0),
            after(T0, Duration::from_secs(4 * HOUR))
        );
        assert_eq!(
            policy.acknowledgement_due(Urgency::Urgent, T0),
            after(T0, days(1))
        );
        assert_eq!(
            policy.acknowledgement_due(Urgency::Routine, T0),
            after(T0, days(3))
        );
    }

    #[test]
    fn the_response_date_defaults_from_the_basis_and_the_data() {
        let policy = DeadlinePolicy::default();
        let due = |basis, urgency, categories: &[DataCategory]| {
            policy.default_response_due(basis, urgency, categories, T0)
        };
        use DataCategory::{Content, Subscriber, Traffic};
        use LegalBasis::*;
        assert_eq!(
            due(Art31AccessToStoredData, Urgency::Routine, &[Subscriber]),
            after(T0, days(20))
        );
        assert_eq!(
            due(Art31AccessToStoredData, Urgency::Routine, &[Traffic]),
            after(T0, days(45))
        );
        assert_eq!(
            due(
                Art31AccessToStoredData,
                Urgency::Urgent,
                &[Subscriber, Traffic]
            ),
            after(T0, days(45))
        );
        assert_eq!(
            due(BilateralTreaty, Urgency::Routine, &[Content]),
            after(T0, days(90))
        );
        assert_eq!(
            due(BilateralTreaty, Urgency::Routine, &[]),
            after(T0, days(45))
        );
        assert_eq!(
            due(ProtocolArt9EmergencyDisclosure, Urgency::Urgent, &[Traffic]),
            after(T0, days(4))
        );
        assert_eq!(
            due(Art31AccessToStoredData, Urgency::Emergency, &[Content]),
            after(T0, days(4))
        );
        assert_eq!(
            due(Art29Preservation, Urgency::Routine, &[Traffic]),
            after(T0, days(7))
        );
    }

    #[test]
    fn preservation_lasts_at_least_sixty_days() {
        assert_eq!(preservation_until(T0, None, None), Ok(after(T0, days(60))));
        assert_eq!(
            preservation_until(T0, None, Some(days(30))),
            Ok(after(T0, days(60)))
        );
        assert_eq!(
            preservation_until(T0, None, Some(days(90))),
            Ok(after(T0, days(90)))
        );
        assert_eq!(
            preservation_until(T0, Some(after(T0, days(59))), None),
            Err(after(T0, days(60)))
        );
        assert_eq!(
            preservation_until(T0, Some(after(T0, days(61))), Some(days(365))),
            Ok(after(T0, days(61)))
        );
    }

    #[test]
    fn a_deadline_approaches_within_the_warning_period() {
        let policy = DeadlinePolicy::default();
        let due = after(T0, days(20));
        assert!(!policy.is_approaching(T0, due, T0));
        assert!(!policy.is_approaching(T0, due, after(T0, days(18))));
        assert!(policy.is_approaching(T0, due, after(T0, days(19))));
        assert!(!policy.is_approaching(T0, due, due));
        // A short window warns in its last quarter only.
        let hours = |n: u64| Duration::from_secs(n * HOUR);
        let emergency = after(T0, hours(4));
        assert_eq!(policy.warning_for(T0, emergency), hours(1));
        assert!(!policy.is_approaching(
            T0,
            emergency,
            after(T0, Duration::from_secs(2 * HOUR + 3_599))
        ));
        assert!(policy.is_approaching(T0, emergency, after(T0, hours(3))));
        for kind in DeadlineKind::ALL {
            assert_eq!(DeadlineKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(DeadlineKind::Information.responsible(), Side::Requesting);
    }
}
