//! `liaisonctl cbm consult …`: consultations (OSCE CBM 3) — request, acknowledge,
//! schedule, record as held, close, show and list.

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::{Value, json};

use crate::{
    call::{request_id, text},
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json, short_name},
    parse::{enum_value, parse_duration, parse_time, parse_tlp, parse_when},
};

/// `liaisonctl cbm consult …`.
#[derive(Debug, Subcommand)]
pub enum ConsultCommand {
    /// Requests a consultation with one or more agencies (they get a notification).
    Request(Box<RequestArgs>),
    /// Acknowledges a consultation your agency is invited to.
    Ack(CommentArgs),
    /// Sets or moves the meeting.
    Schedule(ScheduleArgs),
    /// Records that the consultation took place.
    Held(HeldArgs),
    /// Closes the consultation with an outcome: resolved, unresolved, declined, withdrawn.
    Close(CloseArgs),
    /// Shows one consultation.
    Show(IdArgs),
    /// Lists the consultations your agency takes part in.
    List,
}

/// `cbm consult request`.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// An invited agency (repeatable).
    #[arg(long = "agency", required = true)]
    pub agencies: Vec<String>,
    /// Subject.
    #[arg(long)]
    pub subject: String,
    /// What is to be discussed.
    #[arg(long, default_value = "")]
    pub description: String,
    /// BCP 47 language of the texts.
    #[arg(long, default_value = "en")]
    pub language: String,
    /// TLP 2.0 marking.
    #[arg(long, default_value = "green")]
    pub tlp: String,
    /// info, low, medium, high or critical.
    #[arg(long, default_value = "medium")]
    pub severity: String,
    /// A proposed time, RFC 3339 (repeatable).
    #[arg(long = "propose")]
    pub proposed_times: Vec<String>,
    /// A related notification (cbm_…, repeatable).
    #[arg(long = "related")]
    pub related: Vec<String>,
    /// Invited agencies must acknowledge within this period (24h, 3d).
    #[arg(long)]
    pub ack_within: Option<String>,
}

/// A consultation.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Consultation id.
    pub id: String,
}

/// A step with an optional comment.
#[derive(Debug, Args)]
pub struct CommentArgs {
    /// Consultation id.
    pub id: String,
    /// A comment for the participants.
    #[arg(long)]
    pub comment: Option<String>,
    /// BCP 47 language of the comment.
    #[arg(long, default_value = "en")]
    pub language: String,
}

/// `cbm consult schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Consultation id.
    pub id: String,
    /// When, RFC 3339.
    #[arg(long, required_unless_present = "within")]
    pub at: Option<String>,
    /// In this period from now (7d), instead of --at.
    #[arg(long = "in", value_name = "PERIOD", conflicts_with = "at")]
    pub within: Option<String>,
    /// Planned duration (90m, 2h).
    #[arg(long)]
    pub duration: Option<String>,
    /// Where (a room, a video link).
    #[arg(long)]
    pub venue: Option<String>,
    /// The agenda.
    #[arg(long)]
    pub agenda: Option<String>,
    /// BCP 47 language of the texts.
    #[arg(long, default_value = "en")]
    pub language: String,
}

/// `cbm consult held`.
#[derive(Debug, Args)]
pub struct HeldArgs {
    /// Consultation id.
    pub id: String,
    /// When it took place, RFC 3339 [default: now]
    #[arg(long)]
    pub at: Option<String>,
    /// An agency that attended (repeatable).
    #[arg(long = "attended")]
    pub attended: Vec<String>,
    /// A summary.
    #[arg(long)]
    pub summary: Option<String>,
    /// BCP 47 language of the summary.
    #[arg(long, default_value = "en")]
    pub language: String,
}

/// `cbm consult close`.
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Consultation id.
    pub id: String,
    /// resolved, unresolved, declined or withdrawn.
    #[arg(long)]
    pub outcome: String,
    /// A summary of the outcome.
    #[arg(long)]
    pub summary: Option<String>,
    /// BCP 47 language of the summary.
    #[arg(long, default_value = "en")]
    pub language: String,
}

