//! How CBM notifications, acknowledgements and check outcomes are shown.

use liaison_proto::v1;
use serde_json::json;

use crate::output::{self, OutputFormat, print_json};

pub fn status_name(status: i32) -> String {
    output::enum_name(
        v1::CbmAckStatus::try_from(status)
            .ok()
            .map(|status| status.as_str_name().trim_start_matches("CBM_ACK_STATUS_")),
    )
}

pub fn outcome_name(outcome: i32) -> String {
    output::enum_name(v1::CbmCheckOutcome::try_from(outcome).ok().map(|outcome| {
        outcome
            .as_str_name()
            .trim_start_matches("CBM_CHECK_OUTCOME_")
    }))
}

pub fn kind_name(kind: i32) -> String {
    output::enum_name(v1::CbmNotificationKind::try_from(kind).ok().map(|kind| {
        kind.as_str_name()
            .trim_start_matches("CBM_NOTIFICATION_KIND_")
    }))
}

pub fn notification_json(notification: &v1::CbmNotification) -> serde_json::Value {
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

/// A notification: JSON, or its header and acknowledgement table.
pub fn show(format: OutputFormat, notification: &v1::CbmNotification) {
    match format {
        OutputFormat::Json => print_json(&notification_json(notification)),
        OutputFormat::Table => {
            crate::output::say!(
                "{}  {}  {}  from {}",
                notification.id,
                kind_name(notification.kind),
                output::tlp(notification.tlp),
                notification.sender_agency_id,
            );
            crate::output::say!(
                "{}",
                notification
                    .title
                    .as_ref()
                    .map(|t| t.text.as_str())
                    .unwrap_or_default()
            );
            println!();
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
