//! The state machine against a table written apart from it: every state × step × actor,
//! and random sequences of steps that must never reach an illegal status.

use proptest::prelude::*;

use super::*;
use MlaState as S;
use PreservationState as P;

fn reasons() -> Reasons {
    Reasons::parse("Заходи зачіпають поточне розслідування").unwrap()
}

/// Every main-line step, once.
fn main_steps() -> Vec<MlaStep> {
    vec![
        MlaStep::UpdateDraft,
        MlaStep::DeleteDraft,
        MlaStep::Submit,
        MlaStep::Deliver,
        MlaStep::Acknowledge,
        MlaStep::StartAssessment,
        MlaStep::RequestMoreInformation,
        MlaStep::ProvideInformation,
        MlaStep::ProposeConditions,
        MlaStep::AcceptConditions,
        MlaStep::Accept,
        MlaStep::StartExecution,
        MlaStep::ReportExecution { partial: false },
        MlaStep::ReportExecution { partial: true },
        MlaStep::Close,
        MlaStep::Refuse(reasons()),
        MlaStep::Postpone(reasons()),
        MlaStep::ResumeAssessment,
        MlaStep::Withdraw,
    ]
}

fn preservation_steps() -> Vec<MlaStep> {
    vec![
        MlaStep::ConfirmPreservation,
        MlaStep::RequestPreservationExtension,
        MlaStep::ExtendPreservation,
        MlaStep::HoldPreservation,
        MlaStep::ReleasePreservation,
        MlaStep::ExpirePreservation,
    ]
}

fn all_steps() -> Vec<MlaStep> {
    let mut steps = main_steps();
    steps.extend(preservation_steps());
    steps
}

/// The main line as the issue states it: (step, from, to, who).
fn main_table() -> Vec<(MlaStep, MlaState, MlaState, Side)> {
    use Side::{Requested as Rd, Requesting as Rg};
    let mut table = vec![
        (MlaStep::UpdateDraft, S::Draft, S::Draft, Rg),
        (MlaStep::DeleteDraft, S::Draft, S::Draft, Rg),
        (MlaStep::Submit, S::Draft, S::Submitted, Rg),
        (MlaStep::Deliver, S::Submitted, S::Delivered, Rd),
        (MlaStep::Acknowledge, S::Delivered, S::Acknowledged, Rd),
        (
            MlaStep::StartAssessment,
            S::Acknowledged,
            S::UnderAssessment,
            Rd,
        ),
        (
            MlaStep::RequestMoreInformation,
            S::UnderAssessment,
            S::MoreInformationRequested,
            Rd,
        ),
        (
            MlaStep::ProvideInformation,
            S::MoreInformationRequested,
            S::UnderAssessment,
            Rg,
        ),
        (
            MlaStep::ProposeConditions,
            S::UnderAssessment,
            S::ConditionsProposed,
            Rd,
        ),
        (
            MlaStep::AcceptConditions,
            S::ConditionsProposed,
            S::Accepted,
            Rg,
        ),
        (MlaStep::Accept, S::UnderAssessment, S::Accepted, Rd),
        (MlaStep::StartExecution, S::Accepted, S::InExecution, Rd),
        (
            MlaStep::ReportExecution { partial: false },
            S::InExecution,
            S::Executed,
            Rd,
        ),
        (
            MlaStep::ReportExecution { partial: true },
            S::InExecution,
            S::PartiallyExecuted,
            Rd,
        ),
        (MlaStep::Close, S::Executed, S::Closed, Rg),
        (MlaStep::Close, S::PartiallyExecuted, S::Closed, Rg),
        (
            MlaStep::Postpone(reasons()),
            S::UnderAssessment,
            S::Postponed,
            Rd,
        ),
        (
            MlaStep::ResumeAssessment,
            S::Postponed,
            S::UnderAssessment,
            Rd,
        ),
    ];
    for from in [
        S::Delivered,
        S::Acknowledged,
        S::UnderAssessment,
        S::MoreInformationRequested,
        S::Postponed,
    ] {
        table.push((MlaStep::Refuse(reasons()), from, S::Refused, Rd));
    }
    for from in [
        S::Submitted,
        S::Delivered,
        S::Acknowledged,
        S::UnderAssessment,
        S::MoreInformationRequested,
        S::ConditionsProposed,
        S::Accepted,
        S::Postponed,
    ] {
        table.push((MlaStep::Withdraw, from, S::Withdrawn, Rg));
    }
    table
}

