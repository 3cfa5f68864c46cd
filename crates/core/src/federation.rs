//! The federation: the states, agencies, principals and sharing groups a hub serves, as
//! the operator records them in the federation file (`deploy/federation.example.toml`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::{
    id::{AgencyId, PrincipalName},
    mla::{DeadlinePolicy, policy_file::DeadlinePolicySection},
    principal::{PrincipalId, PrincipalKind, Role},
    scope::GroupId,
};

/// Why a federation file was refused. Each names the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// The file is not valid TOML or does not match the schema.
    #[error("federation file is not valid: {0}")]
    Syntax(String),
    /// The trust domain is not a DNS name.
    #[error("trust_domain {0:?} must be a lowercase DNS name such as liaison.example")]
    TrustDomain(String),
    /// Two entries share an id.
    #[error("{kind} {id} is defined twice")]
    Duplicate {
        /// `state`, `agency`, `principal` or `sharing group`.
        kind: &'static str,
        /// The repeated id.
        id: String,
    },
    /// An agency names a state the file does not define.
    #[error("agency {agency} names state {state}, which is not in [[states]]")]
    UnknownState {
        /// The agency.
        agency: String,
        /// The missing state code.
        state: String,
    },
    /// A national agency's id does not start with its state's code.
    #[error("agency {agency} belongs to state {state}: its id must start with {state}-")]
    StatePrefix {
        /// The agency.
        agency: String,
        /// The state code.
        state: String,
    },
    /// A sharing group names an agency the file does not define.
    #[error("sharing group {group} names agency {agency}, which is not in [[agencies]]")]
    UnknownMember {
        /// The group.
        group: String,
        /// The missing agency.
        agency: String,
    },
    /// A witness entry names an agency the file does not define, or is malformed.
    #[error("witness {name}: {reason}")]
    Witness {
        /// The witness's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A principal has no role.
    #[error("principal {0} has no roles")]
    NoRoles(String),
    /// Hub roles on a principal of a member agency.
    #[error("principal {0}: operator and oversight_auditor are roles of the hub agency only")]
    HubRoleOutsideHub(String),
    /// The `system` role on a person, or another role on a system principal: what the
    /// operator's AssignRoles refuses, the file may not grant either.
    #[error("principal {0}: the system role belongs to system principals, and only to them")]
    SystemRoleMismatch(String),
    /// The `[mla_deadlines]` section has a value out of range.
    #[error("{0}")]
    MlaDeadlines(String),
}

/// A state and its treaty position. Example data must be checked by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// ISO 3166-1 alpha-2 code.
    pub code: String,
    /// English short name.
    pub name: String,
    /// Party to the Convention on Cybercrime (ETS 185).
    pub budapest_convention: bool,
    /// Party to its Second Additional Protocol (CETS 224).
    pub second_protocol: bool,
    /// An OSCE participating State.
    pub osce_participating_state: bool,
}

/// What kind of body an agency is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgencyKind {
    /// A police cybercrime unit.
    Police,
    /// A national CERT/CSIRT.
    Cert,
    /// An interior or security ministry.
    Ministry,
    /// An international or EU body.
    International,
    /// The hub itself: its operator and oversight auditors.
    Hub,
}

impl AgencyKind {
    /// Every value, in declaration order.
    pub const ALL: [AgencyKind; 5] = [
        AgencyKind::Police,
        AgencyKind::Cert,
        AgencyKind::Ministry,
        AgencyKind::International,
        AgencyKind::Hub,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgencyKind::Police => "police",
            AgencyKind::Cert => "cert",
            AgencyKind::Ministry => "ministry",
            AgencyKind::International => "international",
            AgencyKind::Hub => "hub",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "police" => AgencyKind::Police,
            "cert" => AgencyKind::Cert,
            "ministry" => AgencyKind::Ministry,
            "international" => AgencyKind::International,
            "hub" => AgencyKind::Hub,
            _ => return None,
        })
    }
}

