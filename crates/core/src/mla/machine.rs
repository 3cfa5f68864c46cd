//! The MLA state machine: one function, [`step`], decides every step of every request.
//!
//! Main line: draft → submitted → delivered (the hub recorded that the requested agency
//! retrieved it) → acknowledged → under assessment ⇄ more information requested; under
//! assessment → conditions proposed → accepted (or withdrawn); under assessment → accepted
//! → in execution → executed or partially executed → closed; refused with reasons;
//! under assessment → postponed → under assessment; withdrawn by the requester before
//! execution starts.
//!
//! Preservation line (Art. 29), beside the main line for a request that seeks it:
//! requested → preserved → extended, held (until the follow-up request is decided),
//! released by a party, or expired by the hub's clock. A refusal or a withdrawal releases
//! whatever preservation is still active.

use std::fmt;

/// The workflow state of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MlaState {
    /// Being written; invisible to the requested agency.
    Draft,
    /// Submitted; not yet retrieved by the requested agency.
    Submitted,
    /// The requested agency retrieved it.
    Delivered,
    /// The requested agency acknowledged it.
    Acknowledged,
    /// Being assessed.
    UnderAssessment,
    /// The requested agency asked for more information.
    MoreInformationRequested,
    /// Conditions (Art. 27(6), Art. 28) await the requester's acceptance.
    ConditionsProposed,
    /// Accepted for execution.
    Accepted,
    /// Being executed.
    InExecution,
    /// Executed in full.
    Executed,
    /// Executed in part.
    PartiallyExecuted,
    /// Closed by the requester. Terminal.
    Closed,
    /// Refused with reasons. Terminal.
    Refused,
    /// Postponed (Art. 27(5)).
    Postponed,
    /// Withdrawn by the requester. Terminal.
    Withdrawn,
}

impl MlaState {
    /// Every state, in workflow order.
    pub const ALL: [MlaState; 15] = [
        MlaState::Draft,
        MlaState::Submitted,
        MlaState::Delivered,
        MlaState::Acknowledged,
        MlaState::UnderAssessment,
        MlaState::MoreInformationRequested,
        MlaState::ConditionsProposed,
        MlaState::Accepted,
        MlaState::InExecution,
        MlaState::Executed,
        MlaState::PartiallyExecuted,
        MlaState::Closed,
        MlaState::Refused,
        MlaState::Postponed,
        MlaState::Withdrawn,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MlaState::Draft => "draft",
            MlaState::Submitted => "submitted",
            MlaState::Delivered => "delivered",
            MlaState::Acknowledged => "acknowledged",
            MlaState::UnderAssessment => "under_assessment",
            MlaState::MoreInformationRequested => "more_information_requested",
            MlaState::ConditionsProposed => "conditions_proposed",
            MlaState::Accepted => "accepted",
            MlaState::InExecution => "in_execution",
            MlaState::Executed => "executed",
            MlaState::PartiallyExecuted => "partially_executed",
            MlaState::Closed => "closed",
            MlaState::Refused => "refused",
            MlaState::Postponed => "postponed",
            MlaState::Withdrawn => "withdrawn",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// No step of the main line leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            MlaState::Closed | MlaState::Refused | MlaState::Withdrawn
        )
    }

    /// The requester may still withdraw: submitted and not yet in execution.
    fn withdrawable(self) -> bool {
        matches!(
            self,
            MlaState::Submitted
                | MlaState::Delivered
                | MlaState::Acknowledged
                | MlaState::UnderAssessment
                | MlaState::MoreInformationRequested
                | MlaState::ConditionsProposed
                | MlaState::Accepted
                | MlaState::Postponed
        )
    }

    /// The requested agency may refuse: it has the request and has not accepted it.
    fn refusable(self) -> bool {
        matches!(
            self,
            MlaState::Delivered
                | MlaState::Acknowledged
                | MlaState::UnderAssessment
                | MlaState::MoreInformationRequested
                | MlaState::Postponed
        )
    }

    /// The requested agency holds the request and it was neither refused nor withdrawn:
    /// preservation steps may be taken (also after closing, while data are held).
    fn preservation_open(self) -> bool {
        !matches!(
            self,
            MlaState::Draft | MlaState::Submitted | MlaState::Refused | MlaState::Withdrawn
        )
    }
}

