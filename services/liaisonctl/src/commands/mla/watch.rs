//! `liaisonctl mla watch`: follows `WatchRequests` — submissions, steps, messages,
//! evidence, receipts and deadlines approaching or passed — one line per event, until
//! Ctrl-C. Each line starts with its cursor; `--after CURSOR` resumes after it, so nothing
//! is missed and nothing is shown twice.

use clap::Args;
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::{Value, json};

use super::view::state_name;
use crate::{
    failure::Failure,
    output::{self, OutputFormat, short_name},
    parse::enum_number as named,
};

/// `mla watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Resume after this cursor (the first column of the last line you saw); 0 replays
    /// every event you may see, then follows live.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Only events on this request (`mla_…`; repeatable).
    #[arg(long = "request", value_name = "MLA_ID")]
    pub requests: Vec<String>,
    /// Only events of this kind (repeatable): SUBMITTED, STATE_CHANGED, MESSAGE_POSTED,
    /// EVIDENCE_ADDED, RECEIPT_ISSUED, DEADLINE_APPROACHING, DEADLINE_PASSED.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Stop after this many events (default: follow until Ctrl-C).
    #[arg(long)]
    pub limit: Option<u64>,
}

/// What one event says, in a line: the request's state change, the deadline, the message,
/// the evidence file or the receipt.
fn detail(event: &v1::MlaEvent) -> Value {
    let deadline = |deadline: &v1::MlaDeadline| {
        json!({
            "deadline": short_name(
                v1::MlaDeadlineKind::try_from(deadline.kind).ok().map(|k| k.as_str_name()),
                "MLA_DEADLINE_KIND_",
            ),
            "due": output::time(deadline.due_time.as_ref()),
            "party": short_name(
                v1::MlaPartyRole::try_from(deadline.responsible_party).ok().map(|p| p.as_str_name()),
                "MLA_PARTY_ROLE_",
            ),
        })
    };
    if let Some(entry) = &event.transition {
        json!({
            "action": short_name(
                v1::MlaAction::try_from(entry.action).ok().map(|a| a.as_str_name()),
                "MLA_ACTION_",
            ),
            "from": state_name(entry.from_state),
            "to": state_name(entry.to_state),
            "by": entry.actor.as_ref().map(|actor| format!("{}/{}", actor.agency_id, actor.name)),
        })
    } else if let Some(due) = &event.deadline {
        deadline(due)
    } else if let Some(message) = &event.message {
        json!({
            "message": message.id,
            "from": message.sender.as_ref().map(|s| format!("{}/{}", s.agency_id, s.name)),
        })
    } else if let Some(evidence) = &event.evidence {
        json!({
            "evidence": evidence.id,
            "file": evidence.file_name,
            "size_bytes": evidence.size_bytes,
            "sha256": evidence.sha256,
        })
    } else if let Some(receipt) = &event.receipt {
        let kind = receipt.parsed_statement.as_ref().map_or(0, |s| s.kind);
        json!({
            "receipt": receipt.id,
            "attests": short_name(
                v1::MlaReceiptKind::try_from(kind).ok().map(|k| k.as_str_name()),
                "MLA_RECEIPT_KIND_",
            ),
        })
    } else {
        let state = event.mla_request.as_ref().map_or(0, |r| r.state);
        json!({ "state": state_name(state) })
    }
}

/// The detail as `key value` pairs for the table.
fn detail_text(detail: &Value) -> String {
    let Some(fields) = detail.as_object() else {
        return String::new();
    };
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    if let (Some(from), Some(to)) = (fields.get("from"), fields.get("to")) {
        return format!(
            "{}: {} → {}{}",
            text(&fields["action"]),
            text(from),
            text(to),
            fields
                .get("by")
                .filter(|by| !by.is_null())
                .map(|by| format!(" by {}", text(by)))
                .unwrap_or_default()
        );
    }
    fields
        .iter()
        .map(|(key, value)| format!("{key} {}", text(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `mla watch`.
pub async fn watch(client: &Client, format: OutputFormat, args: WatchArgs) -> Result<(), Failure> {
    let kinds = args
        .kinds
        .iter()
        .map(|kind| {
            named(
                "MLA_EVENT_KIND_",
                kind,
                |name| v1::MlaEventKind::from_str_name(name).map(|v| v as i32),
                "--kind",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut stream = client
        .mla()
        .watch_requests(v1::WatchRequestsRequest {
            after: Some(v1::Cursor {
                position: args.after,
            }),
            mla_request_ids: args.requests,
            kinds,
        })
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner();
    if format == OutputFormat::Table {
        eprintln!(
            "watching MLA requests after cursor {} (Ctrl-C to stop)",
            args.after
        );
        crate::output::say!(
            "{:<8}  {:<20}  {:<20}  {:<30}  DETAIL",
            "CURSOR",
            "TIME",
            "EVENT",
            "REQUEST"
        );
    }
    let (mut seen, mut last) = (0_u64, args.after);
    // One Ctrl-C listener for the whole watch, so that no interrupt falls between events.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while args.limit.is_none_or(|limit| seen < limit) {
        let next = tokio::select! {
            message = stream.message() => message,
            _ = &mut interrupted => break,
        };
        let message = match next {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                eprintln!("liaisonctl: the watch ended; resume with --after {last}");
                return Err(Failure::from_status(client, &status));
            }
        };
        let Some(event) = message.event else { continue };
        seen += 1;
        last = event.cursor.as_ref().map_or(last, |cursor| cursor.position);
        let kind = short_name(
            v1::MlaEventKind::try_from(event.kind)
                .ok()
                .map(|k| k.as_str_name()),
            "MLA_EVENT_KIND_",
        );
        let time = output::time(event.event_time.as_ref());
        let detail = detail(&event);
        match format {
            OutputFormat::Json => crate::output::print_json_line(&json!({
                "cursor": last,
                "time": time,
                "kind": kind,
                "mla_request_id": event.mla_request_id,
                "detail": detail,
            })),
            OutputFormat::Table => crate::output::say!(
                "{last:<8}  {time:<20}  {kind:<20}  {:<30}  {}",
                event.mla_request_id,
                detail_text(&detail)
            ),
        }
    }
    // On stderr, so that JSON lines on stdout stay clean for scripts.
    eprintln!("stopped after cursor {last}; resume with --after {last}");
    Ok(())
}