/// A principal of an agency, as the federation file lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalEntry {
    /// System or person.
    pub kind: PrincipalKind,
    /// Name within the agency.
    pub name: PrincipalName,
    /// Roles; at least one.
    pub roles: Vec<Role>,
}

/// A member agency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    /// Agency id.
    pub id: AgencyId,
    /// English name.
    pub name: String,
    /// Name in the agency's language, if recorded.
    #[serde(default)]
    pub native_name: Option<String>,
    /// BCP 47 tag of `native_name`.
    #[serde(default)]
    pub native_language: Option<String>,
    /// What kind of body it is.
    pub kind: AgencyKind,
    /// The state code, for national agencies.
    #[serde(default)]
    pub state: Option<String>,
    /// Its principals.
    #[serde(default)]
    pub principals: Vec<PrincipalEntry>,
}

/// A sharing group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingGroupEntry {
    /// Group id.
    pub id: GroupId,
    /// Display name.
    pub name: String,
    /// Member agencies.
    pub members: Vec<AgencyId>,
}

/// A validated federation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federation {
    trust_domain: String,
    states: BTreeMap<String, State>,
    agencies: Vec<AgencyEntry>,
    sharing_groups: Vec<SharingGroupEntry>,
    mla_deadlines: DeadlinePolicy,
    witnesses: Vec<WitnessEntry>,
}

/// A witness of the hub's audit log that a member agency runs (`[[witnesses]]`): the hub
/// submits every new checkpoint to it and serves the cosignatures it returns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessEntry {
    /// The agency that runs it.
    pub agency: AgencyId,
    /// Its C2SP tlog-cosignature verifier key, `<name>+<key id>+<base64 key>`; the name
    /// before the first `+` is the witness's name. The hub checks the key at start.
    pub key: String,
    /// Where it takes submissions: `http://HOST:PORT[/PREFIX]`.
    pub endpoint: String,
}

