//! The one place that decides who may do what.
//!
//! A decision has two steps, both here:
//! 1. **The call's gate** ([`gate`], [`check_gate`]): every RPC of every service has one
//!    row in [`RULES`] saying which principals may call it at all — members or the hub's
//!    own principals, and with which roles. It is checked before the request is even
//!    validated, so a caller without the role learns nothing from error details. A method
//!    without a row is refused: a new RPC is closed until someone writes its rule (and the
//!    authorization matrix test fails until it has a row there too).
//! 2. **The object** ([`authorize`] with an [`Action`]): the rules below, on the
//!    stored record the call acts on — scope and TLP for shared items, the two parties for
//!    an MLA request, the owner for a change. The record is always the one loaded from the
//!    store, never ids or copies sent in the request.
//!
//! A denial carries a static reason for the audit record; the client sees PERMISSION_DENIED
//! (or NOT_FOUND where even existence must not leak).

use liaison_core::{AgencyId, PrincipalKind, Role, Scope, Tlp};
use liaison_proto::methods;

use crate::policy::{Caller, Denied};

/// Which agencies' principals a gate admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Any principal the directory knows, of a member agency or of the hub.
    Anyone,
    /// Principals of active member agencies; never the hub's own principals (the operator
    /// and oversight auditors exchange no traffic).
    Members,
    /// The hub's own principals only.
    Hub,
    /// Members and the hub.
    MembersAndHub,
}

/// The gate of one RPC: who, and holding at least one of `roles` (none listed: no role
/// needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Which agencies.
    pub who: Who,
    /// Roles, any one of which suffices; empty for none needed.
    pub roles: &'static [Role],
}

const fn rule(who: Who, roles: &'static [Role]) -> Gate {
    Gate { who, roles }
}

const EXCHANGE: &[Role] = &[Role::System, Role::Officer];
const OFFICER: &[Role] = &[Role::Officer];
const AUDITORS: &[Role] = &[Role::Auditor, Role::OversightAuditor];
const OPERATOR: &[Role] = &[Role::Operator];
const NONE: &[Role] = &[];

