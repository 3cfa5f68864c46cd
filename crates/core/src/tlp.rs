//! Traffic Light Protocol 2.0.

use std::{fmt, str::FromStr};

/// A TLP 2.0 marking: what a recipient may do with an item. Who receives it is the
/// item's [`Scope`](crate::Scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    /// Disclosure is not limited.
    Clear,
    /// The recipient's community.
    Green,
    /// The recipient's organisation and its clients, need to know.
    Amber,
    /// The recipient's organisation only.
    AmberStrict,
    /// Individual recipients only: persons of named agencies, never systems.
    Red,
}

impl Tlp {
    /// Every marking, least restrictive first.
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The canonical label, as TLP 2.0 writes it (`TLP:AMBER+STRICT`).
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A TLP label that is not one of TLP 2.0's five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLP marking (expected clear, green, amber, amber+strict or red)")]
pub struct UnknownTlp;

impl FromStr for Tlp {
    type Err = UnknownTlp;

    /// Accepts `amber+strict`, `TLP:AMBER+STRICT`, `amber_strict` and the like.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("tlp:").unwrap_or(&lower);
        match bare {
            "clear" | "white" => Ok(Tlp::Clear),
            "green" => Ok(Tlp::Green),
            "amber" => Ok(Tlp::Amber),
            "amber+strict" | "amber_strict" | "amber-strict" => Ok(Tlp::AmberStrict),
            "red" => Ok(Tlp::Red),
            _ => Err(UnknownTlp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_parse_back() {
        for tlp in Tlp::ALL {
            assert_eq!(tlp.as_str().parse::<Tlp>(), Ok(tlp));
            assert_eq!(tlp.label().parse::<Tlp>(), Ok(tlp));
        }
        assert_eq!("purple".parse::<Tlp>(), Err(UnknownTlp));
    }
}
