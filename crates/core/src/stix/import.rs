//! A STIX 2.1 bundle as validated indicators.
//!
//! Every object is either used or refused with its id and the reason; nothing is dropped
//! silently. Used: `indicator` (one supported pattern each, see [`super::pattern`]),
//! `attack-pattern` (a fraud method), `course-of-action` (its countermeasures),
//! `relationship` (`indicates` an attack-pattern, `mitigates` one), and `identity`,
//! `marking-definition` and `extension-definition` as metadata. Each attack-pattern becomes
//! one fraud method with the observables that indicate it; the other indicators become
//! standalone observable items, one per handling (TLP, confidence, expiry, language,
//! evaluation). The import is all or nothing: one refused object refuses the bundle.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::pattern;

mod items;
use crate::{
    indicator::{NewIndicator, ScopeDraft},
    observable::Observable,
    time::Timestamp,
    tlp::Tlp,
    violation::Violations,
};

/// Most objects one bundle may hold.
pub const MAX_OBJECTS: usize = 20_000;

/// The confidence of an indicator that states none: STIX's "moderate" (appendix A).
const DEFAULT_CONFIDENCE: u32 = 50;

/// One indicator made from a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedIndicator {
    /// The STIX object it was made from: the attack-pattern of a fraud method, or the
    /// first indicator of standalone observables.
    pub stix_id: String,
    /// The validated content.
    pub indicator: NewIndicator,
}

/// Reads `bundle_json` into indicators with `scope`; objects without a TLP marking take
/// `default_tlp`. All or nothing: any violation refuses the whole bundle. Violations name
/// the object as `bundle_json.<stix id>` (or `bundle_json.objects[<index>]` for an object
/// without an id).
pub fn import(
    bundle_json: &str,
    default_tlp: Option<Tlp>,
    scope: &ScopeDraft,
) -> Result<Vec<ImportedIndicator>, Violations> {
    let (items, violations) = read(bundle_json, default_tlp, scope);
    violations.into_result(|| items)
}

/// As [`import`], but keeps what could be read: the indicators made from the objects it
/// understood, and the violations of the others (a client that reports the refused
/// objects and sends the rest).
pub fn read(
    bundle_json: &str,
    default_tlp: Option<Tlp>,
    scope: &ScopeDraft,
) -> (Vec<ImportedIndicator>, Violations) {
    let mut violations = Violations::new();
    let objects = match read_bundle(bundle_json) {
        Ok(objects) => objects,
        Err(reason) => {
            violations.add("bundle_json", reason);
            return (Vec::new(), violations);
        }
    };
    // Marking definitions first: an object may come before the markings it references.
    let mut reader = Reader::default();
    for object in &objects {
        if object.get("type").and_then(Value::as_str) == Some("marking-definition")
            && let Some(id) = object.get("id").and_then(Value::as_str)
        {
            reader.markings.insert(id.to_owned(), marking_tlp(object));
        }
    }
    for (index, object) in objects.iter().enumerate() {
        reader.read(index, object, &mut violations);
    }
    let items = reader.assemble(default_tlp, scope, &mut violations);
    if items.is_empty() && violations.is_empty() {
        violations.add(
            "bundle_json",
            "the bundle holds no indicator or attack-pattern to import",
        );
    }
    (items, violations)
}

fn read_bundle(bundle_json: &str) -> Result<Vec<Value>, String> {
    let mut bundle: Value = serde_json::from_str(bundle_json).map_err(|error| {
        format!(
            "not JSON (line {}, column {})",
            error.line(),
            error.column()
        )
    })?;
    if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err("not a STIX bundle: \"type\" must be \"bundle\"".into());
    }
    let Some(Value::Array(objects)) = bundle.get_mut("objects").map(Value::take) else {
        return Err("a bundle needs an \"objects\" array".into());
    };
    if objects.len() > MAX_OBJECTS {
        return Err(format!("at most {MAX_OBJECTS} objects per bundle"));
    }
    Ok(objects)
}

/// What one STIX object with content contributes.
#[derive(Debug, Default)]
struct Common {
    id: String,
    tlp: Option<Tlp>,
    lang: Option<String>,
    labels: Vec<String>,
}

#[derive(Debug)]
struct Method {
    common: Common,
    name: String,
    description: String,
}

#[derive(Debug)]
struct Course {
    common: Common,
    text: String,
}

#[derive(Debug)]
struct IndicatorObject {
    common: Common,
    observable: Observable,
    valid_from: Timestamp,
    valid_until: Option<Timestamp>,
    confidence: u32,
}

#[derive(Debug, Default)]
struct Reader {
    /// TLP of marking definitions in the bundle (None: a marking that is not TLP).
    markings: HashMap<String, Option<Tlp>>,
    /// Objects refused: relationships to them are not reported again.
    refused: HashSet<String>,
    methods: Vec<Method>,
    courses: Vec<Course>,
    indicators: Vec<IndicatorObject>,
    /// (relationship id, type, source, target).
    relationships: Vec<(String, String, String, String)>,
}

