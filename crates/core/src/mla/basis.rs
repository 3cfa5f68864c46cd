//! Legal bases, urgency and data categories, the rule that a Convention or Protocol
//! basis needs both states to be Parties, and what a request must state to be submitted.

use crate::Violations;

/// The legal basis of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegalBasis {
    /// Budapest Convention Art. 29: expedited preservation of stored computer data.
    Art29Preservation,
    /// Art. 30: expedited disclosure of preserved traffic data.
    Art30DisclosureOfPreservedTrafficData,
    /// Art. 31: access to stored data.
    Art31AccessToStoredData,
    /// Art. 33: real-time collection of traffic data.
    Art33RealTimeTrafficData,
    /// Art. 34: interception of content data.
    Art34InterceptionOfContent,
    /// Second Additional Protocol Art. 9: expedited disclosure in an emergency.
    ProtocolArt9EmergencyDisclosure,
    /// Second Additional Protocol Art. 10: emergency mutual assistance.
    ProtocolArt10EmergencyAssistance,
    /// A bilateral (or other) treaty named in text.
    BilateralTreaty,
}

/// The treaty a basis rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treaty {
    /// The Budapest Convention (ETS 185).
    Convention,
    /// Its Second Additional Protocol (CETS 224).
    SecondProtocol,
    /// A treaty outside the Council of Europe instruments.
    Other,
}

impl LegalBasis {
    /// Every value, in declaration order.
    pub const ALL: [LegalBasis; 8] = [
        LegalBasis::Art29Preservation,
        LegalBasis::Art30DisclosureOfPreservedTrafficData,
        LegalBasis::Art31AccessToStoredData,
        LegalBasis::Art33RealTimeTrafficData,
        LegalBasis::Art34InterceptionOfContent,
        LegalBasis::ProtocolArt9EmergencyDisclosure,
        LegalBasis::ProtocolArt10EmergencyAssistance,
        LegalBasis::BilateralTreaty,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Art29Preservation => "budapest_art_29",
            LegalBasis::Art30DisclosureOfPreservedTrafficData => "budapest_art_30",
            LegalBasis::Art31AccessToStoredData => "budapest_art_31",
            LegalBasis::Art33RealTimeTrafficData => "budapest_art_33",
            LegalBasis::Art34InterceptionOfContent => "budapest_art_34",
            LegalBasis::ProtocolArt9EmergencyDisclosure => "protocol_art_9",
            LegalBasis::ProtocolArt10EmergencyAssistance => "protocol_art_10",
            LegalBasis::BilateralTreaty => "bilateral_treaty",
        }
    }

    /// The treaty it rests on.
    pub fn treaty(self) -> Treaty {
        match self {
            LegalBasis::ProtocolArt9EmergencyDisclosure
            | LegalBasis::ProtocolArt10EmergencyAssistance => Treaty::SecondProtocol,
            LegalBasis::BilateralTreaty => Treaty::Other,
            _ => Treaty::Convention,
        }
    }

    /// An emergency basis (Protocol Arts. 9–10): needs an emergency justification.
    pub fn is_emergency(self) -> bool {
        self.treaty() == Treaty::SecondProtocol
    }
}

/// How fast the requester needs an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Urgency {
    /// Ordinary handling.
    Routine,
    /// Faster than routine.
    Urgent,
    /// Imminent risk to life or safety.
    Emergency,
}

impl Urgency {
    /// Every value, in declaration order.
    pub const ALL: [Urgency; 3] = [Urgency::Routine, Urgency::Urgent, Urgency::Emergency];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Routine => "routine",
            Urgency::Urgent => "urgent",
            Urgency::Emergency => "emergency",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Urgency::Routine, Urgency::Urgent, Urgency::Emergency]
            .into_iter()
            .find(|urgency| urgency.as_str() == text)
    }
}

/// The category of data sought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataCategory {
    /// Subscriber information.
    Subscriber,
    /// Traffic data.
    Traffic,
    /// Content data.
    Content,
}

impl DataCategory {
    /// Every value, in declaration order.
    pub const ALL: [DataCategory; 3] = [
        DataCategory::Subscriber,
        DataCategory::Traffic,
        DataCategory::Content,
    ];
}

/// A state's ratifications, as the federation file records them. International bodies
/// have no state and so no treaty position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreatyPosition {
    /// Party to the Budapest Convention.
    pub budapest_convention: bool,
    /// Party to its Second Additional Protocol.
    pub second_protocol: bool,
}

