//! A stored indicator as a STIX 2.1 bundle.

use serde_json::{Value, json};

use super::{TLP_2_EXTENSION, pattern::pattern_for, stix_id, tlp_marking_id};
use crate::{
    id::AgencyId, indicator::Indicator, observable::ObservableType, time::Timestamp, tlp::Tlp,
};

/// Who the bundle names as the source of the item.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// The publishing agency, by id.
    Agency(&'a AgencyId),
    /// "A member agency": for anonymous items, whoever exports them.
    Anonymous,
}

impl<'a> Source<'a> {
    /// The source to name for `indicator`: anonymous items never name their agency, not
    /// even to the agency itself — a bundle travels further than its first reader.
    pub fn of(indicator: &'a Indicator) -> Self {
        if indicator.content.anonymous {
            Source::Anonymous
        } else {
            Source::Agency(&indicator.source_agency)
        }
    }
}

/// When the identities and TLP definitions Liaison writes were "created": fixed, so that
/// every bundle carries the same version of them.
const IDENTITY_CREATED: &str = "2018-10-01T00:00:00.000Z";
/// The `created` of the OASIS TLP 2.0 marking definitions.
const TLP_2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// The STIX 2.1 bundle of `indicator`, as pretty-printed JSON with sorted keys: the same
/// stored item always gives the same text.
pub fn export(indicator: &Indicator, source: Source<'_>) -> String {
    let item = indicator.id.as_str();
    let content = &indicator.content;
    let identity = identity(source);
    let identity_id = identity["id"].clone();
    let marking = tlp_marking_id(content.tlp);
    let created = format_time(indicator.created, 3);
    let modified = indicator
        .revoked
        .as_ref()
        .map_or_else(|| created.clone(), |(time, _)| format_time(*time, 3));
    let labels: Vec<String> = content
        .evaluation
        .map(|evaluation| format!("evaluation:{}", evaluation.code()))
        .into_iter()
        .collect();
    // What every object of the item has in common.
    let common = |kind: &str, id: String| {
        let mut object = json!({
            "type": kind,
            "spec_version": "2.1",
            "id": id,
            "created": created,
            "modified": modified,
            "created_by_ref": identity_id,
            "object_marking_refs": [marking],
        });
        if indicator.revoked.is_some() {
            object["revoked"] = json!(true);
        }
        object
    };
    let with_labels = |mut object: Value, extra: &[String]| {
        let all: Vec<&String> = extra.iter().chain(&labels).collect();
        if !all.is_empty() {
            object["labels"] = json!(all);
        }
        object
    };

    let mut objects = vec![identity, tlp_marking(content.tlp)];
    let mut relationships = Vec::new();
    let method_id = content.fraud_method.as_ref().map(|method| {
        let id = stix_id("attack-pattern", &format!("{item}/fraud-method"));
        let mut object = common("attack-pattern", id.clone());
        object["name"] = json!(method.title);
        if !method.description.is_empty() {
            object["description"] = json!(method.description);
        }
        object["lang"] = json!(content.language);
        objects.push(with_labels(
            object,
            &[format!("fraud-category:{}", method.category.as_str())],
        ));
        if !method.countermeasures.trim().is_empty() {
            let course = stix_id("course-of-action", &format!("{item}/countermeasures"));
            let mut object = common("course-of-action", course.clone());
            object["name"] = json!(method.title);
            object["description"] = json!(method.countermeasures);
            object["lang"] = json!(content.language);
            objects.push(with_labels(object, &[]));
            relationships.push(relationship(&common, item, "mitigates", &course, &id));
        }
        (id, method.title.clone())
    });

    let (valid_from, valid_until) = validity(indicator);
    for observable in &content.observables {
        let id = stix_id(
            "indicator",
            &format!(
                "{item}/observable/{}/{}",
                observable.kind(),
                observable.value()
            ),
        );
        let mut object = common("indicator", id.clone());
        object["name"] = json!(format!(
            "{}: {}",
            type_label(observable.kind()),
            observable.value()
        ));
        object["description"] = json!(match &method_id {
            Some((_, title)) => title.clone(),
            None => format!("{} published on its own", type_label(observable.kind())),
        });
        if method_id.is_some() {
            object["lang"] = json!(content.language);
        }
        object["indicator_types"] = json!(["malicious-activity"]);
        object["pattern"] = json!(pattern_for(observable));
        object["pattern_type"] = json!("stix");
        object["pattern_version"] = json!("2.1");
        object["valid_from"] = json!(valid_from);
        if let Some(until) = &valid_until {
            object["valid_until"] = json!(until);
        }
        object["confidence"] = json!(content.confidence);
        objects.push(with_labels(object, &[]));
        if let Some((method, _)) = &method_id {
            relationships.push(relationship(&common, item, "indicates", &id, method));
        }
    }
    objects.extend(relationships);
    let bundle = json!({
        "type": "bundle",
        "id": stix_id("bundle", item),
        "objects": objects,
    });
    // A Value always serialises.
    serde_json::to_string_pretty(&bundle).unwrap_or_default()
}

