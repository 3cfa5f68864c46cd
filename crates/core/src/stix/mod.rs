//! STIX 2.1: a stored indicator as a bundle ([`export`]) and a bundle as validated
//! indicators ([`import`]). Pure: JSON text in, JSON text or domain values out.
//!
//! The mapping, chosen so that re-exporting an item gives the same bytes and that every
//! bundle passes the OASIS validator (`stix2_validator --strict`):
//!
//! - **Observables** become one `indicator` each, `pattern_type: stix`, with a single
//!   comparison: `[domain-name:value = '…']`, `[url:value = '…']`, `[ipv4-addr:value = '…']`,
//!   `[ipv6-addr:value = '…']`, `[email-addr:value = '…']`, `[file:hashes.'SHA-256' = '…']`
//!   (`'SHA-1'`, `MD5`). STIX has no object for the other five types, so they use custom
//!   observable types named as STIX's custom-object rules ask (`x-<source>-<name>`):
//!   `x-liaison-phone-number:value` (E.164), `x-liaison-iban:value`,
//!   `x-liaison-crypto-wallet:value`, `x-liaison-card-bin:value` and
//!   `x-liaison-messenger-handle:value` (`service:handle`). A pattern names no object
//!   instance, so no extension definition is needed; import also accepts
//!   `cryptocurrency-wallet:address` from the OASIS common-objects extension.
//! - **The fraud method** is an `attack-pattern` (title, description, `lang`; the category
//!   as the label `fraud-category:<name>`), each observable `indicates` it, and the
//!   countermeasures are a `course-of-action` that `mitigates` it.
//! - **TLP** is the TLP 2.0 marking definition of the OASIS extension
//!   (`extension-definition--60a3c5c5-…`), by its official id, on every object. Import also
//!   reads the four TLP 1.0 marking definitions STIX 2.1 predefines (WHITE reads as CLEAR).
//! - **The source** is an `identity` named by the agency id, the `created_by_ref` of every
//!   object; an anonymous item's is the one identity "a member agency", the same for every
//!   anonymous item, so nothing in the bundle points at its source.
//! - **Ids** are UUIDv5 in a Liaison namespace, from the item id (and the observable), so a
//!   second export of the same item has the same ids.
//! - **The evaluation code** (`B2`) is the label `evaluation:B2` of every object.

mod export;
mod import;
mod pattern;

pub use export::{Source, export};
pub use import::{ImportedIndicator, import, read};
pub use pattern::{pattern_for, quote};

use sha1::{Digest, Sha1};

use crate::tlp::Tlp;

/// The namespace of every UUIDv5 Liaison makes for STIX ids (itself a random UUIDv4).
const NAMESPACE: [u8; 16] = [
    0x6f, 0x3c, 0x2b, 0x1e, 0x8d, 0x4a, 0x4c, 0x71, 0x9b, 0x52, 0x0e, 0x8f, 0x61, 0x2d, 0x7a, 0x93,
];

/// A deterministic STIX id: `<kind>--<UUIDv5(namespace, name)>`.
pub(crate) fn stix_id(kind: &str, name: &str) -> String {
    format!("{kind}--{}", uuid_v5(&NAMESPACE, name))
}

/// A name-based UUID, version 5 (SHA-1), RFC 9562 section 5.5, in its text form.
fn uuid_v5(namespace: &[u8; 16], name: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(namespace);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The TLP 2.0 extension definition of the OASIS CTI TC (cti-stix-common-objects,
/// `extension-definition-specifications/tlp-2.0`).
pub const TLP_2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The official TLP 2.0 marking-definition id of each TLP.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The TLP of a well-known marking-definition id: the five of TLP 2.0 and the four of
/// TLP 1.0 that STIX 2.1 predefines (section 7.2.1.4; WHITE is CLEAR).
pub fn tlp_of_marking_id(id: &str) -> Option<Tlp> {
    if let Some(tlp) = Tlp::ALL.into_iter().find(|tlp| tlp_marking_id(*tlp) == id) {
        return Some(tlp);
    }
    match id {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Some(Tlp::Clear),
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Some(Tlp::Green),
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Some(Tlp::Amber),
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Some(Tlp::Red),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v5_and_stable() {
        let id = stix_id("indicator", "ind_01J0000000000000000000000");
        assert_eq!(id, stix_id("indicator", "ind_01J0000000000000000000000"));
        assert_ne!(id, stix_id("indicator", "ind_01J0000000000000000000001"));
        let uuid = id.strip_prefix("indicator--").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "5", "version nibble");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "variant");
    }

    #[test]
    fn uuid_v5_matches_the_rfc_vector() {
        // RFC 9562 appendix A.4: "www.example.com" in the DNS namespace.
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid_v5(&dns, "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }

    #[test]
    fn every_tlp_has_a_marking_that_reads_back() {
        for tlp in Tlp::ALL {
            assert_eq!(tlp_of_marking_id(tlp_marking_id(tlp)), Some(tlp));
        }
        assert_eq!(
            tlp_of_marking_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(Tlp::Clear)
        );
        assert_eq!(
            tlp_of_marking_id("marking-definition--00000000-0000-4000-8000-000000000000"),
            None
        );
    }
}

#[cfg(test)]
mod round_trip;
