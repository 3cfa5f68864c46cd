//! Scopes: who may receive an item.

use std::fmt;

use crate::id::AgencyId;

/// Who receives an item. TLP then decides what the recipients may do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every member agency.
    AllMembers,
    /// The members of one sharing group.
    SharingGroup(GroupId),
    /// The named agencies only (sorted, no duplicates).
    Agencies(Vec<AgencyId>),
}

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No target was given.
    #[error("scope is required: all members, a sharing group or named agencies")]
    Missing,
    /// A named-agencies scope with no agency.
    #[error("a scope of named agencies must name at least one agency")]
    NoAgencies,
    /// A stored scope that does not parse: the database was changed outside the hub.
    #[error("stored scope is corrupt")]
    Corrupt,
}

impl Scope {
    /// A named-agencies scope; sorts and removes duplicates.
    pub fn agencies(mut agencies: Vec<AgencyId>) -> Result<Self, ScopeError> {
        if agencies.is_empty() {
            return Err(ScopeError::NoAgencies);
        }
        agencies.sort();
        agencies.dedup();
        Ok(Scope::Agencies(agencies))
    }

    /// The two columns the store keeps: a kind and a value.
    pub fn to_storage(&self) -> (&'static str, String) {
        match self {
            Scope::AllMembers => ("all", String::new()),
            Scope::SharingGroup(group) => ("group", group.as_str().to_owned()),
            Scope::Agencies(agencies) => (
                "agencies",
                agencies
                    .iter()
                    .map(AgencyId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }

    /// Reads the columns written by [`Scope::to_storage`].
    pub fn from_storage(kind: &str, value: &str) -> Result<Self, ScopeError> {
        match kind {
            "all" => Ok(Scope::AllMembers),
            "group" => GroupId::parse(value)
                .map(Scope::SharingGroup)
                .map_err(|_| ScopeError::Corrupt),
            "agencies" => value
                .split(',')
                .map(AgencyId::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ScopeError::Corrupt)
                .and_then(|agencies| Scope::agencies(agencies).map_err(|_| ScopeError::Corrupt)),
            _ => Err(ScopeError::Corrupt),
        }
    }

    /// True when the scope names `agency` explicitly (not through a group or all members).
    pub fn names(&self, agency: &AgencyId) -> bool {
        matches!(self, Scope::Agencies(agencies) if agencies.binary_search(agency).is_ok())
    }
}

/// A sharing group id: the federation file's (`belgrade-declaration`) or a server-made
/// `grp_…`. Lowercase letters, digits, `-` and `_`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(String);

/// A group id that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sharing group id must be 1 to 64 characters of a-z, 0-9, '-' or '_'")]
pub struct GroupIdError;

impl GroupId {
    /// Parses a group id.
    pub fn parse(text: &str) -> Result<Self, GroupIdError> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(GroupIdError)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for GroupId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(id: &str) -> AgencyId {
        AgencyId::parse(id).unwrap()
    }

    #[test]
    fn storage_round_trip() {
        let scopes = [
            Scope::AllMembers,
            Scope::SharingGroup(GroupId::parse("belgrade-declaration").unwrap()),
            Scope::agencies(vec![agency("UA-CERT"), agency("RS-MUP"), agency("UA-CERT")]).unwrap(),
        ];
        for scope in scopes {
            let (kind, value) = scope.to_storage();
            assert_eq!(Scope::from_storage(kind, &value), Ok(scope));
        }
    }

    #[test]
    fn named_agencies_are_sorted_and_deduplicated() {
        let scope =
            Scope::agencies(vec![agency("UA-CERT"), agency("RS-MUP"), agency("UA-CERT")]).unwrap();
        assert_eq!(scope.to_storage().1, "RS-MUP,UA-CERT");
        assert!(scope.names(&agency("RS-MUP")));
        assert!(!scope.names(&agency("HU-NNI")));
        assert_eq!(Scope::agencies(vec![]), Err(ScopeError::NoAgencies));
    }

    #[test]
    fn corrupt_storage_is_refused() {
        assert_eq!(
            Scope::from_storage("agencies", ""),
            Err(ScopeError::Corrupt)
        );
        assert_eq!(Scope::from_storage("planet", "x"), Err(ScopeError::Corrupt));
        assert_eq!(
            Scope::from_storage("group", "Bad Group"),
            Err(ScopeError::Corrupt)
        );
    }
}