/// Why a basis is not available between two agencies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartiesError {
    /// One of the agencies' states is not a Party.
    #[error(
        "the legal basis needs both states to be Parties to the {treaty}; the {side} agency's state is not: choose another basis, such as a bilateral treaty"
    )]
    NotParty {
        /// The treaty's name.
        treaty: &'static str,
        /// "requesting" or "requested".
        side: &'static str,
    },
}

/// A Convention basis needs both agencies' states to be Parties to the Convention, a
/// Protocol basis Parties to the Protocol; a bilateral treaty is the parties' own affair.
/// `None` is an agency with no state (an international body): a Party to nothing.
pub fn check_parties(
    basis: LegalBasis,
    requesting: Option<TreatyPosition>,
    requested: Option<TreatyPosition>,
) -> Result<(), PartiesError> {
    let (treaty, is_party): (&'static str, fn(TreatyPosition) -> bool) = match basis.treaty() {
        Treaty::Other => return Ok(()),
        Treaty::Convention => ("Budapest Convention", |p| p.budapest_convention),
        Treaty::SecondProtocol => ("Second Additional Protocol", |p| {
            p.budapest_convention && p.second_protocol
        }),
    };
    for (side, position) in [("requesting", requesting), ("requested", requested)] {
        if !position.is_some_and(is_party) {
            return Err(PartiesError::NotParty { treaty, side });
        }
    }
    Ok(())
}

/// What the submission rules need to know of a request's content. The handler fills it
/// from the request; `check_submission` says what is missing, all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmissionFacts {
    /// The legal basis, if a known one was given.
    pub basis: Option<LegalBasis>,
    /// A bilateral treaty is named.
    pub has_bilateral_treaty: bool,
    /// The urgency, if given.
    pub urgency: Option<Urgency>,
    /// An emergency justification is given.
    pub has_emergency_justification: bool,
    /// The requesting authority is named.
    pub has_requesting_authority: bool,
    /// The offence is described.
    pub has_offence: bool,
    /// A summary of facts is given.
    pub has_summary_of_facts: bool,
    /// How many items of data are sought.
    pub data_sought: usize,
    /// Items of data sought without their relation to the offence (by index).
    pub data_without_relation: Vec<usize>,
    /// Preservation is sought.
    pub preservation_requested: bool,
    /// Why preservation is needed is stated.
    pub has_preservation_necessity: bool,
    /// The statement that a full request will follow.
    pub full_request_to_follow: bool,
    /// Handling code H3 without restrictions in text.
    pub h3_without_restrictions: bool,
}

