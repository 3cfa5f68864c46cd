//! What a Merkle leaf commits to, and what each viewer may be shown of it.
//!
//! A record is stored whole ([`AuditRecord::seal`]), but its leaf — the bytes the signed
//! tree commits to and that exports carry — is the *committed form*: the parts every viewer
//! of the record may see in clear (time, actor, roles, method, outcome, trace id), and the
//! parts that may be withheld as salted SHA-256 commitments:
//!
//! - the *details* (certificate fingerprint, token id, deny reason, justification, client
//!   address) as one commitment;
//! - each object access as one commitment, over its id, access, anonymity and a
//!   commitment to its owner; the list sorted by commitment and padded with random-looking
//!   entries to a power of two (at least [`MIN_OBJECT_SLOTS`]), so that neither the order
//!   nor the exact number of objects shows.
//!
//! The salts derive from a random per-record seed that never leaves the hub. An
//! [`Opening`] reveals, for one viewer, the salts and values of what that viewer may see;
//! [`Opening::verify`] checks every revealed part against the leaf, so an export that was
//! redacted for its reader still verifies leaf by leaf against the signed tree.
//!
//! Who sees what ([`Viewer`]):
//! - hub oversight: everything;
//! - an agency whose principal made the call: the details and every object, but the owner
//!   of an object that was anonymous when accessed only if the agency owns it itself;
//! - an agency that owns an object the call touched (and did not make the call): its own
//!   objects only, no details.
//!
//! Records stored before version 2 (whose leaf is the whole record) are disclosed whole to
//! oversight; other viewers get a redacted view without leaf data whenever anything is
//! withheld, treating every object of such a record as anonymous.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::record::{Access, Actor, AuditRecord, ObjectAccess, field_number, field_string, roles};

/// Object slots in a committed form at least (padding hides small counts).
pub const MIN_OBJECT_SLOTS: usize = 4;

const DETAILS: &[u8] = b"liaison-audit-v2 details\n";
const OBJECT: &[u8] = b"liaison-audit-v2 object\n";
const OWNER: &[u8] = b"liaison-audit-v2 owner\n";
const PAD: &[u8] = b"liaison-audit-v2 pad\n";
const SALT_DETAILS: &[u8] = b"liaison-audit-v2 salt details\n";
const SALT_OBJECT: &[u8] = b"liaison-audit-v2 salt object\n";
const SALT_OWNER: &[u8] = b"liaison-audit-v2 salt owner\n";

type Bytes32 = [u8; 32];

fn sha(parts: &[&[u8]]) -> Bytes32 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn salt(domain: &[u8], seed: &Bytes32, index: Option<usize>) -> Bytes32 {
    match index {
        Some(index) => sha(&[domain, seed, &(index as u64).to_be_bytes()]),
        None => sha(&[domain, seed]),
    }
}

/// Who is looking at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer<'a> {
    /// Hub oversight: sees every record whole.
    Oversight,
    /// An agency's auditors.
    Agency(&'a str),
}

/// The details: the fields only the actor's agency and oversight may see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct Details {
    certificate_sha256: Option<String>,
    token_id: Option<String>,
    deny_reason: Option<String>,
    justification: Option<String>,
    client_address: Option<String>,
    /// How many objects the record names: whoever is shown the details is shown every
    /// object, and a verifier checks that none was left out of the opening.
    #[serde(default)]
    objects: usize,
}

impl Details {
    fn of(record: &AuditRecord) -> Self {
        Self {
            certificate_sha256: record.actor.certificate_sha256.clone(),
            token_id: record.actor.token_id.clone(),
            deny_reason: record.deny_reason.clone(),
            justification: record.justification.clone(),
            client_address: record.client_address.clone(),
            objects: record.sorted_objects().len(),
        }
    }

    fn canonical(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        for (key, value) in [
            ("certificate_sha256", &self.certificate_sha256),
            ("token_id", &self.token_id),
            ("deny_reason", &self.deny_reason),
            ("justification", &self.justification),
            ("client_address", &self.client_address),
        ] {
            if let Some(value) = value {
                field_string(&mut out, key, value, first);
                first = false;
            }
        }
        field_number(
            &mut out,
            "objects",
            i64::try_from(self.objects).unwrap_or(i64::MAX),
            first,
        );
        out.push('}');
        out
    }

