//! Audit records: what one call did, by whom, with what outcome, and their stored
//! encoding, from which [`crate::disclosure`] derives the bytes that become a Merkle leaf.

use std::fmt::Write as _;

/// How a call touched an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Read or listed by the caller.
    Read,
    /// Created, changed or erased.
    Write,
    /// Delivered on a stream.
    Deliver,
}

impl Access {
    /// The encoded name.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Deliver => "deliver",
        }
    }

    /// Parses an encoded name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "deliver" => Some(Access::Deliver),
            _ => None,
        }
    }
}

/// One object a call touched, and whose it is (so its owner's auditors see the access).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectAccess {
    /// Object id (`ind_…`, an agency id, …).
    pub id: String,
    /// How it was touched.
    pub access: Access,
    /// The agency that owns it, if any.
    pub owner_agency: Option<String>,
    /// The object was anonymous when accessed: its owner is shown to no agency but the
    /// owner itself (and hub oversight).
    pub anonymous: bool,
}

impl ObjectAccess {
    /// An object access whose owner may be shown to the actor's agency.
    pub fn new(id: impl Into<String>, access: Access, owner_agency: Option<String>) -> Self {
        Self {
            id: id.into(),
            access,
            owner_agency,
            anonymous: false,
        }
    }
}

/// Who made a call, as the hub identified them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// Agency id, when the certificate named a principal.
    pub agency: Option<String>,
    /// `system` or `person`.
    pub kind: Option<String>,
    /// Principal name.
    pub name: Option<String>,
    /// SHA-256 of the client certificate, hex.
    pub certificate_sha256: Option<String>,
    /// Token id (`jti`), once tokens exist.
    pub token_id: Option<String>,
    /// Roles from the directory at the time of the call.
    pub roles: Vec<String>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditRecord {
    /// When the call was made, microseconds since the epoch.
    pub time_us: i64,
    /// Who made it.
    pub actor: Actor,
    /// The full gRPC method, `/liaison.v1.IndicatorService/Publish`.
    pub method: String,
    /// What it touched.
    pub objects: Vec<ObjectAccess>,
    /// The gRPC status code (0 = OK).
    pub outcome: i32,
    /// Why it was denied, when it was.
    pub deny_reason: Option<String>,
    /// The caller's justification (`x-liaison-purpose`): case reference or legal basis.
    pub justification: Option<String>,
    /// The client's address.
    pub client_address: Option<String>,
    /// Trace id of the call.
    pub trace_id: String,
}

impl AuditRecord {
    /// The stored form with a fresh random seed: see [`AuditRecord::seal_with_seed`].
    pub fn seal(&self) -> Vec<u8> {
        let mut seed = [0u8; 32];
        // The system's random source does not fail on the platforms the hub runs on; were
        // it to, a zero seed still yields a valid (if guessable-salted) record.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed);
        self.seal_with_seed(seed)
    }

    /// The stored form (version 2): the whole record as canonical JSON — fixed key order,
    /// no insignificant whitespace, absent optional fields omitted, objects sorted and
    /// deduplicated — together with the random `seed` from which the salts of its
    /// commitments derive. The stored form never leaves the hub; the Merkle leaf commits to
    /// [`crate::disclosure::Sealed::leaf_data`], in which the parts that may be withheld from a viewer
    /// (details, objects, owners) travel as salted hashes (see [`crate::disclosure`]).
    pub fn seal_with_seed(&self, seed: [u8; 32]) -> Vec<u8> {
        let mut out = String::with_capacity(320);
        out.push('{');
        field_number(&mut out, "v", 2, true);
        field_string(&mut out, "seed", &hex::encode(seed), false);
        field_number(&mut out, "time_us", self.time_us, false);
        out.push_str(",\"actor\":{");
        let mut first = true;
        for (key, value) in [
            ("agency", &self.actor.agency),
            ("kind", &self.actor.kind),
            ("name", &self.actor.name),
            ("certificate_sha256", &self.actor.certificate_sha256),
            ("token_id", &self.actor.token_id),
        ] {
            if let Some(value) = value {
                field_string(&mut out, key, value, first);
                first = false;
            }
        }
        if !first {
            out.push(',');
        }
        roles(&mut out, &self.actor.roles);
        out.push('}');
        field_string(&mut out, "method", &self.method, false);
        out.push_str(",\"objects\":[");
        for (index, object) in self.sorted_objects().iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push('{');
            field_string(&mut out, "id", &object.id, true);
            field_string(&mut out, "access", object.access.as_str(), false);
            if object.anonymous {
                out.push_str(",\"anonymous\":true");
            }
            if let Some(owner) = &object.owner_agency {
                field_string(&mut out, "owner", owner, false);
            }
            out.push('}');
        }
        out.push(']');
        field_number(&mut out, "outcome", i64::from(self.outcome), false);
        for (key, value) in [
            ("deny_reason", &self.deny_reason),
            ("justification", &self.justification),
            ("client_address", &self.client_address),
        ] {
            if let Some(value) = value {
                field_string(&mut out, key, value, false);
            }
        }
        field_string(&mut out, "trace_id", &self.trace_id, false);
        out.push('}');
        out.into_bytes()
    }

    /// The objects in their canonical order, each once.
    pub(crate) fn sorted_objects(&self) -> Vec<ObjectAccess> {
        let mut objects = self.objects.clone();
        objects.sort();
        objects.dedup();
        objects
    }
}

