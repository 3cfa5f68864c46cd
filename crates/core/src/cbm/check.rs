//! Communication checks of points of contact.

use std::time::Duration;

use super::*;
use crate::{AgencyId, ObjectId, PrincipalId, Scope, Timestamp};

/// Longest response window of a communication check: 30 days.
pub const CHECK_WINDOW_MAX: Duration = Duration::from_secs(30 * 86_400);

/// A communication check of points of contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicationCheck {
    /// Id (`chk_…`).
    pub id: ObjectId,
    /// The operator who started it.
    pub started_by: Option<PrincipalId>,
    /// The agencies checked.
    pub scope: Scope,
    /// Which contacts must answer; `None` for both levels.
    pub contact_level: Option<ContactLevel>,
    /// When it started (deadline clock).
    pub started: Timestamp,
    /// How long contacts have to answer.
    pub window: Duration,
    /// The message shown to the contacts.
    pub message: LocalizedText,
    /// The code a responder must return.
    pub challenge: String,
}

impl CommunicationCheck {
    /// When the window closes.
    pub fn due(&self) -> Timestamp {
        let window = i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_micros(self.started.as_micros().saturating_add(window))
    }

    /// True while answers count as in time, as of `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.due()
    }
}

code_enum!(
    /// One agency's result in a communication check.
    CheckOutcome {
        /// The window is open and no answer came yet.
        Pending = "pending",
        /// Answered within the window.
        Answered = "answered",
        /// Answered after the window.
        Late = "late",
        /// No answer, and the window has passed.
        NoAnswer = "no_answer",
    }
);

/// One agency's answer (or silence) in a communication check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check.
    pub check: ObjectId,
    /// When the check started.
    pub check_started: Timestamp,
    /// When its window closes.
    pub check_due: Timestamp,
    /// The agency.
    pub agency: AgencyId,
    /// When it answered.
    pub responded: Option<Timestamp>,
    /// Who answered.
    pub responder: Option<PrincipalId>,
    /// The point of contact the responder answered as.
    pub point_of_contact: Option<ObjectId>,
    /// The responder's comment.
    pub comment: Option<LocalizedText>,
}

impl CheckResult {
    /// The outcome as of `now`.
    pub fn outcome(&self, now: Timestamp) -> CheckOutcome {
        match self.responded {
            Some(at) if at <= self.check_due => CheckOutcome::Answered,
            Some(_) => CheckOutcome::Late,
            None if now < self.check_due => CheckOutcome::Pending,
            None => CheckOutcome::NoAnswer,
        }
    }

    /// How long the agency took to answer.
    pub fn response_time(&self) -> Option<Duration> {
        self.responded.map(|at| {
            Duration::from_micros(
                u64::try_from(at.as_micros() - self.check_started.as_micros()).unwrap_or(0),
            )
        })
    }
}