impl fmt::Display for MlaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the preservation of a request's data stands (Art. 29).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PreservationState {
    /// Asked for, not yet confirmed.
    Requested,
    /// Preserved until a date at least 60 days after confirmation.
    Preserved,
    /// The period was extended.
    Extended,
    /// Held until the follow-up request is decided.
    Held,
    /// The period ran out (set by the hub's clock). Terminal.
    Expired,
    /// Ended by a party. Terminal.
    Released,
}

impl PreservationState {
    /// Every preservation state.
    pub const ALL: [PreservationState; 6] = [
        PreservationState::Requested,
        PreservationState::Preserved,
        PreservationState::Extended,
        PreservationState::Held,
        PreservationState::Expired,
        PreservationState::Released,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PreservationState::Requested => "requested",
            PreservationState::Preserved => "preserved",
            PreservationState::Extended => "extended",
            PreservationState::Held => "held",
            PreservationState::Expired => "expired",
            PreservationState::Released => "released",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Data are (or are to be) kept.
    pub fn is_active(self) -> bool {
        !matches!(
            self,
            PreservationState::Expired | PreservationState::Released
        )
    }

    /// Data are kept until a date that may run out.
    fn is_running(self) -> bool {
        matches!(
            self,
            PreservationState::Preserved | PreservationState::Extended
        )
    }
}

/// A request's whole status: the workflow state and, when preservation was sought, the
/// preservation line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MlaStatus {
    /// The workflow state.
    pub state: MlaState,
    /// The preservation line; `None` when no preservation was sought.
    pub preservation: Option<PreservationState>,
}

impl MlaStatus {
    /// A new draft, seeking preservation or not.
    pub fn draft(preservation_requested: bool) -> Self {
        Self {
            state: MlaState::Draft,
            preservation: preservation_requested.then_some(PreservationState::Requested),
        }
    }
}

/// Which side of a request an actor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The agency that made the request.
    Requesting,
    /// The agency the request is addressed to.
    Requested,
    /// The hub itself (its clock): expiry of preservation.
    Hub,
}

impl Side {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Requesting => "requesting",
            Side::Requested => "requested",
            Side::Hub => "hub",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Side::Requesting, Side::Requested, Side::Hub]
            .into_iter()
            .find(|side| side.as_str() == text)
    }
}

/// Who takes a step: the side of the request and whether the principal holds the
/// officer role. Only officers decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The actor's side.
    pub side: Side,
    /// The actor holds the `officer` role.
    pub officer: bool,
}

impl Actor {
    /// An officer of the requesting agency.
    pub const REQUESTING_OFFICER: Actor = Actor {
        side: Side::Requesting,
        officer: true,
    };
    /// An officer of the requested agency.
    pub const REQUESTED_OFFICER: Actor = Actor {
        side: Side::Requested,
        officer: true,
    };
    /// The hub's clock.
    pub const HUB: Actor = Actor {
        side: Side::Hub,
        officer: false,
    };
}

/// Reasons given for a refusal or postponement (Art. 27(7)): non-blank text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reasons(String);

/// Why reasons were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasonsError {
    /// Blank.
    #[error("reasons are required (Convention Art. 27(7))")]
    Missing,
}