impl Reader {
    fn read(&mut self, index: usize, object: &Value, violations: &mut Violations) {
        let Some(id) = object.get("id").and_then(Value::as_str) else {
            violations.add(
                format!("bundle_json.objects[{index}]"),
                "object has no \"id\"",
            );
            return;
        };
        let field = format!("bundle_json.{id}");
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
        let common = Common {
            id: id.to_owned(),
            tlp: self.tlp_of(object),
            lang: text(object, "lang"),
            labels: object
                .get("labels")
                .and_then(Value::as_array)
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        };
        match kind {
            "identity" | "extension-definition" => {}
            // Read before the other objects.
            "marking-definition" => {}
            "attack-pattern" => {
                let Some(name) = text(object, "name") else {
                    self.refused.insert(id.to_owned());
                    violations.add(field, "attack-pattern has no name");
                    return;
                };
                self.methods.push(Method {
                    common,
                    name,
                    description: text(object, "description").unwrap_or_default(),
                });
            }
            "course-of-action" => {
                let text = text(object, "description")
                    .filter(|text| !text.trim().is_empty())
                    .or_else(|| text(object, "name"))
                    .unwrap_or_default();
                self.courses.push(Course { common, text });
            }
            "indicator" => match read_indicator(object, common, &field, violations) {
                Some(indicator) => self.indicators.push(indicator),
                None => {
                    self.refused.insert(id.to_owned());
                }
            },
            "relationship" => {
                let relationship_type = text(object, "relationship_type").unwrap_or_default();
                let source = text(object, "source_ref").unwrap_or_default();
                let target = text(object, "target_ref").unwrap_or_default();
                if !matches!(relationship_type.as_str(), "indicates" | "mitigates") {
                    violations.add(
                        field,
                        format!(
                            "relationship type '{relationship_type}' is not imported: only \
                             indicates (indicator to attack-pattern) and mitigates \
                             (course-of-action to attack-pattern)"
                        ),
                    );
                    return;
                }
                self.relationships
                    .push((id.to_owned(), relationship_type, source, target));
            }
            other => {
                self.refused.insert(id.to_owned());
                violations.add(
                    field,
                    format!(
                        "object type '{other}' is not imported: Liaison imports indicators, \
                     attack-patterns (fraud methods), courses of action (countermeasures) \
                     and their indicates/mitigates relationships"
                    ),
                );
            }
        }
    }

    /// The TLP of an object: the most restrictive TLP marking it references, by a
    /// well-known id or a marking definition of the bundle.
    fn tlp_of(&self, object: &Value) -> Option<Tlp> {
        object
            .get("object_marking_refs")?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|marking| {
                super::tlp_of_marking_id(marking)
                    .or_else(|| self.markings.get(marking).copied().flatten())
            })
            .max()
    }
}

fn read_indicator(
    object: &Value,
    common: Common,
    field: &str,
    violations: &mut Violations,
) -> Option<IndicatorObject> {
    let refuse = |violations: &mut Violations, reason: String| {
        violations.add(field, reason);
        None
    };
    if object.get("revoked").and_then(Value::as_bool) == Some(true) {
        return refuse(violations, "revoked indicators are not imported".into());
    }
    let pattern_type = text(object, "pattern_type").unwrap_or_default();
    if pattern_type != "stix" {
        return refuse(
            violations,
            format!("pattern_type '{pattern_type}' is not imported; only stix patterns are"),
        );
    }
    let Some(text_pattern) = text(object, "pattern") else {
        return refuse(violations, "indicator has no pattern".into());
    };
    let (kind, value) = match pattern::parse(&text_pattern) {
        Ok(parsed) => parsed,
        Err(error) => return refuse(violations, error.to_string()),
    };
    let observable = match Observable::parse(kind, &value) {
        Ok(observable) => observable,
        Err(error) => return refuse(violations, format!("{kind} in the pattern: {error}")),
    };
    let Some(valid_from) = text(object, "valid_from").as_deref().and_then(parse_time) else {
        return refuse(violations, "valid_from must be a STIX timestamp".into());
    };
    let valid_until = match object.get("valid_until") {
        None => None,
        Some(value) => match value.as_str().and_then(parse_time) {
            Some(time) => Some(time),
            None => return refuse(violations, "valid_until must be a STIX timestamp".into()),
        },
    };
    let confidence = match object.get("confidence") {
        None => DEFAULT_CONFIDENCE,
        Some(value) => match value.as_u64().filter(|c| *c <= 100) {
            Some(confidence) => confidence as u32,
            None => return refuse(violations, "confidence must be an integer 0 to 100".into()),
        },
    };
    Some(IndicatorObject {
        common,
        observable,
        valid_from,
        valid_until,
        confidence,
    })
}

/// The TLP a marking definition in the bundle stands for: TLP 2.0's extension property,
/// or a TLP 1.0 `definition_type: tlp`.
fn marking_tlp(object: &Value) -> Option<Tlp> {
    let tlp_2 = object
        .get("extensions")
        .and_then(|extensions| extensions.get(super::TLP_2_EXTENSION))
        .and_then(|extension| extension.get("tlp_2_0"))
        .and_then(Value::as_str);
    let tlp_1 = (object.get("definition_type").and_then(Value::as_str) == Some("tlp"))
        .then(|| object.get("definition")?.get("tlp")?.as_str())
        .flatten();
    tlp_2.or(tlp_1)?.parse().ok()
}

fn text(object: &Value, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A STIX timestamp (RFC 3339 in UTC, `Z`) to microseconds.
fn parse_time(text: &str) -> Option<Timestamp> {
    if !text.ends_with('Z') {
        return None;
    }
    let time =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let micros = time.unix_timestamp_nanos() / 1_000;
    i64::try_from(micros).ok().map(Timestamp::from_micros)
}
