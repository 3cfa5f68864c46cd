//! `liaisonctl cbm check …`: communication checks of points of contact — start (the
//! operator), answer with the challenge code, and the report.

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use super::view::outcome_name;
use crate::{
    call::{request_id, text},
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::{parse_duration, parse_scope},
};

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Start a check (the operator).
    Start(StartArgs),
    /// Answer a check for your agency with the challenge code it shows.
    ///
    /// A check of policy or technical points of contact needs --poc: the point of contact
    /// of that level who answers (see `liaisonctl cbm poc list --agency YOURS`).
    #[command(verbatim_doc_comment)]
    Answer(AnswerArgs),
    /// A check's report: per agency answered, late or no answer, with response times.
    Report(ReportArgs),
    /// Lists communication checks, newest first, with their figures.
    List,
    /// One agency's results across checks.
    Results(ResultsArgs),
}

/// `cbm check results`.
#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The agency [default: yours]
    #[arg(long)]
    pub agency: Option<String>,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// How long points of contact have to answer (30m, 24h, 3d).
    #[arg(long)]
    pub window: String,
    /// Which agencies: all, group:GROUP-ID, or agencies:ID,ID,…
    #[arg(long, default_value = "all")]
    pub scope: String,
    /// The message shown to the points of contact.
    #[arg(long)]
    pub message: Option<String>,
    /// BCP 47 language of the message.
    #[arg(long, default_value = "en")]
    pub language: String,
    /// Which points of contact must answer: policy, technical or all.
    #[arg(long, default_value = "all")]
    pub level: String,
}

#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// Check id (chk_…).
    pub id: String,
    /// The challenge code shown with the check.
    #[arg(long)]
    pub challenge: String,
    /// The point of contact who answers (poc_…).
    #[arg(long)]
    pub poc: Option<String>,
    /// A comment for the operator.
    #[arg(long)]
    pub comment: Option<String>,
    /// BCP 47 language of the comment.
    #[arg(long, default_value = "en")]
    pub language: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Check id (chk_…).
    pub id: String,
}

/// Runs a `cbm check` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: CheckCommand,
) -> Result<(), Failure> {
    match command {
        CheckCommand::Start(args) => start(client, format, args).await,
        CheckCommand::Answer(args) => answer(client, format, args).await,
        CheckCommand::Report(args) => report(client, format, args).await,
        CheckCommand::List => list(client, format).await,
        CheckCommand::Results(args) => results(client, format, args).await,
    }
}

/// `cbm check start`.
async fn start(client: &Client, format: OutputFormat, args: StartArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let StartArgs {
        window,
        scope,
        message,
        language,
        level,
    } = args;
    let contact_level = match level.as_str() {
        "policy" => v1::CbmContactLevel::Policy,
        "technical" => v1::CbmContactLevel::Technical,
        "all" => v1::CbmContactLevel::All,
        other => {
            return Err(Failure::usage(format!(
                "--level {other:?}: expected policy, technical or all"
            )));
        }
    };
    let check = cbm
        .start_communication_check(v1::StartCommunicationCheckRequest {
            request_id: request_id(),
            scope: Some(parse_scope(&scope)?),
            contact_level: contact_level as i32,
            response_window: Some(parse_duration(&window)?),
            message: message
                .as_deref()
                .and_then(|message| text(message, &language)),
        })
        .await
        .map_err(failed)?
        .into_inner()
        .communication_check
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(
            &json!({"id": check.id, "challenge": check.challenge, "due_time": output::time(check.due_time.as_ref())}),
        ),
        OutputFormat::Table => crate::output::say!(
            "{} (challenge {}, due {})",
            check.id,
            check.challenge,
            output::time(check.due_time.as_ref())
        ),
    }
    Ok(())
}

/// `cbm check answer`.
async fn answer(client: &Client, format: OutputFormat, args: AnswerArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let AnswerArgs {
        id,
        challenge,
        poc,
        comment,
        language,
    } = args;
    let result = cbm
        .respond_to_communication_check(v1::RespondToCommunicationCheckRequest {
            request_id: request_id(),
            check_id: id.clone(),
            challenge,
            point_of_contact_id: poc.unwrap_or_default(),
            comment: comment
                .as_deref()
                .and_then(|comment| text(comment, &language)),
        })
        .await
        .map_err(failed)?
        .into_inner()
        .result
        .unwrap_or_default();
    let outcome = outcome_name(result.outcome);
    match format {
        OutputFormat::Json => print_json(&json!({
            "check_id": id,
            "agency_id": result.agency_id,
            "outcome": outcome,
            "response_time_seconds": result.response_time.map(|time| time.seconds),
        })),
        OutputFormat::Table => crate::output::say!("{id}: {} {outcome}", result.agency_id),
    }
    Ok(())
}

/// `cbm check report`.
async fn report(client: &Client, format: OutputFormat, args: ReportArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let ReportArgs { id } = args;
    let report = cbm
        .get_communication_check_report(v1::GetCommunicationCheckReportRequest { check_id: id })
        .await
        .map_err(failed)?
        .into_inner();
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|result| {
            vec![
                result.agency_id.clone(),
                outcome_name(result.outcome),
                result
                    .response_time
                    .map(|time| format!("{}s", time.seconds))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(rows)),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["AGENCY", "OUTCOME", "RESPONSE TIME"], &rows)
        ),
    }
    Ok(())
}

/// `cbm check list`: the first page (the hub's default size), newest first.
async fn list(client: &Client, format: OutputFormat) -> Result<(), Failure> {
    let checks = client
        .cbm()
        .list_communication_checks(v1::ListCommunicationChecksRequest::default())
        .await
        .map_err(failed(client))?
        .into_inner()
        .communication_checks;
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|check| {
            vec![
                check.id.clone(),
                output::time(check.start_time.as_ref()),
                output::time(check.due_time.as_ref()),
                output::short_name(
                    v1::CbmCheckState::try_from(check.state)
                        .ok()
                        .map(|s| s.as_str_name()),
                    "CBM_CHECK_STATE_",
                ),
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(rows)),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["CHECK", "STARTED", "DUE", "STATE"], &rows)
        ),
    }
    Ok(())
}

/// `cbm check results`: the first page of one agency's results.
async fn results(client: &Client, format: OutputFormat, args: ResultsArgs) -> Result<(), Failure> {
    let results = client
        .cbm()
        .list_communication_check_results(v1::ListCommunicationCheckResultsRequest {
            agency_id: args.agency.unwrap_or_default(),
            ..v1::ListCommunicationCheckResultsRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .results;
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|result| {
            vec![
                result.check_id.clone(),
                result.agency_id.clone(),
                outcome_name(result.outcome),
                result
                    .response_time
                    .map(|time| format!("{}s", time.seconds))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(rows)),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["CHECK", "AGENCY", "OUTCOME", "RESPONSE TIME"], &rows)
        ),
    }
    Ok(())
}