/// Runs a `cbm consult` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: ConsultCommand,
) -> Result<(), Failure> {
    let mut cbm = client.cbm();
    let failed = failed(client);
    let note = |t: Option<&str>, language: &str| t.and_then(|t| text(t, language));
    let consultation = match command {
        ConsultCommand::Request(args) => return request(client, format, *args).await,
        ConsultCommand::Ack(args) => {
            cbm.acknowledge_consultation(v1::AcknowledgeConsultationRequest {
                request_id: request_id(),
                consultation_id: args.id,
                comment: note(args.comment.as_deref(), &args.language),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .consultation
        }
        ConsultCommand::Schedule(args) => {
            cbm.schedule_consultation(v1::ScheduleConsultationRequest {
                request_id: request_id(),
                consultation_id: args.id,
                schedule_time: parse_when(args.at.as_deref(), args.within.as_deref())?,
                planned_duration: args.duration.as_deref().map(parse_duration).transpose()?,
                venue: note(args.venue.as_deref(), &args.language),
                agenda: note(args.agenda.as_deref(), &args.language),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .consultation
        }
        ConsultCommand::Held(args) => {
            cbm.record_consultation_held(v1::RecordConsultationHeldRequest {
                request_id: request_id(),
                consultation_id: args.id,
                hold_time: args.at.as_deref().map(parse_time).transpose()?,
                attending_agency_ids: args.attended,
                summary: note(args.summary.as_deref(), &args.language),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .consultation
        }
        ConsultCommand::Close(args) => {
            cbm.close_consultation(v1::CloseConsultationRequest {
                request_id: request_id(),
                consultation_id: args.id,
                outcome: enum_value("CBM_CONSULTATION_OUTCOME_", &args.outcome, |name| {
                    v1::CbmConsultationOutcome::from_str_name(name).map(|o| o as i32)
                })?,
                summary: note(args.summary.as_deref(), &args.language),
            })
            .await
            .map_err(failed)?
            .into_inner()
            .consultation
        }
        ConsultCommand::Show(args) => {
            cbm.get_consultation(v1::GetConsultationRequest {
                consultation_id: args.id,
            })
            .await
            .map_err(failed)?
            .into_inner()
            .consultation
        }
        ConsultCommand::List => return list(client, format).await,
    };
    show(format, &consultation.unwrap_or_default());
    Ok(())
}

async fn request(client: &Client, format: OutputFormat, args: RequestArgs) -> Result<(), Failure> {
    let response = client
        .cbm()
        .request_consultation(v1::RequestConsultationRequest {
            request_id: request_id(),
            agency_ids: args.agencies,
            subject: text(&args.subject, &args.language),
            description: text(&args.description, &args.language),
            tlp: parse_tlp(&args.tlp)? as i32,
            related_notification_ids: args.related,
            proposed_times: args
                .proposed_times
                .iter()
                .map(|time| parse_time(time))
                .collect::<Result<_, _>>()?,
            ack_within: args.ack_within.as_deref().map(parse_duration).transpose()?,
            severity: enum_value("CBM_SEVERITY_", &args.severity, |name| {
                v1::CbmSeverity::from_str_name(name).map(|s| s as i32)
            })?,
        })
        .await
        .map_err(failed(client))?
        .into_inner();
    show(format, &response.consultation.unwrap_or_default());
    Ok(())
}

async fn list(client: &Client, format: OutputFormat) -> Result<(), Failure> {
    let mut cbm = client.cbm();
    let (mut all, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = cbm
            .list_consultations(v1::ListConsultationsRequest {
                page_size: 100,
                page_token,
                ..v1::ListConsultationsRequest::default()
            })
            .await
            .map_err(failed(client))?
            .into_inner();
        all.extend(page.consultations);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    match format {
        OutputFormat::Json => {
            print_json(&Value::Array(all.iter().map(consultation_json).collect()))
        }
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|c| {
                    let value = consultation_json(c);
                    vec![
                        c.id.clone(),
                        value["state"].as_str().unwrap_or("-").to_owned(),
                        c.requester_agency_id.clone(),
                        output::time(c.schedule_time.as_ref()),
                        c.subject
                            .as_ref()
                            .map(|t| t.text.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["ID", "STATE", "FROM", "SCHEDULED", "SUBJECT"], &rows)
            );
        }
    }
    Ok(())
}

/// The lowercase name of a consultation's state (`scheduled`).
pub fn state_name(state: i32) -> String {
    short_name(
        v1::CbmConsultationState::try_from(state)
            .ok()
            .map(|s| s.as_str_name()),
        "CBM_CONSULTATION_STATE_",
    )
}

/// A consultation as JSON.
pub fn consultation_json(c: &v1::CbmConsultation) -> Value {
    json!({
        "id": c.id,
        "state": state_name(c.state),
        "requester_agency_id": c.requester_agency_id,
        "subject": c.subject.as_ref().map(|t| t.text.clone()),
        "tlp": output::tlp(c.tlp),
        "schedule_time": c.schedule_time.as_ref().map(|t| output::time(Some(t))),
        "outcome": (c.outcome != 0).then(|| short_name(
            v1::CbmConsultationOutcome::try_from(c.outcome).ok().map(|o| o.as_str_name()),
            "CBM_CONSULTATION_OUTCOME_",
        )),
        "participants": c.participants.iter().map(|p| json!({
            "agency_id": p.agency_id,
            "requester": p.requester,
            "acknowledged": p.acknowledge_time.is_some(),
            "attended": p.attended,
        })).collect::<Vec<_>>(),
    })
}

fn show(format: OutputFormat, c: &v1::CbmConsultation) {
    let value = consultation_json(c);
    match format {
        OutputFormat::Json => print_json(&value),
        OutputFormat::Table => {
            let mut rows = vec![
                vec!["id".into(), c.id.clone()],
                vec!["state".into(), state_name(c.state)],
                vec!["requester".into(), c.requester_agency_id.clone()],
                vec![
                    "subject".into(),
                    c.subject
                        .as_ref()
                        .map(|t| t.text.clone())
                        .unwrap_or_default(),
                ],
            ];
            if c.schedule_time.is_some() {
                rows.push(vec![
                    "scheduled".into(),
                    output::time(c.schedule_time.as_ref()),
                ]);
            }
            if let Some(outcome) = value["outcome"].as_str() {
                rows.push(vec!["outcome".into(), outcome.to_owned()]);
            }
            for p in &c.participants {
                let status = if p.requester {
                    "requester"
                } else if p.acknowledge_time.is_some() {
                    "acknowledged"
                } else {
                    "pending"
                };
                rows.push(vec![format!("participant {}", p.agency_id), status.into()]);
            }
            print!("{}", output::table(&["FIELD", "VALUE"], &rows));
        }
    }
}
