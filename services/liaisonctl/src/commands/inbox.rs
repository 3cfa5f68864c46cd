//! `liaisonctl inbox`: one screen of what needs the officer's agency now — MLA requests
//! awaiting its step (overdue first, then by deadline), CBM notifications to acknowledge,
//! communication checks to answer, consultations waiting on it — each with the command
//! that acts on it. `--watch` redraws it whenever the MLA or CBM watch stream reports a
//! change.

use clap::Args;
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use crate::{
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
};

/// `liaisonctl inbox`.
#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Keep the screen current from the watch streams (Ctrl-C to stop).
    #[arg(long)]
    pub watch: bool,
    /// With --watch: stop after this many redraws after the first screen.
    #[arg(long, requires = "watch")]
    pub limit: Option<u64>,
}

/// One thing to do.
#[derive(Debug, Clone)]
struct Item {
    overdue: bool,
    /// The deadline, RFC 3339, or empty.
    due: String,
    kind: &'static str,
    id: String,
    what: String,
    command: String,
}

/// How long the streams stay quiet before the screen is drawn: a burst of events (the
/// replay when the watch opens, a step with its receipt and deadlines) is one redraw.
const QUIET: std::time::Duration = std::time::Duration::from_millis(300);

/// Runs `inbox`.
pub async fn run(client: &Client, format: OutputFormat, args: InboxArgs) -> Result<(), Failure> {
    if !args.watch {
        print(format, &items(client).await?);
        return Ok(());
    }
    // Both streams replay what the agency may see, then go on live.
    let mut mla = client
        .mla()
        .watch_requests(v1::WatchRequestsRequest::default())
        .await
        .map_err(failed(client))?
        .into_inner();
    let mut cbm = client
        .cbm()
        .watch_inbox(v1::WatchInboxRequest::default())
        .await
        .map_err(failed(client))?
        .into_inner();
    let mut redrawn = 0;
    loop {
        // Until the streams fall quiet (the first time: the end of the replay).
        loop {
            let event = tokio::select! {
                message = mla.message() => message.map(|m| m.is_some()),
                message = cbm.message() => message.map(|m| m.is_some()),
                () = tokio::time::sleep(QUIET) => break,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            .map_err(failed(client))?;
            if !event {
                return Ok(());
            }
        }
        if redrawn > 0 && format == OutputFormat::Table {
            println!();
        }
        print(format, &items(client).await?);
        if args.limit.is_some_and(|limit| redrawn >= limit) {
            return Ok(());
        }
        redrawn += 1;
        // Then wait for the next change.
        let event = tokio::select! {
            message = mla.message() => message.map(|m| m.is_some()),
            message = cbm.message() => message.map(|m| m.is_some()),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        .map_err(failed(client))?;
        if !event {
            return Ok(());
        }
    }
}

async fn items(client: &Client) -> Result<Vec<Item>, Failure> {
    let me = client
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .map_err(failed(client))?
        .into_inner();
    let agency = me
        .principal
        .and_then(|p| p.r#ref)
        .map(|r| r.agency_id)
        .unwrap_or_default();
    let mut items = mla_items(client, &agency).await?;
    items.sort_by(|a, b| b.overdue.cmp(&a.overdue).then_with(|| deadline_order(a, b)));
    items.extend(notification_items(client).await?);
    items.extend(check_items(client, &agency).await?);
    items.extend(consultation_items(client, &agency).await?);
    Ok(items)
}

/// Earlier deadlines first; none last.
fn deadline_order(a: &Item, b: &Item) -> std::cmp::Ordering {
    (a.due.is_empty(), &a.due).cmp(&(b.due.is_empty(), &b.due))
}

/// The step an MLA request awaits from `agency`, and the command that takes it.
fn mla_step(request: &v1::MlaRequest, agency: &str) -> Option<(&'static str, &'static str)> {
    use v1::MlaState as S;
    let requested = request
        .content
        .as_ref()
        .is_some_and(|c| c.requested_agency_id == agency);
    let preservation_asked = request
        .preservation
        .as_ref()
        .is_some_and(|p| p.state == v1::MlaPreservationState::Requested as i32);
    let state = S::try_from(request.state).ok()?;
    Some(match (requested, state) {
        (true, S::Submitted | S::Delivered) => {
            ("read and acknowledge", "mla show ID --purpose TEXT")
        }
        (true, S::Acknowledged) => ("assess", "mla assess ID"),
        (true, S::UnderAssessment) if preservation_asked => (
            "confirm preservation",
            "mla preservation confirm ID --for 90d",
        ),
        (true, S::UnderAssessment) => ("decide", "mla accept ID"),
        (true, S::Accepted) => ("start execution", "mla start ID"),
        (true, S::InExecution) => ("report execution", "mla execute ID --summary TEXT"),
        (true, S::Postponed) => ("resume", "mla resume ID"),
        (false, S::Draft) => ("submit the draft", "mla submit ID"),
        (false, S::MoreInformationRequested) => ("answer", "mla provide-info ID TEXT"),
        (false, S::ConditionsProposed) => ("accept the conditions", "mla conditions accept ID"),
        (false, S::Executed | S::PartiallyExecuted) => ("close", "mla close ID"),
        _ => return None,
    })
}

async fn mla_items(client: &Client, agency: &str) -> Result<Vec<Item>, Failure> {
    let requests = client
        .mla()
        .list_requests(v1::ListRequestsRequest {
            page_size: 500,
            ..v1::ListRequestsRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .mla_requests;
    Ok(requests
        .iter()
        .filter_map(|request| {
            let (what, command) = mla_step(request, agency)?;
            let due = request
                .deadlines
                .iter()
                .filter(|d| d.status != v1::MlaDeadlineStatus::Met as i32)
                .filter_map(|d| d.due_time.as_ref())
                .min_by_key(|t| t.seconds)
                .map(|t| output::time(Some(t)))
                .unwrap_or_default();
            Some(Item {
                overdue: request.overdue,
                due,
                kind: "mla",
                id: request.id.clone(),
                what: format!(
                    "{what} ({})",
                    request
                        .content
                        .as_ref()
                        .map_or("", |c| c.case_reference.as_str())
                ),
                command: format!("liaisonctl {}", command.replace("ID", &request.id)),
            })
        })
        .collect())
}

async fn notification_items(client: &Client) -> Result<Vec<Item>, Failure> {
    let notifications = client
        .cbm()
        .list_notifications(v1::ListNotificationsRequest {
            unacknowledged_first: true,
            unacknowledged_only: true,
            ..v1::ListNotificationsRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .notifications;
    Ok(notifications
        .iter()
        .map(|n| {
            let own = n.acknowledgements.first();
            Item {
                overdue: own.is_some_and(|row| row.overdue),
                due: own
                    .and_then(|row| row.due_time.as_ref())
                    .map(|t| output::time(Some(t)))
                    .unwrap_or_default(),
                kind: "cbm",
                id: n.id.clone(),
                what: format!(
                    "acknowledge: {}",
                    n.title.as_ref().map_or("", |t| t.text.as_str())
                ),
                command: format!("liaisonctl cbm ack {}", n.id),
            }
        })
        .collect())
}

async fn check_items(client: &Client, agency: &str) -> Result<Vec<Item>, Failure> {
    let results = client
        .cbm()
        .list_communication_check_results(v1::ListCommunicationCheckResultsRequest {
            agency_id: agency.to_owned(),
            ..v1::ListCommunicationCheckResultsRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .results;
    Ok(results
        .iter()
        .filter(|r| r.outcome == v1::CbmCheckOutcome::Pending as i32)
        .map(|r| Item {
            overdue: false,
            due: String::new(),
            kind: "check",
            id: r.check_id.clone(),
            what: "answer the communication check".into(),
            command: format!(
                "liaisonctl cbm check answer {} --challenge CODE",
                r.check_id
            ),
        })
        .collect())
}

async fn consultation_items(client: &Client, agency: &str) -> Result<Vec<Item>, Failure> {
    use v1::CbmConsultationState as S;
    let consultations = client
        .cbm()
        .list_consultations(v1::ListConsultationsRequest {
            page_size: 100,
            ..v1::ListConsultationsRequest::default()
        })
        .await
        .map_err(failed(client))?
        .into_inner()
        .consultations;
    Ok(consultations
        .iter()
        .filter_map(|c| {
            let mine = c.participants.iter().find(|p| p.agency_id == agency)?;
            let (what, command) = match S::try_from(c.state).ok()? {
                S::Requested if !mine.requester && mine.acknowledge_time.is_none() => {
                    ("acknowledge", format!("cbm consult ack {}", c.id))
                }
                S::Acknowledged if mine.requester => {
                    ("schedule", format!("cbm consult schedule {} --in 7d", c.id))
                }
                S::Held if mine.requester => (
                    "close",
                    format!("cbm consult close {} --outcome resolved", c.id),
                ),
                _ => return None,
            };
            Some(Item {
                overdue: false,
                due: String::new(),
                kind: "consult",
                id: c.id.clone(),
                what: format!(
                    "{what}: {}",
                    c.subject.as_ref().map_or("", |t| t.text.as_str())
                ),
                command: format!("liaisonctl {command}"),
            })
        })
        .collect())
}

fn print(format: OutputFormat, items: &[Item]) {
    match format {
        OutputFormat::Json => print_json(&json!(
            items
                .iter()
                .map(|i| json!({
                    "kind": i.kind, "id": i.id, "what": i.what, "due": i.due,
                    "overdue": i.overdue, "command": i.command,
                }))
                .collect::<Vec<_>>()
        )),
        OutputFormat::Table if items.is_empty() => println!("nothing waits on your agency"),
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    vec![
                        i.kind.into(),
                        if i.overdue {
                            "OVERDUE".into()
                        } else {
                            i.due.clone()
                        },
                        i.what.clone(),
                        i.command.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["WHAT", "DUE", "TO DO", "COMMAND"], &rows)
            );
        }
    }
}
