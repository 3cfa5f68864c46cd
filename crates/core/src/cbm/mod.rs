//! Confidence-building measures (OSCE PC Decisions 1106 and 1202) and the rules that need
//! no I/O: notifications and their acknowledgements (`notification`), points of contact
//! (`contact`), communication checks (`check`) and consultations (`consultation`).

use crate::{ObjectId, Scope, Violations, indicator::ScopeDraft};

/// Prefix of notification ids ([`ObjectId::CBM_NOTIFICATION`]).
pub const NOTIFICATION_PREFIX: &str = ObjectId::CBM_NOTIFICATION;
/// Prefix of point-of-contact ids ([`ObjectId::POINT_OF_CONTACT`]).
pub const POC_PREFIX: &str = ObjectId::POINT_OF_CONTACT;
/// Prefix of communication-check ids ([`ObjectId::CBM_CHECK`]).
pub const CHECK_PREFIX: &str = ObjectId::CBM_CHECK;
/// Prefix of new reply ids ([`ObjectId::CBM_REPLY`]; earlier replies carry `msg`).
pub const REPLY_PREFIX: &str = ObjectId::CBM_REPLY;
/// Prefix of consultation ids ([`ObjectId::CBM_CONSULTATION`]).
pub const CONSULTATION_PREFIX: &str = ObjectId::CBM_CONSULTATION;

/// Limits on notification content.
pub mod limits {
    /// Longest title, in characters.
    pub const TITLE_CHARS: usize = 300;
    /// Longest body, in characters.
    pub const BODY_CHARS: usize = 20_000;
    /// Most sectors, references or other sectors.
    pub const LIST_ITEMS: usize = 50;
    /// Longest reference or other sector, in characters.
    pub const ITEM_CHARS: usize = 500;
    /// Longest acknowledgement period: 90 days.
    pub const ACK_WITHIN_MAX: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);
}

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),*
                }
            }

            /// Parses a stored code.
            pub fn parse(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

code_enum!(
    /// What a notification is, each tied to the CBM it serves.
    NotificationKind {
        /// A national view of threats (CBM 1).
        NationalThreatView = "national_threat_view",
        /// An ICT incident.
        Incident = "incident",
        /// A consultation request (CBM 3).
        ConsultationRequest = "consultation_request",
        /// A policy, strategy or doctrine update (CBM 7).
        PolicyUpdate = "policy_update",
        /// A point-of-contact change (CBM 8); sent by the hub only.
        PocUpdate = "poc_update",
        /// A vulnerability disclosure and remedy (CBM 16).
        VulnerabilityDisclosure = "vulnerability_disclosure",
        /// An exercise announcement.
        ExerciseAnnouncement = "exercise_announcement",
    }
);

code_enum!(
    /// How serious the notified matter is; ordered from least to most.
    Severity {
        /// For information.
        Info = "info",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Critical.
        Critical = "critical",
    }
);

code_enum!(
    /// How far a recipient has acknowledged; it only moves forward.
    AckStatus {
        /// Not yet acknowledged.
        Pending = "pending",
        /// Receipt confirmed.
        Received = "received",
        /// Responded.
        Responded = "responded",
    }
);

/// A text with its BCP 47 language tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalizedText {
    /// The text.
    pub text: String,
    /// Its language.
    pub language: String,
}

/// Checks a scope as a client sent it (as for indicators and notifications).
pub fn validate_scope(
    draft: ScopeDraft,
    field: &str,
    violations: &mut Violations,
) -> Option<Scope> {
    crate::indicator::validate_scope(draft, field, violations)
}

mod check;
mod consultation;
mod contact;
mod notification;

