//! A `mla new` file (TOML or JSON, read by `new.rs`) as the content of a draft.

use liaison_proto::v1;
use serde_json::Value;

use crate::{call::text, failure::Failure, parse::enum_number};

/// The fields of a `mla new` file, for `new --help`.
pub const NEW_FIELDS: &str = r#"Fields of a request file (TOML shown; JSON has the same keys):

  requested_agency = "RS-MUP"
  legal_basis = "BUDAPEST_ART_29_PRESERVATION"   # or _ART_30_…, _ART_31_…, _ART_33_…, _ART_34_…,
                                                 # PROTOCOL_ART_9_…, PROTOCOL_ART_10_…, BILATERAL_TREATY
  bilateral_treaty = "…"                         # with BILATERAL_TREATY
  urgency = "EMERGENCY"                          # ROUTINE, URGENT or EMERGENCY
  emergency_justification = "…"                  # with EMERGENCY
  case_reference = "UA-2026-1187"
  language = "uk"                                # BCP 47, of every text
  requesting_authority = "…"
  offence = "…"
  summary_of_facts = "…"
  preservation_requested = true
  preservation_necessity = "…"
  full_request_to_follow = true

  [[data_sought]]
  category = "TRAFFIC"                           # SUBSCRIBER, TRAFFIC or CONTENT
  description = "…"
  relation_to_offence = "…"
  provider = "Example Hosting d.o.o."
  identifiers = [{ type = "IP_ADDRESS", value = "203.0.113.45", time = 2026-11-20T08:53:20Z, time_zone = "Europe/Kyiv" }]

The hub checks the request when it is submitted and names every missing or wrong field."#;

/// The content a `mla new` JSON file describes.
pub fn content_from_json(value: &Value) -> Result<v1::MlaRequestContent, Failure> {
    let string = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let language = value["language"].as_str().unwrap_or("en").to_owned();
    let localized = |key: &str| value[key].as_str().and_then(|t| text(t, &language));
    let time = |raw: &str| -> Result<Option<prost_types::Timestamp>, Failure> {
        if raw.is_empty() {
            return Ok(None);
        }
        let parsed =
            time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Failure::usage(format!("not an RFC 3339 time: {raw:?}")))?;
        Ok(Some(prost_types::Timestamp {
            seconds: parsed.unix_timestamp(),
            nanos: 0,
        }))
    };
    let mut data_sought = Vec::new();
    for item in value["data_sought"].as_array().into_iter().flatten() {
        let item_text = |key: &str| item[key].as_str().and_then(|t| text(t, &language));
        let mut identifiers = Vec::new();
        for identifier in item["identifiers"].as_array().into_iter().flatten() {
            identifiers.push(v1::MlaIdentifier {
                r#type: enum_number(
                    "MLA_IDENTIFIER_TYPE_",
                    identifier["type"].as_str().unwrap_or("OTHER"),
                    |name| v1::MlaIdentifierType::from_str_name(name).map(|v| v as i32),
                    "identifiers.type",
                )?,
                value: identifier["value"].as_str().unwrap_or_default().to_owned(),
                observe_time: time(identifier["time"].as_str().unwrap_or_default())?,
                time_zone: identifier["time_zone"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                ..v1::MlaIdentifier::default()
            });
        }
        data_sought.push(v1::MlaDataSought {
            category: enum_number(
                "MLA_DATA_CATEGORY_",
                item["category"].as_str().unwrap_or("UNSPECIFIED"),
                |name| v1::MlaDataCategory::from_str_name(name).map(|v| v as i32),
                "data_sought.category",
            )?,
            identifiers,
            service_provider: item["provider"]
                .as_str()
                .map(|name| v1::MlaServiceProvider {
                    name: name.to_owned(),
                    ..v1::MlaServiceProvider::default()
                }),
            description: item_text("description"),
            relation_to_offence: item_text("relation_to_offence"),
        });
    }
    Ok(v1::MlaRequestContent {
        requested_agency_id: string("requested_agency"),
        legal_basis: enum_number(
            "MLA_LEGAL_BASIS_",
            value["legal_basis"].as_str().unwrap_or("UNSPECIFIED"),
            |name| v1::MlaLegalBasis::from_str_name(name).map(|v| v as i32),
            "legal_basis",
        )?,
        bilateral_treaty: localized("bilateral_treaty"),
        urgency: enum_number(
            "MLA_URGENCY_",
            value["urgency"].as_str().unwrap_or("UNSPECIFIED"),
            |name| v1::MlaUrgency::from_str_name(name).map(|v| v as i32),
            "urgency",
        )?,
        emergency_justification: localized("emergency_justification"),
        case_reference: string("case_reference"),
        requesting_authority: localized("requesting_authority"),
        offence: localized("offence").map(|description| v1::MlaOffence {
            description: Some(description),
            ..v1::MlaOffence::default()
        }),
        summary_of_facts: localized("summary_of_facts"),
        data_sought,
        preservation_requested: value["preservation_requested"].as_bool().unwrap_or(false),
        preservation_necessity: localized("preservation_necessity"),
        full_request_to_follow: value["full_request_to_follow"].as_bool().unwrap_or(false),
        language,
        ..v1::MlaRequestContent::default()
    })
}
