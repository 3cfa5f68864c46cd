//! `liaisonctl indicators publish --file F`: the items of a JSON, CSV or STIX file, read
//! into indicator messages (those that cannot be read are kept with the reason), sent over
//! one PublishMany stream with a progress bar, and summed up item by item.

use std::path::Path;

use liaison_client::Client;
use liaison_proto::v1;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    args::{FileFormat, PublishArgs},
    file_rows::{Row, csv_rows, json_rows, stix_rows},
};
use crate::{
    failure::{EXIT_CALL_FAILED, EXIT_USAGE, Failure},
    output::{self, OutputFormat, print_json},
    parse::{parse_evaluation, parse_scope, parse_time, parse_tlp},
    progress::{Progress, Unit},
};

/// Publishes every item of `path`.
pub async fn publish_file(
    client: &Client,
    format: OutputFormat,
    args: &PublishArgs,
    path: &Path,
) -> Result<(), Failure> {
    let usage = |message: String| Failure::new(EXIT_USAGE, message);
    let text = std::fs::read_to_string(path)
        .map_err(|error| usage(format!("{}: {error}", path.display())))?;
    let rows = read_rows(path, &text, args)?;
    // Spreadsheet programs start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // The same file gives the same request ids, so running it again stores nothing twice.
    let prefix = args.request_id.clone().unwrap_or_else(|| {
        let digest = Sha256::digest(text.as_bytes());
        format!("file-{}", &hex::encode(digest)[..24])
    });
    let summary = send(client, &rows, &prefix).await?;
    summary.print(format);
    if summary.rejected.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            EXIT_CALL_FAILED,
            format!(
                "{} of {} item(s) rejected",
                summary.rejected.len(),
                rows.len()
            ),
        ))
    }
}

/// The items of the file at `path`, whose content is `text`: each into an indicator
/// message with the flags' values as defaults, or the reason it cannot be one.
pub(crate) fn read_rows(path: &Path, text: &str, args: &PublishArgs) -> Result<Vec<Row>, Failure> {
    let usage = |message: String| Failure::new(EXIT_USAGE, message);
    // Spreadsheet programs start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let defaults = defaults(args)?;
    Ok(match args.format.unwrap_or_else(|| detect(path, text)) {
        FileFormat::Json => json_rows(text, &defaults)
            .map_err(|error| usage(format!("{}: {error}", path.display())))?,
        FileFormat::Csv => csv_rows(text, &defaults)
            .map_err(|error| usage(format!("{}: {error}", path.display())))?,
        FileFormat::Stix => stix_rows(text, args, &defaults)?,
    })
}

/// JSON when the content is JSON, STIX when it is a bundle, else by extension.
fn detect(path: &Path, text: &str) -> FileFormat {
    match serde_json::from_str::<Value>(text) {
        Ok(value) if value.get("type").and_then(Value::as_str) == Some("bundle") => {
            FileFormat::Stix
        }
        Ok(_) => FileFormat::Json,
        Err(_) => match path.extension().and_then(|e| e.to_str()) {
            Some(extension) if extension.eq_ignore_ascii_case("json") => FileFormat::Json,
            _ => FileFormat::Csv,
        },
    }
}

/// The flags' values, for the fields an item leaves out.
fn defaults(args: &PublishArgs) -> Result<v1::Indicator, Failure> {
    Ok(v1::Indicator {
        fraud_method: None,
        language: args.language.clone(),
        confidence: args.confidence,
        evaluation: args
            .evaluation
            .as_deref()
            .map(parse_evaluation)
            .transpose()?,
        tlp: parse_tlp(&args.tlp)? as i32,
        scope: Some(parse_scope(&args.scope)?),
        anonymous: args.anonymous,
        valid_until_time: args.valid_until.as_deref().map(parse_time).transpose()?,
        ..v1::Indicator::default()
    })
}

/// What the hub and the file said.
#[derive(Debug, Default)]
struct Summary {
    accepted: usize,
    duplicate: usize,
    /// (row number in the file, where, why), in file order.
    rejected: Vec<(usize, String, String)>,
}

impl Summary {
    fn print(&self, format: OutputFormat) {
        match format {
            OutputFormat::Json => print_json(&json!({
                "accepted": self.accepted,
                "duplicate": self.duplicate,
                "rejected": self
                    .rejected
                    .iter()
                    .map(|(_, item, reason)| json!({ "item": item, "reason": reason }))
                    .collect::<Vec<_>>(),
            })),
            OutputFormat::Table => {
                crate::output::say!(
                    "accepted {}, duplicate {}, rejected {}",
                    self.accepted,
                    self.duplicate,
                    self.rejected.len()
                );
                if !self.rejected.is_empty() {
                    let rows: Vec<Vec<String>> = self
                        .rejected
                        .iter()
                        .map(|(_, item, reason)| vec![item.clone(), reason.clone()])
                        .collect();
                    print!("{}", output::table(&["REJECTED", "REASON"], &rows));
                }
            }
        }
    }
}

/// Sends the readable rows over one PublishMany stream and sums up every row.
async fn send(client: &Client, rows: &[Row], prefix: &str) -> Result<Summary, Failure> {
    let mut summary = Summary::default();
    let mut sent_rows = Vec::new();
    let mut requests = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        match &row.item {
            Ok(indicator) => {
                sent_rows.push(index);
                requests.push(v1::PublishManyRequest {
                    request_id: format!("{prefix}-{}", index + 1),
                    indicator: Some(indicator.clone()),
                });
            }
            Err(reason) => summary
                .rejected
                .push((index, row.label.clone(), reason.clone())),
        }
    }
    if requests.is_empty() {
        return Ok(summary);
    }
    // The hub answers after each stored batch, so the bar shows what is stored, not
    // merely what was sent.
    let mut progress = Progress::new("publishing", requests.len() as u64, Unit::Items);
    let answers = client
        .indicators()
        .publish_many(tokio_stream::iter(requests))
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner();
    let response = liaison_client::collect_publish_results(answers, |results, _| {
        progress.draw(results.len() as u64);
    })
    .await
    .map_err(|status| Failure::from_status(client, &status))?;
    progress.finish();
    for result in response.results {
        let row = sent_rows
            .get(result.index as usize)
            .copied()
            .unwrap_or(usize::MAX);
        let label = rows.get(row).map_or_else(
            || format!("item {}", result.index + 1),
            |row| row.label.clone(),
        );
        match v1::publish_result::Outcome::try_from(result.outcome) {
            Ok(v1::publish_result::Outcome::Accepted) => summary.accepted += 1,
            Ok(v1::publish_result::Outcome::Duplicate) => summary.duplicate += 1,
            _ => {
                let reason = result
                    .violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                summary.rejected.push((row, label, reason));
            }
        }
    }
    summary.rejected.sort_by_key(|(row, _, _)| *row);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_as_what_its_content_is() {
        let path = Path::new("items.json");
        assert_eq!(
            detect(path, r#"{"type": "bundle", "objects": []}"#),
            FileFormat::Stix
        );
        assert_eq!(detect(path, "[]"), FileFormat::Json);
        assert_eq!(
            detect(Path::new("rows.csv"), "type,value\n"),
            FileFormat::Csv
        );
        assert_eq!(detect(path, "{broken"), FileFormat::Json);
    }
}
