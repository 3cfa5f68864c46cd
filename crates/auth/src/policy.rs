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
