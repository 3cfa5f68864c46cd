//! Reading the items of a file for `indicators publish --file`: JSON items, CSV rows and
//! STIX objects, each into an indicator message or the reason it cannot be one, with where
//! it is in the file.

use liaison_proto::v1;
use serde::Deserialize;
use serde_json::Value;

use super::{args::PublishArgs, csv, stix_convert};
use crate::{
    failure::{EXIT_USAGE, Failure},
    parse::{
        parse_category, parse_evaluation, parse_observable, parse_scope, parse_time, parse_tlp,
    },
};

/// One item of the file: where it is (`line 4`, `item 2`, a STIX id) and the message to
/// send, or why it could not be read.
#[derive(Debug)]
pub(crate) struct Row {
    pub label: String,
    pub item: Result<v1::Indicator, String>,
}

/// The fields of one item, as JSON items and CSV rows have them; `None` takes the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    title: Option<String>,
    description: Option<String>,
    countermeasures: Option<String>,
    category: Option<String>,
    #[serde(default)]
    observables: Vec<ObservableField>,
    language: Option<String>,
    tlp: Option<String>,
    scope: Option<String>,
    confidence: Option<u32>,
    evaluation: Option<String>,
    anonymous: Option<bool>,
    valid_until: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservableField {
    r#type: String,
    value: String,
}

impl Fields {
    /// The message, or the first reason it cannot be one.
    fn into_indicator(self, defaults: &v1::Indicator) -> Result<v1::Indicator, String> {
        let message = |failure: Failure| failure.message;
        let mut indicator = defaults.clone();
        if let Some(title) = self.title {
            indicator.fraud_method = Some(v1::FraudMethod {
                title,
                description: self.description.unwrap_or_default(),
                countermeasures: self.countermeasures.unwrap_or_default(),
                category: parse_category(self.category.as_deref().unwrap_or("other"))
                    .map_err(message)? as i32,
            });
        } else if self.description.is_some() || self.countermeasures.is_some() {
            return Err("description and countermeasures need a title".into());
        }
        for observable in self.observables {
            indicator.observables.push(
                parse_observable(&format!("{}={}", observable.r#type, observable.value)).map_err(
                    |failure| {
                        failure
                            .message
                            .replace("--observable: unknown", "unknown observable")
                    },
                )?,
            );
        }
        if let Some(language) = self.language {
            indicator.language = language;
        }
        if let Some(tlp) = self.tlp {
            indicator.tlp = parse_tlp(&tlp).map_err(message)? as i32;
        }
        if let Some(scope) = self.scope {
            indicator.scope = Some(parse_scope(&scope).map_err(message)?);
        }
        if let Some(confidence) = self.confidence {
            indicator.confidence = confidence;
        }
        if let Some(evaluation) = self.evaluation {
            indicator.evaluation = Some(parse_evaluation(&evaluation).map_err(message)?);
        }
        if let Some(anonymous) = self.anonymous {
            indicator.anonymous = anonymous;
        }
        if let Some(valid_until) = self.valid_until {
            indicator.valid_until_time = Some(parse_time(&valid_until).map_err(message)?);
        }
        Ok(indicator)
    }
}

/// One item (an object) or several (an array of objects).
pub(crate) fn json_rows(text: &str, defaults: &v1::Indicator) -> Result<Vec<Row>, String> {
    let value: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let items = match value {
        Value::Array(items) => items,
        item @ Value::Object(_) => vec![item],
        _ => return Err("expected an item (an object) or an array of items".into()),
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| Row {
            label: format!("item {}", index + 1),
            item: serde_json::from_value::<Fields>(item)
                .map_err(|error| error.to_string())
                .and_then(|fields| fields.into_indicator(defaults)),
        })
        .collect())
}

/// The columns a CSV file may have.
const CSV_COLUMNS: [&str; 13] = [
    "type",
    "value",
    "title",
    "description",
    "countermeasures",
    "category",
    "language",
    "tlp",
    "scope",
    "confidence",
    "evaluation",
    "anonymous",
    "valid_until",
];

