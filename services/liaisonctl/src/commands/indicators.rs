//! `liaisonctl indicators …`: publish (one indicator, or every item of a file), get,
//! watch, search, lookup, revoke, sight and export as STIX.

mod args;
mod csv;
mod exchange;
mod file_rows;
mod publish_file;
mod stix_convert;

use std::path::PathBuf;

use clap::Subcommand;
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

pub use self::args::PublishArgs;
use self::args::{SearchArgs, SightArgs, WatchArgs};
use crate::{
    call::{next_followed, request, request_id},
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::{
        parse_category, parse_evaluation, parse_observable, parse_scope, parse_time, parse_tlp,
    },
};

pub(crate) use publish_file::read_rows;

/// `liaisonctl indicators …`.
#[derive(Debug, Subcommand)]
pub enum IndicatorsCommand {
    /// Publish a fraud method and/or observables, or every item of a JSON, CSV or STIX file.
    ///
    /// With --file, every item of the file goes to the hub over one PublishMany stream, with a
    /// progress bar on standard error when it is a terminal, and a summary at the end: how
    /// many were accepted, were duplicates (published before with the same request id; running
    /// the same file again publishes nothing twice) or were rejected, and each rejected item —
    /// by line (CSV), item number (JSON) or STIX object id — with the reason. Items that cannot
    /// even be read are reported the same way; the others are still sent. The command exits 1
    /// if anything was rejected.
    ///
    /// File formats (by --format, else by content and extension: a JSON file holding a STIX
    /// bundle is read as STIX, .csv as CSV):
    ///
    ///   JSON: one item or an array of items, each an object with the fields
    ///   title, description, countermeasures, category, observables ([{"type": "domain",
    ///   "value": "…"}, …]), language, tlp, scope, confidence, evaluation, anonymous,
    ///   valid_until (RFC 3339); fields left out take the values of the flags below.
    ///
    ///   CSV: a header row naming the columns, then one indicator per row: type and value
    ///   (one observable) are required; title, description, countermeasures, category,
    ///   language, tlp, scope, confidence, evaluation, anonymous (true/false) and valid_until
    ///   are optional, empty cells take the flags' values. Quote cells holding commas,
    ///   quotes or line breaks ("…", with "" for a quote).
    ///
    ///   STIX: a STIX 2.1 bundle, read as ImportStix reads it: indicators with single-comparison
    ///   patterns, attack-patterns as fraud methods, courses of action as countermeasures; the
    ///   TLP of its markings, else --tlp; --scope for all.
    #[command(verbatim_doc_comment)]
    Publish(Box<PublishArgs>),
    /// Show one indicator.
    Get {
        /// Indicator id (ind_…).
        id: String,
    },
    /// Follow new indicators as they are published (Ctrl-C to stop).
    Watch(WatchArgs),
    /// Search the indicators you may see, newest first.
    Search(SearchArgs),
    /// What the federation knows of one value: agencies, dates, fraud methods, sightings.
    Lookup {
        /// The observable, TYPE=VALUE (domain=example.com, phone=+380…).
        observable: String,
    },
    /// Revoke one of your agency's indicators; subscribers are told.
    Revoke {
        /// Indicator id (ind_…).
        id: String,
        /// Why, for the recipients and the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Link standalone observables of your agency to one of its fraud methods.
    Link {
        /// The fraud method (ind_…).
        fraud_method: String,
        /// A standalone observable indicator to link (ind_…, repeatable).
        #[arg(long = "indicator", required = true)]
        indicators: Vec<String>,
    },
    /// Import a STIX 2.1 bundle on the hub, all or nothing (see ImportStix); unlike
    /// `publish --file`, an object the hub cannot map refuses the whole bundle.
    ImportStix {
        /// The bundle (JSON).
        file: PathBuf,
        /// TLP of objects with no TLP marking.
        #[arg(long, default_value = "green")]
        tlp: String,
        /// Who receives them: all, group:GROUP-ID, or agencies:ID,ID,…
        #[arg(long, default_value = "all")]
        scope: String,
    },
    /// Report that you saw an observable (count and time).
    Sight(SightArgs),
    /// Export an indicator you may see as a STIX 2.1 bundle (JSON).
    ///
    /// Each observable becomes an indicator with a STIX pattern, the fraud method an
    /// attack-pattern and its countermeasures a course-of-action; the TLP is the TLP 2.0
    /// marking definition; an anonymous item names "a member agency" as its source.
    Export {
        /// Indicator id (ind_…).
        id: String,
        /// STIX 2.1, the one export format.
        #[arg(long, required = true)]
        stix: bool,
        /// Write the bundle to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs an `indicators` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    purpose: Option<&str>,
    command: IndicatorsCommand,
) -> Result<(), Failure> {
    match command {
        IndicatorsCommand::Publish(args) => match args.file.clone() {
            Some(file) => publish_file::publish_file(client, format, &args, &file).await,
            None => publish(client, format, *args).await,
        },
        IndicatorsCommand::Export { id, stix: _, out } => {
            exchange::export_stix(client, id, out, purpose).await
        }
        IndicatorsCommand::Get { id } => get(client, format, id, purpose).await,
        IndicatorsCommand::Watch(args) => watch(client, format, args, purpose).await,
        IndicatorsCommand::Search(args) => exchange::search(client, format, args, purpose).await,
        IndicatorsCommand::Lookup { observable } => {
            exchange::lookup(client, format, observable, purpose).await
        }
        IndicatorsCommand::Revoke { id, reason } => {
            exchange::revoke(client, format, id, reason).await
        }
        IndicatorsCommand::Sight(args) => exchange::sight(client, format, args).await,
        IndicatorsCommand::Link {
            fraud_method,
            indicators,
        } => link(client, format, fraud_method, indicators).await,
        IndicatorsCommand::ImportStix { file, tlp, scope } => {
            import_stix(client, format, &file, &tlp, &scope).await
        }
    }
}

async fn publish(client: &Client, format: OutputFormat, args: PublishArgs) -> Result<(), Failure> {
    let category = parse_category(&args.category)?;
    let indicator = v1::Indicator {
        fraud_method: args.title.map(|title| v1::FraudMethod {
            title,
            description: args.description,
            countermeasures: args.countermeasures,
            category: category as i32,
        }),
        observables: args
            .observables
            .iter()
            .map(|text| parse_observable(text))
            .collect::<Result<_, _>>()?,
        language: args.language,
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
    };
    let request_id = args.request_id.unwrap_or_else(request_id);
    let response = client
        .indicators()
        .publish(v1::PublishRequest {
            request_id,
            indicator: Some(indicator),
        })
        .await
        .map_err(failed(client))?
        .into_inner();
    let indicator = response.indicator.unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({
            "duplicate": response.duplicate,
            "indicator": output::indicator_json(&indicator),
        })),
        OutputFormat::Table => {
            let verb = if response.duplicate {
                "already published (same request id)"
            } else {
                "published"
            };
            crate::output::say!("{verb}: {}", indicator.id);
            print!("{}", output::indicator_details(&indicator));
        }
    }
    Ok(())
}