impl WitnessEntry {
    /// The witness's name, from its key.
    pub fn name(&self) -> &str {
        self.key.split('+').next().unwrap_or_default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FederationFile {
    trust_domain: String,
    #[serde(default)]
    states: Vec<State>,
    #[serde(default)]
    agencies: Vec<AgencyEntry>,
    #[serde(default)]
    sharing_groups: Vec<SharingGroupEntry>,
    #[serde(default)]
    mla_deadlines: DeadlinePolicySection,
    #[serde(default)]
    witnesses: Vec<WitnessEntry>,
}

impl Federation {
    /// Parses and validates a federation file's text.
    pub fn from_toml(text: &str) -> Result<Self, FederationError> {
        let file: FederationFile =
            toml::from_str(text).map_err(|error| FederationError::Syntax(error.to_string()))?;
        Self::validate(file)
    }

    fn validate(file: FederationFile) -> Result<Self, FederationError> {
        let domain_ok = !file.trust_domain.is_empty()
            && file.trust_domain.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if !domain_ok {
            return Err(FederationError::TrustDomain(file.trust_domain));
        }
        let mut states = BTreeMap::new();
        for state in file.states {
            let code = state.code.clone();
            if states.insert(code.clone(), state).is_some() {
                return Err(FederationError::Duplicate {
                    kind: "state",
                    id: code,
                });
            }
        }
        let mut agency_ids = BTreeSet::new();
        for agency in &file.agencies {
            if !agency_ids.insert(agency.id.clone()) {
                return Err(FederationError::Duplicate {
                    kind: "agency",
                    id: agency.id.to_string(),
                });
            }
            if let Some(state) = &agency.state {
                if !states.contains_key(state) {
                    return Err(FederationError::UnknownState {
                        agency: agency.id.to_string(),
                        state: state.clone(),
                    });
                }
                if agency.id.state_code() != Some(state.as_str()) {
                    return Err(FederationError::StatePrefix {
                        agency: agency.id.to_string(),
                        state: state.clone(),
                    });
                }
            }
            let mut names = BTreeSet::new();
            for principal in &agency.principals {
                let label = format!(
                    "{}/{}/{}",
                    agency.id,
                    principal.kind.as_str(),
                    principal.name
                );
                if !names.insert((principal.kind.as_str(), principal.name.clone())) {
                    return Err(FederationError::Duplicate {
                        kind: "principal",
                        id: label,
                    });
                }
                if principal.roles.is_empty() {
                    return Err(FederationError::NoRoles(label));
                }
                let hub_role = principal
                    .roles
                    .iter()
                    .any(|role| matches!(role, Role::Operator | Role::OversightAuditor));
                if hub_role && agency.kind != AgencyKind::Hub {
                    return Err(FederationError::HubRoleOutsideHub(label));
                }
                // The rule of AssignRoles (services/directory/src/operator.rs, `roles`):
                // a system principal holds the system role and no other, a person never.
                let system_kind = principal.kind == PrincipalKind::System;
                if principal
                    .roles
                    .iter()
                    .any(|role| (*role == Role::System) != system_kind)
                {
                    return Err(FederationError::SystemRoleMismatch(label));
                }
            }
        }
        let mut group_ids = BTreeSet::new();
        for group in &file.sharing_groups {
            if !group_ids.insert(group.id.clone()) {
                return Err(FederationError::Duplicate {
                    kind: "sharing group",
                    id: group.id.to_string(),
                });
            }
            if let Some(missing) = group
                .members
                .iter()
                .find(|member| !agency_ids.contains(*member))
            {
                return Err(FederationError::UnknownMember {
                    group: group.id.to_string(),
                    agency: missing.to_string(),
                });
            }
        }
        let mla_deadlines = file
            .mla_deadlines
            .policy()
            .map_err(FederationError::MlaDeadlines)?;
        let mut witness_names = BTreeSet::new();
        for witness in &file.witnesses {
            let fail = |reason: &str| FederationError::Witness {
                name: witness.name().to_owned(),
                reason: reason.to_owned(),
            };
            if !agency_ids.contains(&witness.agency) {
                return Err(fail("its agency is not in [[agencies]]"));
            }
            if !witness.endpoint.starts_with("http://") {
                return Err(fail("endpoint must be http://HOST:PORT[/PREFIX]"));
            }
            if witness.name().is_empty() || !witness_names.insert(witness.name().to_owned()) {
                return Err(fail("each witness needs a key with a name of its own"));
            }
        }
        Ok(Self {
            trust_domain: file.trust_domain,
            states,
            agencies: file.agencies,
            sharing_groups: file.sharing_groups,
            mla_deadlines,
            witnesses: file.witnesses,
        })
    }

    /// The witnesses of the audit log (`[[witnesses]]`), in file order.
    pub fn witnesses(&self) -> &[WitnessEntry] {
        &self.witnesses
    }

    /// The MLA deadline policy (`[mla_deadlines]`; the defaults where the file is silent).
    pub fn mla_deadline_policy(&self) -> &DeadlinePolicy {
        &self.mla_deadlines
    }

    /// The SPIFFE trust domain of principal URIs.
    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    /// The agencies, in file order.
    pub fn agencies(&self) -> &[AgencyEntry] {
        &self.agencies
    }

    /// A state by code.
    pub fn state(&self, code: &str) -> Option<&State> {
        self.states.get(code)
    }

    /// The states, by code.
    pub fn states(&self) -> impl Iterator<Item = &State> {
        self.states.values()
    }

    /// The sharing groups.
    pub fn sharing_groups(&self) -> &[SharingGroupEntry] {
        &self.sharing_groups
    }

    /// Every principal with its agency.
    pub fn principals(&self) -> impl Iterator<Item = (PrincipalId, &PrincipalEntry)> {
        self.agencies.iter().flat_map(|agency| {
            agency.principals.iter().map(move |principal| {
                (
                    PrincipalId::new(agency.id.clone(), principal.kind, principal.name.clone()),
                    principal,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
trust_domain = "liaison.test"

[[states]]
code = "RS"
name = "Serbia"
budapest_convention = true
second_protocol = true
osce_participating_state = true

[[agencies]]
id = "RS-MUP"
name = "Ministry of Interior of the Republic of Serbia"
native_name = "Министарство унутрашњих послова Републике Србије"
native_language = "sr-Cyrl"
kind = "ministry"
state = "RS"
principals = [
  { kind = "system", name = "feed", roles = ["system"] },
  { kind = "person", name = "officer", roles = ["officer"] },
]

[[agencies]]
id = "INT-HUB"
name = "Liaison hub"
kind = "hub"
principals = [{ kind = "person", name = "operator", roles = ["operator"] }]

[[sharing_groups]]
id = "belgrade-declaration"
name = "Belgrade declaration signatories"
members = ["RS-MUP"]
"#;

    #[test]
    fn parses_a_valid_file() {
        let federation = Federation::from_toml(SMALL).unwrap();
        assert_eq!(federation.trust_domain(), "liaison.test");
        assert_eq!(federation.agencies().len(), 2);
        assert_eq!(federation.principals().count(), 3);
        assert!(federation.state("RS").unwrap().budapest_convention);
        assert_eq!(federation.sharing_groups()[0].members.len(), 1);
    }

    #[test]
    fn refuses_inconsistent_files_naming_the_entry() {
        let cases = [
            (
                SMALL.replace("state = \"RS\"", "state = \"HU\""),
                "names state HU",
            ),
            (
                SMALL.replace("members = [\"RS-MUP\"]", "members = [\"UA-CERT\"]"),
                "names agency UA-CERT",
            ),
            (
                SMALL.replace("roles = [\"officer\"]", "roles = [\"operator\"]"),
                "RS-MUP/person/officer",
            ),
            (
                SMALL.replace("roles = [\"officer\"]", "roles = []"),
                "has no roles",
            ),
            (
                SMALL.replace("name = \"feed\"", "name = \"officer\", kind2 = 1"),
                "not valid",
            ),
            (
                SMALL.replace("id = \"RS-MUP\"", "id = \"rs-mup\""),
                "agency id must be",
            ),
            (
                SMALL.replace("liaison.test", "Liaison Test"),
                "trust_domain",
            ),
        ];
        for (text, expected) in cases {
            let error = Federation::from_toml(&text).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "{error:?} should contain {expected:?}"
            );
        }
    }

    /// What AssignRoles refuses, the file may not grant: the system role on a person, or a
    /// person's role on a system principal (finding L3).
    #[test]
    fn the_system_role_belongs_to_system_principals_only() {
        let cases = [
            (
                SMALL.replace(
                    "name = \"officer\", roles = [\"officer\"]",
                    "name = \"officer\", roles = [\"officer\", \"system\"]",
                ),
                "RS-MUP/person/officer",
            ),
            (
                SMALL.replace(
                    "name = \"officer\", roles = [\"officer\"]",
                    "name = \"officer\", roles = [\"system\"]",
                ),
                "RS-MUP/person/officer",
            ),
            (
                SMALL.replace(
                    "name = \"feed\", roles = [\"system\"]",
                    "name = \"feed\", roles = [\"officer\"]",
                ),
                "RS-MUP/system/feed",
            ),
            (
                SMALL.replace(
                    "name = \"feed\", roles = [\"system\"]",
                    "name = \"feed\", roles = [\"system\", \"auditor\"]",
                ),
                "RS-MUP/system/feed",
            ),
        ];
        for (text, principal) in cases {
            let error = Federation::from_toml(&text).unwrap_err();
            assert_eq!(
                error,
                FederationError::SystemRoleMismatch(principal.to_owned()),
                "{error}"
            );
            assert!(error.to_string().contains(principal), "{error}");
        }
    }
}
