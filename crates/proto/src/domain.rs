//! The one home of the conversions between the generated enums and the domain's, and of
//! the values every service converts the same way (timestamps, principals).
//!
//! Each enum pair is written once, in [`by_name!`], as pairs of variant names: a value
//! inserted into the middle of a proto enum, or numbered out of order, changes nothing
//! here, and a variant added to either side without its pair fails to compile (both
//! matches are exhaustive). Proto values with no domain counterpart (`UNSPECIFIED`, and
//! the few a request may not name) are listed as such and decode to `None`. The tests
//! check every variant both ways against the domain's `ALL`.

use liaison_core::{
    FraudCategory, ObservableType, PrincipalId, PrincipalKind, Role, Timestamp, Tlp,
    cbm::{
        AckStatus, ChannelKind, ConsultationOutcome, ConsultationState, ContactLevel,
        NotificationKind, ReplyAudience, Severity,
    },
    federation::AgencyKind,
    mla::{DataCategory, DeadlineKind, LegalBasis, MlaState, PreservationState, Urgency},
};

use crate::v1;

/// A domain enum whose values travel as one generated enum, by name.
pub trait ProtoEnum: Copy + PartialEq + Sized + 'static {
    /// The generated enum.
    type Proto: Copy + Into<i32> + TryFrom<i32>;
    /// Every domain value.
    const ALL: &'static [Self];

    /// The generated value of `self`.
    fn to_proto_enum(self) -> Self::Proto;

    /// The domain value of a generated one; `None` for `UNSPECIFIED` and the values with
    /// no domain counterpart.
    fn from_proto_enum(proto: Self::Proto) -> Option<Self>;

    /// The enum number of `self`, as a message field holds it.
    fn to_proto(self) -> i32 {
        self.to_proto_enum().into()
    }

    /// The domain value of a message field's number; `None` for an unknown number too.
    fn from_proto(value: i32) -> Option<Self> {
        Self::Proto::try_from(value)
            .ok()
            .and_then(Self::from_proto_enum)
    }
}

/// `by_name!(Domain => Proto { DomainVariant => ProtoVariant, … } else { ProtoVariant, … })`:
/// the pairs, then the proto values that have no domain value.
macro_rules! by_name {
    ($domain:ty => $proto:ty {
        $($variant:ident => $proto_variant:ident),+ $(,)?
    } else { $($unmapped:ident),+ $(,)? }) => {
        impl ProtoEnum for $domain {
            type Proto = $proto;
            const ALL: &'static [Self] = &<$domain>::ALL;

            fn to_proto_enum(self) -> $proto {
                match self {
                    $(<$domain>::$variant => <$proto>::$proto_variant,)+
                }
            }

            fn from_proto_enum(proto: $proto) -> Option<Self> {
                match proto {
                    $(<$proto>::$proto_variant => Some(<$domain>::$variant),)+
                    $(<$proto>::$unmapped => None,)+
                }
            }
        }
    };
}

by_name!(Tlp => v1::Tlp {
    Clear => Clear,
    Green => Green,
    Amber => Amber,
    AmberStrict => AmberStrict,
    Red => Red,
} else { Unspecified });

by_name!(FraudCategory => v1::FraudCategory {
    Phishing => Phishing,
    BusinessEmailCompromise => BusinessEmailCompromise,
    InvestmentFraud => InvestmentFraud,
    RomanceFraud => RomanceFraud,
    TechSupportFraud => TechSupportFraud,
    SimSwap => SimSwap,
    CardNotPresentFraud => CardNotPresentFraud,
    RansomwareExtortion => RansomwareExtortion,
    CryptoAssetFraud => CryptoAssetFraud,
    FakeOnlineShop => FakeOnlineShop,
    Other => Other,
} else { Unspecified });

by_name!(ObservableType => v1::ObservableType {
    Domain => Domain,
    Url => Url,
    Ipv4 => Ipv4,
    Ipv6 => Ipv6,
    Email => Email,
    Phone => Phone,
    Iban => Iban,
    CryptoWallet => CryptoWallet,
    Sha256 => Sha256,
    Sha1 => Sha1,
    Md5 => Md5,
    CardBin => CardBin,
    MessengerHandle => MessengerHandle,
} else { Unspecified });