/// Every RPC's gate, by full method path without the leading slash.
#[rustfmt::skip]
pub const RULES: &[(&str, Gate)] = &[
    // Directory: reads and tokens for everyone the hub knows; contacts for officers; the
    // rest is the operator's.
    (methods::DIRECTORY_WHO_AM_I, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_LIST_AGENCIES, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_GET_AGENCY, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_LIST_POINTS_OF_CONTACT, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_SET_POINT_OF_CONTACT, rule(Who::Members, OFFICER)),
    (methods::DIRECTORY_DELETE_POINT_OF_CONTACT, rule(Who::Members, OFFICER)),
    (methods::DIRECTORY_LIST_SHARING_GROUPS, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_GET_SHARING_GROUP, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_CREATE_SHARING_GROUP, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_UPDATE_SHARING_GROUP, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_ISSUE_TOKEN, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_GET_TOKEN_KEYS, rule(Who::Anyone, NONE)),
    (methods::DIRECTORY_REGISTER_AGENCY, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_SUSPEND_AGENCY, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_REINSTATE_AGENCY, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_REGISTER_CERTIFICATE, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_REVOKE_CERTIFICATE, rule(Who::Hub, OPERATOR)),
    (methods::DIRECTORY_ASSIGN_ROLES, rule(Who::Hub, OPERATOR)),
    // Indicators: systems and officers of member agencies.
    (methods::INDICATOR_PUBLISH, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_PUBLISH_MANY, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_GET_INDICATOR, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_LIST_INDICATORS, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_SUBSCRIBE, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_REVOKE_INDICATOR, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_LINK_OBSERVABLES, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_REPORT_SIGHTING, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_LOOKUP, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_EXPORT_STIX, rule(Who::Members, EXCHANGE)),
    (methods::INDICATOR_IMPORT_STIX, rule(Who::Members, EXCHANGE)),
    // Audit: records for auditors (agency auditors see their agency's); checkpoints,
    // proofs and keys reveal no record content and are open to every principal, so that
    // anyone can act as a witness.
    (methods::AUDIT_QUERY_RECORDS, rule(Who::MembersAndHub, AUDITORS)),
    (methods::AUDIT_EXPORT_RECORDS, rule(Who::MembersAndHub, AUDITORS)),
    (methods::AUDIT_GET_CHECKPOINT, rule(Who::Anyone, NONE)),
    (methods::AUDIT_GET_INCLUSION_PROOF, rule(Who::Anyone, NONE)),
    (methods::AUDIT_GET_CONSISTENCY_PROOF, rule(Who::Anyone, NONE)),
    (methods::AUDIT_GET_LOG_KEYS, rule(Who::Anyone, NONE)),
    // MLA: decisions and content for officers of the parties; request metadata also for
    // auditors; receipt keys for everyone.
    (methods::MLA_CREATE_DRAFT, rule(Who::Members, OFFICER)),
    (methods::MLA_UPDATE_DRAFT, rule(Who::Members, OFFICER)),
    (methods::MLA_DELETE_DRAFT, rule(Who::Members, OFFICER)),
    (methods::MLA_SUBMIT_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_ACKNOWLEDGE_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_START_ASSESSMENT, rule(Who::Members, OFFICER)),
    (methods::MLA_REQUEST_MORE_INFORMATION, rule(Who::Members, OFFICER)),
    (methods::MLA_PROVIDE_INFORMATION, rule(Who::Members, OFFICER)),
    (methods::MLA_PROPOSE_CONDITIONS, rule(Who::Members, OFFICER)),
    (methods::MLA_ACCEPT_CONDITIONS, rule(Who::Members, OFFICER)),
    (methods::MLA_ACCEPT_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_START_EXECUTION, rule(Who::Members, OFFICER)),
    (methods::MLA_REPORT_EXECUTION, rule(Who::Members, OFFICER)),
    (methods::MLA_CLOSE_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_REFUSE_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_POSTPONE_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_RESUME_ASSESSMENT, rule(Who::Members, OFFICER)),
    (methods::MLA_WITHDRAW_REQUEST, rule(Who::Members, OFFICER)),
    (methods::MLA_CONFIRM_PRESERVATION, rule(Who::Members, OFFICER)),
    (methods::MLA_REQUEST_PRESERVATION_EXTENSION, rule(Who::Members, OFFICER)),
    (methods::MLA_EXTEND_PRESERVATION, rule(Who::Members, OFFICER)),
    (methods::MLA_HOLD_PRESERVATION, rule(Who::Members, OFFICER)),
    (methods::MLA_RELEASE_PRESERVATION, rule(Who::Members, OFFICER)),
    (methods::MLA_GET_REQUEST, rule(Who::MembersAndHub, MLA_READERS)),
    (methods::MLA_LIST_REQUESTS, rule(Who::MembersAndHub, MLA_READERS)),
    (methods::MLA_WATCH_REQUESTS, rule(Who::Members, OFFICER)),
    (methods::MLA_POST_MESSAGE, rule(Who::Members, OFFICER)),
    (methods::MLA_LIST_MESSAGES, rule(Who::Members, OFFICER)),
    (methods::MLA_UPLOAD_EVIDENCE, rule(Who::Members, OFFICER)),
    (methods::MLA_DOWNLOAD_EVIDENCE, rule(Who::Members, OFFICER)),
    (methods::MLA_LIST_EVIDENCE, rule(Who::Members, OFFICER)),
    (methods::MLA_LIST_RECEIPTS, rule(Who::MembersAndHub, MLA_READERS)),
    (methods::MLA_GET_RECEIPT_KEYS, rule(Who::Anyone, NONE)),
    // CBM: officers act; systems may read and follow (never TLP:RED); auditors read;
    // communication checks are started by the operator.
    (methods::CBM_NOTIFY, rule(Who::Members, OFFICER)),
    (methods::CBM_GET_NOTIFICATION, rule(Who::MembersAndHub, CBM_READERS)),
    (methods::CBM_LIST_NOTIFICATIONS, rule(Who::MembersAndHub, CBM_READERS)),
    (methods::CBM_ACKNOWLEDGE_NOTIFICATION, rule(Who::Members, OFFICER)),
    (methods::CBM_POST_REPLY, rule(Who::Members, OFFICER)),
    (methods::CBM_LIST_REPLIES, rule(Who::MembersAndHub, CBM_READERS)),
    (methods::CBM_REQUEST_CONSULTATION, rule(Who::Members, OFFICER)),
    (methods::CBM_ACKNOWLEDGE_CONSULTATION, rule(Who::Members, OFFICER)),
    (methods::CBM_SCHEDULE_CONSULTATION, rule(Who::Members, OFFICER)),
    (methods::CBM_RECORD_CONSULTATION_HELD, rule(Who::Members, OFFICER)),
    (methods::CBM_CLOSE_CONSULTATION, rule(Who::Members, OFFICER)),
    (methods::CBM_GET_CONSULTATION, rule(Who::MembersAndHub, CBM_READERS)),
    (methods::CBM_LIST_CONSULTATIONS, rule(Who::MembersAndHub, CBM_READERS)),
    (methods::CBM_WATCH_INBOX, rule(Who::Members, EXCHANGE)),
    (methods::CBM_START_COMMUNICATION_CHECK, rule(Who::Hub, OPERATOR)),
    (methods::CBM_RESPOND_TO_COMMUNICATION_CHECK, rule(Who::Members, OFFICER)),
    (methods::CBM_GET_COMMUNICATION_CHECK_REPORT, rule(Who::MembersAndHub, CHECK_READERS)),
    (methods::CBM_LIST_COMMUNICATION_CHECKS, rule(Who::MembersAndHub, CHECK_READERS)),
    (methods::CBM_LIST_COMMUNICATION_CHECK_RESULTS, rule(Who::MembersAndHub, CHECK_READERS)),
];

