//! `liaisonctl cbm …`: confidence-building measures for liaison officers — notify, the
//! inbox (unacknowledged first), acknowledge, reply, show (with the acknowledgement
//! table), watch, communication checks and points of contact.

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use crate::{
    cli::OutputFormat,
    commands::{EXIT_USAGE, Failure, next_followed, print_json},
    output,
};

#[derive(Debug, Subcommand)]
pub enum CbmCommand {
    /// Send a notification to the agencies in its scope.
    Notify(Box<NotifyArgs>),
    /// Your agency's received notifications, unacknowledged first.
    Inbox {
        /// Only those not yet acknowledged.
        #[arg(long)]
        unacknowledged: bool,
    },
    /// Acknowledge a notification for your agency: received, or with --responded.
    Ack {
        /// Notification id (cbm_…).
        id: String,
        /// Mark it responded rather than received.
        #[arg(long)]
        responded: bool,
        /// A comment for the sender.
        #[arg(long)]
        comment: Option<String>,
        /// BCP 47 language of the comment.
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// Reply on a notification: to its sender, or with --all to every recipient.
    Reply {
        /// Notification id (cbm_…).
        id: String,
        /// The text.
        #[arg(long)]
        body: String,
        /// BCP 47 language of the text.
        #[arg(long, default_value = "en")]
        language: String,
        /// Visible to the sender and every recipient.
        #[arg(long)]
        all: bool,
    },
    /// Show one notification with the acknowledgement rows you may see.
    Show {
        /// Notification id (cbm_…).
        id: String,
    },
    /// Follow your agency's CBM events (Ctrl-C to stop).
    Watch {
        /// Resume after this cursor; 0 replays everything you may see.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Communication checks of points of contact.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Points of contact.
    #[command(subcommand)]
    Poc(PocCommand),
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// national-threat-view, incident, policy-update, vulnerability-disclosure,
    /// exercise-announcement.
    #[arg(long)]
    pub kind: String,
    /// info, low, medium, high or critical.
    #[arg(long, default_value = "medium")]
    pub severity: String,
    /// Title.
    #[arg(long)]
    pub title: String,
    /// Body.
    #[arg(long)]
    pub body: String,
    /// BCP 47 language of title and body (uk, sr-Cyrl, vi, lv, en, …).
    #[arg(long, default_value = "en")]
    pub language: String,
    /// An affected sector (repeatable): energy, transport, banking, health, …
    #[arg(long = "sector")]
    pub sectors: Vec<String>,
    /// TLP 2.0 marking: clear, green, amber, amber+strict, red.
    #[arg(long, default_value = "green")]
    pub tlp: String,
    /// Who receives it: all, group:GROUP-ID, or agencies:ID,ID,…
    #[arg(long, default_value = "all")]
    pub scope: String,
    /// Recipients must acknowledge within this period (30m, 24h, 3d).
    #[arg(long)]
    pub ack_within: Option<String>,
    /// Idempotency key [default: random]
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Start a check (the operator).
    Start {
        /// How long points of contact have to answer (30m, 24h, 3d).
        #[arg(long)]
        window: String,
        /// Which agencies: all, group:GROUP-ID, or agencies:ID,ID,…
        #[arg(long, default_value = "all")]
        scope: String,
        /// The message shown to the points of contact.
        #[arg(long)]
        message: Option<String>,
        /// BCP 47 language of the message.
        #[arg(long, default_value = "en")]
        language: String,
        /// Which points of contact must answer: policy, technical or all.
        #[arg(long, default_value = "all")]
        level: String,
    },
    /// Answer a check for your agency with the challenge code it shows.
    ///
    /// A check of policy or technical points of contact needs --poc: the point of contact
    /// of that level who answers (see `liaisonctl cbm poc list --agency YOURS`).
    #[command(verbatim_doc_comment)]
    Answer {
        /// Check id (chk_…).
        id: String,
        /// The challenge code shown with the check.
        #[arg(long)]
        challenge: String,
        /// The point of contact who answers (poc_…).
        #[arg(long)]
        poc: Option<String>,
        /// A comment for the operator.
        #[arg(long)]
        comment: Option<String>,
        /// BCP 47 language of the comment.
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// A check's report: per agency answered, late or no answer, with response times.
    Report {
        /// Check id (chk_…).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PocCommand {
    /// Points of contact of one agency, or of all.
    List {
        /// Only this agency.
        #[arg(long)]
        agency: Option<String>,
    },
    /// Create (or with --id replace and confirm) one of your agency's points of contact.
    Set(Box<PocArgs>),
}

#[derive(Debug, Args)]
pub struct PocArgs {
    /// The contact to replace (poc_…); omit to create one.
    #[arg(long)]
    pub id: Option<String>,
    /// policy or technical.
    #[arg(long)]
    pub level: String,
    /// Function or office, e.g. "24/7 cybercrime duty officer".
    #[arg(long)]
    pub function: String,
    /// A channel KIND=ADDRESS (repeatable): phone, email, liaison, other.
    #[arg(long = "channel", value_name = "KIND=ADDRESS")]
    pub channels: Vec<String>,
    /// A language spoken, BCP 47 (repeatable).
    #[arg(long = "language")]
    pub languages: Vec<String>,
    /// Hours of availability with time zone.
    #[arg(long, default_value = "")]
    pub hours: String,
    /// Reachable around the clock.
    #[arg(long)]
    pub around_the_clock: bool,
}

fn usage(message: String) -> Failure {
    Failure::new(EXIT_USAGE, message)
}

fn request_id() -> String {
    format!(
        "liaisonctl-{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

/// A period such as `90s`, `30m`, `24h` or `3d`.
fn parse_duration(text: &str) -> Result<prost_types::Duration, Failure> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(value) if scale > 0 && value > 0 => Ok(prost_types::Duration {
            seconds: value * scale,
            nanos: 0,
        }),
        _ => Err(usage(format!(
            "{text:?}: expected a period such as 30m, 24h or 3d"
        ))),
    }
}

fn enum_value(
    prefix: &str,
    text: &str,
    from: impl Fn(&str) -> Option<i32>,
) -> Result<i32, Failure> {
    let name = format!(
        "{prefix}{}",
        text.trim().to_ascii_uppercase().replace(['-', '+'], "_")
    );
    from(&name)
        .filter(|value| *value != 0)
        .ok_or_else(|| usage(format!("{text:?}: not a known value (see --help)")))
}

fn text(text: &str, language: &str) -> Option<v1::LocalizedText> {
    Some(v1::LocalizedText {
        text: text.to_owned(),
        language: language.to_owned(),
    })
}

fn status_name(status: i32) -> String {
    output::enum_name(
        v1::CbmAckStatus::try_from(status)
            .ok()
            .map(|status| status.as_str_name().trim_start_matches("CBM_ACK_STATUS_")),
    )
}

fn outcome_name(outcome: i32) -> String {
    output::enum_name(v1::CbmCheckOutcome::try_from(outcome).ok().map(|outcome| {
        outcome
            .as_str_name()
            .trim_start_matches("CBM_CHECK_OUTCOME_")
    }))
}

fn kind_name(kind: i32) -> String {
    output::enum_name(v1::CbmNotificationKind::try_from(kind).ok().map(|kind| {
        kind.as_str_name()
            .trim_start_matches("CBM_NOTIFICATION_KIND_")
    }))
}

fn notification_json(notification: &v1::CbmNotification) -> serde_json::Value {
    json!({
        "id": notification.id,
        "sender_agency_id": notification.sender_agency_id,
        "kind": kind_name(notification.kind),
        "tlp": output::tlp(notification.tlp),
        "title": notification.title.as_ref().map(|t| t.text.clone()),
        "body": notification.body.as_ref().map(|t| t.text.clone()),
        "create_time": output::time(notification.meta.as_ref().and_then(|m| m.create_time.as_ref())),
        "acknowledgements": notification.acknowledgements.iter().map(|row| json!({
            "agency_id": row.agency_id,
            "status": status_name(row.status),
            "due_time": output::time(row.due_time.as_ref()),
            "overdue": row.overdue,
            "escalated": row.escalate_time.is_some(),
        })).collect::<Vec<_>>(),
    })
}

/// Runs a `cbm` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: CbmCommand,
) -> Result<(), Failure> {
    let failed = |status: tonic::Status| Failure::from_status(client, &status);
    let mut cbm = client.cbm();
    match command {
        CbmCommand::Notify(args) => {
            let sectors = args
                .sectors
                .iter()
                .map(|sector| {
                    enum_value("CBM_SECTOR_", sector, |name| {
                        v1::CbmSector::from_str_name(name).map(|s| s as i32)
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let notification = v1::CbmNotification {
                kind: enum_value("CBM_NOTIFICATION_KIND_", &args.kind, |name| {
                    v1::CbmNotificationKind::from_str_name(name).map(|k| k as i32)
                })?,
                severity: enum_value("CBM_SEVERITY_", &args.severity, |name| {
                    v1::CbmSeverity::from_str_name(name).map(|s| s as i32)
                })?,
                title: text(&args.title, &args.language),
                body: text(&args.body, &args.language),
                affected_sectors: sectors,
                tlp: crate::commands::parse_tlp(&args.tlp)? as i32,
                scope: Some(crate::commands::parse_scope(&args.scope)?),
                ack_within: args.ack_within.as_deref().map(parse_duration).transpose()?,
                ..v1::CbmNotification::default()
            };
            let sent = cbm
                .notify(v1::NotifyRequest {
                    request_id: args.request_id.clone().unwrap_or_else(request_id),
                    notification: Some(notification),
                })
                .await
                .map_err(failed)?
                .into_inner()
                .notification
                .unwrap_or_default();
            show(format, &sent);
        }
        CbmCommand::Inbox { unacknowledged } => {
            let listed = cbm
                .list_notifications(v1::ListNotificationsRequest {
                    unacknowledged_first: true,
                    unacknowledged_only: unacknowledged,
                    ..v1::ListNotificationsRequest::default()
                })
                .await
                .map_err(failed)?
                .into_inner()
                .notifications;
            match format {
                OutputFormat::Json => print_json(&json!(
                    listed.iter().map(notification_json).collect::<Vec<_>>()
                )),
                OutputFormat::Table => {
                    let rows: Vec<Vec<String>> = listed
                        .iter()
                        .map(|n| {
                            let own = n.acknowledgements.first();
                            vec![
                                n.id.clone(),
                                n.sender_agency_id.clone(),
                                kind_name(n.kind),
                                output::tlp(n.tlp).into(),
                                own.map(|row| status_name(row.status)).unwrap_or_default(),
                                if own.is_some_and(|row| row.overdue) {
                                    "overdue".into()
                                } else {
                                    String::new()
                                },
                                n.title.as_ref().map(|t| t.text.clone()).unwrap_or_default(),
                            ]
                        })
                        .collect();
                    print!(
                        "{}",
                        output::table(&["ID", "FROM", "KIND", "TLP", "ACK", "DUE", "TITLE"], &rows)
                    );
                }
            }
        }
        CbmCommand::Ack {
            id,
            responded,
            comment,
            language,
        } => {
            let row = cbm
                .acknowledge_notification(v1::AcknowledgeNotificationRequest {
                    request_id: request_id(),
                    notification_id: id,
                    status: if responded {
                        v1::CbmAckStatus::Responded
                    } else {
                        v1::CbmAckStatus::Received
                    } as i32,
                    comment: comment
                        .as_deref()
                        .and_then(|comment| text(comment, &language)),
                })
                .await
                .map_err(failed)?
                .into_inner()
                .acknowledgement
                .unwrap_or_default();
            match format {
                OutputFormat::Json => print_json(
                    &json!({"agency_id": row.agency_id, "status": status_name(row.status), "overdue": row.overdue}),
                ),
                OutputFormat::Table => println!(
                    "{} {} by {}",
                    row.notification_id,
                    status_name(row.status),
                    row.agency_id
                ),
            }
        }
        CbmCommand::Reply {
            id,
            body,
            language,
            all,
        } => {
            let reply = cbm
                .post_reply(v1::PostReplyRequest {
                    request_id: request_id(),
                    parent: Some(v1::post_reply_request::Parent::NotificationId(id)),
                    body: text(&body, &language),
                    audience: if all {
                        v1::CbmReplyAudience::AllRecipients as i32
                    } else {
                        0
                    },
                    ..v1::PostReplyRequest::default()
                })
                .await
                .map_err(failed)?
                .into_inner()
                .reply
                .unwrap_or_default();
            match format {
                OutputFormat::Json => print_json(&json!({"id": reply.id})),
                OutputFormat::Table => println!("{}", reply.id),
            }
        }
        CbmCommand::Show { id } => {
            let notification = cbm
                .get_notification(v1::GetNotificationRequest {
                    notification_id: id,
                })
                .await
                .map_err(failed)?
                .into_inner()
                .notification
                .unwrap_or_default();
            show(format, &notification);
        }
        CbmCommand::Watch { after, limit } => {
            let mut stream = cbm
                .watch_inbox(v1::WatchInboxRequest {
                    after: Some(v1::Cursor { position: after }),
                    kinds: Vec::new(),
                })
                .await
                .map_err(failed)?
                .into_inner();
            let mut seen = 0;
            while limit.is_none_or(|limit| seen < limit) {
                let Some(message) = next_followed(client, &mut stream).await? else {
                    break;
                };
                let Some(event) = message.event else { continue };
                seen += 1;
                let cursor = event.cursor.map_or(0, |cursor| cursor.position);
                let kind = output::enum_name(
                    v1::CbmEventKind::try_from(event.kind)
                        .ok()
                        .map(|kind| kind.as_str_name().trim_start_matches("CBM_EVENT_KIND_")),
                );
                let object = match &event.payload {
                    Some(v1::cbm_event::Payload::Notification(n)) => n.id.clone(),
                    Some(v1::cbm_event::Payload::Reply(r)) => r.id.clone(),
                    Some(v1::cbm_event::Payload::Acknowledgement(a)) => {
                        format!("{} {}", a.notification_id, a.agency_id)
                    }
                    Some(v1::cbm_event::Payload::Escalation(e)) => {
                        format!("{} {}", e.notification_id, e.agency_id)
                    }
                    Some(v1::cbm_event::Payload::Consultation(c)) => c.id.clone(),
                    Some(v1::cbm_event::Payload::CommunicationCheck(c)) => {
                        format!("{} challenge {}", c.id, c.challenge)
                    }
                    None => String::new(),
                };
                match format {
                    OutputFormat::Json => println!(
                        "{}",
                        json!({"cursor": cursor, "kind": kind, "object": object})
                    ),
                    OutputFormat::Table => println!("{cursor:<8}  {kind:<24}  {object}"),
                }
            }
        }
        CbmCommand::Check(CheckCommand::Start {
            window,
            scope,
            message,
            language,
            level,
        }) => {
            let contact_level = match level.as_str() {
                "policy" => v1::CbmContactLevel::Policy,
                "technical" => v1::CbmContactLevel::Technical,
                "all" => v1::CbmContactLevel::All,
                other => {
                    return Err(usage(format!(
                        "--level {other:?}: expected policy, technical or all"
                    )));
                }
            };
            let check = cbm
                .start_communication_check(v1::StartCommunicationCheckRequest {
                    request_id: request_id(),
                    scope: Some(crate::commands::parse_scope(&scope)?),
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
                OutputFormat::Table => println!(
                    "{} (challenge {}, due {})",
                    check.id,
                    check.challenge,
                    output::time(check.due_time.as_ref())
                ),
            }
        }
        CbmCommand::Check(CheckCommand::Answer {
            id,
            challenge,
            poc,
            comment,
            language,
        }) => {
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
                OutputFormat::Table => println!("{id}: {} {outcome}", result.agency_id),
            }
        }
        CbmCommand::Check(CheckCommand::Report { id }) => {
            let report = cbm
                .get_communication_check_report(v1::GetCommunicationCheckReportRequest {
                    check_id: id,
                })
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
        }
        CbmCommand::Poc(PocCommand::List { agency }) => {
            let listed = client
                .directory()
                .list_points_of_contact(v1::ListPointsOfContactRequest {
                    agency_id: agency.unwrap_or_default(),
                    ..v1::ListPointsOfContactRequest::default()
                })
                .await
                .map_err(failed)?
                .into_inner()
                .points_of_contact;
            let rows: Vec<Vec<String>> = listed
                .iter()
                .map(|poc| {
                    vec![
                        poc.id.clone(),
                        poc.agency_id.clone(),
                        poc.function.clone(),
                        poc.channels
                            .iter()
                            .map(|c| c.address.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if poc.around_the_clock {
                            "24/7".into()
                        } else {
                            poc.hours.clone()
                        },
                        if poc.stale {
                            "stale".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            match format {
                OutputFormat::Json => print_json(&json!(rows)),
                OutputFormat::Table => print!(
                    "{}",
                    output::table(
                        &["ID", "AGENCY", "FUNCTION", "CHANNELS", "HOURS", "STALE"],
                        &rows
                    )
                ),
            }
        }
        CbmCommand::Poc(PocCommand::Set(args)) => {
            let channels = args
                .channels
                .iter()
                .map(|channel| {
                    let (kind, address) = channel.split_once('=').ok_or_else(|| {
                        usage(format!("--channel {channel:?}: expected KIND=ADDRESS"))
                    })?;
                    Ok(v1::ContactChannel {
                        kind: enum_value("KIND_", kind, |name| {
                            v1::contact_channel::Kind::from_str_name(name).map(|k| k as i32)
                        })?,
                        address: address.to_owned(),
                    })
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            let poc = client
                .directory()
                .set_point_of_contact(v1::SetPointOfContactRequest {
                    request_id: request_id(),
                    point_of_contact: Some(v1::PointOfContact {
                        id: args.id.clone().unwrap_or_default(),
                        level: enum_value("LEVEL_", &args.level, |name| {
                            v1::point_of_contact::Level::from_str_name(name).map(|l| l as i32)
                        })?,
                        function: args.function.clone(),
                        channels,
                        languages: args.languages.clone(),
                        hours: args.hours.clone(),
                        around_the_clock: args.around_the_clock,
                        ..v1::PointOfContact::default()
                    }),
                })
                .await
                .map_err(failed)?
                .into_inner()
                .point_of_contact
                .unwrap_or_default();
            match format {
                OutputFormat::Json => print_json(&json!({"id": poc.id})),
                OutputFormat::Table => println!("{}", poc.id),
            }
        }
    }
    Ok(())
}

fn show(format: OutputFormat, notification: &v1::CbmNotification) {
    match format {
        OutputFormat::Json => print_json(&notification_json(notification)),
        OutputFormat::Table => {
            println!(
                "{}  {}  {}  from {}\n{}\n",
                notification.id,
                kind_name(notification.kind),
                output::tlp(notification.tlp),
                notification.sender_agency_id,
                notification
                    .title
                    .as_ref()
                    .map(|t| t.text.as_str())
                    .unwrap_or_default()
            );
            let rows: Vec<Vec<String>> = notification
                .acknowledgements
                .iter()
                .map(|row| {
                    vec![
                        row.agency_id.clone(),
                        status_name(row.status),
                        output::time(row.due_time.as_ref()),
                        if row.overdue {
                            "overdue".into()
                        } else {
                            String::new()
                        },
                        if row.escalate_time.is_some() {
                            "escalated".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["AGENCY", "ACK", "DUE", "OVERDUE", "ESCALATED"], &rows)
            );
        }
    }
}