by_name!(LegalBasis => v1::MlaLegalBasis {
    Art29Preservation => BudapestArt29Preservation,
    Art30DisclosureOfPreservedTrafficData => BudapestArt30DisclosureOfPreservedTrafficData,
    Art31AccessToStoredData => BudapestArt31AccessToStoredData,
    Art33RealTimeTrafficData => BudapestArt33RealTimeTrafficData,
    Art34InterceptionOfContent => BudapestArt34InterceptionOfContent,
    ProtocolArt9EmergencyDisclosure => ProtocolArt9EmergencyDisclosure,
    ProtocolArt10EmergencyAssistance => ProtocolArt10EmergencyAssistance,
    BilateralTreaty => BilateralTreaty,
} else { Unspecified });

by_name!(Urgency => v1::MlaUrgency {
    Routine => Routine,
    Urgent => Urgent,
    Emergency => Emergency,
} else { Unspecified });

by_name!(DataCategory => v1::MlaDataCategory {
    Subscriber => Subscriber,
    Traffic => Traffic,
    Content => Content,
} else { Unspecified });

by_name!(MlaState => v1::MlaState {
    Draft => Draft,
    Submitted => Submitted,
    Delivered => Delivered,
    Acknowledged => Acknowledged,
    UnderAssessment => UnderAssessment,
    MoreInformationRequested => MoreInformationRequested,
    ConditionsProposed => ConditionsProposed,
    Accepted => Accepted,
    InExecution => InExecution,
    Executed => Executed,
    PartiallyExecuted => PartiallyExecuted,
    Closed => Closed,
    Refused => Refused,
    Postponed => Postponed,
    Withdrawn => Withdrawn,
} else { Unspecified });

by_name!(PreservationState => v1::MlaPreservationState {
    Requested => Requested,
    Preserved => Preserved,
    Extended => Extended,
    Held => Held,
    Expired => Expired,
    Released => Released,
} else { Unspecified });

by_name!(DeadlineKind => v1::MlaDeadlineKind {
    Acknowledgement => Acknowledgement,
    Response => Response,
    Information => Information,
    PreservationExpiry => PreservationExpiry,
    PostponementEnd => PostponementEnd,
} else { Unspecified });

by_name!(NotificationKind => v1::CbmNotificationKind {
    NationalThreatView => NationalThreatView,
    Incident => Incident,
    ConsultationRequest => ConsultationRequest,
    PolicyUpdate => PolicyUpdate,
    PocUpdate => PocUpdate,
    VulnerabilityDisclosure => VulnerabilityDisclosure,
    ExerciseAnnouncement => ExerciseAnnouncement,
} else { Unspecified });

by_name!(Severity => v1::CbmSeverity {
    Info => Info,
    Low => Low,
    Medium => Medium,
    High => High,
    Critical => Critical,
} else { Unspecified });

by_name!(AckStatus => v1::CbmAckStatus {
    Pending => Pending,
    Received => Received,
    Responded => Responded,
} else { Unspecified });

by_name!(ConsultationState => v1::CbmConsultationState {
    Requested => Requested,
    Acknowledged => Acknowledged,
    Scheduled => Scheduled,
    Held => Held,
    Closed => Closed,
} else { Unspecified });

by_name!(ConsultationOutcome => v1::CbmConsultationOutcome {
    Resolved => Resolved,
    Unresolved => Unresolved,
    Declined => Declined,
    Withdrawn => Withdrawn,
} else { Unspecified });

by_name!(ReplyAudience => v1::CbmReplyAudience {
    Sender => Sender,
    AllRecipients => AllRecipients,
    Participants => Participants,
} else { Unspecified });

// A point of contact's level. A check's `CbmContactLevel` names the same two levels plus
// ALL (no filter): see [`check_contact_level`].
by_name!(ContactLevel => v1::point_of_contact::Level {
    Policy => Policy,
    Technical => Technical,
} else { Unspecified });

by_name!(ChannelKind => v1::contact_channel::Kind {
    Phone => Phone,
    Email => Email,
    Liaison => Liaison,
    Other => Other,
} else { Unspecified });

by_name!(Role => v1::Role {
    System => System,
    Officer => Officer,
    Auditor => Auditor,
    OversightAuditor => OversightAuditor,
    Operator => Operator,
} else { Unspecified });

by_name!(AgencyKind => v1::AgencyKind {
    Police => Police,
    Cert => Cert,
    Ministry => Ministry,
    International => International,
    Hub => Hub,
} else { Unspecified });

by_name!(PrincipalKind => v1::PrincipalKind {
    System => System,
    Person => Person,
} else { Unspecified });