pub use check::*;
pub use consultation::*;
pub use contact::*;
pub use notification::*;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{AgencyId, ObjectId, Timestamp, Tlp};

    fn text(text: &str, language: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            text: text.into(),
            language: language.into(),
        })
    }

    #[test]
    fn a_complete_draft_validates_and_red_needs_named_agencies() {
        let draft = NotificationDraft {
            kind: Some(NotificationKind::Incident),
            severity: Some(Severity::High),
            title: text("Інцидент у енергетиці", "uk"),
            body: text("Атака на диспетчерські системи.", "uk"),
            sectors: vec![Some("energy".into())],
            tlp: Some(Tlp::Red),
            scope: ScopeDraft::AllMembers,
            ack_within: Some(Some(Duration::from_secs(3600))),
            ..NotificationDraft::default()
        };
        let errors = NewNotification::validate(draft.clone(), "notification").unwrap_err();
        assert_eq!(errors.as_slice().len(), 1, "{errors:?}");
        assert_eq!(errors.as_slice()[0].field, "notification.scope");
        let named = NotificationDraft {
            scope: ScopeDraft::Agencies(vec!["RS-MUP".into()]),
            ..draft
        };
        let notification = NewNotification::validate(named, "notification").unwrap();
        assert_eq!(notification.ack_within, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn an_empty_draft_names_every_missing_field() {
        let errors =
            NewNotification::validate(NotificationDraft::default(), "notification").unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|v| v.field.as_str()).collect();
        for expected in [
            "notification.kind",
            "notification.severity",
            "notification.title",
            "notification.body",
            "notification.tlp",
            "notification.scope",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn a_contact_needs_a_channel_and_hours_or_around_the_clock() {
        let errors = PocContent::validate(
            PocDraft {
                level: Some(ContactLevel::Technical),
                function: "Dežurni".into(),
                ..PocDraft::default()
            },
            "poc",
        )
        .unwrap_err();
        let fields: Vec<_> = errors.as_slice().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["poc.channels", "poc.hours"]);
        let content = PocContent::validate(
            PocDraft {
                level: Some(ContactLevel::Technical),
                function: "24/7 dežurni oficir".into(),
                channels: vec![(Some(ChannelKind::Phone), "+381 11 123 4567".into())],
                languages: vec!["sr-Latn".into(), "en".into()],
                around_the_clock: true,
                ..PocDraft::default()
            },
            "poc",
        )
        .unwrap();
        let poc = PointOfContact {
            id: ObjectId::generate(POC_PREFIX),
            agency: AgencyId::parse("RS-MUP").unwrap(),
            content,
            confirmed: Timestamp::from_micros(0),
        };
        assert!(!poc.is_stale(Timestamp::from_micros(1_000_000)));
        let year = i64::try_from(POC_CONFIRM_PERIOD.as_micros()).unwrap();
        assert!(poc.is_stale(Timestamp::from_micros(year)));
    }

    #[test]
    fn check_outcomes_follow_the_window() {
        let result = CheckResult {
            check: ObjectId::generate(CHECK_PREFIX),
            check_started: Timestamp::from_micros(0),
            check_due: Timestamp::from_micros(100),
            agency: AgencyId::parse("ME-UP").unwrap(),
            responded: None,
            responder: None,
            point_of_contact: None,
            comment: None,
        };
        assert_eq!(
            result.outcome(Timestamp::from_micros(50)),
            CheckOutcome::Pending
        );
        assert_eq!(
            result.outcome(Timestamp::from_micros(100)),
            CheckOutcome::NoAnswer
        );
        let answered = CheckResult {
            responded: Some(Timestamp::from_micros(40)),
            ..result.clone()
        };
        assert_eq!(
            answered.outcome(Timestamp::from_micros(500)),
            CheckOutcome::Answered
        );
        assert_eq!(answered.response_time(), Some(Duration::from_micros(40)));
        let late = CheckResult {
            responded: Some(Timestamp::from_micros(101)),
            ..result
        };
        assert_eq!(
            late.outcome(Timestamp::from_micros(500)),
            CheckOutcome::Late
        );
    }

    #[test]
    fn consultations_follow_their_states() {
        use ConsultationState::*;
        use ConsultationStep::*;
        assert_eq!(Requested.after(Acknowledge), Ok(Acknowledged));
        assert_eq!(Acknowledged.after(Acknowledge), Ok(Acknowledged));
        assert!(Requested.after(Schedule).is_err());
        assert_eq!(Acknowledged.after(Schedule), Ok(Scheduled));
        assert_eq!(Scheduled.after(Schedule), Ok(Scheduled));
        assert_eq!(Scheduled.after(RecordHeld), Ok(Held));
        assert!(Held.after(Schedule).is_err());
        assert_eq!(Requested.after(Close), Ok(Closed));
        assert_eq!(Held.after(Close), Ok(Closed));
        let closed = Closed.after(Close).unwrap_err();
        assert_eq!(
            closed.to_string(),
            "a consultation that is closed cannot be closed"
        );
    }

    #[test]
    fn acknowledgements_only_move_forward() {
        use AckStatus::*;
        assert_eq!(next_ack_status(Pending, Received), Ok(Some(Received)));
        assert_eq!(next_ack_status(Pending, Responded), Ok(Some(Responded)));
        assert_eq!(next_ack_status(Received, Received), Ok(None));
        assert_eq!(
            next_ack_status(Responded, Received),
            Err(AckError::Backwards)
        );
        assert_eq!(
            next_ack_status(Pending, Pending),
            Err(AckError::NotAnAcknowledgement)
        );
    }

    #[test]
    fn overdue_follows_the_due_time() {
        let ack = Acknowledgement {
            notification: ObjectId::generate(NOTIFICATION_PREFIX),
            agency: AgencyId::parse("RS-MUP").unwrap(),
            status: AckStatus::Pending,
            delivered: None,
            received: None,
            responded: None,
            acknowledged_by: None,
            due: Some(Timestamp::from_micros(100)),
            escalated: None,
            comment: None,
        };
        assert!(!ack.is_overdue(Timestamp::from_micros(99)));
        assert!(ack.is_overdue(Timestamp::from_micros(100)));
        let in_time = Acknowledgement {
            received: Some(Timestamp::from_micros(50)),
            status: AckStatus::Received,
            ..ack
        };
        assert!(!in_time.is_overdue(Timestamp::from_micros(1_000)));
    }
}
