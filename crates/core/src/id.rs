//! Identifiers: agency ids, principal names and the server-made object ids.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Agency ids are an ISO country code or `INT`/`EU`, a dash, and an acronym.
    #[error(
        "agency id must be a 2-letter country code, INT or EU, a dash and an acronym of \
         capital letters and digits, e.g. RS-MUP or INT-INTERPOL (at most 32 characters)"
    )]
    Agency,
    /// Principal names are short lowercase words.
    #[error(
        "principal name must be 1 to 63 characters of a-z, 0-9, '.', '_' or '-', starting \
         with a letter or digit"
    )]
    PrincipalName,
    /// An object id has the wrong prefix or body.
    #[error("must be an id of the form {expected_prefix}_ followed by 26 base32 characters")]
    Object {
        /// The prefix the id should have had, such as `ind`.
        expected_prefix: &'static str,
    },
}

/// An agency id: `RS-MUP`, `UA-CERT`, `INT-INTERPOL`, `EU-EUROPOL`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgencyId(String);

impl AgencyId {
    /// Parses an agency id.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let (prefix, acronym) = text.split_once('-').ok_or(IdError::Agency)?;
        let prefix_ok = prefix == "INT"
            || prefix == "EU"
            || (prefix.len() == 2 && prefix.bytes().all(|b| b.is_ascii_uppercase()));
        let acronym_ok = !acronym.is_empty()
            && acronym.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            });
        if prefix_ok && acronym_ok && text.len() <= 32 {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::Agency)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter state code for national agencies; `None` for `INT-`/`EU-` bodies.
    pub fn state_code(&self) -> Option<&str> {
        let prefix = self.0.split('-').next()?;
        (prefix.len() == 2 && prefix != "EU").then_some(prefix)
    }
}

impl fmt::Display for AgencyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AgencyId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl<'de> Deserialize<'de> for AgencyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A principal's name within its agency: `feed`, `officer`, `duty-desk`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrincipalName(String);

impl PrincipalName {
    /// Parses a principal name.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let mut bytes = text.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
        if first_ok && rest_ok && text.len() <= 63 {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::PrincipalName)
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PrincipalName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A server-made object id: a prefix naming the kind (`ind`, `mla`, `cbm`, …), an
/// underscore and a ULID in lowercase, so ids sort by creation time.
///
/// Every prefix is one of the constants below and listed in [`ObjectId::PREFIXES`]; a
/// test keeps them distinct, so an id names its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    /// Prefix of indicator ids.
    pub const INDICATOR: &'static str = "ind";
    /// Prefix of sighting ids.
    pub const SIGHTING: &'static str = "sgt";
    /// Prefix of correlation ids.
    pub const CORRELATION: &'static str = "cor";
    /// Prefix of MLA request ids.
    pub const MLA_REQUEST: &'static str = "mla";
    /// Prefix of MLA receipt ids.
    pub const MLA_RECEIPT: &'static str = "rct";
    /// Prefix of MLA message ids.
    pub const MLA_MESSAGE: &'static str = "msg";
    /// Prefix of MLA evidence ids.
    pub const MLA_EVIDENCE: &'static str = "evd";
    /// Prefix of CBM notification ids.
    pub const CBM_NOTIFICATION: &'static str = "cbm";
    /// Prefix of point-of-contact ids.
    pub const POINT_OF_CONTACT: &'static str = "poc";
    /// Prefix of communication-check ids.
    pub const CBM_CHECK: &'static str = "chk";
    /// Prefix of new CBM reply ids. Replies made before it existed carry `msg`, the
    /// prefix of MLA messages: those ids are stored (in replies, events, audit records)
    /// and so stay as they are, and [`ObjectId::parse`] still accepts them as replies
    /// (see [`ObjectId::EARLIER_PREFIXES`]). MLA messages keep `msg`.
    pub const CBM_REPLY: &'static str = "rpl";
    /// Prefix of consultation ids.
    pub const CBM_CONSULTATION: &'static str = "cns";