async fn get(
    client: &Client,
    format: OutputFormat,
    id: String,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let indicator = client
        .indicators()
        .get_indicator(request(
            v1::GetIndicatorRequest { indicator_id: id },
            purpose,
        ))
        .await
        .map_err(failed(client))?
        .into_inner()
        .indicator
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&output::indicator_json(&indicator)),
        OutputFormat::Table => print!("{}", output::indicator_details(&indicator)),
    }
    Ok(())
}

async fn watch(
    client: &Client,
    format: OutputFormat,
    args: WatchArgs,
    purpose: Option<&str>,
) -> Result<(), Failure> {
    let subscription = v1::SubscribeRequest {
        after: Some(v1::Cursor {
            position: args.after,
        }),
        categories: args
            .categories
            .iter()
            .map(|text| parse_category(text).map(|category| category as i32))
            .collect::<Result<_, _>>()?,
        tlps: args
            .tlps
            .iter()
            .map(|tlp| parse_tlp(tlp).map(|t| t as i32))
            .collect::<Result<_, _>>()?,
        ..v1::SubscribeRequest::default()
    };
    let mut stream = client
        .indicators()
        .subscribe(request(subscription, purpose))
        .await
        .map_err(failed(client))?
        .into_inner();
    if format == OutputFormat::Table {
        eprintln!(
            "watching indicators after cursor {} (Ctrl-C to stop)",
            args.after
        );
        crate::output::say!(
            "{}",
            output::watch_line(
                &["CURSOR", "EVENT", "ID", "SOURCE", "TLP", "TITLE"].map(String::from)
            )
        );
    }
    let mut seen = 0u64;
    loop {
        if args.limit.is_some_and(|limit| seen >= limit) {
            return Ok(());
        }
        let Some(message) = next_followed(client, &mut stream).await? else {
            return Ok(());
        };
        let Some(event) = message.event else {
            continue;
        };
        let cursor = event.cursor.map_or(0, |cursor| cursor.position);
        let (kind, indicator) = match &event.event {
            Some(v1::indicator_event::Event::Published(indicator)) => ("published", indicator),
            Some(v1::indicator_event::Event::Revoked(indicator)) => ("revoked", indicator),
            Some(v1::indicator_event::Event::Correlation(matched)) => {
                seen += 1;
                print_correlation(format, cursor, matched);
                continue;
            }
            None => continue,
        };
        match format {
            OutputFormat::Json => crate::output::print_json_line(
                &json!({ "cursor": cursor, "event": kind, "indicator": output::indicator_json(indicator) }),
            ),
            OutputFormat::Table => crate::output::say!(
                "{}",
                output::watch_line(&output::watch_row(cursor, kind, indicator))
            ),
        }
        seen += 1;
    }
}

