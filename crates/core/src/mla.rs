//! Mutual legal assistance (MLA): the workflow of a request for electronic evidence between
//! two agencies, under the Budapest Convention (Arts. 25–35) and its Second Additional
//! Protocol. Pure rules, no I/O:
//!
//! - [`step`]: the state machine. From a request's [`MlaStatus`] (workflow state and
//!   preservation line), an [`MlaStep`] and who takes it ([`Actor`]), the status after the
//!   step — or why the step is refused. Which party (requesting or requested) and which
//!   role (officer) may take each step is part of the machine.
//! - [`basis`]: the legal bases and the rule that a Convention or Protocol basis needs both
//!   agencies' states to be Parties.
//! - [`deadlines`]: acknowledgement, response and preservation deadlines as pure functions
//!   of the request and the time; [`policy_file`]: the federation's deadline settings.

pub mod basis;
pub mod deadlines;
mod machine;
pub mod policy_file;

pub use basis::{
    DataCategory, LegalBasis, PartiesError, SubmissionFacts, Treaty, TreatyPosition, Urgency,
    check_parties, check_submission,
};
pub use deadlines::{DeadlineKind, DeadlinePolicy, MIN_PRESERVATION, preservation_until};
pub use machine::{
    Actor, MlaState, MlaStatus, MlaStep, PreservationState, Reasons, ReasonsError, Side, StepError,
    step,
};

/// Prefix of MLA request ids (`mla_…`, [`crate::ObjectId::MLA_REQUEST`]).
pub const REQUEST_ID_PREFIX: &str = crate::ObjectId::MLA_REQUEST;
/// Prefix of receipt ids (`rct_…`, [`crate::ObjectId::MLA_RECEIPT`]).
pub const RECEIPT_ID_PREFIX: &str = crate::ObjectId::MLA_RECEIPT;