/// Every rule a request must meet to be submitted (Art. 29(2) for preservation), with
/// field paths under `content`.
pub fn check_submission(facts: &SubmissionFacts) -> Violations {
    let mut violations = Violations::new();
    let mut require = |ok: bool, field: &str, why: &str| {
        if !ok {
            violations.add(format!("content.{field}"), why);
        }
    };
    require(
        facts.basis.is_some(),
        "legal_basis",
        "a legal basis is required",
    );
    require(
        facts.basis != Some(LegalBasis::BilateralTreaty) || facts.has_bilateral_treaty,
        "bilateral_treaty",
        "name the treaty relied on",
    );
    require(facts.urgency.is_some(), "urgency", "an urgency is required");
    let emergency = facts.urgency == Some(Urgency::Emergency)
        || facts.basis.is_some_and(LegalBasis::is_emergency);
    require(
        !emergency || facts.has_emergency_justification,
        "emergency_justification",
        "an emergency needs its justification (imminent risk to life or safety)",
    );
    require(
        facts.has_requesting_authority,
        "requesting_authority",
        "name the authority seeking assistance (Art. 29(2)(a))",
    );
    require(
        facts.has_offence,
        "offence.description",
        "describe the offence (Art. 29(2)(b))",
    );
    require(
        facts.has_summary_of_facts,
        "summary_of_facts",
        "summarise the facts (Art. 29(2)(b))",
    );
    require(
        facts.data_sought > 0,
        "data_sought",
        "state the data sought (Art. 29(2)(c))",
    );
    let preservation_basis = facts.basis == Some(LegalBasis::Art29Preservation);
    require(
        !preservation_basis || facts.preservation_requested,
        "preservation_requested",
        "an Art. 29 request seeks preservation",
    );
    require(
        !(preservation_basis || facts.preservation_requested) || facts.has_preservation_necessity,
        "preservation_necessity",
        "state why preservation is needed (Art. 29(2)(e))",
    );
    require(
        !preservation_basis || facts.full_request_to_follow,
        "full_request_to_follow",
        "state that a request for disclosure will follow (Art. 29(2)(f))",
    );
    require(
        !facts.h3_without_restrictions,
        "handling_restrictions",
        "handling code H3 needs its restrictions in text",
    );
    for index in &facts.data_without_relation {
        if preservation_basis {
            violations.add(
                format!("content.data_sought[{index}].relation_to_offence"),
                "state the data's relation to the offence (Art. 29(2)(c))",
            );
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTY_TO_BOTH: TreatyPosition = TreatyPosition {
        budapest_convention: true,
        second_protocol: true,
    };
    const CONVENTION_ONLY: TreatyPosition = TreatyPosition {
        budapest_convention: true,
        second_protocol: false,
    };

    #[test]
    fn convention_and_protocol_bases_need_both_states_to_be_parties() {
        let nothing = TreatyPosition::default();
        let cases = [
            (
                LegalBasis::Art29Preservation,
                Some(PARTY_TO_BOTH),
                Some(CONVENTION_ONLY),
                true,
            ),
            (
                LegalBasis::Art31AccessToStoredData,
                Some(PARTY_TO_BOTH),
                Some(nothing),
                false,
            ),
            (
                LegalBasis::Art31AccessToStoredData,
                Some(nothing),
                Some(PARTY_TO_BOTH),
                false,
            ),
            (
                LegalBasis::Art31AccessToStoredData,
                Some(PARTY_TO_BOTH),
                None,
                false,
            ),
            (
                LegalBasis::ProtocolArt9EmergencyDisclosure,
                Some(PARTY_TO_BOTH),
                Some(PARTY_TO_BOTH),
                true,
            ),
            (
                LegalBasis::ProtocolArt9EmergencyDisclosure,
                Some(PARTY_TO_BOTH),
                Some(CONVENTION_ONLY),
                false,
            ),
            (
                LegalBasis::ProtocolArt10EmergencyAssistance,
                Some(CONVENTION_ONLY),
                Some(PARTY_TO_BOTH),
                false,
            ),
            (
                LegalBasis::BilateralTreaty,
                Some(PARTY_TO_BOTH),
                Some(nothing),
                true,
            ),
            (LegalBasis::BilateralTreaty, None, None, true),
        ];
        for (basis, requesting, requested, allowed) in cases {
            assert_eq!(
                check_parties(basis, requesting, requested).is_ok(),
                allowed,
                "{basis:?} {requesting:?} {requested:?}"
            );
        }
        let error = check_parties(
            LegalBasis::Art31AccessToStoredData,
            Some(PARTY_TO_BOTH),
            Some(nothing),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("requested agency's state"),
            "{error}"
        );
    }

    fn complete_preservation() -> SubmissionFacts {
        SubmissionFacts {
            basis: Some(LegalBasis::Art29Preservation),
            urgency: Some(Urgency::Emergency),
            has_emergency_justification: true,
            has_requesting_authority: true,
            has_offence: true,
            has_summary_of_facts: true,
            data_sought: 1,
            preservation_requested: true,
            has_preservation_necessity: true,
            full_request_to_follow: true,
            ..SubmissionFacts::default()
        }
    }

    #[test]
    fn a_preservation_request_must_state_what_art_29_2_asks() {
        assert!(check_submission(&complete_preservation()).is_empty());
        let missing = SubmissionFacts {
            has_emergency_justification: false,
            full_request_to_follow: false,
            has_preservation_necessity: false,
            data_without_relation: vec![0],
            ..complete_preservation()
        };
        let fields: Vec<String> = check_submission(&missing)
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(
            fields,
            [
                "content.emergency_justification",
                "content.preservation_necessity",
                "content.full_request_to_follow",
                "content.data_sought[0].relation_to_offence",
            ]
        );
        let empty: Vec<String> = check_submission(&SubmissionFacts::default())
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(
            empty,
            [
                "content.legal_basis",
                "content.urgency",
                "content.requesting_authority",
                "content.offence.description",
                "content.summary_of_facts",
                "content.data_sought",
            ]
        );
    }
}