/// A `match` line of `indicators watch`: a value of yours another agency also published.
fn print_correlation(format: OutputFormat, cursor: u64, matched: &v1::CorrelationMatch) {
    let value = matched
        .observable
        .as_ref()
        .map(|o| o.value.clone())
        .unwrap_or_default();
    let other = if matched.other_agency_id.is_empty() {
        "a member agency".to_owned()
    } else {
        matched.other_agency_id.clone()
    };
    match format {
        OutputFormat::Json => crate::output::print_json_line(
            &json!({ "cursor": cursor, "event": "correlation", "value": value,
                "own_indicator_id": matched.own_indicator_id,
                "other_indicator_id": matched.other_indicator_id,
                "other_agency_id": matched.other_agency_id }),
        ),
        OutputFormat::Table => crate::output::say!(
            "{}",
            output::watch_line(&[
                cursor.to_string(),
                "match".into(),
                matched.own_indicator_id.clone(),
                other,
                String::new(),
                format!("{value} also in {}", matched.other_indicator_id),
            ])
        ),
    }
}

/// `indicators link`.
async fn link(
    client: &Client,
    format: OutputFormat,
    fraud_method_id: String,
    indicator_ids: Vec<String>,
) -> Result<(), Failure> {
    let method = client
        .indicators()
        .link_observables(v1::LinkObservablesRequest {
            request_id: request_id(),
            fraud_method_id,
            indicator_ids,
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .fraud_method
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&output::indicator_json(&method)),
        OutputFormat::Table => print!("{}", output::indicator_details(&method)),
    }
    Ok(())
}

/// `indicators import-stix`.
async fn import_stix(
    client: &Client,
    format: OutputFormat,
    file: &std::path::Path,
    tlp: &str,
    scope: &str,
) -> Result<(), Failure> {
    let bundle_json = std::fs::read_to_string(file)
        .map_err(|error| Failure::usage(format!("{}: {error}", file.display())))?;
    let response = client
        .indicators()
        .import_stix(v1::ImportStixRequest {
            request_id: request_id(),
            bundle_json,
            default_tlp: parse_tlp(tlp)? as i32,
            scope: Some(parse_scope(scope)?),
        })
        .await
        .map_err(failed(client))?
        .into_inner();
    match format {
        OutputFormat::Json => print_json(&json!({
            "duplicate": response.duplicate,
            "indicators": response.indicators.iter().map(output::indicator_json).collect::<Vec<_>>(),
        })),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = response
                .indicators
                .iter()
                .map(|indicator| output::watch_row(0, "imported", indicator)[2..].to_vec())
                .collect();
            print!(
                "{}",
                output::table(&["ID", "SOURCE", "TLP", "TITLE"], &rows)
            );
        }
    }
    Ok(())
}
