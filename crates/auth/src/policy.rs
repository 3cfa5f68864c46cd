//! Access rules. Each rule is a pure function of the caller and the stored record it acts
//! on, and answers allow or deny-with-a-reason (the reason goes to the audit record, the
//! client sees only PERMISSION_DENIED or NOT_FOUND).

use liaison_core::{AgencyId, GroupId, PrincipalId, PrincipalKind, Role, Scope, Tlp};

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

    fn active_member(&self) -> Result<(), Denied> {
        if self.suspended {
            return Err(Denied("the caller's agency is suspended"));
        }
        if self.is_hub {
            return Err(Denied("hub principals exchange no traffic"));
        }
        Ok(())
    }

    /// Any call at all: a suspended agency may do nothing.
    pub fn may_call(&self) -> Result<(), Denied> {
        if self.suspended {
            Err(Denied("the caller's agency is suspended"))
        } else {
            Ok(())
        }
    }

    /// Follow a stream of shared items: any principal of an active member agency; each item
    /// is then checked with [`Caller::may_receive`].
    pub fn may_subscribe(&self) -> Result<(), Denied> {
        self.active_member()
    }

    /// Publish indicators: systems and officers of an active member agency.
    pub fn may_publish_indicator(&self) -> Result<(), Denied> {
        self.active_member()?;
        if self.has_role(Role::System) || self.has_role(Role::Officer) {
            Ok(())
        } else {
            Err(Denied(
                "publishing indicators needs the system or officer role",
            ))
        }
    }

    /// Publish with this handling: TLP:RED only by persons (a feed cannot judge who needs
    /// to know), and a scope naming a group only if the caller's agency belongs to it.
    pub fn may_publish_with(&self, tlp: Tlp, scope: &Scope) -> Result<(), Denied> {
        if tlp == Tlp::Red && self.principal().kind() != PrincipalKind::Person {
            return Err(Denied("TLP:RED can be published by persons only"));
        }
        if let Scope::SharingGroup(group) = scope
            && !self.groups.contains(group)
        {
            return Err(Denied(
                "the caller's agency is not a member of the sharing group",
            ));
        }
        Ok(())
    }

    /// Receive (read, list, be delivered) an item with this source, scope and TLP.
    ///
    /// TLP:RED goes to persons only, never to systems, whatever the scope, and only to
    /// agencies the scope names. Otherwise the publishing agency sees its own items, and
    /// others see what the scope gives them.
    pub fn may_receive(&self, source: &AgencyId, scope: &Scope, tlp: Tlp) -> Result<(), Denied> {
        self.active_member()?;
        if tlp == Tlp::Red && self.principal().kind() != PrincipalKind::Person {
            return Err(Denied("TLP:RED is never delivered to system principals"));
        }
        if source == self.agency() {
            return Ok(());
        }
        let in_scope = match scope {
            Scope::AllMembers => tlp != Tlp::Red,
            Scope::SharingGroup(group) => tlp != Tlp::Red && self.groups.contains(group),
            Scope::Agencies(_) => scope.names(self.agency()),
        };
        if in_scope {
            Ok(())
        } else {
            Err(Denied(
                "the item's scope does not include the caller's agency",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use liaison_core::PrincipalName;
    use liaison_pki::{CertificateAuthority, Validity};

    use super::*;

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
                who.may_receive(&source, scope, tlp).is_ok(),
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
            ua_system
                .may_receive(&agency("UA-CERT"), &named_other, Tlp::Amber)
                .is_ok()
        );
        assert!(
            ua_system
                .may_receive(&agency("UA-CERT"), &named_other, Tlp::Red)
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
        assert!(ua_system.may_publish_indicator().is_ok());
        assert!(auditor.may_publish_indicator().is_err());
        let named = Scope::agencies(vec![agency("RS-MUP")]).unwrap();
        assert!(ua_system.may_publish_with(Tlp::Red, &named).is_err());
        let other_group = Scope::SharingGroup(GroupId::parse("other").unwrap());
        assert!(
            ua_system
                .may_publish_with(Tlp::Green, &other_group)
                .is_err()
        );
    }
}