fn relationship(
    common: &dyn Fn(&str, String) -> Value,
    item: &str,
    kind: &str,
    source: &str,
    target: &str,
) -> Value {
    let mut object = common(
        "relationship",
        stix_id("relationship", &format!("{item}/{kind}/{source}/{target}")),
    );
    object["relationship_type"] = json!(kind);
    object["source_ref"] = json!(source);
    object["target_ref"] = json!(target);
    object
}

/// The identity of the source: the agency by id, or the one anonymous member agency.
fn identity(source: Source<'_>) -> Value {
    let (key, name) = match source {
        Source::Agency(agency) => (format!("agency/{agency}"), agency.to_string()),
        Source::Anonymous => ("agency/anonymous".to_owned(), "a member agency".to_owned()),
    };
    let mut object = json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": stix_id("identity", &key),
        "created": IDENTITY_CREATED,
        "modified": IDENTITY_CREATED,
        "name": name,
        "identity_class": "organization",
    });
    if let Source::Agency(_) = source {
        object["sectors"] = json!(["government"]);
    }
    object
}

/// The OASIS TLP 2.0 marking definition, as the extension publishes it.
fn tlp_marking(tlp: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp_marking_id(tlp),
        "created": TLP_2_CREATED,
        "name": tlp.label(),
        "extensions": {
            TLP_2_EXTENSION: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.as_str(),
            }
        }
    })
}

/// `valid_from` (first seen, else publication) and `valid_until`; STIX needs the first
/// before the second, so an item that expired before its publication starts a second
/// before its expiry.
fn validity(indicator: &Indicator) -> (String, Option<String>) {
    let content = &indicator.content;
    let mut from = content.first_seen.unwrap_or(indicator.created);
    if let Some(until) = content.valid_until
        && until <= from
    {
        from = Timestamp::from_micros(until.as_micros() - 1_000_000);
    }
    (
        format_time(from, 6),
        content.valid_until.map(|until| format_time(until, 6)),
    )
}

fn type_label(kind: ObservableType) -> &'static str {
    match kind {
        ObservableType::Domain => "domain",
        ObservableType::Url => "URL",
        ObservableType::Ipv4 => "IPv4 address",
        ObservableType::Ipv6 => "IPv6 address",
        ObservableType::Email => "e-mail address",
        ObservableType::Phone => "phone number",
        ObservableType::Iban => "IBAN",
        ObservableType::CryptoWallet => "crypto wallet",
        ObservableType::Sha256 => "SHA-256",
        ObservableType::Sha1 => "SHA-1",
        ObservableType::Md5 => "MD5",
        ObservableType::CardBin => "card BIN",
        ObservableType::MessengerHandle => "messenger handle",
    }
}

/// A STIX timestamp, `2026-11-25T21:00:00.123Z`, with `digits` of the second's fraction
/// (3 or 6).
pub(crate) fn format_time(time: Timestamp, digits: usize) -> String {
    let (seconds, nanos) = time.seconds_nanos();
    let date = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fraction = format!("{:09}", nanos);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        date.hour(),
        date.minute(),
        date.second(),
        &fraction[..digits.min(9)]
    )
}