pub(crate) fn roles(out: &mut String, roles: &[String]) {
    out.push_str("\"roles\":[");
    for (index, role) in roles.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        string(out, role);
    }
    out.push(']');
}

pub(crate) fn field_number(out: &mut String, key: &str, value: i64, first: bool) {
    if !first {
        out.push(',');
    }
    string(out, key);
    let _ = write!(out, ":{value}");
}

pub(crate) fn field_string(out: &mut String, key: &str, value: &str, first: bool) {
    if !first {
        out.push(',');
    }
    string(out, key);
    out.push(':');
    string(out, value);
}

/// A JSON string with the minimal escapes of RFC 8785: `"`, `\` and control characters.
pub(crate) fn string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record() -> AuditRecord {
        AuditRecord {
            time_us: 1_764_000_000_000_000,
            actor: Actor {
                agency: Some("UA-CERT".into()),
                kind: Some("person".into()),
                name: Some("officer".into()),
                certificate_sha256: Some("ab".repeat(32)),
                token_id: None,
                roles: vec!["officer".into()],
            },
            method: "/liaison.v1.IndicatorService/GetIndicator".into(),
            objects: vec![
                ObjectAccess {
                    id: "ind_2".into(),
                    access: Access::Read,
                    owner_agency: Some("RS-MUP".into()),
                    anonymous: true,
                },
                ObjectAccess {
                    id: "ind_1".into(),
                    access: Access::Read,
                    owner_agency: None,
                    anonymous: false,
                },
            ],
            outcome: 0,
            deny_reason: None,
            justification: Some("Справа № 12/2026 \"шахрайство\"\n".into()),
            client_address: Some("127.0.0.1:5000".into()),
            trace_id: "t1".into(),
        }
    }

    #[test]
    fn the_encoding_is_fixed() {
        let expected = concat!(
            r#"{"v":2,"seed":"0707070707070707070707070707070707070707070707070707070707070707","#,
            r#""time_us":1764000000000000,"actor":{"agency":"UA-CERT","kind":"person","name":"officer","#,
            r#""certificate_sha256":"abababababababababababababababababababababababababababababababab","roles":["officer"]},"#,
            r#""method":"/liaison.v1.IndicatorService/GetIndicator","objects":[{"id":"ind_1","access":"read"},"#,
            r#"{"id":"ind_2","access":"read","anonymous":true,"owner":"RS-MUP"}],"outcome":0,"#,
            r#""justification":"Справа № 12/2026 \"шахрайство\"\n","client_address":"127.0.0.1:5000","trace_id":"t1"}"#
        );
        assert_eq!(
            String::from_utf8(record().seal_with_seed([7; 32])).unwrap(),
            expected
        );
    }

    #[test]
    fn object_order_does_not_change_the_bytes() {
        let mut reversed = record();
        reversed.objects.reverse();
        assert_eq!(
            reversed.seal_with_seed([7; 32]),
            record().seal_with_seed([7; 32])
        );
        let mut other = record();
        other.outcome = 7;
        assert_ne!(
            other.seal_with_seed([7; 32]),
            record().seal_with_seed([7; 32])
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut odd = record();
        odd.trace_id = "a\u{1}b\\".into();
        let text = String::from_utf8(odd.seal_with_seed([7; 32])).unwrap();
        assert!(text.contains(r#""trace_id":"a\u0001b\\""#), "{text}");
    }
}