    fn commitment(&self, salt: &Bytes32) -> Bytes32 {
        sha(&[DETAILS, salt, self.canonical().as_bytes()])
    }

    fn apply(self, record: &mut AuditRecord) {
        record.actor.certificate_sha256 = self.certificate_sha256;
        record.actor.token_id = self.token_id;
        record.deny_reason = self.deny_reason;
        record.justification = self.justification;
        record.client_address = self.client_address;
    }
}

fn owner_commitment(salt: &Bytes32, owner: &str) -> Bytes32 {
    sha(&[OWNER, salt, owner.as_bytes()])
}

fn object_commitment(
    salt: &Bytes32,
    id: &str,
    access: Access,
    anonymous: bool,
    owner: Option<&Bytes32>,
) -> Bytes32 {
    let mut out = String::from("{");
    field_string(&mut out, "id", id, true);
    field_string(&mut out, "access", access.as_str(), false);
    out.push_str(if anonymous {
        ",\"anonymous\":true"
    } else {
        ",\"anonymous\":false"
    });
    if let Some(owner) = owner {
        field_string(&mut out, "owner", &hex::encode(owner), false);
    }
    out.push('}');
    sha(&[OBJECT, salt, out.as_bytes()])
}

/// The stored form of a record, read back.
#[derive(Debug, Clone)]
pub struct Sealed {
    record: AuditRecord,
    form: Form,
}

#[derive(Debug, Clone)]
enum Form {
    /// Version 2: the leaf is the committed form.
    Committed { seed: Bytes32 },
    /// Version 1 (or bytes that do not parse): the leaf is the stored bytes themselves.
    Whole { bytes: Vec<u8>, legible: bool },
}

#[derive(Deserialize)]
struct RawStored {
    #[serde(default)]
    v: i64,
    seed: Option<String>,
    #[serde(default)]
    time_us: i64,
    #[serde(default)]
    actor: RawActor,
    #[serde(default)]
    method: String,
    #[serde(default)]
    objects: Vec<RawObject>,
    #[serde(default = "unknown_outcome")]
    outcome: i32,
    deny_reason: Option<String>,
    justification: Option<String>,
    client_address: Option<String>,
    #[serde(default)]
    trace_id: String,
}

#[derive(Deserialize, Default)]
struct RawActor {
    agency: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    certificate_sha256: Option<String>,
    token_id: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct RawObject {
    id: String,
    access: String,
    #[serde(default)]
    anonymous: Option<bool>,
    owner: Option<String>,
}

fn unknown_outcome() -> i32 {
    2
}

impl Sealed {
    /// Reads a stored record. Bytes that are not a record still make a leaf (their own
    /// bytes, as the log committed to them), shown to oversight only.
    pub fn parse(stored: &[u8]) -> Self {
        let Ok(raw) = serde_json::from_slice::<RawStored>(stored) else {
            return Self {
                record: AuditRecord::default(),
                form: Form::Whole {
                    bytes: stored.to_vec(),
                    legible: false,
                },
            };
        };
        let seed = (raw.v == 2)
            .then(|| raw.seed.as_deref().and_then(|seed| hex::decode(seed).ok()))
            .flatten()
            .and_then(|seed| Bytes32::try_from(seed).ok());
        let legacy = seed.is_none();
        let record = AuditRecord {
            time_us: raw.time_us,
            actor: Actor {
                agency: raw.actor.agency,
                kind: raw.actor.kind,
                name: raw.actor.name,
                certificate_sha256: raw.actor.certificate_sha256,
                token_id: raw.actor.token_id,
                roles: raw.actor.roles,
            },
            method: raw.method,
            objects: raw
                .objects
                .into_iter()
                .map(|object| ObjectAccess {
                    id: object.id,
                    access: Access::parse(&object.access).unwrap_or(Access::Read),
                    owner_agency: object.owner,
                    // Version 1 did not say; assume the worst.
                    anonymous: object.anonymous.unwrap_or(legacy),
                })
                .collect(),
            outcome: raw.outcome,
            deny_reason: raw.deny_reason,
            justification: raw.justification,
            client_address: raw.client_address,
            trace_id: raw.trace_id,
        };
        let form = match seed {
            Some(seed) => Form::Committed { seed },
            None => Form::Whole {
                bytes: stored.to_vec(),
                legible: true,
            },
        };
        Self { record, form }
    }