const MLA_READERS: &[Role] = &[Role::Officer, Role::Auditor, Role::OversightAuditor];
const CBM_READERS: &[Role] = &[
    Role::System,
    Role::Officer,
    Role::Auditor,
    Role::OversightAuditor,
];
const CHECK_READERS: &[Role] = &[
    Role::Officer,
    Role::Auditor,
    Role::OversightAuditor,
    Role::Operator,
];

/// The gate of a method (`/liaison.v1.X/Y` or `liaison.v1.X/Y`); `None` when it has no
/// rule, which means refused.
pub fn gate(method: &str) -> Option<Gate> {
    let method = method.trim_start_matches('/');
    RULES
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, gate)| *gate)
}

/// Step 1: may `caller` call `method` at all?
pub fn check_gate(caller: &Caller, method: &str) -> Result<(), Denied> {
    caller.may_call()?;
    let gate = gate(method).ok_or(Denied("no access rule admits this method"))?;
    match gate.who {
        Who::Anyone | Who::MembersAndHub => {}
        Who::Members if caller.is_hub() => {
            return Err(Denied("hub principals exchange no traffic"));
        }
        Who::Members => {}
        Who::Hub if !caller.is_hub() => {
            return Err(Denied("only the hub's own principals may do this"));
        }
        Who::Hub => {}
    }
    if !gate.roles.is_empty() && !gate.roles.iter().any(|role| caller.has_role(*role)) {
        return Err(Denied(
            "the caller lacks the role this method needs (persons need a token for their roles)",
        ));
    }
    Ok(())
}

/// Step 2: an action on a stored object.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Publish a shared item with this handling.
    Publish {
        /// Its TLP.
        tlp: Tlp,
        /// Its scope.
        scope: &'a Scope,
    },
    /// Receive (read, list, be delivered) a shared item: an indicator or a CBM
    /// notification, as stored.
    Receive {
        /// The publishing agency.
        source: &'a AgencyId,
        /// The stored scope.
        scope: &'a Scope,
        /// The stored TLP.
        tlp: Tlp,
    },
    /// Change a stored item (revoke an indicator, say): its owner's agency only.
    Change {
        /// The agency that owns the stored item.
        owner: &'a AgencyId,
    },
    /// Act on or read an MLA request as one of its two parties.
    MlaParty {
        /// The stored requesting agency.
        requesting: &'a AgencyId,
        /// The stored requested agency.
        requested: &'a AgencyId,
    },
    /// Read audit records about `agency` (its data or its principals' actions).
    ReadAuditOf {
        /// The agency the records are about.
        agency: &'a AgencyId,
    },
    /// Read every audit record.
    ReadAllAudit,
}

