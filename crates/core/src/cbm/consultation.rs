//! Consultations (OSCE CBM 3) and their states.

use std::time::Duration;

use super::*;
use crate::{AgencyId, ObjectId, PrincipalId, Timestamp, Tlp};

code_enum!(
    /// Where a consultation stands (OSCE CBM 3).
    ConsultationState {
        /// Requested; no invited agency acknowledged yet.
        Requested = "requested",
        /// At least one invited agency acknowledged.
        Acknowledged = "acknowledged",
        /// A meeting is set.
        Scheduled = "scheduled",
        /// The meeting took place.
        Held = "held",
        /// Closed with an outcome. Terminal.
        Closed = "closed",
    }
);

code_enum!(
    /// How a consultation ended.
    ConsultationOutcome {
        /// Resolved or clarified.
        Resolved = "resolved",
        /// Held but not resolved.
        Unresolved = "unresolved",
        /// The invited agencies declined.
        Declined = "declined",
        /// The requester withdrew.
        Withdrawn = "withdrawn",
    }
);

/// What a participant does to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationStep {
    /// An invited agency acknowledges.
    Acknowledge,
    /// A participant sets or moves the meeting.
    Schedule,
    /// A participant records that it took place.
    RecordHeld,
    /// A participant closes it.
    Close,
}

/// Why a consultation step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a consultation that is {from} cannot be {step}")]
pub struct StepError {
    from: &'static str,
    step: &'static str,
}

impl ConsultationState {
    /// The state after `step`, or why it is refused.
    pub fn after(self, step: ConsultationStep) -> Result<ConsultationState, StepError> {
        use ConsultationState::*;
        let next = match (self, step) {
            (Requested | Acknowledged, ConsultationStep::Acknowledge) => Some(Acknowledged),
            (Acknowledged | Scheduled, ConsultationStep::Schedule) => Some(Scheduled),
            (Scheduled, ConsultationStep::RecordHeld) => Some(Held),
            (Closed, ConsultationStep::Close) => None,
            (_, ConsultationStep::Close) => Some(Closed),
            _ => None,
        };
        next.ok_or(StepError {
            from: self.as_str(),
            step: match step {
                ConsultationStep::Acknowledge => "acknowledged",
                ConsultationStep::Schedule => "scheduled",
                ConsultationStep::RecordHeld => "recorded as held",
                ConsultationStep::Close => "closed",
            },
        })
    }
}

/// One agency taking part in a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The agency.
    pub agency: AgencyId,
    /// True for the requesting agency.
    pub requester: bool,
    /// When it acknowledged.
    pub acknowledged: Option<Timestamp>,
    /// Who acknowledged.
    pub acknowledged_by: Option<PrincipalId>,
    /// Whether it attended.
    pub attended: bool,
}

/// A consultation between states (OSCE CBM 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    /// Id (`cns_…`).
    pub id: ObjectId,
    /// The requesting principal.
    pub requester: PrincipalId,
    /// Requester first, then the invited agencies.
    pub participants: Vec<Participant>,
    /// What it is about.
    pub subject: LocalizedText,
    /// The concern in detail.
    pub description: Option<LocalizedText>,
    /// Where it stands.
    pub state: ConsultationState,
    /// Marking of the consultation and its thread.
    pub tlp: Tlp,
    /// Notifications that prompted it.
    pub related: Vec<ObjectId>,
    /// The notification that announced it.
    pub request_notification: ObjectId,
    /// Proposed meeting times.
    pub proposed: Vec<Timestamp>,
    /// The scheduled start.
    pub schedule: Option<Timestamp>,
    /// The planned length.
    pub planned_duration: Option<Duration>,
    /// Where or how.
    pub venue: Option<LocalizedText>,
    /// The agenda.
    pub agenda: Option<LocalizedText>,
    /// When it was held.
    pub held: Option<Timestamp>,
    /// The meeting summary or closing summary.
    pub summary: Option<LocalizedText>,
    /// How it ended.
    pub outcome: Option<ConsultationOutcome>,
    /// When it was closed.
    pub closed: Option<Timestamp>,
    /// Created (deadline clock).
    pub created: Timestamp,
    /// Last changed (deadline clock).
    pub updated: Timestamp,
    /// Increases with every stored step; a step is stored only over the version it was
    /// decided on.
    pub version: u64,
}

impl Consultation {
    /// The requesting agency.
    pub fn requester_agency(&self) -> &AgencyId {
        self.requester.agency()
    }

    /// The participant row of `agency`, if it takes part.
    pub fn participant(&self, agency: &AgencyId) -> Option<&Participant> {
        self.participants.iter().find(|p| &p.agency == agency)
    }
}