impl Reasons {
    /// Non-blank reasons.
    pub fn parse(text: &str) -> Result<Self, ReasonsError> {
        let text = text.trim();
        if text.is_empty() {
            Err(ReasonsError::Missing)
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A step of the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MlaStep {
    /// Replace a draft's content.
    UpdateDraft,
    /// Delete a draft.
    DeleteDraft,
    /// Submit a draft.
    Submit,
    /// The requested agency retrieved the request (recorded by the hub).
    Deliver,
    /// Acknowledge receipt.
    Acknowledge,
    /// Start assessing.
    StartAssessment,
    /// Ask the requester for more information.
    RequestMoreInformation,
    /// Answer a request for more information.
    ProvideInformation,
    /// Propose conditions.
    ProposeConditions,
    /// Accept the proposed conditions.
    AcceptConditions,
    /// Accept the request.
    Accept,
    /// Start executing.
    StartExecution,
    /// Report the execution, in full or in part.
    ReportExecution {
        /// Only part was executed.
        partial: bool,
    },
    /// Close after execution.
    Close,
    /// Refuse, with reasons.
    Refuse(Reasons),
    /// Postpone, with reasons.
    Postpone(Reasons),
    /// Resume a postponed assessment.
    ResumeAssessment,
    /// Withdraw before execution.
    Withdraw,
    /// Confirm that the data are preserved.
    ConfirmPreservation,
    /// Ask for a longer preservation period.
    RequestPreservationExtension,
    /// Extend the preservation period.
    ExtendPreservation,
    /// Hold the data until the follow-up request is decided.
    HoldPreservation,
    /// End preservation.
    ReleasePreservation,
    /// The preservation period ran out (the hub's clock).
    ExpirePreservation,
}

impl MlaStep {
    /// The side that may take this step.
    pub fn side(&self) -> Side {
        match self {
            MlaStep::UpdateDraft
            | MlaStep::DeleteDraft
            | MlaStep::Submit
            | MlaStep::ProvideInformation
            | MlaStep::AcceptConditions
            | MlaStep::Close
            | MlaStep::Withdraw
            | MlaStep::RequestPreservationExtension => Side::Requesting,
            MlaStep::Deliver
            | MlaStep::Acknowledge
            | MlaStep::StartAssessment
            | MlaStep::RequestMoreInformation
            | MlaStep::ProposeConditions
            | MlaStep::Accept
            | MlaStep::StartExecution
            | MlaStep::ReportExecution { .. }
            | MlaStep::Refuse(_)
            | MlaStep::Postpone(_)
            | MlaStep::ResumeAssessment
            | MlaStep::ConfirmPreservation
            | MlaStep::ExtendPreservation
            | MlaStep::HoldPreservation => Side::Requested,
            // Either party; checked in `step`.
            MlaStep::ReleasePreservation => Side::Requesting,
            MlaStep::ExpirePreservation => Side::Hub,
        }
    }

    /// The step's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            MlaStep::UpdateDraft => "update the draft",
            MlaStep::DeleteDraft => "delete the draft",
            MlaStep::Submit => "submit",
            MlaStep::Deliver => "deliver",
            MlaStep::Acknowledge => "acknowledge",
            MlaStep::StartAssessment => "start the assessment",
            MlaStep::RequestMoreInformation => "request more information",
            MlaStep::ProvideInformation => "provide information",
            MlaStep::ProposeConditions => "propose conditions",
            MlaStep::AcceptConditions => "accept the conditions",
            MlaStep::Accept => "accept",
            MlaStep::StartExecution => "start the execution",
            MlaStep::ReportExecution { .. } => "report the execution",
            MlaStep::Close => "close",
            MlaStep::Refuse(_) => "refuse",
            MlaStep::Postpone(_) => "postpone",
            MlaStep::ResumeAssessment => "resume the assessment",
            MlaStep::Withdraw => "withdraw",
            MlaStep::ConfirmPreservation => "confirm preservation",
            MlaStep::RequestPreservationExtension => "request a preservation extension",
            MlaStep::ExtendPreservation => "extend preservation",
            MlaStep::HoldPreservation => "hold the preserved data",
            MlaStep::ReleasePreservation => "release preservation",
            MlaStep::ExpirePreservation => "expire preservation",
        }
    }

    /// Whether the step touches the preservation line rather than the main line.
    pub fn is_preservation_step(&self) -> bool {
        matches!(
            self,
            MlaStep::ConfirmPreservation
                | MlaStep::RequestPreservationExtension
                | MlaStep::ExtendPreservation
                | MlaStep::HoldPreservation
                | MlaStep::ReleasePreservation
                | MlaStep::ExpirePreservation
        )
    }
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The other party (or the hub) takes this step.
    #[error("only the {} agency may {}", .needed.as_str(), .step)]
    WrongParty {
        /// The step's name.
        step: &'static str,
        /// The side that may take it.
        needed: Side,
    },
    /// Only officers decide.
    #[error("only officers may {0}")]
    NotOfficer(&'static str),
    /// Not from this state.
    #[error("cannot {step} a request that is {state}")]
    NotInState {
        /// The step's name.
        step: &'static str,
        /// The current state.
        state: MlaState,
    },
    /// The request seeks no preservation, or its preservation is not at a point where
    /// this step applies.
    #[error("cannot {step}: preservation is {}", .preservation.map_or("not requested", PreservationState::as_str))]
    NotInPreservationState {
        /// The step's name.
        step: &'static str,
        /// The current preservation state.
        preservation: Option<PreservationState>,
    },
}

/// Decides one step: the status after it, or why it may not be taken. Pure.
pub fn step(status: MlaStatus, step: &MlaStep, actor: Actor) -> Result<MlaStatus, StepError> {
    let name = step.name();
    let side_ok = match step {
        MlaStep::ReleasePreservation => matches!(actor.side, Side::Requesting | Side::Requested),
        other => actor.side == other.side(),
    };
    if !side_ok {
        return Err(StepError::WrongParty {
            step: name,
            needed: step.side(),
        });
    }
    if actor.side != Side::Hub && !actor.officer {
        return Err(StepError::NotOfficer(name));
    }
    let state = status.state;
    let not_in_state = || StepError::NotInState { step: name, state };
    if step.is_preservation_step() {
        return preservation_step(status, step, name);
    }
    use MlaState as S;
    let next = match (step, state) {
        (MlaStep::UpdateDraft | MlaStep::DeleteDraft, S::Draft) => S::Draft,
        (MlaStep::Submit, S::Draft) => S::Submitted,
        (MlaStep::Deliver, S::Submitted) => S::Delivered,
        (MlaStep::Acknowledge, S::Delivered) => S::Acknowledged,
        (MlaStep::StartAssessment, S::Acknowledged) => S::UnderAssessment,
        (MlaStep::RequestMoreInformation, S::UnderAssessment) => S::MoreInformationRequested,
        (MlaStep::ProvideInformation, S::MoreInformationRequested) => S::UnderAssessment,
        (MlaStep::ProposeConditions, S::UnderAssessment) => S::ConditionsProposed,
        (MlaStep::AcceptConditions, S::ConditionsProposed) => S::Accepted,
        (MlaStep::Accept, S::UnderAssessment) => S::Accepted,
        (MlaStep::StartExecution, S::Accepted) => S::InExecution,
        (MlaStep::ReportExecution { partial: false }, S::InExecution) => S::Executed,
        (MlaStep::ReportExecution { partial: true }, S::InExecution) => S::PartiallyExecuted,
        (MlaStep::Close, S::Executed | S::PartiallyExecuted) => S::Closed,
        (MlaStep::Refuse(_), state) if state.refusable() => S::Refused,
        (MlaStep::Postpone(_), S::UnderAssessment) => S::Postponed,
        (MlaStep::ResumeAssessment, S::Postponed) => S::UnderAssessment,
        (MlaStep::Withdraw, state) if state.withdrawable() => S::Withdrawn,
        _ => return Err(not_in_state()),
    };
    // A refusal or a withdrawal ends whatever preservation is still active.
    let preservation = match (next, status.preservation) {
        (S::Refused | S::Withdrawn, Some(line)) if line.is_active() => {
            Some(PreservationState::Released)
        }
        (_, line) => line,
    };
    Ok(MlaStatus {
        state: next,
        preservation,
    })
}

fn preservation_step(
    status: MlaStatus,
    step: &MlaStep,
    name: &'static str,
) -> Result<MlaStatus, StepError> {
    let refused = || StepError::NotInPreservationState {
        step: name,
        preservation: status.preservation,
    };
    let Some(line) = status.preservation else {
        return Err(refused());
    };
    if !status.state.preservation_open() {
        return Err(StepError::NotInState {
            step: name,
            state: status.state,
        });
    }
    use PreservationState as P;
    let next = match (step, line) {
        (MlaStep::ConfirmPreservation, P::Requested) => P::Preserved,
        (MlaStep::RequestPreservationExtension, line) if line.is_running() => line,
        (MlaStep::ExtendPreservation, line) if line.is_running() => P::Extended,
        (MlaStep::HoldPreservation, line) if line.is_running() => P::Held,
        (MlaStep::ReleasePreservation, line) if line.is_active() => P::Released,
        (MlaStep::ExpirePreservation, line) if line.is_running() => P::Expired,
        _ => return Err(refused()),
    };
    Ok(MlaStatus {
        state: status.state,
        preservation: Some(next),
    })
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