/// May the persons of `agency` (a member in `groups`) receive an item with this source,
/// scope and TLP? The agency-level half of [`Action::Receive`], for deciding whom to tell
/// of a correlation: its own items always, others as the scope gives them, TLP:RED only
/// where the agency is named.
pub fn agency_may_receive(
    agency: &AgencyId,
    groups: &[liaison_core::GroupId],
    source: &AgencyId,
    scope: &Scope,
    tlp: Tlp,
) -> bool {
    if source == agency {
        return true;
    }
    match scope {
        Scope::AllMembers => tlp != Tlp::Red,
        Scope::SharingGroup(group) => tlp != Tlp::Red && groups.contains(group),
        Scope::Agencies(_) => scope.names(agency),
    }
}

/// Step 2: may `caller` do `action` on the stored object it names?
pub fn authorize(caller: &Caller, action: Action<'_>) -> Result<(), Denied> {
    caller.may_call()?;
    match action {
        Action::Publish { tlp, scope } => {
            if tlp == Tlp::Red && caller.principal().kind() != PrincipalKind::Person {
                return Err(Denied("TLP:RED can be published by persons only"));
            }
            if tlp == Tlp::Red && !matches!(scope, Scope::Agencies(_)) {
                return Err(Denied("TLP:RED must be scoped to named agencies"));
            }
            if let Scope::SharingGroup(group) = scope
                && !caller.groups().contains(group)
            {
                return Err(Denied(
                    "the caller's agency is not a member of the sharing group",
                ));
            }
            Ok(())
        }
        Action::Receive { source, scope, tlp } => {
            if caller.is_hub() {
                return Err(Denied("hub principals exchange no traffic"));
            }
            if tlp == Tlp::Red && caller.principal().kind() != PrincipalKind::Person {
                return Err(Denied("TLP:RED is never delivered to system principals"));
            }
            if agency_may_receive(caller.agency(), caller.groups(), source, scope, tlp) {
                Ok(())
            } else {
                Err(Denied(
                    "the item's scope does not include the caller's agency",
                ))
            }
        }
        Action::Change { owner } => {
            if owner == caller.agency() && !caller.is_hub() {
                Ok(())
            } else {
                Err(Denied("only the owning agency may change this item"))
            }
        }
        Action::MlaParty {
            requesting,
            requested,
        } => {
            if caller.is_hub() && caller.has_role(Role::OversightAuditor) {
                return Ok(());
            }
            if !caller.is_hub() && (caller.agency() == requesting || caller.agency() == requested) {
                Ok(())
            } else {
                Err(Denied(
                    "only the two parties may see or act on this request",
                ))
            }
        }
        Action::ReadAuditOf { agency } => {
            let oversight = caller.has_role(Role::OversightAuditor) && caller.is_hub();
            let own_agency = caller.has_role(Role::Auditor) && caller.agency() == agency;
            if oversight || own_agency {
                Ok(())
            } else {
                Err(Denied(
                    "agency auditors see only records about their own agency",
                ))
            }
        }
        Action::ReadAllAudit => {
            if caller.has_role(Role::OversightAuditor) && caller.is_hub() {
                Ok(())
            } else {
                Err(Denied("only the hub's oversight auditors see every record"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use liaison_core::{GroupId, PrincipalName, Role};
    use liaison_pki::{CertificateAuthority, Validity};

    use super::*;
    use crate::PeerIdentity;

    fn caller_in(
        agency: &str,
        kind: PrincipalKind,
        roles: Vec<Role>,
        suspended: bool,
        groups: &[&str],
    ) -> Caller {
        let ca = CertificateAuthority::generate("test").unwrap();
        let principal = liaison_core::PrincipalId::new(
            AgencyId::parse(agency).unwrap(),
            kind,
            PrincipalName::parse("p").unwrap(),
        );
        let issued = ca
            .issue_client(&principal, "t.test", Validity::days(1))
            .unwrap();
        let der = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes())
            .unwrap()
            .1
            .contents;
        let identity = PeerIdentity::from_certificate(&der, "t.test").unwrap();
        let groups = groups
            .iter()
            .map(|group| GroupId::parse(group).unwrap())
            .collect();
        Caller::new(identity, roles, agency == "INT-HUB", suspended, groups)
    }

    fn agency(id: &str) -> AgencyId {
        AgencyId::parse(id).unwrap()
    }

    /// An unsuspended caller whose agency belongs to `groups`.
    fn grouped_caller(
        agency: &str,
        kind: PrincipalKind,
        roles: Vec<Role>,
        groups: &[&str],
    ) -> Caller {
        caller_in(agency, kind, roles, false, groups)
    }

    fn caller(agency: &str, kind: PrincipalKind, roles: Vec<Role>, suspended: bool) -> Caller {
        caller_in(agency, kind, roles, suspended, &[])
    }

    #[test]
    fn every_method_of_every_service_has_a_rule_and_unknown_methods_are_closed() {
        let descriptors = liaison_proto::FILE_DESCRIPTOR_SET;
        let set = <prost_types::FileDescriptorSet as prost::Message>::decode(descriptors).unwrap();
        let mut count = 0;
        for file in set
            .file
            .iter()
            .filter(|file| file.package() == "liaison.v1")
        {
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/liaison.v1.{}/{}", service.name(), method.name());
                    assert!(gate(&path).is_some(), "{path} has no access rule");
                    count += 1;
                }
            }
        }
        assert_eq!(
            count,
            RULES.len(),
            "a rule names a method that does not exist"
        );
        let officer = caller("UA-CERT", PrincipalKind::Person, vec![Role::Officer], false);
        assert!(check_gate(&officer, "/liaison.v1.IndicatorService/Unknown").is_err());
    }

    #[test]
    fn mla_requests_are_for_their_two_parties_and_oversight() {
        let requesting = agency("RS-MUP");
        let requested = agency("UA-CERT");
        let action = Action::MlaParty {
            requesting: &requesting,
            requested: &requested,
        };
        let party = caller("UA-CERT", PrincipalKind::Person, vec![Role::Officer], false);
        let third = caller("HU-NNI", PrincipalKind::Person, vec![Role::Officer], false);
        let oversight = caller(
            "INT-HUB",
            PrincipalKind::Person,
            vec![Role::OversightAuditor],
            false,
        );
        let operator = caller(
            "INT-HUB",
            PrincipalKind::Person,
            vec![Role::Operator],
            false,
        );
        let suspended = caller("RS-MUP", PrincipalKind::Person, vec![Role::Officer], true);
        assert!(authorize(&party, action).is_ok());
        assert!(authorize(&third, action).is_err());
        assert!(authorize(&oversight, action).is_ok());
        assert!(authorize(&operator, action).is_err());
        assert!(authorize(&suspended, action).is_err());
    }

    #[test]
    fn changes_follow_the_stored_owner() {
        let owner = agency("UA-CERT");
        let own = caller("UA-CERT", PrincipalKind::System, vec![Role::System], false);
        let other = caller("HU-NNI", PrincipalKind::System, vec![Role::System], false);
        assert!(authorize(&own, Action::Change { owner: &owner }).is_ok());
        assert!(authorize(&other, Action::Change { owner: &owner }).is_err());
    }

    #[test]
    fn audit_visibility() {
        let ua = agency("UA-CERT");
        let ua_auditor = caller("UA-CERT", PrincipalKind::Person, vec![Role::Auditor], false);
        let ua_officer = caller("UA-CERT", PrincipalKind::Person, vec![Role::Officer], false);
        let hu_auditor = caller("HU-NNI", PrincipalKind::Person, vec![Role::Auditor], false);
        // An oversight role held outside the hub counts for nothing.
        let fake_oversight = caller(
            "HU-NNI",
            PrincipalKind::Person,
            vec![Role::OversightAuditor],
            false,
        );
        assert!(authorize(&ua_auditor, Action::ReadAuditOf { agency: &ua }).is_ok());
        assert!(authorize(&ua_officer, Action::ReadAuditOf { agency: &ua }).is_err());
        assert!(authorize(&hu_auditor, Action::ReadAuditOf { agency: &ua }).is_err());
        assert!(authorize(&fake_oversight, Action::ReadAllAudit).is_err());
    }

    #[test]
    fn receive_matrix() {
        let ua_system = grouped_caller(
            "UA-CERT",
            PrincipalKind::System,
            vec![Role::System],
            &["dialogue"],
        );
        let ua_person = grouped_caller(
            "UA-CERT",
            PrincipalKind::Person,
            vec![Role::Officer],
            &["dialogue"],
        );
        let rs_person = grouped_caller("RS-MUP", PrincipalKind::Person, vec![Role::Officer], &[]);
        let hub = grouped_caller("INT-HUB", PrincipalKind::Person, vec![Role::Operator], &[]);
        let source = agency("HU-NNI");
        let group = Scope::SharingGroup(GroupId::parse("dialogue").unwrap());
        let named_ua = Scope::agencies(vec![agency("UA-CERT")]).unwrap();

        let cases = [
            (&ua_system, &Scope::AllMembers, Tlp::Green, true),
            (&ua_system, &group, Tlp::Amber, true),
            (&rs_person, &group, Tlp::Amber, false),
            (&ua_system, &named_ua, Tlp::AmberStrict, true),
            (&rs_person, &named_ua, Tlp::Clear, false),
            (&ua_system, &named_ua, Tlp::Red, false),
            (&ua_person, &named_ua, Tlp::Red, true),
            (&rs_person, &named_ua, Tlp::Red, false),
            (&ua_person, &Scope::AllMembers, Tlp::Red, false),
            (&hub, &Scope::AllMembers, Tlp::Clear, false),
        ];
        for (index, (who, scope, tlp, allowed)) in cases.into_iter().enumerate() {
            assert_eq!(
                authorize(
                    who,
                    Action::Receive {
                        source: &source,
                        scope,
                        tlp
                    }
                )
                .is_ok(),
                allowed,
                "case {index}"
            );
        }
    }

    #[test]
    fn own_items_are_visible_except_red_to_systems() {
        let ua_system = grouped_caller("UA-CERT", PrincipalKind::System, vec![Role::System], &[]);
        let named_other = Scope::agencies(vec![agency("RS-MUP")]).unwrap();
        assert!(
            authorize(
                &ua_system,
                Action::Receive {
                    source: &agency("UA-CERT"),
                    scope: &named_other,
                    tlp: Tlp::Amber
                }
            )
            .is_ok()
        );
        assert!(
            authorize(
                &ua_system,
                Action::Receive {
                    source: &agency("UA-CERT"),
                    scope: &named_other,
                    tlp: Tlp::Red
                }
            )
            .is_err()
        );
    }

    #[test]
    fn publishing_rules() {
        let ua_system = grouped_caller(
            "UA-CERT",
            PrincipalKind::System,
            vec![Role::System],
            &["dialogue"],
        );
        let auditor = grouped_caller("UA-CERT", PrincipalKind::Person, vec![Role::Auditor], &[]);
        let publish = "liaison.v1.IndicatorService/Publish";
        assert!(crate::authorize::check_gate(&ua_system, publish).is_ok());
        assert!(crate::authorize::check_gate(&auditor, publish).is_err());
        let named = Scope::agencies(vec![agency("RS-MUP")]).unwrap();
        assert!(
            authorize(
                &ua_system,
                Action::Publish {
                    tlp: Tlp::Red,
                    scope: &named
                }
            )
            .is_err()
        );
        let other_group = Scope::SharingGroup(GroupId::parse("other").unwrap());
        assert!(
            authorize(
                &ua_system,
                Action::Publish {
                    tlp: Tlp::Green,
                    scope: &other_group
                }
            )
            .is_err()
        );
    }
}