const ACTORS: [Actor; 5] = [
    Actor::REQUESTING_OFFICER,
    Actor::REQUESTED_OFFICER,
    Actor {
        side: Side::Requesting,
        officer: false,
    },
    Actor {
        side: Side::Requested,
        officer: false,
    },
    Actor::HUB,
];

#[test]
fn every_state_step_and_actor_of_the_main_line_is_as_the_table_says() {
    let table = main_table();
    let mut allowed_count = 0;
    for from in MlaState::ALL {
        for step_taken in main_steps() {
            for actor in ACTORS {
                let status = MlaStatus {
                    state: from,
                    preservation: None,
                };
                let expected = table
                    .iter()
                    .find(|(s, f, _, who)| *s == step_taken && *f == from && *who == actor.side)
                    .filter(|_| actor.officer)
                    .map(|(_, _, to, _)| *to);
                let result = step(status, &step_taken, actor);
                match (expected, result) {
                    (Some(to), Ok(after)) => {
                        assert_eq!(after.state, to, "{step_taken:?} from {from}");
                        allowed_count += 1;
                    }
                    (None, Err(_)) => {}
                    (expected, result) => panic!(
                        "{step_taken:?} from {from} by {actor:?}: expected {expected:?}, got {result:?}"
                    ),
                }
            }
        }
    }
    assert_eq!(allowed_count, table.len());
}

#[test]
fn a_wrong_party_or_a_non_officer_is_told_so_before_the_state() {
    let status = MlaStatus::draft(false);
    assert!(matches!(
        step(status, &MlaStep::Acknowledge, Actor::REQUESTING_OFFICER),
        Err(StepError::WrongParty {
            needed: Side::Requested,
            ..
        })
    ));
    let clerk = Actor {
        side: Side::Requesting,
        officer: false,
    };
    assert!(matches!(
        step(status, &MlaStep::Submit, clerk),
        Err(StepError::NotOfficer(_))
    ));
    let error = step(status, &MlaStep::Close, Actor::REQUESTING_OFFICER).unwrap_err();
    assert_eq!(error.to_string(), "cannot close a request that is draft");
}

/// The preservation line: (step, from, to, who), for any open main state.
fn preservation_table() -> Vec<(MlaStep, P, P, Side)> {
    use Side::{Requested as Rd, Requesting as Rg};
    let mut table = vec![(MlaStep::ConfirmPreservation, P::Requested, P::Preserved, Rd)];
    for running in [P::Preserved, P::Extended] {
        table.push((MlaStep::RequestPreservationExtension, running, running, Rg));
        table.push((MlaStep::ExtendPreservation, running, P::Extended, Rd));
        table.push((MlaStep::HoldPreservation, running, P::Held, Rd));
        table.push((MlaStep::ExpirePreservation, running, P::Expired, Side::Hub));
    }
    for active in [P::Requested, P::Preserved, P::Extended, P::Held] {
        table.push((MlaStep::ReleasePreservation, active, P::Released, Rg));
        table.push((MlaStep::ReleasePreservation, active, P::Released, Rd));
    }
    table
}

#[test]
fn every_preservation_step_follows_its_table_in_open_states_only() {
    let table = preservation_table();
    for state in MlaState::ALL {
        let open = !matches!(state, S::Draft | S::Submitted | S::Refused | S::Withdrawn);
        for line in P::ALL.map(Some).into_iter().chain([None]) {
            for step_taken in preservation_steps() {
                for actor in ACTORS {
                    let status = MlaStatus {
                        state,
                        preservation: line,
                    };
                    let expected = line
                        .and_then(|line| {
                            table.iter().find(|(s, f, _, who)| {
                                *s == step_taken && *f == line && *who == actor.side
                            })
                        })
                        .filter(|_| open && (actor.officer || actor.side == Side::Hub))
                        .map(|(_, _, to, _)| *to);
                    let result = step(status, &step_taken, actor);
                    match (expected, result) {
                        (Some(to), Ok(after)) => {
                            assert_eq!(after.preservation, Some(to));
                            assert_eq!(
                                after.state, state,
                                "preservation never moves the main line"
                            );
                        }
                        (None, Err(_)) => {}
                        (expected, result) => panic!(
                            "{step_taken:?} in {state}/{line:?} by {actor:?}: expected {expected:?}, got {result:?}"
                        ),
                    }
                }
            }
        }
    }
}