/// The level a communication check is addressed to: `Some(None)` for every level
/// (unspecified or ALL), `None` for an unknown number.
pub fn check_contact_level(value: i32) -> Option<Option<ContactLevel>> {
    match v1::CbmContactLevel::try_from(value).ok()? {
        v1::CbmContactLevel::Unspecified | v1::CbmContactLevel::All => Some(None),
        v1::CbmContactLevel::Policy => Some(Some(ContactLevel::Policy)),
        v1::CbmContactLevel::Technical => Some(Some(ContactLevel::Technical)),
    }
}

/// A domain timestamp as `google.protobuf.Timestamp`.
pub fn to_timestamp(time: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = time.seconds_nanos();
    prost_types::Timestamp { seconds, nanos }
}

/// A `google.protobuf.Timestamp` from a request; `None` when out of range.
pub fn from_timestamp(time: &prost_types::Timestamp) -> Option<Timestamp> {
    Timestamp::from_seconds_nanos(time.seconds, time.nanos)
}

/// A principal as the API names it.
pub fn principal_ref(principal: &PrincipalId) -> v1::PrincipalRef {
    v1::PrincipalRef {
        agency_id: principal.agency().to_string(),
        kind: principal.kind().to_proto(),
        name: principal.name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every domain value maps to a distinct proto value and back, and every proto value
    /// the enum declares maps to a domain value and back, or is one of the unmapped.
    fn maps_both_ways<D: ProtoEnum + std::fmt::Debug>(unmapped: &[i32]) {
        let mut numbers = Vec::new();
        for value in D::ALL {
            let number = value.to_proto();
            assert_eq!(D::from_proto(number), Some(*value), "{value:?}");
            assert!(!numbers.contains(&number), "{value:?} shares {number}");
            numbers.push(number);
        }
        let mut declared = 0;
        for number in 0..=255 {
            if D::Proto::try_from(number).is_err() {
                continue;
            }
            declared += 1;
            match D::from_proto(number) {
                Some(value) => assert_eq!(value.to_proto(), number),
                None => assert!(unmapped.contains(&number), "{number} has no domain value"),
            }
        }
        assert_eq!(declared, D::ALL.len() + unmapped.len());
    }

    #[test]
    fn indicator_enums_map_both_ways() {
        maps_both_ways::<Tlp>(&[0]);
        maps_both_ways::<FraudCategory>(&[0]);
        maps_both_ways::<ObservableType>(&[0]);
    }

    #[test]
    fn mla_enums_map_both_ways() {
        maps_both_ways::<LegalBasis>(&[0]);
        maps_both_ways::<Urgency>(&[0]);
        maps_both_ways::<DataCategory>(&[0]);
        maps_both_ways::<MlaState>(&[0]);
        maps_both_ways::<PreservationState>(&[0]);
        maps_both_ways::<DeadlineKind>(&[0]);
    }

    #[test]
    fn cbm_enums_map_both_ways() {
        maps_both_ways::<NotificationKind>(&[0]);
        maps_both_ways::<Severity>(&[0]);
        maps_both_ways::<AckStatus>(&[0]);
        maps_both_ways::<ConsultationState>(&[0]);
        maps_both_ways::<ConsultationOutcome>(&[0]);
        maps_both_ways::<ReplyAudience>(&[0]);
        maps_both_ways::<ContactLevel>(&[0]);
        maps_both_ways::<ChannelKind>(&[0]);
    }

    #[test]
    fn directory_enums_map_both_ways() {
        maps_both_ways::<Role>(&[0]);
        maps_both_ways::<AgencyKind>(&[0]);
        maps_both_ways::<PrincipalKind>(&[0]);
    }

    #[test]
    fn a_check_names_a_level_or_all() {
        assert_eq!(check_contact_level(0), Some(None));
        assert_eq!(check_contact_level(3), Some(None));
        assert_eq!(
            check_contact_level(v1::CbmContactLevel::Technical as i32),
            Some(Some(ContactLevel::Technical))
        );
        assert_eq!(check_contact_level(99), None);
    }

    #[test]
    fn legal_bases_are_matched_by_name_not_position() {
        assert_eq!(
            LegalBasis::from_proto(v1::MlaLegalBasis::BilateralTreaty as i32),
            Some(LegalBasis::BilateralTreaty)
        );
        assert_eq!(
            LegalBasis::Art29Preservation.to_proto_enum(),
            v1::MlaLegalBasis::BudapestArt29Preservation
        );
    }
}