    /// The whole record.
    pub fn record(&self) -> &AuditRecord {
        &self.record
    }

    /// The bytes of the Merkle leaf.
    pub fn leaf_data(&self) -> Vec<u8> {
        match &self.form {
            Form::Whole { bytes, .. } => bytes.clone(),
            Form::Committed { seed } => self.committed_form(seed),
        }
    }

    fn committed_form(&self, seed: &Bytes32) -> Vec<u8> {
        let record = &self.record;
        let mut out = String::with_capacity(512);
        out.push('{');
        field_number(&mut out, "v", 2, true);
        field_number(&mut out, "time_us", record.time_us, false);
        out.push_str(",\"actor\":{");
        let mut first = true;
        for (key, value) in [
            ("agency", &record.actor.agency),
            ("kind", &record.actor.kind),
            ("name", &record.actor.name),
        ] {
            if let Some(value) = value {
                field_string(&mut out, key, value, first);
                first = false;
            }
        }
        if !first {
            out.push(',');
        }
        roles(&mut out, &record.actor.roles);
        out.push('}');
        field_string(&mut out, "method", &record.method, false);
        field_number(&mut out, "outcome", i64::from(record.outcome), false);
        field_string(&mut out, "trace_id", &record.trace_id, false);
        let details = Details::of(record).commitment(&salt(SALT_DETAILS, seed, None));
        field_string(&mut out, "details", &hex::encode(details), false);
        let objects = record.sorted_objects();
        let mut slots: Vec<String> = objects
            .iter()
            .enumerate()
            .map(|(index, object)| {
                let owner = object
                    .owner_agency
                    .as_deref()
                    .map(|owner| owner_commitment(&salt(SALT_OWNER, seed, Some(index)), owner));
                hex::encode(object_commitment(
                    &salt(SALT_OBJECT, seed, Some(index)),
                    &object.id,
                    object.access,
                    object.anonymous,
                    owner.as_ref(),
                ))
            })
            .collect();
        let padded = objects.len().next_power_of_two().max(MIN_OBJECT_SLOTS);
        slots
            .extend((objects.len()..padded).map(|index| hex::encode(salt(PAD, seed, Some(index)))));
        slots.sort();
        out.push_str(",\"objects\":[");
        for (index, slot) in slots.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(slot);
            out.push('"');
        }
        out.push_str("]}");
        out.into_bytes()
    }

    /// What `viewer` may be shown of this record: the leaf data (when it reveals nothing
    /// withheld), the opening of the parts it may see, and the record as it may see it.
    pub fn disclose(&self, viewer: Viewer<'_>) -> Disclosure {
        match &self.form {
            Form::Whole { bytes, legible } => {
                let view = self.redacted_view(viewer, *legible);
                Disclosure {
                    leaf_data: (!view.redacted).then(|| bytes.clone()),
                    opening: None,
                    view,
                }
            }
            Form::Committed { seed } => {
                let leaf_data = self.committed_form(seed);
                let opening = self.opening(viewer, seed);
                // The view is what the opening proves, so that the hub shows exactly what
                // a verifier of the export can check.
                let view = match opening.verify(&leaf_data) {
                    Ok(view) => view,
                    Err(_) => self.redacted_view(viewer, true),
                };
                Disclosure {
                    leaf_data: Some(leaf_data),
                    opening: Some(opening),
                    view,
                }
            }
        }
    }

    fn shows_details(&self, viewer: Viewer<'_>) -> bool {
        match viewer {
            Viewer::Oversight => true,
            Viewer::Agency(agency) => self.record.actor.agency.as_deref() == Some(agency),
        }
    }

    /// For one object: `None` when withheld, else whether its owner is shown.
    fn shows_object(&self, viewer: Viewer<'_>, object: &ObjectAccess) -> Option<bool> {
        let Viewer::Agency(agency) = viewer else {
            return Some(true);
        };
        let owns = object.owner_agency.as_deref() == Some(agency);
        if owns {
            Some(true)
        } else if self.shows_details(viewer) {
            Some(!object.anonymous)
        } else {
            None
        }
    }