#[test]
fn refusal_and_withdrawal_release_active_preservation() {
    let status = MlaStatus {
        state: S::UnderAssessment,
        preservation: Some(P::Preserved),
    };
    let refused = step(
        status,
        &MlaStep::Refuse(reasons()),
        Actor::REQUESTED_OFFICER,
    )
    .unwrap();
    assert_eq!(refused.preservation, Some(P::Released));
    let expired = MlaStatus {
        state: S::Accepted,
        preservation: Some(P::Expired),
    };
    let withdrawn = step(expired, &MlaStep::Withdraw, Actor::REQUESTING_OFFICER).unwrap();
    assert_eq!(withdrawn.preservation, Some(P::Expired));
}

#[test]
fn reasons_must_not_be_blank_and_states_round_trip() {
    assert_eq!(Reasons::parse("  \n"), Err(ReasonsError::Missing));
    assert_eq!(Reasons::parse(" Lý do ").unwrap().as_str(), "Lý do");
    for state in MlaState::ALL {
        assert_eq!(MlaState::parse(state.as_str()), Some(state));
    }
    for line in P::ALL {
        assert_eq!(P::parse(line.as_str()), Some(line));
    }
    assert_eq!(MlaState::parse("lost"), None);
}

/// A status no sequence of steps may reach.
fn illegal(status: MlaStatus, seeks_preservation: bool) -> Option<&'static str> {
    if status.preservation.is_some() != seeks_preservation {
        return Some("the preservation line appeared or vanished");
    }
    if status.state == S::Draft && status.preservation.is_some_and(|p| p != P::Requested) {
        return Some("a draft with preservation under way");
    }
    if matches!(status.state, S::Refused | S::Withdrawn)
        && status.preservation.is_some_and(P::is_active)
    {
        return Some("a refused or withdrawn request still preserving");
    }
    None
}

proptest! {
    #[test]
    fn random_sequences_never_reach_an_illegal_status(
        seeks_preservation in any::<bool>(),
        steps in proptest::collection::vec((0usize..25, 0usize..5), 0..80),
    ) {
        let catalogue = all_steps();
        let mut status = MlaStatus::draft(seeks_preservation);
        let mut left_draft = false;
        for (step_index, actor_index) in steps {
            let step_taken = &catalogue[step_index % catalogue.len()];
            let actor = ACTORS[actor_index];
            let before = status;
            match step(status, step_taken, actor) {
                Ok(after) => {
                    // Only the side the table names, and only officers (or the hub's clock).
                    prop_assert!(actor.officer || actor.side == Side::Hub);
                    prop_assert!(
                        step_taken.side() == actor.side
                            || (*step_taken == MlaStep::ReleasePreservation && actor.side != Side::Hub)
                    );
                    // Terminal states are never left by the main line.
                    if before.state.is_terminal() {
                        prop_assert_eq!(after.state, before.state);
                    }
                    // Terminal preservation states are never left.
                    if before.preservation.is_some_and(|p| !p.is_active()) {
                        prop_assert_eq!(after.preservation, before.preservation);
                    }
                    // Closed only from an executed request.
                    if after.state == S::Closed && before.state != S::Closed {
                        prop_assert!(matches!(before.state, S::Executed | S::PartiallyExecuted));
                    }
                    status = after;
                }
                Err(_) => prop_assert_eq!(status, before),
            }
            if status.state != S::Draft {
                left_draft = true;
            }
            prop_assert!(!(left_draft && status.state == S::Draft), "back to draft");
            if let Some(reason) = illegal(status, seeks_preservation) {
                prop_assert!(false, "{} after {:?}: {:?}", reason, step_taken, status);
            }
        }
    }
}
