//! `liaisonctl indicators search | lookup | revoke | sight | export --stix`.

use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use super::args::{SearchArgs, SightArgs};
use crate::{
    call::{request as with_purpose, request_id},
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::{parse_category, parse_observable, parse_time, parse_tlp},
};

/// `indicators search`: pages through ListIndicators until `limit`.
pub async fn search(
    client: &Client,
    format: OutputFormat,
    args: SearchArgs,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let categories = args
        .categories
        .iter()
        .map(|c| parse_category(c).map(|c| c as i32))
        .collect::<Result<Vec<_>, _>>()?;
    let tlps = args
        .tlps
        .iter()
        .map(|t| parse_tlp(t).map(|t| t as i32))
        .collect::<Result<Vec<_>, _>>()?;
    let mut found: Vec<v1::Indicator> = Vec::new();
    let mut token = String::new();
    let mut indicators = client.indicators();
    while found.len() < args.limit {
        let page = indicators
            .list_indicators(with_purpose(
                v1::ListIndicatorsRequest {
                    page_size: i32::try_from((args.limit - found.len()).min(500)).unwrap_or(500),
                    page_token: token.clone(),
                    categories: categories.clone(),
                    observable_types: Vec::new(),
                    tlps: tlps.clone(),
                    source_agency_ids: args.sources.clone(),
                    text: args.text.clone().unwrap_or_default(),
                    include_inactive: args.all,
                },
                purpose,
            ))
            .await
            .map_err(failed(client))?
            .into_inner();
        found.extend(page.indicators);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    found.truncate(args.limit);
    match format {
        OutputFormat::Json => print_json(&json!(
            found.iter().map(output::indicator_json).collect::<Vec<_>>()
        )),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|indicator| {
                    let mut row = output::watch_row(0, "", indicator);
                    row.drain(..2);
                    row.push(output::time(indicator.create_time.as_ref()));
                    row
                })
                .collect();
            print!(
                "{}",
                output::table(&["ID", "SOURCE", "TLP", "TITLE", "PUBLISHED"], &rows)
            );
            eprintln!("{} indicator(s)", found.len());
        }
    }
    Ok(())
}

/// `indicators lookup TYPE=VALUE`.
pub async fn lookup(
    client: &Client,
    format: OutputFormat,
    observable: String,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let observable = parse_observable(&observable)?;
    let answer = client
        .indicators()
        .lookup(with_purpose(
            v1::LookupRequest {
                observable: Some(observable),
            },
            purpose,
        ))
        .await
        .map_err(failed(client))?
        .into_inner();
    let value = answer.observable.map(|o| o.value).unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({
            "value": value,
            "reporting_agencies": answer.reporting_agency_count,
            "first_seen": answer.first_seen_time.as_ref().map(|t| output::time(Some(t))),
            "last_seen": answer.last_seen_time.as_ref().map(|t| output::time(Some(t))),
            "fraud_method_ids": answer.fraud_method_ids,
            "sightings": answer.sighting_count,
        })),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["FIELD", "VALUE"],
                &[
                    vec!["value".into(), value],
                    vec![
                        "reporting agencies".into(),
                        answer.reporting_agency_count.to_string()
                    ],
                    vec![
                        "first seen".into(),
                        output::time(answer.first_seen_time.as_ref())
                    ],
                    vec![
                        "last seen".into(),
                        output::time(answer.last_seen_time.as_ref())
                    ],
                    vec!["fraud methods".into(), answer.fraud_method_ids.join(", ")],
                    vec!["sightings".into(), answer.sighting_count.to_string()],
                ]
            )
        ),
    }
    Ok(())
}

/// `indicators revoke ID --reason …`.
pub async fn revoke(
    client: &Client,
    format: OutputFormat,
    id: String,
    reason: String,
) -> Result<(), Failure> {
    let indicator = client
        .indicators()
        .revoke_indicator(v1::RevokeIndicatorRequest {
            request_id: request_id(),
            indicator_id: id,
            reason,
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .indicator
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&output::indicator_json(&indicator)),
        OutputFormat::Table => crate::output::say!(
            "revoked {} at {}",
            indicator.id,
            output::time(indicator.revoke_time.as_ref())
        ),
    }
    Ok(())
}

/// `indicators sight TYPE=VALUE`.
pub async fn sight(client: &Client, format: OutputFormat, args: SightArgs) -> Result<(), Failure> {
    let sighting = v1::Sighting {
        observable: Some(parse_observable(&args.observable)?),
        count: args.count,
        first_seen_time: args.first_seen.as_deref().map(parse_time).transpose()?,
        last_seen_time: args.last_seen.as_deref().map(parse_time).transpose()?,
        agency_id: String::new(),
    };
    let stored = client
        .indicators()
        .report_sighting(v1::ReportSightingRequest {
            request_id: request_id(),
            sighting: Some(sighting),
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .sighting
        .unwrap_or_default();
    let value = stored.observable.map(|o| o.value).unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({ "value": value, "count": stored.count })),
        OutputFormat::Table => crate::output::say!("sighting recorded: {value} ×{}", stored.count),
    }
    Ok(())
}

/// `indicators export ID --stix [--out FILE]`: the bundle as the hub made it.
pub async fn export_stix(
    client: &Client,
    id: String,
    out: Option<std::path::PathBuf>,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let bundle = client
        .indicators()
        .export_stix(with_purpose(
            v1::ExportStixRequest { indicator_id: id },
            purpose,
        ))
        .await
        .map_err(failed(client))?
        .into_inner()
        .bundle_json;
    match out {
        Some(path) => {
            std::fs::write(&path, format!("{bundle}\n")).map_err(|error| {
                Failure::new(
                    crate::failure::EXIT_USAGE,
                    format!("{}: {error}", path.display()),
                )
            })?;
            eprintln!("wrote {}", path.display());
        }
        None => println!("{}", crate::output::safe::escape_json(&bundle)),
    }
    Ok(())
}
