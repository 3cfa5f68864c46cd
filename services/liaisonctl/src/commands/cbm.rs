//! `liaisonctl cbm …`: confidence-building measures for liaison officers — notify, the
//! inbox (unacknowledged first), acknowledge, reply, show (with the acknowledgement
//! table), watch; communication checks in `cbm/check.rs`, points of contact in
//! `cbm/poc.rs`.

mod check;
mod consultation;
mod poc;
mod view;

use clap::{Args, Subcommand};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::json;

use self::view::{kind_name, notification_json, show, status_name};
use crate::{
    call::{next_followed, request_id, text},
    failure::{Failure, failed},
    output::{self, OutputFormat, print_json},
    parse::{enum_value, parse_duration, parse_scope, parse_tlp},
};

/// `liaisonctl cbm …`.
#[derive(Debug, Subcommand)]
pub enum CbmCommand {
    /// Send a notification to the agencies in its scope.
    Notify(Box<NotifyArgs>),
    /// Your agency's received notifications, unacknowledged first.
    Inbox(InboxArgs),
    /// Acknowledge a notification for your agency: received, or with --responded.
    Ack(AckArgs),
    /// Reply on a notification: to its sender, or with --all to every recipient.
    Reply(ReplyArgs),
    /// Show one notification with the acknowledgement rows you may see.
    Show(ShowArgs),
    /// Follow your agency's CBM events (Ctrl-C to stop).
    Watch(WatchArgs),
    /// The replies on a notification, or with --consultation on a consultation.
    Replies(RepliesArgs),
    /// Consultations: request, ack, schedule, held, close, show, list.
    #[command(subcommand)]
    Consult(consultation::ConsultCommand),
    /// Communication checks of points of contact.
    #[command(subcommand)]
    Check(check::CheckCommand),
    /// Points of contact.
    #[command(subcommand)]
    Poc(poc::PocCommand),
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Only those not yet acknowledged.
    #[arg(long)]
    pub unacknowledged: bool,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    /// Notification id (cbm_…).
    pub id: String,
    /// Mark it responded rather than received.
    #[arg(long)]
    pub responded: bool,
    /// A comment for the sender.
    #[arg(long)]
    pub comment: Option<String>,
    /// BCP 47 language of the comment.
    #[arg(long, default_value = "en")]
    pub language: String,
}

#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// Notification id (cbm_…).
    pub id: String,
    /// The text.
    #[arg(long)]
    pub body: String,
    /// BCP 47 language of the text.
    #[arg(long, default_value = "en")]
    pub language: String,
    /// Visible to the sender and every recipient.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Notification id (cbm_…).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Resume after this cursor; 0 replays everything you may see.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Stop after this many events.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// `cbm replies`.
#[derive(Debug, Args)]
pub struct RepliesArgs {
    /// Notification id (cbm_…); or give --consultation.
    #[arg(required_unless_present = "consultation")]
    pub id: Option<String>,
    /// The consultation whose replies to list.
    #[arg(long, conflicts_with = "id")]
    pub consultation: Option<String>,
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

/// Runs a `cbm` subcommand.
pub async fn run(
    client: &Client,
    format: OutputFormat,
    command: CbmCommand,
) -> Result<(), Failure> {
    match command {
        CbmCommand::Notify(args) => notify(client, format, *args).await,
        CbmCommand::Inbox(args) => inbox(client, format, args).await,
        CbmCommand::Ack(args) => ack(client, format, args).await,
        CbmCommand::Reply(args) => reply(client, format, args).await,
        CbmCommand::Show(args) => show_one(client, format, args).await,
        CbmCommand::Watch(args) => watch(client, format, args).await,
        CbmCommand::Replies(args) => replies(client, format, args).await,
        CbmCommand::Consult(command) => consultation::run(client, format, command).await,
        CbmCommand::Check(command) => check::run(client, format, command).await,
        CbmCommand::Poc(command) => poc::run(client, format, command).await,
    }
}

/// `cbm notify`.
async fn notify(client: &Client, format: OutputFormat, args: NotifyArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
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
        tlp: parse_tlp(&args.tlp)? as i32,
        scope: Some(parse_scope(&args.scope)?),
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
    Ok(())
}

/// `cbm inbox`: received notifications, unacknowledged first.
async fn inbox(client: &Client, format: OutputFormat, args: InboxArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let InboxArgs { unacknowledged } = args;
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
    Ok(())
}

/// `cbm ack`.
async fn ack(client: &Client, format: OutputFormat, args: AckArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let AckArgs {
        id,
        responded,
        comment,
        language,
    } = args;
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
        OutputFormat::Table => crate::output::say!(
            "{} {} by {}",
            row.notification_id,
            status_name(row.status),
            row.agency_id
        ),
    }
    Ok(())
}

/// `cbm reply`.
async fn reply(client: &Client, format: OutputFormat, args: ReplyArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let ReplyArgs {
        id,
        body,
        language,
        all,
    } = args;
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
        OutputFormat::Table => crate::output::say!("{}", reply.id),
    }
    Ok(())
}

/// `cbm show`.
async fn show_one(client: &Client, format: OutputFormat, args: ShowArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let ShowArgs { id } = args;
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
    Ok(())
}

/// `cbm watch`: the agency's CBM events until Ctrl-C or `--limit`.
async fn watch(client: &Client, format: OutputFormat, args: WatchArgs) -> Result<(), Failure> {
    let failed = failed(client);
    let mut cbm = client.cbm();
    let WatchArgs { after, limit } = args;
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
            OutputFormat::Json => crate::output::print_json_line(
                &json!({"cursor": cursor, "kind": kind, "object": object}),
            ),
            OutputFormat::Table => crate::output::say!("{cursor:<8}  {kind:<24}  {object}"),
        }
    }
    Ok(())
}

/// `cbm replies`: every page, oldest first.
async fn replies(client: &Client, format: OutputFormat, args: RepliesArgs) -> Result<(), Failure> {
    use v1::list_replies_request::Parent;
    let parent = match (args.id, args.consultation) {
        (_, Some(consultation)) => Parent::ConsultationId(consultation),
        (Some(id), None) => Parent::NotificationId(id),
        (None, None) => {
            return Err(Failure::usage(
                "cbm replies needs a notification id or --consultation",
            ));
        }
    };
    let mut cbm = client.cbm();
    let (mut replies, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = cbm
            .list_replies(v1::ListRepliesRequest {
                parent: Some(parent.clone()),
                page_size: 100,
                page_token,
            })
            .await
            .map_err(failed(client))?
            .into_inner();
        replies.extend(page.replies);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let rows: Vec<Vec<String>> = replies
        .iter()
        .map(|reply| {
            vec![
                reply.id.clone(),
                output::time(reply.create_time.as_ref()),
                reply.sender_agency_id.clone(),
                reply
                    .body
                    .as_ref()
                    .map(|t| t.text.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&json!(
            rows.iter()
                .map(|r| json!({"id": r[0], "time": r[1], "sender_agency_id": r[2], "body": r[3]}))
                .collect::<Vec<_>>()
        )),
        OutputFormat::Table => print!(
            "{}",
            output::table(&["REPLY", "TIME", "FROM", "TEXT"], &rows)
        ),
    }
    Ok(())
}
