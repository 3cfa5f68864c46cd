//! Principals: who is calling, as named by a certificate's URI SAN
//! `spiffe://<trust-domain>/agency/<AGENCY-ID>/<kind>/<name>`.

use std::{fmt, str::FromStr};

use serde::Deserialize;

use crate::id::{AgencyId, PrincipalName};

/// Whether a principal is a machine or a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// An integrated system: a national CERT or police platform.
    System,
    /// A natural person: a liaison officer, an auditor, the operator.
    Person,
}

impl PrincipalKind {
    /// Every value, in declaration order.
    pub const ALL: [PrincipalKind; 2] = [PrincipalKind::System, PrincipalKind::Person];

    /// The name used in URIs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::System => "system",
            PrincipalKind::Person => "person",
        }
    }
}

impl FromStr for PrincipalKind {
    type Err = PrincipalError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "system" => Ok(PrincipalKind::System),
            "person" => Ok(PrincipalKind::Person),
            _ => Err(PrincipalError::Kind),
        }
    }
}

/// A role held by a principal. Roles come from the directory, never from the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Integration feed.
    System,
    /// Liaison officer.
    Officer,
    /// Auditor of the principal's own agency.
    Auditor,
    /// Hub oversight auditor: sees every audit record.
    OversightAuditor,
    /// Hub operator.
    Operator,
}

impl Role {
    /// Every value, in declaration order.
    pub const ALL: [Role; 5] = [
        Role::System,
        Role::Officer,
        Role::Auditor,
        Role::OversightAuditor,
        Role::Operator,
    ];

    /// The name used in the federation file and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Officer => "officer",
            Role::Auditor => "auditor",
            Role::OversightAuditor => "oversight_auditor",
            Role::Operator => "operator",
        }
    }
}

impl FromStr for Role {
    type Err = PrincipalError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "system" => Ok(Role::System),
            "officer" => Ok(Role::Officer),
            "auditor" => Ok(Role::Auditor),
            "oversight_auditor" => Ok(Role::OversightAuditor),
            "operator" => Ok(Role::Operator),
            _ => Err(PrincipalError::Role),
        }
    }
}

/// Why a principal URI or part was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// The URI is not `spiffe://<trust-domain>/agency/<AGENCY-ID>/<kind>/<name>`.
    #[error(
        "principal URI must be spiffe://{trust_domain}/agency/<AGENCY-ID>/<system|person>/<name>"
    )]
    Uri {
        /// The trust domain expected.
        trust_domain: String,
    },
    /// The kind is neither `system` nor `person`.
    #[error("principal kind must be system or person")]
    Kind,
    /// Unknown role name.
    #[error("role must be system, officer, auditor, oversight_auditor or operator")]
    Role,
}

/// The identity of one principal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalId {
    agency: AgencyId,
    kind: PrincipalKind,
    name: PrincipalName,
}

impl PrincipalId {
    /// A principal of `agency`.
    pub fn new(agency: AgencyId, kind: PrincipalKind, name: PrincipalName) -> Self {
        Self { agency, kind, name }
    }

    /// Parses a SPIFFE URI of the federation's trust domain.
    pub fn from_uri(uri: &str, trust_domain: &str) -> Result<Self, PrincipalError> {
        let error = || PrincipalError::Uri {
            trust_domain: trust_domain.to_owned(),
        };
        let path = uri
            .strip_prefix("spiffe://")
            .and_then(|rest| rest.strip_prefix(trust_domain))
            .and_then(|rest| rest.strip_prefix("/agency/"))
            .ok_or_else(error)?;
        let mut parts = path.split('/');
        let (Some(agency), Some(kind), Some(name), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(error());
        };
        Ok(Self {
            agency: AgencyId::parse(agency).map_err(|_| error())?,
            kind: kind.parse().map_err(|_| error())?,
            name: PrincipalName::parse(name).map_err(|_| error())?,
        })
    }

    /// The SPIFFE URI naming this principal in `trust_domain`.
    pub fn to_uri(&self, trust_domain: &str) -> String {
        format!(
            "spiffe://{trust_domain}/agency/{}/{}/{}",
            self.agency,
            self.kind.as_str(),
            self.name
        )
    }

    /// The principal's agency.
    pub fn agency(&self) -> &AgencyId {
        &self.agency
    }

    /// System or person.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// The name within the agency.
    pub fn name(&self) -> &PrincipalName {
        &self.name
    }
}

impl fmt::Display for PrincipalId {
    /// `AGENCY/kind/name`, as logs and tables show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.agency, self.kind.as_str(), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "liaison.example";

    #[test]
    fn uri_round_trip() {
        let uri = "spiffe://liaison.example/agency/UA-CERT/system/feed";
        let principal = PrincipalId::from_uri(uri, DOMAIN).unwrap();
        assert_eq!(principal.agency().as_str(), "UA-CERT");
        assert_eq!(principal.kind(), PrincipalKind::System);
        assert_eq!(principal.name().as_str(), "feed");
        assert_eq!(principal.to_uri(DOMAIN), uri);
        assert_eq!(principal.to_string(), "UA-CERT/system/feed");
    }

    #[test]
    fn foreign_or_malformed_uris_are_refused() {
        for bad in [
            "spiffe://other.example/agency/UA-CERT/system/feed",
            "spiffe://liaison.example.evil/agency/UA-CERT/system/feed",
            "spiffe://liaison.example/agency/UA-CERT/robot/feed",
            "spiffe://liaison.example/agency/UA-CERT/system/feed/extra",
            "spiffe://liaison.example/agency/ua-cert/system/feed",
            "spiffe://liaison.example/agency/UA-CERT/system/",
            "https://liaison.example/agency/UA-CERT/system/feed",
        ] {
            assert!(PrincipalId::from_uri(bad, DOMAIN).is_err(), "{bad}");
        }
    }
}