    /// Every prefix in use, with the kind of object it names.
    pub const PREFIXES: &'static [(&'static str, &'static str)] = &[
        (Self::INDICATOR, "indicator"),
        (Self::SIGHTING, "sighting"),
        (Self::CORRELATION, "correlation"),
        (Self::MLA_REQUEST, "MLA request"),
        (Self::MLA_RECEIPT, "MLA receipt"),
        (Self::MLA_MESSAGE, "MLA message"),
        (Self::MLA_EVIDENCE, "MLA evidence"),
        (Self::CBM_NOTIFICATION, "CBM notification"),
        (Self::POINT_OF_CONTACT, "point of contact"),
        (Self::CBM_CHECK, "communication check"),
        (Self::CBM_REPLY, "CBM reply"),
        (Self::CBM_CONSULTATION, "consultation"),
    ];

    /// Prefixes that ids of a kind carried before its own: `(prefix, earlier)`. Parsing
    /// for `prefix` accepts `earlier` too; new ids always carry `prefix`.
    pub const EARLIER_PREFIXES: &'static [(&'static str, &'static str)] =
        &[(Self::CBM_REPLY, Self::MLA_MESSAGE)];

    /// A new id with the given prefix.
    pub fn generate(prefix: &'static str) -> Self {
        Self(format!(
            "{prefix}_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ))
    }

    /// Parses an id that must carry `prefix` (or an earlier prefix of the same kind, see
    /// [`ObjectId::EARLIER_PREFIXES`]).
    pub fn parse(prefix: &'static str, text: &str) -> Result<Self, IdError> {
        let error = IdError::Object {
            expected_prefix: prefix,
        };
        let earlier = Self::EARLIER_PREFIXES
            .iter()
            .filter(|(current, _)| *current == prefix)
            .map(|(_, earlier)| *earlier);
        let body = std::iter::once(prefix)
            .chain(earlier)
            .find_map(|accepted| {
                text.strip_prefix(accepted)
                    .and_then(|rest| rest.strip_prefix('_'))
            })
            .ok_or(error.clone())?;
        let upper = body.to_ascii_uppercase();
        if body.len() == 26
            && body == upper.to_ascii_lowercase()
            && ulid::Ulid::from_string(&upper).is_ok()
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(error)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_ids() {
        for good in [
            "RS-MUP",
            "UA-CERT",
            "INT-INTERPOL",
            "EU-EUROPOL",
            "HU-NNI",
            "INT-PCCSEE",
            "VN-A05",
        ] {
            assert_eq!(
                AgencyId::parse(good).map(|id| id.to_string()),
                Ok(good.to_owned())
            );
        }
        for bad in [
            "",
            "RS",
            "rs-mup",
            "RS-",
            "-MUP",
            "SRB-MUP",
            "RS-MUP-",
            "RS--MUP",
            "RS-МУП",
            "RS MUP",
        ] {
            assert_eq!(AgencyId::parse(bad), Err(IdError::Agency), "{bad:?}");
        }
        assert_eq!(AgencyId::parse("RS-MUP").unwrap().state_code(), Some("RS"));
        assert_eq!(AgencyId::parse("EU-ENISA").unwrap().state_code(), None);
        assert_eq!(AgencyId::parse("INT-OSCE").unwrap().state_code(), None);
    }

    #[test]
    fn principal_names() {
        for good in ["feed", "officer", "duty-desk", "a", "x.y_z-1"] {
            assert!(PrincipalName::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", "Feed", "-feed", "feed/1", "офицер", &"a".repeat(64)] {
            assert_eq!(
                PrincipalName::parse(bad),
                Err(IdError::PrincipalName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn object_ids_round_trip_and_keep_their_prefix() {
        let id = ObjectId::generate(ObjectId::INDICATOR);
        assert!(id.as_str().starts_with("ind_"));
        assert_eq!(ObjectId::parse("ind", id.as_str()), Ok(id.clone()));
        assert!(ObjectId::parse("mla", id.as_str()).is_err());
        assert!(ObjectId::parse("ind", "ind_").is_err());
        assert!(ObjectId::parse("ind", &id.as_str().to_ascii_uppercase()).is_err());
        assert!(ObjectId::parse("ind", "ind_../../etc/passwd").is_err());
    }

    #[test]
    fn object_id_prefixes_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for (prefix, kind) in ObjectId::PREFIXES {
            assert!(seen.insert(*prefix), "{prefix} ({kind}) is used twice");
            assert!(
                !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_lowercase()),
                "{prefix}"
            );
        }
        for (current, earlier) in ObjectId::EARLIER_PREFIXES {
            assert!(seen.contains(current), "{current} is not registered");
            assert_ne!(current, earlier);
        }
    }

    #[test]
    fn a_reply_id_of_the_earlier_prefix_still_parses() {
        let new = ObjectId::generate(ObjectId::CBM_REPLY);
        assert!(new.as_str().starts_with("rpl_"));
        let old = format!("msg_{}", &new.as_str()[4..]);
        assert_eq!(
            ObjectId::parse(ObjectId::CBM_REPLY, &old).map(|id| id.to_string()),
            Ok(old.clone())
        );
        assert!(ObjectId::parse(ObjectId::MLA_MESSAGE, new.as_str()).is_err());
        assert!(ObjectId::parse(ObjectId::CBM_NOTIFICATION, &old).is_err());
    }

    #[test]
    fn object_ids_sort_by_creation() {
        let first = ObjectId::generate("ind");
        let second = ObjectId::generate("ind");
        assert!(first <= second || first.as_str()[4..14] == second.as_str()[4..14]);
    }
}