    fn opening(&self, viewer: Viewer<'_>, seed: &Bytes32) -> Opening {
        let details = self.shows_details(viewer).then(|| OpenedDetails {
            salt: salt(SALT_DETAILS, seed, None),
            details: Details::of(&self.record),
        });
        let mut objects = Vec::new();
        let mut withheld = !self.shows_details(viewer);
        for (index, object) in self.record.sorted_objects().into_iter().enumerate() {
            let Some(show_owner) = self.shows_object(viewer, &object) else {
                withheld = true;
                continue;
            };
            let owner = object.owner_agency.as_deref().map(|owner| {
                let owner_salt = salt(SALT_OWNER, seed, Some(index));
                if show_owner {
                    OpenedOwner::Shown {
                        salt: owner_salt,
                        agency: owner.to_owned(),
                    }
                } else {
                    withheld = true;
                    OpenedOwner::Hidden(owner_commitment(&owner_salt, owner))
                }
            });
            objects.push(OpenedObject {
                salt: salt(SALT_OBJECT, seed, Some(index)),
                id: object.id,
                access: object.access,
                anonymous: object.anonymous,
                owner,
            });
        }
        Opening {
            details,
            objects,
            redacted: withheld,
        }
    }

    /// The view of a record whose leaf cannot be opened in parts.
    fn redacted_view(&self, viewer: Viewer<'_>, legible: bool) -> View {
        if !legible {
            return View {
                record: AuditRecord::default(),
                redacted: viewer != Viewer::Oversight,
            };
        }
        let mut record = self.record.clone();
        let mut redacted = false;
        if !self.shows_details(viewer) {
            Details::default().apply(&mut record);
            redacted = true;
        }
        record.objects = self
            .record
            .sorted_objects()
            .into_iter()
            .filter_map(|mut object| match self.shows_object(viewer, &object) {
                None => {
                    redacted = true;
                    None
                }
                Some(show_owner) => {
                    if !show_owner && object.owner_agency.is_some() {
                        object.owner_agency = None;
                        redacted = true;
                    }
                    Some(object)
                }
            })
            .collect();
        View { record, redacted }
    }
}

/// A record as one viewer may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The record, without what is withheld: withheld objects are left out, a withheld
    /// owner is `None` (on an object marked anonymous), withheld details are `None`.
    pub record: AuditRecord,
    /// Something was withheld from this viewer.
    pub redacted: bool,
}

/// What one viewer is given of one record.
#[derive(Debug, Clone)]
pub struct Disclosure {
    /// The leaf's bytes, when the viewer may have them (always for version-2 records:
    /// their withheld parts are salted hashes).
    pub leaf_data: Option<Vec<u8>>,
    /// The salts and values that open the parts of `leaf_data` the viewer may see.
    pub opening: Option<Opening>,
    /// The record as the viewer may see it.
    pub view: View,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenedDetails {
    salt: Bytes32,
    details: Details,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OpenedOwner {
    Shown { salt: Bytes32, agency: String },
    Hidden(Bytes32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenedObject {
    salt: Bytes32,
    id: String,
    access: Access,
    anonymous: bool,
    owner: Option<OpenedOwner>,
}

/// The parts of one leaf revealed to one viewer, with their salts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    details: Option<OpenedDetails>,
    objects: Vec<OpenedObject>,
    redacted: bool,
}

/// Why an opening does not match its leaf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpeningError {
    /// The leaf is not a version-2 committed form.
    #[error("the leaf is not a committed record")]
    NotCommitted,
    /// The opening does not parse.
    #[error("the opening is malformed: {0}")]
    Malformed(String),
    /// The revealed details do not hash to the leaf's commitment.
    #[error("the revealed details do not match the leaf")]
    Details,
    /// A revealed object is not among the leaf's commitments (or is revealed twice).
    #[error("revealed object {0:?} does not match the leaf")]
    Object(String),
    /// The details are revealed but not every object the record names.
    #[error("the opening leaves out objects of the record ({opened} of {named} revealed)")]
    Incomplete {
        /// Objects revealed.
        opened: usize,
        /// Objects the record names.
        named: usize,
    },
}

#[derive(Deserialize)]
struct RawCommitted {
    v: i64,
    #[serde(default)]
    time_us: i64,
    #[serde(default)]
    actor: RawActor,
    #[serde(default)]
    method: String,
    #[serde(default = "unknown_outcome")]
    outcome: i32,
    #[serde(default)]
    trace_id: String,
    details: String,
    objects: Vec<String>,
}

#[derive(Deserialize)]
struct RawOpening {
    details: Option<RawOpenedDetails>,
    #[serde(default)]
    objects: Vec<RawOpenedObject>,
    #[serde(default)]
    redacted: bool,
}

#[derive(Deserialize)]
struct RawOpenedDetails {
    salt: String,
    #[serde(flatten)]
    details: Details,
}

#[derive(Deserialize)]
struct RawOpenedObject {
    salt: String,
    id: String,
    access: String,
    #[serde(default)]
    anonymous: bool,
    owner: Option<String>,
    owner_salt: Option<String>,
    owner_commitment: Option<String>,
}

fn bytes32(field: &str, text: &str) -> Result<Bytes32, OpeningError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| Bytes32::try_from(bytes).ok())
        .ok_or_else(|| OpeningError::Malformed(format!("{field} is not 32 hex bytes")))
}