/// A header row, then one indicator (one observable) per row.
pub(crate) fn csv_rows(text: &str, defaults: &v1::Indicator) -> Result<Vec<Row>, String> {
    let mut records = csv::records(text).into_iter();
    let Some((_, header)) = records.next() else {
        return Err("empty file: a CSV file needs a header row (type,value,…)".into());
    };
    let header = header.map_err(|error| format!("header: {error}"))?;
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for name in &header {
        if !CSV_COLUMNS.contains(&name.as_str()) {
            return Err(format!(
                "unknown column {name:?}; the columns are {}",
                CSV_COLUMNS.join(",")
            ));
        }
    }
    for required in ["type", "value"] {
        if !header.iter().any(|name| name == required) {
            return Err(format!("the header row needs a {required} column"));
        }
    }
    Ok(records
        .map(|(line, record)| Row {
            label: format!("line {line}"),
            item: record.and_then(|cells| {
                if cells.len() != header.len() {
                    return Err(format!(
                        "{} cells, the header has {}",
                        cells.len(),
                        header.len()
                    ));
                }
                let cell = |name: &str| {
                    header
                        .iter()
                        .position(|column| column == name)
                        .map(|index| cells[index].clone())
                        .filter(|value| !value.is_empty())
                };
                let fields = Fields {
                    title: cell("title"),
                    description: cell("description"),
                    countermeasures: cell("countermeasures"),
                    category: cell("category"),
                    observables: vec![ObservableField {
                        r#type: cell("type").unwrap_or_default(),
                        value: cell("value").unwrap_or_default(),
                    }],
                    language: cell("language"),
                    tlp: cell("tlp"),
                    scope: cell("scope"),
                    confidence: cell("confidence")
                        .map(|text| {
                            text.trim().parse().map_err(|_| {
                                format!("confidence {text:?}: expected a number 0 to 100")
                            })
                        })
                        .transpose()?,
                    evaluation: cell("evaluation"),
                    anonymous: cell("anonymous")
                        .map(|text| match text.trim().to_ascii_lowercase().as_str() {
                            "true" | "yes" | "1" => Ok(true),
                            "false" | "no" | "0" => Ok(false),
                            _ => Err(format!("anonymous {text:?}: expected true or false")),
                        })
                        .transpose()?,
                    valid_until: cell("valid_until"),
                };
                fields.into_indicator(defaults)
            }),
        })
        .collect())
}

/// A STIX bundle, read as the hub's ImportStix reads it; refused objects become rejected
/// rows named by their STIX id.
pub(crate) fn stix_rows(
    text: &str,
    args: &PublishArgs,
    defaults: &v1::Indicator,
) -> Result<Vec<Row>, Failure> {
    use liaison_core::{ScopeDraft, Tlp};
    let tlp: Tlp = args
        .tlp
        .parse()
        .map_err(|_| Failure::new(EXIT_USAGE, format!("--tlp {:?}: unknown", args.tlp)))?;
    let scope = match defaults
        .scope
        .as_ref()
        .and_then(|scope| scope.target.clone())
    {
        Some(v1::scope::Target::SharingGroupId(group)) => ScopeDraft::SharingGroup(group),
        Some(v1::scope::Target::Agencies(list)) => ScopeDraft::Agencies(list.agency_ids),
        _ => ScopeDraft::AllMembers,
    };
    let (items, violations) = liaison_core::stix::read(text, Some(tlp), &scope);
    let mut rows: Vec<Row> = violations
        .into_iter()
        .map(|violation| Row {
            label: violation
                .field
                .strip_prefix("bundle_json.")
                .unwrap_or(&violation.field)
                .to_owned(),
            item: Err(violation.description),
        })
        .collect();
    for imported in items {
        let mut indicator = stix_convert::indicator_to_proto(&imported.indicator);
        indicator.scope = defaults.scope.clone();
        indicator.anonymous = args.anonymous;
        rows.push(Row {
            label: imported.stix_id,
            item: Ok(indicator),
        });
    }
    Ok(rows)
}
