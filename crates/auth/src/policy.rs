//! The caller as the access rules see it. The rules themselves are in
//! [`authorize`](crate::authorize).

use liaison_core::{AgencyId, GroupId, PrincipalId, Role};

use crate::identity::PeerIdentity;

/// A caller the directory knows: identity, roles and memberships, looked up per call.
#[derive(Debug, Clone)]
pub struct Caller {
    identity: PeerIdentity,
    roles: Vec<Role>,
    is_hub: bool,
    suspended: bool,
    groups: Vec<GroupId>,
}

/// Why an action was refused. Static text: no data of another agency ever goes in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

impl Caller {
    /// A caller. `is_hub` marks principals of the hub agency itself (operator, oversight
    /// auditors), which exchange no traffic; `groups` are the caller agency's sharing groups.
    pub fn new(
        identity: PeerIdentity,
        roles: Vec<Role>,
        is_hub: bool,
        suspended: bool,
        groups: Vec<GroupId>,
    ) -> Self {
        Self {
            identity,
            roles,
            is_hub,
            suspended,
            groups,
        }
    }

    /// The identity from the certificate.
    pub fn identity(&self) -> &PeerIdentity {
        &self.identity
    }

    /// The principal.
    pub fn principal(&self) -> &PrincipalId {
        self.identity.principal()
    }

    /// The caller's agency.
    pub fn agency(&self) -> &AgencyId {
        self.identity.principal().agency()
    }

    /// The caller's roles, from the directory.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// True when the caller holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// True for principals of the hub agency itself (operator, oversight auditors).
    pub fn is_hub(&self) -> bool {
        self.is_hub
    }

    /// The caller agency's sharing groups.
    pub fn groups(&self) -> &[GroupId] {
        &self.groups
    }

    /// Any call at all: a suspended agency may do nothing.
    pub fn may_call(&self) -> Result<(), Denied> {
        if self.suspended {
            Err(Denied("the caller's agency is suspended"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use liaison_core::PrincipalName;
    use liaison_pki::{CertificateAuthority, Validity};

    use liaison_core::{PrincipalKind, Scope, Tlp};

    use super::*;
    use crate::authorize::{Action, authorize};

    fn caller(agency: &str, kind: PrincipalKind, roles: Vec<Role>, groups: &[&str]) -> Caller {
        let ca = CertificateAuthority::generate("test").unwrap();
        let principal = PrincipalId::new(
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
        Caller::new(
            identity,
            roles,
            agency.starts_with("INT-HUB"),
            false,
            groups,
        )
    }

    fn agency(id: &str) -> AgencyId {
        AgencyId::parse(id).unwrap()
    }

    #[test]
    fn receive_matrix() {
        let ua_system = caller(
            "UA-CERT",
            PrincipalKind::System,
            vec![Role::System],
            &["dialogue"],
        );
        let ua_person = caller(
            "UA-CERT",
            PrincipalKind::Person,
            vec![Role::Officer],
            &["dialogue"],
        );
        let rs_person = caller("RS-MUP", PrincipalKind::Person, vec![Role::Officer], &[]);
        let hub = caller("INT-HUB", PrincipalKind::Person, vec![Role::Operator], &[]);
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
        let ua_system = caller("UA-CERT", PrincipalKind::System, vec![Role::System], &[]);
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
        let ua_system = caller(
            "UA-CERT",
            PrincipalKind::System,
            vec![Role::System],
            &["dialogue"],
        );
        let auditor = caller("UA-CERT", PrincipalKind::Person, vec![Role::Auditor], &[]);
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