impl Opening {
    /// The opening as JSON, as exports carry it.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = String::from("{");
        let mut first = true;
        if let Some(details) = &self.details {
            out.push_str("\"details\":{");
            field_string(&mut out, "salt", &hex::encode(details.salt), true);
            let canonical = details.details.canonical();
            if canonical.len() > 2 {
                out.push(',');
                out.push_str(&canonical[1..canonical.len() - 1]);
            }
            out.push('}');
            first = false;
        }
        if !first {
            out.push(',');
        }
        out.push_str("\"objects\":[");
        for (index, object) in self.objects.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push('{');
            field_string(&mut out, "salt", &hex::encode(object.salt), true);
            field_string(&mut out, "id", &object.id, false);
            field_string(&mut out, "access", object.access.as_str(), false);
            if object.anonymous {
                out.push_str(",\"anonymous\":true");
            }
            match &object.owner {
                None => {}
                Some(OpenedOwner::Shown { salt, agency }) => {
                    field_string(&mut out, "owner", agency, false);
                    field_string(&mut out, "owner_salt", &hex::encode(salt), false);
                }
                Some(OpenedOwner::Hidden(commitment)) => {
                    field_string(
                        &mut out,
                        "owner_commitment",
                        &hex::encode(commitment),
                        false,
                    );
                }
            }
            out.push('}');
        }
        out.push(']');
        if self.redacted {
            out.push_str(",\"redacted\":true");
        }
        out.push('}');
        out.into_bytes()
    }

    /// Reads an opening from its JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, OpeningError> {
        let raw: RawOpening = serde_json::from_slice(bytes)
            .map_err(|error| OpeningError::Malformed(error.to_string()))?;
        let details = raw
            .details
            .map(|details| {
                Ok::<_, OpeningError>(OpenedDetails {
                    salt: bytes32("details.salt", &details.salt)?,
                    details: details.details,
                })
            })
            .transpose()?;
        let objects = raw
            .objects
            .into_iter()
            .map(|object| {
                let owner = match (object.owner, object.owner_salt, object.owner_commitment) {
                    (None, None, None) => None,
                    (Some(agency), Some(salt), None) => Some(OpenedOwner::Shown {
                        salt: bytes32("owner_salt", &salt)?,
                        agency,
                    }),
                    (None, None, Some(commitment)) => Some(OpenedOwner::Hidden(bytes32(
                        "owner_commitment",
                        &commitment,
                    )?)),
                    _ => {
                        return Err(OpeningError::Malformed(format!(
                            "object {:?}: give owner with owner_salt, or owner_commitment",
                            object.id
                        )));
                    }
                };
                Ok(OpenedObject {
                    salt: bytes32("salt", &object.salt)?,
                    access: Access::parse(&object.access).ok_or_else(|| {
                        OpeningError::Malformed(format!("object {:?}: unknown access", object.id))
                    })?,
                    id: object.id,
                    anonymous: object.anonymous,
                    owner,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            details,
            objects,
            redacted: raw.redacted,
        })
    }

    /// Checks every revealed part against the committed form `leaf_data`, and returns the
    /// record they reveal.
    pub fn verify(&self, leaf_data: &[u8]) -> Result<View, OpeningError> {
        let committed: RawCommitted =
            serde_json::from_slice(leaf_data).map_err(|_| OpeningError::NotCommitted)?;
        if committed.v != 2 {
            return Err(OpeningError::NotCommitted);
        }
        let mut record = AuditRecord {
            time_us: committed.time_us,
            actor: Actor {
                agency: committed.actor.agency,
                kind: committed.actor.kind,
                name: committed.actor.name,
                certificate_sha256: None,
                token_id: None,
                roles: committed.actor.roles,
            },
            method: committed.method,
            objects: Vec::new(),
            outcome: committed.outcome,
            deny_reason: None,
            justification: None,
            client_address: None,
            trace_id: committed.trace_id,
        };
        if let Some(opened) = &self.details {
            if hex::encode(opened.details.commitment(&opened.salt)) != committed.details {
                return Err(OpeningError::Details);
            }
            opened.details.clone().apply(&mut record);
        }
        let mut unused: Vec<&str> = committed.objects.iter().map(String::as_str).collect();
        for object in &self.objects {
            let owner = match &object.owner {
                None => None,
                Some(OpenedOwner::Shown { salt, agency }) => Some(owner_commitment(salt, agency)),
                Some(OpenedOwner::Hidden(commitment)) => Some(*commitment),
            };
            let commitment = hex::encode(object_commitment(
                &object.salt,
                &object.id,
                object.access,
                object.anonymous,
                owner.as_ref(),
            ));
            let Some(position) = unused.iter().position(|slot| *slot == commitment) else {
                return Err(OpeningError::Object(object.id.clone()));
            };
            unused.swap_remove(position);
            record.objects.push(ObjectAccess {
                id: object.id.clone(),
                access: object.access,
                owner_agency: match &object.owner {
                    Some(OpenedOwner::Shown { agency, .. }) => Some(agency.clone()),
                    _ => None,
                },
                anonymous: object.anonymous,
            });
        }
        if let Some(opened) = &self.details
            && opened.details.objects != self.objects.len()
        {
            return Err(OpeningError::Incomplete {
                opened: self.objects.len(),
                named: opened.details.objects,
            });
        }
        Ok(View {
            record,
            redacted: self.redacted || self.details.is_none(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::record;

    fn sealed() -> Sealed {
        Sealed::parse(&record().seal_with_seed([7; 32]))
    }

    fn shown(disclosure: &Disclosure) -> String {
        String::from_utf8(disclosure.leaf_data.clone().unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn the_leaf_hides_details_objects_and_owners() {
        let leaf = String::from_utf8(sealed().leaf_data()).unwrap_or_default();
        for secret in ["ind_1", "ind_2", "RS-MUP", "Справа", "127.0.0.1", "abab"] {
            assert!(!leaf.contains(secret), "{secret} in {leaf}");
        }
        assert!(leaf.contains("\"agency\":\"UA-CERT\""), "{leaf}");
        let value: serde_json::Value = serde_json::from_str(&leaf).unwrap_or_default();
        assert_eq!(value["objects"].as_array().map(Vec::len), Some(4), "{leaf}");
    }

    #[test]
    fn the_committed_form_is_fixed_by_the_seed() {
        assert_eq!(sealed().leaf_data(), sealed().leaf_data());
        let other = Sealed::parse(&record().seal_with_seed([8; 32]));
        assert_ne!(other.leaf_data(), sealed().leaf_data());
        // Two seals of one record differ: salts are fresh.
        assert_ne!(record().seal(), record().seal());
    }

    #[test]
    fn oversight_sees_everything_and_it_verifies() {
        let disclosure = sealed().disclose(Viewer::Oversight);
        assert!(!disclosure.view.redacted);
        let mut expected = record();
        expected.objects = expected.sorted_objects();
        assert_eq!(disclosure.view.record, expected);
        let opening = disclosure.opening.clone().unwrap_or_else(|| unreachable!());
        let parsed = Opening::from_json(&opening.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, opening);
        let leaf = disclosure.leaf_data.unwrap_or_default();
        assert_eq!(parsed.verify(&leaf), Ok(disclosure.view));
    }

    #[test]
    fn the_actors_agency_does_not_learn_an_anonymous_owner() {
        let disclosure = sealed().disclose(Viewer::Agency("UA-CERT"));
        let view = &disclosure.view;
        assert!(view.redacted);
        assert!(view.record.justification.is_some());
        let ind_2 = view.record.objects.iter().find(|o| o.id == "ind_2");
        assert_eq!(
            ind_2.map(|o| (o.anonymous, o.owner_agency.clone())),
            Some((true, None))
        );
        assert!(!shown(&disclosure).contains("RS-MUP"));
        let json = String::from_utf8(disclosure.opening.map(|o| o.to_json()).unwrap_or_default())
            .unwrap_or_default();
        assert!(!json.contains("RS-MUP"), "{json}");
    }

    #[test]
    fn an_owner_sees_its_own_objects_and_no_details() {
        let disclosure = sealed().disclose(Viewer::Agency("RS-MUP"));
        let view = &disclosure.view;
        assert!(view.redacted);
        assert_eq!(view.record.justification, None);
        assert_eq!(view.record.client_address, None);
        assert_eq!(view.record.actor.certificate_sha256, None);
        let ids: Vec<&str> = view.record.objects.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["ind_2"]);
        assert_eq!(
            view.record.objects[0].owner_agency.as_deref(),
            Some("RS-MUP")
        );
        let opening = disclosure.opening.unwrap_or_else(|| unreachable!());
        let json = String::from_utf8(opening.to_json()).unwrap_or_default();
        for secret in ["ind_1", "Справа", "127.0.0.1", "abab"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        let leaf = disclosure.leaf_data.unwrap_or_default();
        assert_eq!(
            Opening::from_json(&opening.to_json()).and_then(|o| o.verify(&leaf)),
            Ok(disclosure.view)
        );
    }

    #[test]
    fn a_forged_opening_does_not_verify() {
        let disclosure = sealed().disclose(Viewer::Oversight);
        let leaf = disclosure.leaf_data.unwrap_or_default();
        let json = String::from_utf8(disclosure.opening.map(|o| o.to_json()).unwrap_or_default())
            .unwrap_or_default();
        for (from, to) in [
            ("RS-MUP", "HU-NNI"),
            ("ind_2", "ind_3"),
            ("Справа", "Cправа"),
        ] {
            let forged = json.replace(from, to);
            let result = Opening::from_json(forged.as_bytes()).and_then(|o| o.verify(&leaf));
            assert!(result.is_err(), "{from} -> {to}: {result:?}");
        }
        // Leaving an object out of an opening that shows the details is caught.
        let opening = Opening::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut short = opening.clone();
        short.objects.pop();
        assert!(matches!(
            short.verify(&leaf),
            Err(OpeningError::Incomplete { .. })
        ));
        // Revealing an object twice does not count it twice.
        let opening = Opening::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut doubled = opening.clone();
        doubled.objects.push(opening.objects[0].clone());
        assert!(doubled.verify(&leaf).is_err());
    }

    #[test]
    fn legacy_records_are_whole_for_oversight_and_redacted_for_agencies() {
        let legacy = br#"{"v":1,"time_us":5,"actor":{"agency":"UA-CERT","roles":[]},"method":"/m","objects":[{"id":"ind_9","access":"read","owner":"RS-MUP"}],"outcome":0,"justification":"x","trace_id":"t"}"#;
        let sealed = Sealed::parse(legacy);
        assert_eq!(sealed.leaf_data(), legacy.to_vec());
        let oversight = sealed.disclose(Viewer::Oversight);
        assert_eq!(oversight.leaf_data.as_deref(), Some(&legacy[..]));
        let actor = sealed.disclose(Viewer::Agency("UA-CERT"));
        assert_eq!(actor.leaf_data, None);
        assert_eq!(actor.view.record.objects[0].owner_agency, None);
        let owner = sealed.disclose(Viewer::Agency("RS-MUP"));
        assert_eq!(owner.leaf_data, None);
        assert_eq!(owner.view.record.justification, None);
        let garbage = Sealed::parse(b"not json");
        assert_eq!(garbage.leaf_data(), b"not json".to_vec());
        assert!(
            garbage
                .disclose(Viewer::Agency("RS-MUP"))
                .leaf_data
                .is_none()
        );
    }
}
